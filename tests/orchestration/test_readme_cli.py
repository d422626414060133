"""README.md's CLI table lists exactly the commands `withyou` has: no missing command, none that is gone."""

from __future__ import annotations

import re

import typer

from orchestration.cli import app
from withyou.paths import REPO_ROOT


def real_commands() -> set[str]:
    root = typer.main.get_command(app)
    found = set()
    for name, cmd in root.commands.items():
        if hasattr(cmd, "commands"):  # a command group: `withyou data …`, `withyou review …`
            found |= {f"{name} {sub}" for sub in cmd.commands}
        else:
            found.add(name)
    return found


def readme_commands(groups: set[str]) -> set[str]:
    """First cell of each row of the table under '## CLI': `withyou data list` / `pull NAME` / `build` → data list,
    data pull, data build."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("\n## CLI\n", 1)[1].split("\n## ", 1)[0]
    found = set()
    for row in table.splitlines():
        if not row.startswith("| `withyou "):
            continue
        first_cell = row.split(" | ", 1)[0]
        spans = re.findall(r"`([^`]+)`", first_cell)
        words = spans[0].split()[1:]
        if words[0] in groups:
            group = words[0]
            found.add(f"{group} {words[1]}")
            found |= {f"{group} {span.split()[0]}" for span in spans[1:]}
        else:
            found.add(words[0])
    return found


def test_readme_cli_table_lists_exactly_the_real_commands():
    real = real_commands()
    groups = {name.split()[0] for name in real if " " in name}
    assert readme_commands(groups) == real
