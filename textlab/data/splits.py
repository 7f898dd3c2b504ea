"""Seeded, stratified splits of a labelled data set: train/val/test parts and k folds, and the
classification data module's ``splits`` part that asks for them."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, fields

from textlab.errors import TextlabError

log = logging.getLogger("textlab")


@dataclass(frozen=True)
class Splits:
    """How the classification data module makes the splits the data does not give, and what it trains on.

    Args:
        val_fraction: share of the training data held out for validation when no val data is given.
        test_fraction: share of the training data held out for the test when neither val nor test data is
            given (the one-file case).
        split_seed: seed of the stratified splits and folds (independent of the training seed).
        num_folds: k-fold cross-validation of one data set: fold ``fold`` is the test set, ``val_fraction``
            of the rest the validation set (stratified, seeded).
        fold: with ``num_folds``: which fold (0 .. num_folds - 1) is the test set.
        train_with_dev: train on the validation examples too (flair's ``train_with_dev``), also when they
            were split off the training data. Validation still runs on them, so its scores measure fit and
            no longer pick a model: train a fixed number of epochs and use ``last.ckpt``.
    """

    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    num_folds: int | None = None
    fold: int = 0
    train_with_dev: bool = False

    def __post_init__(self) -> None:
        val, test, k, fold = self.val_fraction, self.test_fraction, self.num_folds, self.fold
        if not 0 <= val < 1 or not 0 <= test < 1 or val + test >= 1:
            raise TextlabError("val_fraction and test_fraction must be in [0, 1) and add up to less than 1")
        if k is not None and k < 2:
            raise TextlabError(f"--data.splits.num_folds {k}: cross-validation needs at least 2 folds")
        if k is None and fold != 0:
            raise TextlabError(f"--data.splits.fold {fold} picks a fold of a k-fold cross-validation: "
                               "give --data.splits.num_folds too")
        if k is not None and not 0 <= fold < k:
            raise TextlabError(f"--data.splits.fold {fold} is not a fold of --data.splits.num_folds {k} "
                               f"(0 .. {k - 1})")


    def warn_unused(self, val: str | None, test: str | None, splitting: bool) -> None:
        """Warn about split options that the given validation or test data (where they were read; None: not
        given) leave unused: a user who set one expects a held-out share of the training data that is not
        there (0 asks for none, and is none)."""
        default = {f.name: f.default for f in fields(self)}

        def asks(name: str) -> bool:  # a share other than the default's, and other than none
            value = getattr(self, name)
            return bool(value) and value != default[name]

        def given(where: str | None) -> str:
            return where or "none"

        if val is not None and asks("val_fraction"):
            log.warning("--data.splits.val_fraction %s: no effect, the validation data is given (%s) (ignored); "
                        "remove it", self.val_fraction, val)
        if (val is not None or test is not None) and asks("test_fraction"):
            why = (f"the test data is given ({given(test)})" if test is not None else
                   f"a test part is split off only when no validation data is given either ({given(val)})")
            log.warning("--data.splits.test_fraction %s: no effect, %s (ignored); remove it", self.test_fraction, why)
        if not splitting and self.split_seed != default["split_seed"]:
            log.warning("--data.splits.split_seed %s: no effect, nothing is split off the training data (validation "
                        "data: %s; test data: %s) (ignored); remove it", self.split_seed, given(val), given(test))


def _shuffled_by_label(labels: list[str], seed: int) -> list[list[int]]:
    """Indices grouped by label (labels sorted), each group shuffled with ``seed``."""
    rng = random.Random(seed)
    groups = []
    for label in sorted(set(labels)):
        group = [i for i, lab in enumerate(labels) if lab == label]
        rng.shuffle(group)
        groups.append(group)
    return groups


def stratified_split(labels: list[str], fractions: list[float], seed: int = 0) -> list[list[int]]:
    """Partition the indices of ``labels`` into ``len(fractions)`` parts of about those fractions of
    every label (the first part takes the rounding rest). Seeded; each part in ascending order."""
    parts: list[list[int]] = [[] for _ in fractions]
    for group in _shuffled_by_label(labels, seed):
        counts = [round(f * len(group)) for f in fractions[1:]]
        counts = [len(group) - sum(counts)] + counts
        if counts[0] < 0:
            raise ValueError("split fractions add up to more than 1")
        start = 0
        for part, n in zip(parts, counts):
            part.extend(group[start : start + n])
            start += n
    return [sorted(p) for p in parts]


def kfold_split(labels: list[str], k: int, seed: int = 0) -> list[list[int]]:
    """``k`` disjoint folds covering every index, stratified: each label's examples are dealt round-robin,
    so fold sizes, and every label's count per fold, differ by at most one. Each fold in ascending order."""
    if k < 2:
        raise ValueError("k-fold cross-validation needs at least 2 folds")
    if k > len(labels):
        raise ValueError(f"{k} folds need at least {k} examples, found {len(labels)}")
    folds: list[list[int]] = [[] for _ in range(k)]
    position = 0
    for group in _shuffled_by_label(labels, seed):
        for i in group:
            folds[position % k].append(i)
            position += 1
    return [sorted(f) for f in folds]
