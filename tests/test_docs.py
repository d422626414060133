"""Claims in the READMEs that carry numbers, names or commands, checked against what they describe."""

from __future__ import annotations

import re
import tomllib

from evaluation.report import VERSION_TAG_FIGURES
from training.sources import load_sources
from withyou.paths import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
SOURCES = load_sources()


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_datasets_readme_caps_are_the_sources_table_caps():
    table = (REPO_ROOT / "datasets" / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", table, flags=re.MULTILINE)}
    for name, source in SOURCES.items():
        cap_cell = rows[name].rstrip(" |").rsplit(" | ", 1)[1]
        written = {label: int(n.replace(",", "")) for label, n in re.findall(r"(\w+) ([\d,]+)", cap_cell.split("·")[0])}
        assert written == dict(source.cap), f"{name}: README says {cap_cell!r}, sources.toml {source.cap}"


def test_readme_names_exactly_the_unpinned_sources():
    unpinned = {name for name, source in SOURCES.items() if any(not file.sha256 for file in source.files)}
    claim = re.search(r"not pinned: ((?:`\w+`(?:, )?)+)", one_line(README)).group(1)
    assert set(re.findall(r"`(\w+)`", claim)) == unpinned


def test_readme_dependency_caps_are_pyprojects():
    """'capped below their next major: …; below its next minor: …' lists every upper bound in pyproject.toml."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    caps: dict[str, set[str]] = {"major": set(), "minor": set()}
    for requirement in requirements:
        if bound := re.search(r"<([\d.]+)", requirement):
            name = re.match(r"[\w-]+", requirement).group(0)
            caps["major" if "." not in bound.group(1) else "minor"].add(name)
    text = one_line(README)
    major = re.search(r"capped below their next major: ([\w, -]+);", text).group(1)
    minor = re.search(r"below its next minor: ([\w, -]+)\)", text).group(1)
    assert {n.strip() for n in major.split(",")} == caps["major"]
    assert {n.strip() for n in minor.split(",")} == caps["minor"]


def test_every_script_and_benchmark_the_readme_runs_exists():
    named = set(re.findall(r"\b((?:benchmarks|scripts)/[\w.-]+\.(?:py|sh))\b", README))
    assert named and {path for path in named if not (REPO_ROOT / path).is_file()} == set()


def test_mlflow_readme_lists_the_tags_evaluation_sets():
    text = (REPO_ROOT / "mlflow" / "README.md").read_text(encoding="utf-8")
    assert all(f"`eval_{name}`" in text for name in VERSION_TAG_FIGURES) and "`gate`" in text
    assert "`shipped_graph`" in text
