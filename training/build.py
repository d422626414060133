"""`withyou data build`: seed corpus + public datasets → one de-duplicated, grouped, stratified dataset.

Output (default withyou.paths.dataset_dir()): train.jsonl, validation.jsonl, test.jsonl (Record per line, with
`split` and `group`) and manifest.json (content_hash, counts split → label → source → n, duplicates removed,
skipped rows per file and reason, caps, shortcut risks, config, seed, source file hashes, time taken).

Order of work: read (seed first, then the public datasets in sources.toml order; a source with `opt_in` only when the
build asks for its set, BuildConfig.opt_in) → drop non-commercial rows when
asked → set the real-text benchmarks aside (records an adapter tagged `benchmark`: EDOS dev, the misogyny test
split, CrowdCounter Test; written to benchmarks/<source>.jsonl, never trained on, and every training row whose
text or parent is a benchmark post is dropped) → drop duplicate ids → exact and near duplicates (training/dedup.py)
→ optional caps → grouped split (training/split.py) → write.
A missing dataset folder is a notice, not an error: the seed corpus alone builds.

Opt-in rows — the seed corpus in other languages (datasets/seed/lang/*.jsonl, `SEED_LANGUAGES_DIR`, read only under
the MULTILINGUAL opt-in) and the rows of opt-in sources — are added without moving any base record: they come after
every base record and rank below it in de-duplication, are capped on their own, and are split on their own
(training.split.assign_opt_in_splits: stratified by language too, a conversation the base already holds keeps its
split). So the base rows, and the English test split, are the same records in the same splits as in the default
build, and every seed language is held out in validation and test (`check_held_out_languages`).
Extra labelled files (`extra`, e.g. review exports) join after the split without moving any base record
(see add_extra_records), so a model trained on the build without them is tested on the same test split.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from training.adapters import (
    BENCHMARK_TAG,
    NONCOMMERCIAL_TAG,
    ReadLog,
    read_seed,
    read_source,
)
from training.config import BuildConfig
from training.dedup import deduplicate, normalize_text
from training.manifest import content_hash, count_table, shortcut_risks, skipped_summary
from training.sources import MULTILINGUAL, Source, default_source_names, load_sources, present_files, sha256_file
from training.split import SPLITS, assign_opt_in_splits, assign_splits
from withyou.records import DataError, Record, iter_jsonl, write_jsonl

SEED_TIER, PUBLIC_TIER, OPT_IN_SEED_TIER, OPT_IN_PUBLIC_TIER, EXTRA_TIER = 0, 1, 2, 3, 4
"""De-duplication priority (lower wins): the base seed corpus, base public data, then the opt-in rows, which never
displace a base row (the seed in other languages over opt-in public data)."""
SEED_LANGUAGES_DIR = "lang"
"""The seed corpus in other languages: <seed_dir>/lang/<lang>.jsonl, read only by a build that opts into MULTILINGUAL."""


@dataclass
class SourceStatus:
    status: str  # read | missing | unreadable
    folder: str
    licence: str = ""
    rows: int = 0
    notice: str = ""
    files: dict[str, dict] = field(default_factory=dict)


class Notices:
    """Collects human-readable notices (missing datasets, checksum drift) for the console and the manifest."""

    def __init__(self, echo=None) -> None:
        self.lines: list[str] = []
        self.echo = echo

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        if self.echo:
            self.echo(line)


def file_hashes(source: Source, data_dir: Path, notices: Notices) -> dict[str, dict]:
    """sha256 of each present file, compared with the pinned hash (drift is a notice, recorded in the manifest)."""
    pinned = source.pinned_hashes()
    hashes = {}
    for path in present_files(source, data_dir):
        actual = sha256_file(path)
        expected = pinned.get(path.name, "")
        verified = None if not expected else actual == expected
        if verified is False:
            notices(f"{source.name}: {path} differs from the sha256 pinned in sources.toml (local copy changed?)")
        hashes[path.name] = {"sha256": actual, "pinned": expected or None, "verified": verified}
    return hashes


def read_public(
    source: Source, config: BuildConfig, log: ReadLog, notices: Notices, tick
) -> tuple[list[Record], SourceStatus]:
    folder = source.folder_in(config.data_dir)
    status = SourceStatus(status="read", folder=str(folder), licence=source.licence)
    if not folder.is_dir():
        status.status, status.notice = "missing", f"no folder {folder}; run `withyou data pull {source.name}`"
        notices(f"{source.name}: skipped — {status.notice}")
        return [], status
    status.files = file_hashes(source, config.data_dir, notices)
    try:
        records = collect(read_source(source, config.data_dir, log), tick)
    except DataError as exc:
        if config.strict:
            raise
        status.status, status.notice = "unreadable", str(exc)
        notices(f"{source.name}: skipped — {exc}")
        return [], status
    status.rows = len(records)
    return records, status


def collect(records: Iterable[Record], tick) -> list[Record]:
    """Materialise an adapter's stream, advancing the progress bar per record."""
    out = []
    for record in records:
        out.append(record)
        tick(1)
    return out


