"""Seeded, stratified splits of a labelled data set: train/val/test parts and k folds."""

from __future__ import annotations

import random


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
