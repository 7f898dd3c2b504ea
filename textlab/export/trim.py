"""``--keep_pretrained N``: a smaller word table for the edge.

A vocabulary built with ``add_pretrained_words`` holds the training words first (``trainable_words`` of them),
then every word of the vectors file not among them, in the file's order: GloVe's is by frequency. Keeping the
training words and the first N pretrained-only ones is then a prefix of the vocabulary: no id changes, and
a word dropped reads as it would in a vocabulary that never had it (its lower-cased or digit-normalised form if
that was kept, else <unk>: ``WordVocab.id``'s lookup chain).
"""

from __future__ import annotations

import logging

from textlab.errors import TextlabError

log = logging.getLogger("textlab")


def kept_words(vocab, keep_pretrained: int | None) -> int:
    """How many vocabulary words (a prefix) the export keeps: all, or the training ones and ``keep_pretrained``
    pretrained-only ones."""
    total = len(vocab.words)
    if keep_pretrained is None:
        return total
    if keep_pretrained < 0:
        raise TextlabError(f"--keep_pretrained {keep_pretrained}: must be 0 or more (null keeps every word)")
    trained = vocab.trainable_words if vocab.trainable_words is not None else total
    if trained == total:
        log.warning("--keep_pretrained %d: the model has no pretrained-only words (all %d were seen in training); "
                    "every word is kept", keep_pretrained, total)
    return min(total, trained + keep_pretrained)


def trimmed_vocab(vocab, rows: int) -> dict:
    """The vocabulary dict (``to_dict``) with only its first ``rows`` words."""
    trimmed = vocab.to_dict()
    trimmed["words"] = trimmed["words"][:rows]
    return trimmed