def drop_duplicate_ids(records: Iterable[Record], strict: bool) -> tuple[list[Record], int]:
    seen: set[str] = set()
    kept, dropped = [], 0
    for record in records:
        if record.id in seen:
            if strict:
                raise DataError(f"duplicate record id {record.id!r} (source {record.source})")
            dropped += 1
            continue
        seen.add(record.id)
        kept.append(record)
    return kept, dropped


def cap_for(source: str, label: str, sources: dict[str, Source], config: BuildConfig) -> int | None:
    if not config.apply_caps or source not in sources:
        return None
    return config.cap if config.cap is not None else sources[source].cap.get(label)


def apply_caps(
    records: list[Record], sources: dict[str, Source], config: BuildConfig
) -> tuple[list[Record], dict[str, dict[str, dict[str, int]]]]:
    """Keep at most the cap of rows per public (source, label): a seeded random sample, order preserved."""
    rng = np.random.default_rng(config.seed)
    by_cell: dict[tuple[str, str], list[int]] = {}
    for index, record in enumerate(records):
        by_cell.setdefault((record.source, record.label), []).append(index)
    drop: set[int] = set()
    capped: dict[str, dict[str, dict[str, int]]] = {}
    for (source, label), indices in sorted(by_cell.items()):
        cap = cap_for(source, label, sources, config)
        if cap is None or len(indices) <= cap:
            continue
        keep = set(rng.choice(len(indices), size=cap, replace=False).tolist())
        drop.update(i for n, i in enumerate(indices) if n not in keep)
        capped.setdefault(source, {})[label] = {"cap": cap, "available": len(indices), "dropped": len(indices) - cap}
    return [r for i, r in enumerate(records) if i not in drop], capped


def select_sources(sources: dict[str, Source], config: BuildConfig) -> list[Source]:
    if not config.include_public:
        return []
    names = config.sources if config.sources is not None else default_source_names(sources, config.opt_in)
    unknown = [n for n in names if n not in sources]
    if unknown:
        raise DataError(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(sources)}")
    return [sources[n] for n in names]


def write_atomic_jsonl(path: Path, records: Iterable[Record]) -> int:
    tmp = path.with_name(f".{path.name}.tmp")
    count = write_jsonl(tmp, records)
    os.replace(tmp, path)
    return count


