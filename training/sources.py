"""The sources table (datasets/sources.toml) as typed objects, shared by `pull`, `build` and `list`.

The table is data, not code: adding a dataset means a table entry plus one adapter in training/adapters.py.
A source with `opt_in` is left out of the default build: it is read only when the build names its set
(`withyou data build --opt-in multilingual`, BuildConfig.opt_in) or names the source itself (`--sources`).
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from withyou.labels import LABELS
from withyou.paths import SOURCES_FILE
from withyou.records import DataError, describe_validation_error

CHUNK_BYTES = 1 << 20
MULTILINGUAL = "multilingual"
"""The opt-in set of the public sources in other languages (mlma, told_br, convabuse): read by a build that asks
for it — what the multilingual preset builds with — never by the default (English) build."""


def check_labels(names) -> None:
    unknown = sorted(set(names) - set(LABELS))
    if unknown:
        raise ValueError(f"unknown WithYou labels {unknown}; expected one of {list(LABELS)}")


class SourceFile(BaseModel):
    """One file of a dataset: where it lands under the dataset folder, where it comes from, its pinned hash."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    url: str | None = None
    sha256: str = ""
    note: str = ""

    @field_validator("sha256")
    @classmethod
    def _hex_digest_or_empty(cls, value: str) -> str:
        value = value.strip().lower()
        if value and (len(value) != 64 or any(c not in "0123456789abcdef" for c in value)):
            raise ValueError("sha256 must be 64 hex digits or empty (not pinned)")
        return value


class Source(BaseModel):
    """One public dataset: provenance, licence, label mapping, default caps, and what its rows may be used for.

    `noncommercial`: some rows may only be used non-commercially; the adapter tags those rows `noncommercial`
    (build can leave them out). `benchmark_splits`: upstream splits held out as real-text benchmarks, never trained
    on; the adapter tags their rows `benchmark` as well as `upstream_split:<split>`. `languages`: the languages
    (ISO 639-1) of the rows the adapter reads — for a source with one file per language, the files it reads.
    `opt_in`: the set (e.g. MULTILINGUAL) a build must ask for before this source is read; empty = every build.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str
    folder: str
    homepage: str = ""
    commit: str = ""
    licence: str
    noncommercial: bool = False
    benchmark_splits: list[str] = Field(default_factory=list)
    citation: str = ""
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    opt_in: str = ""
    mapping: dict[str, str]
    mapping_notes: str = ""
    cap: dict[str, int] = Field(default_factory=dict)
    weight: dict[str, float] = Field(default_factory=dict)
    """Sampling multiplier per WithYou label (training/dataset.py sampling_probabilities); 1 where absent."""
    files: list[SourceFile]
    mirror_files: list[SourceFile] = Field(default_factory=list)

    @field_validator("mapping")
    @classmethod
    def _maps_onto_labels(cls, value: dict[str, str]) -> dict[str, str]:
        check_labels(value.values())
        return value

    @field_validator("benchmark_splits")
    @classmethod
    def _lower_case_split_names(cls, value: list[str]) -> list[str]:
        bad = [split for split in value if not split.strip() or split != split.strip().lower()]
        if bad:
            raise ValueError(f"benchmark split names must be non-empty and lower case (as in the tags), got {bad}")
        return value

    @field_validator("weight")
    @classmethod
    def _weights_known_labels(cls, value: dict[str, float]) -> dict[str, float]:
        check_labels(value.keys())
        if any(not w > 0 for w in value.values()):
            raise ValueError("weights must be > 0")
        return value

    @field_validator("cap")
    @classmethod
    def _caps_known_labels(cls, value: dict[str, int]) -> dict[str, int]:
        check_labels(value.keys())
        if any(n < 0 for n in value.values()):
            raise ValueError("caps must be >= 0")
        return value

    def folder_in(self, data_dir: Path) -> Path:
        return Path(data_dir) / self.folder

    def pinned_hashes(self) -> dict[str, str]:
        """file name → pinned sha256 for upstream and mirror files (empty hash = not pinned)."""
        return {f.path: f.sha256 for f in [*self.files, *self.mirror_files]}


def load_sources(path: Path | str | None = None) -> dict[str, Source]:
    """Read the sources table; a malformed table is a DataError naming the file and the entry."""
    path = Path(path) if path else SOURCES_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"sources table not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid TOML ({exc})") from None
    sources = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict):
            raise DataError(f"{path}: [{name}] must be a table")
        try:
            sources[name] = Source.model_validate({"name": name, **entry})
        except ValidationError as exc:
            raise DataError(f"{path}: [{name}] {describe_validation_error(exc)}") from None
    return sources


def default_source_names(sources: dict[str, Source], opt_in: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The sources a build reads when it names none: those without `opt_in`, plus those in an asked-for set.

    Asking for a set no source declares is a DataError (a typo would otherwise build without the sources meant).
    """
    declared = {source.opt_in for source in sources.values() if source.opt_in}
    if unknown := sorted(set(opt_in) - declared):
        known = ", ".join(sorted(declared)) or "none"
        raise DataError(f"no source opts into {', '.join(unknown)}; opt-in sets in the sources table: {known}")
    return tuple(name for name, source in sources.items() if not source.opt_in or source.opt_in in opt_in)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def present_files(source: Source, data_dir: Path) -> list[Path]:
    """The dataset's files found under data_dir (upstream or mirror variants)."""
    folder = source.folder_in(data_dir)
    return [folder / f.path for f in [*source.files, *source.mirror_files] if (folder / f.path).is_file()]
