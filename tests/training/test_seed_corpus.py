"""The seed corpus: valid rows, unique ids and texts, v2 grid tags, and a data card whose tables match the files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from withyou.labels import LABELS
from withyou.paths import SEED_DIR
from withyou.records import read_jsonl

CARD = SEED_DIR / "CARD.md"
REGISTERS = ("short_plain", "incident_log", "south_asian_english", "non_native", "text_speak", "conversational",
             "formal", "long_story", "markup_noise")
SETTINGS = ("street", "transit", "workplace", "school", "family", "online", "dm", "public_place", "nightlife",
            "medical", "religious", "dating", "general")


def corpus() -> dict[str, list]:
    return {path.name: read_jsonl(path) for path in sorted(SEED_DIR.glob("*.jsonl"))}


def tag_value(record, prefix: str) -> str | None:
    values = [t.split(":", 1)[1] for t in record.tags if t.startswith(prefix + ":")]
    return values[0] if len(values) == 1 else None


def files_table(files: dict[str, list]) -> str:
    """The per-file table of the card: rows per label, and the total."""
    lines = ["| file | " + " | ".join(LABELS) + " | rows |", "|---|" + "---|" * (len(LABELS) + 1)]
    totals: Counter = Counter()
    for name, records in files.items():
        counts = Counter(r.label for r in records)
        totals.update(counts)
        lines.append(f"| `{name}` | " + " | ".join(f"{counts[l]:,}" for l in LABELS) + f" | {len(records):,} |")
    lines.append("| **total** | " + " | ".join(f"**{totals[l]:,}**" for l in LABELS)
                 + f" | **{sum(totals.values()):,}** |")
    return "\n".join(lines)


def grid_table(files: dict[str, list]) -> str:
    """Register × setting, per label (d/s/h/n), over the rows that carry the v2 grid tags."""
    cells: Counter = Counter()
    for records in files.values():
        for r in records:
            register, setting = tag_value(r, "register"), tag_value(r, "setting")
            if register and setting:
                cells[(register, setting, r.label)] += 1
    used = [s for s in SETTINGS if any(cells[(g, s, l)] for g in REGISTERS for l in LABELS)]
    lines = ["| register \\ setting | " + " | ".join(used) + " |", "|---|" + "---|" * len(used)]
    for register in REGISTERS:
        row = []
        for setting in used:
            counts = [cells[(register, setting, l)] for l in LABELS]
            row.append("·" if not any(counts) else "/".join(str(c) for c in counts))
        lines.append(f"| {register} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def test_seed_ids_are_unique_and_rows_are_seed_english():
    records = [r for rs in corpus().values() for r in rs]
    assert len({r.id for r in records}) == len(records)
    assert {r.source for r in records} == {"seed"} and {r.lang for r in records} == {"en"}


def test_no_two_seed_rows_share_text_and_parent():
    keys = Counter((r.text.strip().casefold(), (r.parent_text or "").strip().casefold())
                   for rs in corpus().values() for r in rs)
    assert [k for k, n in keys.items() if n > 1] == []


@pytest.mark.parametrize("name", [n for n in corpus() if n.startswith(("v2_", "v3_"))])
def test_every_v2_and_v3_row_has_one_register_and_one_setting(name):
    for record in corpus()[name]:
        assert tag_value(record, "register") in REGISTERS, record.id
        assert tag_value(record, "setting") in SETTINGS, record.id


def test_the_card_tables_match_the_files():
    card = CARD.read_text(encoding="utf-8")
    files = corpus()
    assert files_table(files) in card, "regenerate the per-file table: python -P tests/training/test_seed_corpus.py"
    assert grid_table(files) in card, "regenerate the coverage grid: python -P tests/training/test_seed_corpus.py"


if __name__ == "__main__":  # prints the two tables for CARD.md
    print(files_table(corpus()), grid_table(corpus()), sep="\n\n")
