"""The evasion catalogue: English abuse dressed up so that automatic hiding might miss it (issue 22).

Each base post (written for this project) comes in variants a writer can type to slip past the hide rule: a
sentence in another language appended (the whole post then reads as that language, which the model is not
trusted on), letters swapped for mathematical bold, full-width, leet, Cyrillic look-alikes, zero-width spaces
between letters, and mixes of these. A bundle that hides a base post should hide every variant of it.
`FOREIGN_POSTS` are the other side of the rule: posts really written in a language the English model does not
read, abusive or not, which must never be hidden automatically.

benchmarks/evasion.py runs the catalogue against a bundle; tests/evaluation/test_evasion.py holds it as a
standing test.
"""

from __future__ import annotations

import re
from collections.abc import Callable

BASE_POSTS = (
    "You stupid slut, nobody believes you.",
    "Lying whore, you wanted it.",
    "Shut up, liar. You were asking for it and you know it.",
)
SENTENCES = {
    "French": "Bonne soirée à tous, on se retrouve demain au café.",
    "Japanese": "今日はとても暑いですね、みなさん気をつけてください。",
    "Hindi": "आज मौसम बहुत अच्छा है, सब लोग बाहर घूमने जाओ।",
    "romanised Hindi": "aaj mausam bahut accha hai, sab log bahar ghoomne jao.",
}
"""Harmless sentences appended to a base post: only the language of the post changes, not what it says."""

FOREIGN_POSTS = {
    "French, abusive": "Sale menteuse, personne ne te croit, tu l'as bien cherché.",
    "French, abusive with an English slur":
        "Quelle slut celle-là, elle ment comme elle respire et personne ne la croit.",
    "French, supportive": "Je te crois, et rien de tout cela n'est de ta faute.",
    "Japanese, abusive": "嘘つき女、誰もお前なんか信じない。自業自得だ。",
    "Japanese, supportive": "話してくれてありがとう。あなたは何も悪くないよ。",
}  # fmt: skip

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _letters_from(lower_a: int, upper_a: int) -> dict[int, int]:
    """a–z, A–Z → the 26 code points from `lower_a` and from `upper_a` (a Unicode block's own alphabet)."""
    alphabet = [chr(lower_a + i) for i in range(26)] + [chr(upper_a + i) for i in range(26)]
    return str.maketrans(_LETTERS, "".join(alphabet))


_BOLD = _letters_from(0x1D41A, 0x1D400)
_FULL_WIDTH = _letters_from(0xFF41, 0xFF21)
_LEET = str.maketrans("aeios", "43105")
_WORD = re.compile(r"[A-Za-z]{3,}")
# Cyrillic а с е о р х у ѕ і А Е О Р С Х У Т Н К М В for the Latin letters they imitate
_CYRILLIC = str.maketrans(
    "aceopxysiAEOPCXYTHKMB",
    "\u0430\u0441\u0435\u043e\u0440\u0445\u0443\u0455\u0456\u0410\u0415\u041e\u0420\u0421\u0425\u0423\u0422\u041d"
    "\u041a\u041c\u0412",
)


def mathematical_bold(text: str) -> str:
    return text.translate(_BOLD)


def full_width(text: str) -> str:
    return text.translate(_FULL_WIDTH)


def leet(text: str) -> str:
    """a e i o s → 4 3 1 0 5 inside words, their first and last letters kept ("l1ar", "wh0re"): the leet
    withyou.encoding.normalize_text undoes for the model."""
    return _WORD.sub(lambda word: word[0][0] + word[0][1:-1].translate(_LEET) + word[0][-1], text)


def cyrillic_lookalikes(text: str) -> str:
    return text.translate(_CYRILLIC)


def zero_width(text: str) -> str:
    """A zero-width space between every two characters."""
    return "\u200b".join(text)


def appended(name: str) -> Callable[[str], str]:
    return lambda text: f"{text} {SENTENCES[name]}"


VARIANTS: dict[str, Callable[[str], str]] = {
    "+ French sentence": appended("French"),
    "+ Japanese sentence": appended("Japanese"),
    "+ Hindi sentence": appended("Hindi"),
    "+ romanised Hindi sentence": appended("romanised Hindi"),
    "mathematical bold": mathematical_bold,
    "full-width": full_width,
    "leet": leet,
    "Cyrillic look-alikes": cyrillic_lookalikes,
    "zero-width spaces": zero_width,
    "bold + French sentence": lambda text: appended("French")(mathematical_bold(text)),
    "look-alikes, zero-width + Japanese": lambda text: appended("Japanese")(zero_width(cyrillic_lookalikes(text))),
    "leet + Hindi sentence": lambda text: appended("Hindi")(leet(text)),
}  # fmt: skip


def evasion_cases() -> list[tuple[str, str, str]]:
    """(base post, variant name, variant text) for every base post and variant."""
    return [(base, name, variant(base)) for base in BASE_POSTS for name, variant in VARIANTS.items()]
