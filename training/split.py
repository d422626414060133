"""Grouped, stratified train/validation/test split with a fixed seed.

A reply is read with its parent, and a parent post is often a record of its own: if they landed in different
splits, a model could be tested on a conversation it trained on. So records are grouped — the group is the
normalised parent_text when there is one, else the normalised text — and whole groups are assigned to splits.
Within that constraint sklearn's StratifiedGroupKFold (StratifiedKFold for one-record groups) keeps each
label × source mix about equal across splits.

Fractions are realised to the nearest 1/k with k = round(1 / min(validation, test)) folds (10 for 80/10/10):
test takes round(test·k) folds, validation round(validation·k), train the rest.

Opt-in rows (training/build.py: the seed corpus in other languages, opt-in sources) are split after the base and
on their own (`assign_opt_in_splits`), stratified by language too, so that adding them moves no base record and
each language is held out in validation and test.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from training.dedup import normalize_text
from withyou.records import DataError, Record

SPLITS = ("train", "validation", "test")


def group_of(record: Record) -> str:
    """Stable id of the conversation a record belongs to (its parent's text, or its own text)."""
    anchor = normalize_text(record.parent_text) if record.parent_text else normalize_text(record.text)
    return hashlib.sha1(anchor.encode("utf-8")).hexdigest()[:16]


def label_source_stratum(record: Record) -> str:
    """What the base split keeps balanced: label × source."""
    return f"{record.label}|{record.source}"


def language_stratum(record: Record) -> str:
    """What the opt-in split keeps balanced: label × source × language."""
    return f"{record.label}|{record.source}|{record.lang}"


def fold_plan(validation_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """(folds, test folds, validation folds) approximating the requested fractions."""
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1 and validation_fraction + test_fraction < 1):
        raise ValueError(
            f"validation ({validation_fraction}) and test ({test_fraction}) fractions must be in (0, 1) "
            "and sum to less than 1"
        )
    folds = min(20, max(3, round(1 / min(validation_fraction, test_fraction))))
    n_test = max(1, round(test_fraction * folds))
    n_validation = max(1, round(validation_fraction * folds))
    if n_test + n_validation >= folds:
        raise ValueError("fractions leave no fold for training; lower validation/test fractions")
    return folds, n_test, n_validation


def fold_assignment(strata: list[str], groups: list[str], folds: int, seed: int) -> np.ndarray:
    """Fold index per record. Singleton groups (most public posts) go through StratifiedKFold, which is
    vectorised; only multi-record groups need StratifiedGroupKFold, whose per-group loop is slow on tens of
    thousands of groups. Each part is stratified on its own, so their union is too. When a part is too small to be
    split on its own (fewer groups than folds, or no stratum of singletons as large as the folds, which both
    splitters refuse), every record goes through StratifiedGroupKFold; when no stratum at all is that large (a few
    opt-in rows), the groups are dealt to the folds in a seeded random order, unstratified."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if max(Counter(strata).values()) < folds:
        order = np.random.default_rng(seed).permutation(sorted(set(groups)))
        fold_of_group = {group: index % folds for index, group in enumerate(order)}
        return np.array([fold_of_group[g] for g in groups], dtype=np.int64)
    sizes = Counter(groups)
    single = np.array([i for i, g in enumerate(groups) if sizes[g] == 1], dtype=np.int64)
    multi = np.array([i for i, g in enumerate(groups) if sizes[g] > 1], dtype=np.int64)
    n_multi_groups = sum(1 for n in sizes.values() if n > 1)
    largest_single_stratum = max(Counter(strata[i] for i in single).values(), default=0)
    if not (largest_single_stratum >= folds and (n_multi_groups >= folds or len(multi) == 0)):
        single, multi = np.array([], dtype=np.int64), np.arange(len(groups))
    fold_of = np.empty(len(groups), dtype=np.int64)
    y = np.array(strata)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        if len(single):
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            for fold, (_, held_out) in enumerate(splitter.split(single, y[single])):
                fold_of[single[held_out]] = fold
        if len(multi):
            grouped = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
            multi_groups = [groups[i] for i in multi]
            for fold, (_, held_out) in enumerate(grouped.split(multi, y[multi], multi_groups)):
                fold_of[multi[held_out]] = fold
    return fold_of


def assign_splits(
    records: Sequence[Record],
    *,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 13,
    stratum: Callable[[Record], str] = label_source_stratum,
) -> list[Record]:
    """Return the records with `split` and `group` set; groups never straddle splits."""
    folds, n_test, n_validation = fold_plan(validation_fraction, test_fraction)
    groups = [group_of(r) for r in records]
    if len(set(groups)) < folds:
        raise DataError(
            f"only {len(set(groups))} distinct conversations; a {folds}-fold grouped split needs at least {folds}"
        )
    fold_of = fold_assignment([stratum(r) for r in records], groups, folds, seed)
    names = ["test"] * n_test + ["validation"] * n_validation + ["train"] * (folds - n_test - n_validation)
    return [
        record.model_copy(update={"split": names[fold], "group": group})
        for record, fold, group in zip(records, fold_of, groups)
    ]


def assign_opt_in_splits(
    records: Sequence[Record],
    base: Sequence[Record],
    *,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 13,
) -> list[Record]:
    """Split opt-in `records` beside an already split `base`, moving no base record: a grouped split of their own,
    stratified by label × source × language; a record whose conversation the base already holds takes its split."""
    split_of_group = {r.group: r.split for r in base}
    assigned = assign_splits(records, validation_fraction=validation_fraction, test_fraction=test_fraction,
                             seed=seed, stratum=language_stratum)
    return [r.model_copy(update={"split": split_of_group[r.group]}) if r.group in split_of_group else r
            for r in assigned]
