"""An auxiliary language-modelling loss for a BiLSTM tagger (Rei 2017, "Semi-supervised multitask
learning for sequence labeling").

In training, the forward LSTM's state at each token predicts the next word and the backward LSTM's
state the previous word. The extra signal comes from the training text itself, every word of it
rather than the entity tokens alone, so the recurrent layer learns more about the words around an
entity. Prediction never runs it: the tagger's output does not change, only how it was trained.

Written here because no library ships this head: it is two small MLPs and a cross entropy over the
most frequent training words (the word vocabulary lists them first).
"""

from __future__ import annotations

import torch
from torch import nn

OTHER, BOUNDARY = 0, 1  # classes: a word outside the predicted ones (or <unk>), and the sentence's edge
_FIRST_WORD_ID = 2  # word ids 0 and 1 are <pad> and <unk>


class NeighbourWordLoss(nn.Module):
    """Cross entropy of predicting each token's neighbours from the encoder's two directions.

    Classes: the word ids ``2 .. num_words - 1`` (the most frequent training words: the vocabulary is
    ordered by frequency) stand for themselves, any other word is ``OTHER``, and the position before the
    first token or after the last is ``BOUNDARY``. Each direction has a tanh hidden layer of
    ``hidden_dim`` before its softmax, as in Rei (2017).
    """

    def __init__(self, encoder_dim: int, num_words: int, hidden_dim: int = 50) -> None:
        super().__init__()
        if encoder_dim % 2:
            raise ValueError(f"a bidirectional encoder's output has an even size, not {encoder_dim}")
        self.num_words = num_words
        half = encoder_dim // 2
        self.next_word = nn.Sequential(nn.Linear(half, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, num_words))
        self.previous_word = nn.Sequential(nn.Linear(half, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, num_words))

    def targets(self, words: torch.Tensor) -> torch.Tensor:
        """Word ids -> classes."""
        predicted = (words >= _FIRST_WORD_ID) & (words < self.num_words)
        return torch.where(predicted, words, torch.full_like(words, OTHER))

    def forward(self, states: torch.Tensor, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Summed over a sentence's tokens and averaged over the batch's sentences, as the CRF's loss is.

        states: (B, T, 2H) encoder output, forward half first; words: (B, T) ids; mask: (B, T) real tokens.
        """
        B, T, _ = states.shape
        half = states.size(-1) // 2
        classes = self.targets(words)
        boundary = torch.full((B, 1), BOUNDARY, dtype=classes.dtype, device=classes.device)
        # next[t] = classes[t + 1]; past the last real token the sentence ends
        following = torch.cat([classes[:, 1:], boundary], dim=1)
        following = torch.where(torch.cat([mask[:, 1:], mask.new_zeros(B, 1)], dim=1), following, BOUNDARY)
        preceding = torch.cat([boundary, classes[:, :-1]], dim=1)
        loss = nn.functional.cross_entropy(self.next_word(states[..., :half][mask]), following[mask], reduction="sum")
        loss = loss + nn.functional.cross_entropy(
            self.previous_word(states[..., half:][mask]), preceding[mask], reduction="sum"
        )
        return loss / B