def read_all(
    config: BuildConfig, selected: list[Source], steps, notices: Notices
) -> tuple[list[Record], list[Record], dict[str, ReadLog], dict[str, SourceStatus]]:
    """Base and opt-in records (module docstring): the seed corpus first (it wins exact-duplicate ties), then each
    selected public dataset; the seed in other languages and the opt-in sources make up the opt-in part."""
    logs = {"seed": ReadLog(config.strict)}
    statuses: dict[str, SourceStatus] = {}
    with steps.task("reading seed corpus") as tick:
        records = collect(read_seed(config.seed_dir, logs["seed"]), tick)
    if not records:
        notices(f"seed corpus: no records under {config.seed_dir}")
    opt_in: list[Record] = []
    if MULTILINGUAL in config.opt_in:
        folder = Path(config.seed_dir) / SEED_LANGUAGES_DIR
        logs["seed_languages"] = ReadLog(config.strict)
        with steps.task("reading seed corpus in other languages") as tick:
            opt_in = collect(read_seed(folder, logs["seed_languages"]), tick)
        if not opt_in:
            notices(f"seed corpus: no records in other languages under {folder}")
    for source in selected:
        logs[source.name] = ReadLog(config.strict)
        with steps.task(f"reading {source.name}") as tick:
            rows, statuses[source.name] = read_public(source, config, logs[source.name], notices, tick)
        (opt_in if source.opt_in else records).extend(rows)
    if not records and not opt_in:
        raise DataError("nothing to build: no seed records and no public dataset could be read")
    return records, opt_in, logs, statuses


def write_splits(out_dir: Path, records: list[Record], manifest: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        write_atomic_jsonl(out_dir / f"{split}.jsonl", (r for r in records if r.split == split))
    tmp = out_dir / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / "manifest.json")


def build_dataset(config: BuildConfig, progress=None, notices: Notices | None = None) -> dict:
    """Build and write the dataset; return the manifest. `progress` is a training.summary.Steps (or None)."""
    from training.summary import Steps

    started = time.perf_counter()
    config = config.resolved()
    steps = progress or Steps(None)
    notices = notices or Notices()
    sources = load_sources(config.sources_file)
    selected = select_sources(sources, config)
    base, opt_in, logs, statuses = read_all(config, selected, steps, notices)
    opt_in_objects = {id(r) for r in opt_in}  # the records stay the same objects until the split

    def tier(record: Record) -> int:
        public = record.source in sources
        if id(record) in opt_in_objects:
            return OPT_IN_PUBLIC_TIER if public else OPT_IN_SEED_TIER
        return PUBLIC_TIER if public else SEED_TIER

    records, noncommercial = drop_noncommercial([*base, *opt_in], config.exclude_noncommercial)
    records, benchmarks = set_benchmarks_aside(records)
    records, overlap = drop_benchmark_overlap(records, benchmarks)
    records, duplicate_ids = drop_duplicate_ids(records, config.strict)
    with steps.task("removing duplicates", total=len(records)) as tick:
        records, dedup = deduplicate(
            records,
            tier,
            threshold=config.near_dup_threshold,
            num_perm=config.near_dup_num_perm,
            min_words=config.near_dup_min_words,
            progress=tick,
        )
    base = [r for r in records if id(r) not in opt_in_objects]
    opt_in = [r for r in records if id(r) in opt_in_objects]
    base, capped = apply_caps(base, sources, config)
    opt_in, capped_opt_in = apply_caps(opt_in, sources, config)
    fractions = dict(validation_fraction=config.validation_fraction, test_fraction=config.test_fraction, seed=config.seed)
    with steps.task("splitting (grouped, stratified)"):
        records = assign_splits(base, **fractions)
        if opt_in:
            opt_in = assign_opt_in_splits(opt_in, records, **fractions)
            check_held_out_languages(opt_in)
            records += opt_in
    extra_summary: dict = {}
    if config.extra:
        logs["extra"] = ReadLog(config.strict)
        with steps.task("adding extra labelled files") as tick:
            records, extra_summary = add_extra_records(records, config, logs["extra"], tick, benchmarks)
    manifest = {
        "format_version": 1,
        "content_hash": content_hash(records),
        "counts": count_table(records),
        "rows": {split: sum(r.split == split for r in records) for split in SPLITS},
        "labels": dict(sorted(Counter(r.label for r in records).items())),
        "duplicates_removed": dedup.as_dict(),
        "duplicate_ids_skipped": duplicate_ids,
        "noncommercial_excluded": noncommercial,
        "benchmarks": {name: benchmark_summary(rows) for name, rows in sorted(benchmarks.items())},
        "benchmark_overlap_removed": overlap,
        "sampling_weights": {source.name: dict(source.weight) for source in selected if source.weight},
        "capped": {**capped, **capped_opt_in},
        "languages": language_counts(records),
        "skipped": skipped_summary(logs),
        "excluded": {name: dict(log.excluded) for name, log in logs.items() if log.excluded},
        "shortcut_risks": shortcut_risks(records),
        "notices": notices.lines,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "seed": config.seed,
        "seed_corpus": {
            "dir": str(config.seed_dir),
            "files": {
                **{Path(p).name: sha256_file(Path(p)) for p in logs["seed"].files},
                **{f"{SEED_LANGUAGES_DIR}/{Path(p).name}": sha256_file(Path(p))
                   for p in (logs["seed_languages"].files if "seed_languages" in logs else ())},
            },
        },
        "sources": {name: asdict(status) for name, status in statuses.items()},
        "extra": extra_summary,
        "timings_seconds": steps.timings,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "elapsed_seconds": round(time.perf_counter() - started, 2),
    }
    write_splits(Path(config.out_dir), records, manifest)
    write_benchmarks(Path(config.out_dir), benchmarks)
    return manifest


