"""The built dataset (training/build.py output) as training reads it: three splits, the manifest, per-epoch samples."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from withyou import paths
from withyou.labels import LABEL_TO_ID, LABELS
from withyou.records import DataError, Record, read_jsonl

SPLITS = ("train", "validation", "test")


class DatasetMissingError(FileNotFoundError):
    """No built dataset where one was expected; the message says how to build one."""


@dataclass(frozen=True)
class DatasetSplits:
    path: Path
    train: list[Record]
    validation: list[Record]
    test: list[Record]
    manifest: dict[str, Any]

    @property
    def content_hash(self) -> str:
        return str(self.manifest.get("content_hash", "unknown"))


def load_dataset(dataset_dir: Path | str | None = None) -> DatasetSplits:
    """Load train/validation/test JSONL (strict: a bad line is an error naming file:line) and manifest.json."""
    root = Path(dataset_dir) if dataset_dir else paths.dataset_dir()
    hint = "build it with `withyou data build` or pass --dataset DIR"
    if not root.is_dir():
        raise DatasetMissingError(f"no built dataset at {root}: {hint}")
    missing = [f"{name}.jsonl" for name in SPLITS if not (root / f"{name}.jsonl").is_file()]
    if not (root / "manifest.json").is_file():
        missing.append("manifest.json")
    if missing:
        raise DatasetMissingError(f"dataset {root} is missing {', '.join(missing)}: {hint}")
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{root / 'manifest.json'}: not valid JSON ({exc.msg})") from None
    splits = {name: read_jsonl(root / f"{name}.jsonl") for name in SPLITS}
    for name in ("train", "validation"):
        if not splits[name]:
            raise DataError(f"{root / f'{name}.jsonl'} has no records; training needs train and validation examples")
    return DatasetSplits(path=root, manifest=manifest, **splits)


def trained_languages(records: list[Record], min_rows_per_label: int) -> tuple[str, ...]:
    """The languages a model trained on `records` (the training split) is trained on, for the bundle's `languages`:
    each language with at least `min_rows_per_label` rows of every label (TrainConfig.language_min_rows_per_label)
    that a bundle may list (withyou.language.SERVABLE_LANGUAGES), most rows first. When none reaches it (a handful
    of rows), the language with the most rows: a bundle lists at least one."""
    from withyou.language import SERVABLE_LANGUAGES

    rows = Counter(r.lang for r in records)
    per_label = Counter((r.lang, r.label) for r in records)
    ranked = sorted(rows, key=lambda lang: (-rows[lang], lang))
    listed = tuple(lang for lang in ranked if lang in SERVABLE_LANGUAGES
                   and all(per_label[(lang, label)] >= min_rows_per_label for label in LABELS))
    return listed or tuple(lang for lang in ranked if lang in SERVABLE_LANGUAGES)[:1]


def check_opt_in(dataset: DatasetSplits, opt_in: tuple[str, ...]) -> None:
    """Raise DataError unless the dataset was built with every opt-in source set in `opt_in` (its manifest's config)."""
    built_with = tuple((dataset.manifest.get("config") or {}).get("opt_in") or ())
    if missing := [name for name in opt_in if name not in built_with]:
        raise DataError(
            f"this training asks for data built with --opt-in {','.join(missing)}; {dataset.path} was built with "
            f"{', '.join(built_with) or 'no opt-in set'}: run `withyou data build --opt-in {','.join(opt_in)}` first "
            "(or pass --dataset DIR of such a build)"
        )


def label_ids(records: list[Record]) -> np.ndarray:
    return np.array([LABEL_TO_ID[r.label] for r in records], dtype=np.int64)


def label_counts(records: list[Record]) -> dict[str, int]:
    counts = {label: 0 for label in LABELS}
    for record in records:
        counts[record.label] += 1
    return counts


def balanced_quotas(class_sizes: list[int], budget: int) -> list[int]:
    """Split `budget` as evenly as the classes allow: a class smaller than its share gives the rest to the others."""
    quotas = [0] * len(class_sizes)
    remaining = min(budget, sum(class_sizes))
    order = sorted(range(len(class_sizes)), key=lambda k: class_sizes[k])
    for position, k in enumerate(order):
        share = remaining // (len(order) - position)
        quotas[k] = min(class_sizes[k], share)
        remaining -= quotas[k]
    for k in sorted(order, key=lambda k: -class_sizes[k]):
        extra = min(remaining, class_sizes[k] - quotas[k])
        quotas[k] += extra
        remaining -= extra
    return quotas


def tag_weight(tags: tuple[str, ...], tag_weights: dict[str, float]) -> float:
    """How many rows a row carrying `tags` counts as: the product of its tags' weights (1 for an untagged row)."""
    return float(np.prod([tag_weights.get(t, 1.0) for t in tags]))


def sampling_probabilities(
    records: list[Record],
    multipliers: dict[str, dict[str, float]] | None = None,
    temperature: float = 0.5,
    label_temperature: float = 0.5,
    tag_weights: dict[str, float] | None = None,
) -> np.ndarray:
    """Per-record sampling probability: a label gets a share ∝ its rows^label_temperature, and inside a label each
    source gets a share ∝ its rows^temperature × its multiplier, split over its rows.

    This is how label × source balance is done without throwing rows away: a large public source (EDOS neutral)
    cannot drown a small one (the seed corpus), yet every row can be drawn. Temperature 1 samples in proportion to
    size, 0 gives every label (source) the same share. Labels are tempered rather than equalised because a model
    trained on equal label shares learns equal priors, and then over-calls the rarer labels on real text where most
    posts are neutral (measured: EDOS dev posts labelled harassing 42 % against 24 % true). `multipliers[source]
    [label]` (sources.toml `weight`, and the seed corpus's own weight) scale a source up or down inside its label.
    `tag_weights[tag]` counts a row carrying that tag as that many rows (e.g. the identity-term counterfactuals,
    few against thousands of public posts that name women in abuse).
    """
    multipliers, tag_weights = multipliers or {}, tag_weights or {}
    row_weight = np.array([tag_weight(r.tags, tag_weights) for r in records])
    cells: Counter[tuple[str, str]] = Counter()
    label_rows: Counter[str] = Counter()
    for r, w in zip(records, row_weight):
        cells[(r.label, r.source)] += w
        label_rows[r.label] += w
    mass = {cell: n**temperature * multipliers.get(cell[1], {}).get(cell[0], 1.0) for cell, n in cells.items()}
    label_mass: Counter[str] = Counter()
    for (label, _), m in mass.items():
        label_mass[label] += m
    share = {label: n**label_temperature for label, n in label_rows.items()}
    total_share = sum(share.values())
    p = np.array(
        [share[r.label] / total_share * mass[(r.label, r.source)] / label_mass[r.label] * w / cells[(r.label, r.source)]
         for r, w in zip(records, row_weight)],
        dtype=np.float64,
    )
    return p / p.sum() if p.sum() > 0 else p


def weighted_sample(p: np.ndarray, size: int | None, rng: np.random.Generator) -> np.ndarray:
    """`size` distinct indices drawn with probability proportional to `p` (Efraimidis–Spirakis keys), shuffled;
    every index with p > 0 when `size` is None or at least their number."""
    candidates = np.flatnonzero(p > 0)
    if size is None or size >= len(candidates):
        return rng.permutation(candidates)
    keys = rng.exponential(size=len(candidates)) / p[candidates]
    return rng.permutation(candidates[np.argpartition(keys, size)[:size]])


def sample_indices(labels: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """All indices (shuffled) when within `cap`, else a class-balanced sample of `cap` without replacement."""
    if cap is None or cap >= len(labels):
        return rng.permutation(len(labels))
    by_label = [np.flatnonzero(labels == k) for k in range(len(LABELS))]
    quotas = balanced_quotas([len(idx) for idx in by_label], cap)
    picked = [rng.choice(idx, size=q, replace=False) for idx, q in zip(by_label, quotas) if q]
    return rng.permutation(np.concatenate(picked))
