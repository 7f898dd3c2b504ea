"""A small oneDNN primitive cache, so that a long prediction run's memory stays flat.

On the CPU PyTorch runs convolutions (the char CNN, the TextCNN) through oneDNN, which builds a "primitive"
(JIT-compiled code and its descriptors) for every input shape it meets and keeps up to 1,024 of them. textlab's
shapes almost never repeat: each batch has its own number of distinct words and its own longest word. So the
cache fills, then swaps a primitive out for a new one on every batch, and these long-lived allocations, made
between the batches' tensors, fragment the C heap: memory the allocator keeps but cannot reuse. `textlab predict`
on 200 MB of text ended at 1,552 MB of peak RSS against 735 MB on 2 MB; with this cache bounded, both stay
flat (README, "Prediction memory"; scripts/benchmark_predict_memory.py). Rebuilding a primitive is cheap next
to a batch, and it was rebuilt for nearly every batch anyway.

PyTorch has no call to resize the cache; oneDNN reads ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` once, when it builds
its first primitive. So this sets it before any model runs (``textlab`` commands, ``load_model``), and leaves
a value the user set alone. No effect in a process that ran a convolution before.
"""

from __future__ import annotations

import os

# Primitives kept. Enough for the ones that do repeat (the weights' layout conversions, one per convolution);
# measured flat at 8 on 550 batches of CoNLL-2003 text, where 1,024 (oneDNN's default) grew by 200 MB.
CAPACITY = 8

# oneDNN 3 reads the first, and the second (its old name) when the first is not set.
_VARIABLES = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY")


def bound_primitive_cache() -> None:
    """Ask oneDNN for a cache of ``CAPACITY`` primitives, unless the environment names a size."""
    if not any(name in os.environ for name in _VARIABLES):
        os.environ[_VARIABLES[0]] = str(CAPACITY)