BENCHMARKS_DIR = "benchmarks"


def language_counts(records: list[Record]) -> dict[str, dict[str, int]]:
    """split → language → rows (the manifest's `languages`)."""
    counts = Counter((r.split, r.lang) for r in records)
    return {split: {lang: n for (s, lang), n in sorted(counts.items()) if s == split} for split in SPLITS}


def check_held_out_languages(opt_in: list[Record]) -> None:
    """Every language of the seed corpus in other languages must be held out in validation and in test (the
    per-language numbers of `withyou evaluate` are read there); raise DataError naming the language otherwise."""
    seeded = Counter((r.lang, r.split) for r in opt_in if r.source == "seed")
    for lang in sorted({lang for lang, _ in seeded}):
        missing = [split for split in ("validation", "test") if not seeded[(lang, split)]]
        if missing:
            rows = sum(n for (code, _), n in seeded.items() if code == lang)
            raise DataError(
                f"seed corpus in {lang!r}: none of its {rows} rows landed in {' or '.join(missing)}; write more "
                f"conversations in {SEED_LANGUAGES_DIR}/{lang}.jsonl (each language is held out in validation and test)"
            )


def drop_noncommercial(records: list[Record], exclude: bool) -> tuple[list[Record], dict[str, int]]:
    """With `exclude`, leave out every record tagged non-commercial; return the rest and the count per source."""
    if not exclude:
        return records, {}
    dropped = Counter(r.source for r in records if NONCOMMERCIAL_TAG in r.tags)
    return [r for r in records if NONCOMMERCIAL_TAG not in r.tags], dict(sorted(dropped.items()))


def set_benchmarks_aside(records: list[Record]) -> tuple[list[Record], dict[str, list[Record]]]:
    """Split off the records an adapter tagged `benchmark` (official held-out splits), grouped by source."""
    benchmarks: dict[str, list[Record]] = {}
    kept = []
    for record in records:
        if BENCHMARK_TAG in record.tags:
            benchmarks.setdefault(record.source, []).append(record)
        else:
            kept.append(record)
    return kept, benchmarks


