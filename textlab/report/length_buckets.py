"""Length buckets for scores by length ("check per-length accuracy": an RNN may fail on long inputs alone).

The same fixed edges for every data set, so that two reports compare bucket by bucket: CoNLL-2003 sentences
average 14 tokens and reach 124, movie reviews about 20, whole documents hundreds.
"""

from __future__ import annotations

from collections.abc import Sequence

UPPER_BOUNDS = (5, 10, 20, 40, 80, 160)  # the last bucket is everything longer


def bucket_of(length: int) -> int:
    """The bucket's number, from 0: 1-5 tokens is bucket 0, 161 and more the last."""
    return next((i for i, upper in enumerate(UPPER_BOUNDS) if length <= upper), len(UPPER_BOUNDS))


def bucket_name(bucket: int) -> str:
    """``1-5``, ``6-10``, ..., ``161+``."""
    lower = 1 if bucket == 0 else UPPER_BOUNDS[bucket - 1] + 1
    return f"{lower}+" if bucket == len(UPPER_BOUNDS) else f"{lower}-{UPPER_BOUNDS[bucket]}"


def group_by_length(lengths: Sequence[int]) -> dict[int, list[int]]:
    """The positions of ``lengths`` in each bucket that has any, buckets in order."""
    groups: dict[int, list[int]] = {}
    for i, length in enumerate(lengths):
        groups.setdefault(bucket_of(length), []).append(i)
    return dict(sorted(groups.items()))
