"""The seed corpus in other languages (datasets/seed/lang/): valid rows in their file's language, one register and
one setting each, and the data card's coverage tables per language matching the files.

`python -P tests/training/test_seed_languages.py` prints the tables for datasets/seed/CARD.md.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

if __name__ == "__main__":  # run as a script: import the repository's packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.training.test_seed_corpus import CARD, REGISTERS, SETTINGS, corpus, tag_value
from training.build import SEED_LANGUAGES_DIR
from withyou.labels import LABELS
from withyou.paths import SEED_DIR
from withyou.records import read_jsonl

FOLDER = SEED_DIR / SEED_LANGUAGES_DIR
EDGE_CASES = (
    ("bare \"me too\" as a disclosure", "bare_me_too"),
    ("men's and boys' disclosures", "male_disclosure"),
    ("counter-speech", "counter_speech"),
    ("counter-speech quoting the abuse", "counter_speech_quoting_abuse"),
    ("identity-term counterfactuals", "identity_counterfactual"),
    ("sarcastic disbelief", "sarcastic_disbelief"),
    ("directed disbelief", "directed_disbelief"),
    ("hashtags", "hashtags"),
)
MIN_ROWS = 250
"""Rows each language needs (issue 19); Hindi counts its Devanagari and romanised files together."""


def languages() -> dict[str, list]:
    return {path.stem: read_jsonl(path) for path in sorted(FOLDER.glob("*.jsonl"))}


def files_table(files: dict[str, list]) -> str:
    """Rows per label, total and replies, per language file."""
    lines = ["| file | lang | " + " | ".join(LABELS) + " | rows | replies |", "|---|---|" + "---|" * (len(LABELS) + 2)]
    for lang, records in files.items():
        counts = Counter(r.label for r in records)
        replies = sum(r.parent_text is not None for r in records)
        lines.append(f"| `{SEED_LANGUAGES_DIR}/{lang}.jsonl` | {lang} | " + " | ".join(str(counts[l]) for l in LABELS)
                     + f" | {len(records)} | {replies} |")
    return "\n".join(lines)


def grid_table(lang: str, records: list) -> str:
    """Label × setting and label × register of one language: rows per (tag, label)."""
    cells = Counter()
    for r in records:
        cells[("setting", tag_value(r, "setting"), r.label)] += 1
        cells[("register", tag_value(r, "register"), r.label)] += 1
    lines = [f"| `{lang}` | " + " | ".join(LABELS) + " | rows |", "|---|" + "---|" * (len(LABELS) + 1)]
    for kind, values in (("setting", SETTINGS), ("register", REGISTERS)):
        for value in values:
            counts = [cells[(kind, value, label)] for label in LABELS]
            if any(counts):
                lines.append(f"| {kind}: {value} | " + " | ".join(str(c) if c else "·" for c in counts)
                             + f" | {sum(counts)} |")
    return "\n".join(lines)


def edge_case_table(files: dict[str, list]) -> str:
    """Rows per edge-case tag and language."""
    lines = ["| edge case (tag) | " + " | ".join(files) + " |", "|---|" + "---|" * len(files)]
    for title, tag in EDGE_CASES:
        counts = [sum(tag in r.tags for r in records) for records in files.values()]
        lines.append(f"| {title} (`{tag}`) | " + " | ".join(str(c) for c in counts) + " |")
    return "\n".join(lines)


def card_tables(files: dict[str, list]) -> list[str]:
    return [files_table(files), edge_case_table(files), *(grid_table(lang, rows) for lang, rows in files.items())]


def test_every_row_is_a_seed_row_in_its_files_language_with_one_register_and_one_setting():
    for lang, records in languages().items():
        for record in records:
            assert (record.source, record.lang) == ("seed", lang), record.id
            assert tag_value(record, "register") in REGISTERS, record.id
            assert tag_value(record, "setting") in SETTINGS, record.id


def test_ids_are_unique_across_the_whole_seed_corpus():
    ids = [r.id for rows in [*corpus().values(), *languages().values()] for r in rows]
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_each_language_has_the_rows_the_issue_asks_for_in_all_four_labels():
    files = languages()
    rows = Counter({lang.split("-")[0]: 0 for lang in files})
    for lang, records in files.items():
        rows[lang.split("-")[0]] += len(records)
        assert set(Counter(r.label for r in records)) == set(LABELS), lang
    assert set(rows) == {"fr", "es", "hi", "ja"} and min(rows.values()) >= MIN_ROWS, rows


def test_the_card_tables_per_language_match_the_files():
    card = CARD.read_text(encoding="utf-8")
    for table in card_tables(languages()):
        assert table in card, f"regenerate the tables: python -P {Path(__file__).relative_to(Path.cwd())}\n{table}"


if __name__ == "__main__":  # prints the per-language tables for CARD.md
    print(*card_tables(languages()), sep="\n\n")