def drop_benchmark_overlap(
    records: list[Record], benchmarks: dict[str, list[Record]]
) -> tuple[list[Record], dict[str, int]]:
    """Drop every training record whose text, or whose parent, is a graded benchmark post (normalised as dedup does).

    A hate post that CrowdCounter repeats across its splits, or a Reddit test post that a training reply answers
    (the misogyny authors split comments, not threads), must not be learnt from — not even as context — and then
    graded on. A training post that is only the *context* of a benchmark reply stays: what is graded is the reply.
    Returns the kept records and how many were dropped per source.
    """
    graded = {normalize_text(r.text) for rows in benchmarks.values() for r in rows}
    dropped: Counter[str] = Counter()
    kept = []
    for record in records:
        parent = normalize_text(record.parent_text) if record.parent_text else None
        if normalize_text(record.text) in graded or parent in graded:
            dropped[record.source] += 1
        else:
            kept.append(record)
    return kept, dict(sorted(dropped.items()))


def benchmark_summary(records: list[Record]) -> dict:
    return {
        "path": f"{BENCHMARKS_DIR}/{records[0].source}.jsonl",
        "rows": len(records),
        "labels": dict(sorted(Counter(r.label for r in records).items())),
        "with_parent": sum(r.parent_text is not None for r in records),
    }


def write_benchmarks(out_dir: Path, benchmarks: dict[str, list[Record]]) -> None:
    """benchmarks/<source>.jsonl: the held-out real-text records, read by `withyou evaluate` (never by training)."""
    folder = out_dir / BENCHMARKS_DIR
    if folder.is_dir():
        for stale in folder.glob("*.jsonl"):
            stale.unlink()
    if benchmarks:
        folder.mkdir(parents=True, exist_ok=True)
    for name, rows in benchmarks.items():
        write_atomic_jsonl(folder / f"{name}.jsonl", rows)


def add_extra_records(
    records: list[Record], config: BuildConfig, log: ReadLog, tick, benchmarks: dict[str, list[Record]] | None = None
) -> tuple[list[Record], dict]:
    """Add the labelled files in `config.extra` to an already split dataset, leaving every base record as it is.

    Extras whose id is taken, or that duplicate a base record or an earlier extra (same rules as the build's
    de-duplication, the base always winning), are dropped, and so are extras whose text or parent is a graded
    benchmark post (drop_benchmark_overlap: reviewed posts never bring benchmark text into training). A kept extra
    joins the split of its conversation (training.split.group_of) when the base has that conversation, else train:
    no conversation straddles splits,
    and the base test split is unchanged, so the champion and a challenger trained with the extras are gated on
    the same held-out posts.
    """
    from training.split import group_of

    extras: list[Record] = []
    files = {}
    for name in config.extra:
        path = Path(name)
        if not path.is_file():
            raise DataError(f"extra file {path} does not exist")
        rows = collect(iter_jsonl(path, strict=config.strict, report=log.report(path)), tick)
        files[str(path)] = {"sha256": sha256_file(path), "rows": len(rows)}
        extras.extend(rows)
    taken = {r.id for r in records}
    fresh = [r for r in extras if r.id not in taken]
    fresh, repeated_ids = drop_duplicate_ids(fresh, strict=False)
    fresh, benchmark_overlap = drop_benchmark_overlap(fresh, benchmarks or {})
    extra_objects = {id(r) for r in fresh}
    kept, _ = deduplicate(
        [*records, *fresh],
        lambda r: EXTRA_TIER if id(r) in extra_objects else SEED_TIER,
        threshold=config.near_dup_threshold,
        num_perm=config.near_dup_num_perm,
        min_words=config.near_dup_min_words,
    )
    split_of_group = {r.group: r.split for r in records}
    added = []
    for record in (r for r in kept if id(r) in extra_objects):
        group = group_of(record)
        added.append(record.model_copy(update={"split": split_of_group.get(group, "train"), "group": group}))
    summary = {
        "files": files,
        "rows": len(extras),
        "added": dict(sorted(Counter(r.split for r in added).items())),
        "ids_already_taken": len(extras) - len(fresh) - repeated_ids,
        "repeated_ids": repeated_ids,
        "duplicates_dropped": len(fresh) - len(added),
        "benchmark_overlap_removed": sum(benchmark_overlap.values()),
    }
    return [*records, *added], summary
