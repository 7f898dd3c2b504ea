"""Which inputs go into which prediction batch, in input order, in plain Python: the same batches for
``model.predict`` (``TextModel.predict_texts``), the streaming prediction and the torch-free ``textlab.runtime``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Example = TypeVar("Example")

# Evaluation and prediction batches are padded to their longest example, and prediction keeps the input order.
# So one very long example (a CoNLL file without blank lines, a log on one line) among short ones padded every
# example of its batch to its length: a 10,000-token sentence took the tagger 3.1 GB instead of 0.6, a
# 20,000-word line the TextCNN 7 GB and 34 s instead of 0.6 GB and 6 s, and a 1 MB line was out of reach.
# So a batch is cut before the example that would take it past this many positions per example of the batch
# size, padding included; a longer example gets a batch of its own. Ordinary data never gets near it:
# CoNLL-2003's longest sentence has 124 tokens, so its batches hold at most 128 x 124 positions of 128 x 512.
MAX_PADDED_PER_EXAMPLE = 512

# Sorted by length, a batch's sentences are close in length, except in the last batches of a long tail: CoNLL-2003's
# test set at batch 256 ends in 125 sentences of 38 to 124 tokens, padded to 124 (two thirds of its positions
# padding, 16% of all the positions the set is run over). So a sorted batch is cut where it would hold more than
# this many positions per example of the batch size; there, the batches of 256 up to 30 tokens stay whole and the
# tail becomes batches of 221 (to 37 tokens), 148 (to 55) and 12 (to 124): 60,556 positions -> 53,133 for 46,435
# tokens. The ONNX runtime then tagged the set about 8% faster (float32 and int8; docs/speed.md).
SORTED_PADDED_PER_EXAMPLE = 32


def within_padding_budget(batch: list[int], lengths: list[int], batch_size: int,
                          per_example: int = MAX_PADDED_PER_EXAMPLE) -> list[list[int]]:
    """``batch`` (indices into ``lengths``) cut in order into parts of at most ``batch_size`` examples and
    ``batch_size * per_example`` positions, padding included (``MAX_PADDED_PER_EXAMPLE``)."""
    budget = batch_size * per_example
    parts, part, longest = [], [], 0
    for i in batch:
        n = max(lengths[i], 1)
        if part and (len(part) == batch_size or (len(part) + 1) * max(longest, n) > budget):
            parts.append(part)
            part, longest = [], 0
        part.append(i)
        longest = max(longest, n)
    return parts + [part] if part else parts


def length_sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices 0 .. n-1 sorted by length (ties in input order), in batches of at most ``batch_size`` and within
    ``SORTED_PADDED_PER_EXAMPLE``: what ``model.predict`` tags a list in, putting the results back in input order.

    Why sorted: a batch is padded to its longest example, and the sums over time (the CRF's Viterbi and
    forward-backward) run to that length for every example. CoNLL-2003's test set in file order, batch 256,
    pads to 4.4 positions per real token; sorted, to 1.3, and the tagger tags it about 1.45 times as fast
    (docs/speed.md), with the same tags.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return within_padding_budget(order, lengths, batch_size, SORTED_PADDED_PER_EXAMPLE)


def batches_in_order(examples: Iterable[Example], batch_size: int, length: Callable[[Example], int]
                    ) -> Iterator[list[Example]]:
    """``examples`` in order, ``batch_size`` at a time, each batch cut where a very long example would pad it past
    the budget (``within_padding_budget``): the batches of a stream read as it comes (``textlab predict``)."""
    group: list[Example] = []
    for example in examples:
        group.append(example)
        if len(group) == batch_size:
            yield from _within_budget(group, batch_size, length)
            group = []
    if group:
        yield from _within_budget(group, batch_size, length)


def _within_budget(group: list[Example], batch_size: int, length: Callable[[Example], int]) -> Iterator[list[Example]]:
    lengths = [length(example) for example in group]
    for part in within_padding_budget(list(range(len(group))), lengths, batch_size):
        yield [group[i] for i in part]
