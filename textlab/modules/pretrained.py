"""What every part that can start from pretrained word vectors shares: where they come from, and loading them.

A part that holds word vectors (``WordEmbeddings``, ``WordChannels``, ``NgramBag``) takes ``pretrained``
(a GloVe/word2vec text file, or ``glove-6b-50d``) and ``normalize`` among its own arguments, and defines
``load_pretrained(matrix, found)``. The model calls ``load_pretrained_vectors`` once, when training starts
(``setup("fit")``, before Lightning restores a checkpoint, so a resumed run keeps its trained weights).
"""

from __future__ import annotations

import numpy as np

from textlab.data.vectors import load_vectors, vectors_for_vocab
from textlab.data.vocab import WordVocab


class PretrainedWords:
    """Mixin for parts whose word rows may start from pretrained vectors."""

    pretrained: str | None = None
    normalize: bool = False

    @property
    def word_dim(self) -> int:  # pragma: no cover - abstract
        """The size of the word vectors the pretrained ones go into."""
        raise NotImplementedError

    def use_pretrained(self, pretrained: str | None, normalize: bool) -> None:
        """Set the part's two pretrained options, after the checks they share."""
        if normalize and not pretrained:
            raise ValueError("normalize scales the pretrained vectors: set pretrained (e.g. glove-6b-50d)")
        self.pretrained, self.normalize = pretrained, normalize

    def load_pretrained(self, matrix: np.ndarray, found: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def load_pretrained_vectors(self, words: WordVocab) -> tuple[int, int]:
        """Copy the vectors of ``pretrained`` into the rows of ``words`` that have one; (found, of) counts."""
        vectors = load_vectors(self.pretrained, self.word_dim)
        # NCRF++'s norm_word_emb: each pretrained vector scaled to length 1
        matrix, found = vectors_for_vocab(words, vectors, unit_norm=self.normalize)
        self.load_pretrained(matrix, found)
        return int(found.sum()), len(found)
