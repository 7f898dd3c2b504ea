"""Small oneDNN caches, so that a long prediction run's memory stays flat.

On the CPU PyTorch runs convolutions (the TextCNN's; the char CNN's when this was measured) through oneDNN, which
builds a "primitive" (JIT-compiled code and its descriptors) for every input shape it meets. Two caches keep them,
each up to 1,024 shapes: oneDNN's own, and the one of ideep (PyTorch's layer over oneDNN). textlab's shapes almost
never repeat: each batch has its own number of distinct words and its own longest word. So the caches only fill,
then swap an entry out for a new one on every batch; these long-lived allocations, made between the batches'
tensors, fragment the C heap into memory the allocator keeps but cannot reuse. `textlab predict` on 200 MB of text
peaked at 1,552 MB of RSS against 735 MB on 2 MB; with both caches bounded, 607 MB against 588 MB
(docs/prediction.md, "Streaming, stdin and stdout"; scripts/benchmark_predict_memory.py; pytorch/pytorch#27971 is
the same growth). A primitive takes about 0.05 ms to build, next to about 100 ms a batch, and it was built anew for
nearly every batch anyway.

PyTorch has no call to resize either cache; each reads its size from the environment once, when it is first
used. So this sets both before any model runs (``textlab`` commands, ``load_model``), each unless the user set
it. No effect in a process that ran a convolution before.

oneDNN runs the BiLSTM too (in eval), with a primitive for each sentence length (each batch's lengths), and an
LSTM primitive takes about 1.7 ms to build, twice the LSTM of a short sentence. So oneDNN's own cache keeps 64
entries: tagging one sentence at a time then mostly finds its length's primitive (p50 7.4 ms against 9.6 with 8
entries, one thread, a busy machine; docs/speed.md), and the heap still stays flat (`textlab predict` on 100 MB
of text: 622 MB against 607 MB on 2 MB). ideep's keeps 8.

Training (``textlab fit``) keeps oneDNN's default 1,024 entries: there oneDNN runs the BiLSTM forward and backward
(textlab/modules/encoders.py), with primitives for each batch shape, and CoNLL-2003's training sentences have 64
distinct lengths. With 64 entries, primitives were rebuilt for 1.40 ms a training step (about 10% of a step at
batch 10), with 256 for 1.14 ms, with 1,024 for 0.46 ms (ONEDNN_VERBOSE, 300 steps after 100). Peak memory over
two CoNLL epochs: 1,036 MB against 1,004 MB with 64 (a training process's shapes repeat every epoch).
"""

from __future__ import annotations

import os

# Entries each cache keeps. oneDNN's: the LSTM primitives of the sentence lengths met most recently, beside the
# convolutions'. ideep's: enough for what does repeat (a convolution's weights in oneDNN's layout, one per
# convolution); on 550 batches of CoNLL-2003 text the heap stayed flat with 8 in both caches, and with oneDNN's 8
# and ideep's 1,024 it still grew by 11 MB of live entries and 30 MB of fragments.
ONEDNN_CAPACITY = 64
ONEDNN_TRAINING_CAPACITY = 1024
IDEEP_CAPACITY = 8

# Each cache's variables: oneDNN 3 reads the first, and the second (its old name) when the first is not set.
_ONEDNN_VARIABLES = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY")
_IDEEP_VARIABLES = ("LRU_CACHE_CAPACITY",)


def bound_primitive_caches(training: bool = False) -> None:
    """Ask oneDNN and ideep for bounded caches, each unless the environment names a size: ``ONEDNN_CAPACITY``
    entries in oneDNN's (``ONEDNN_TRAINING_CAPACITY`` for a training process) and ``IDEEP_CAPACITY`` in ideep's."""
    onednn = ONEDNN_TRAINING_CAPACITY if training else ONEDNN_CAPACITY
    for capacity, names in ((onednn, _ONEDNN_VARIABLES), (IDEEP_CAPACITY, _IDEEP_VARIABLES)):
        if not any(name in os.environ for name in names):
            os.environ[names[0]] = str(capacity)
