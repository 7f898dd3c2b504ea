"""The tagger's network (words, characters, casing -> BiLSTM -> emissions) in the form the ONNX exporter
traces with dynamic sizes.

``SequenceTagger.forward`` reads a ``TaggingBatch`` and, for speed in PyTorch, cuts the characters to the
longest word with a Python ``int`` (a tracer would freeze that size into the graph) and scatters the
character vectors into the real positions only. Here the same weights compute the same values from the four
tensors alone: each distinct word's characters are encoded and the padding positions zeroed afterwards, and the
word rows (trained and pretrained-only) are one table. The BiLSTM keeps its packed sequences, which the
exporter turns into ONNX LSTM's ``sequence_lens``, so padding never reaches the backward direction.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textlab.errors import TextlabError
from textlab.modules.char_encoders import CharCNN, CharCNNandLSTM, CharLSTM
from textlab.modules.embedders import WordEmbeddings
from textlab.modules.encoders import RNNEncoder


def word_table(words: WordEmbeddings) -> torch.Tensor:
    """All the word rows as one (V, D) table: the trained ones, then the pretrained-only buffer, each row
    shortened to ``max_norm`` as ``WordEmbeddings.forward`` does when it looks the row up."""
    table = torch.cat([words.weight.detach(), words.pretrained_only]).float()  # (V, D)
    if words.max_norm is not None:
        norms = table.norm(p=words.norm_type, dim=-1, keepdim=True)
        table = table * (words.max_norm / (norms + 1e-7)).clamp(max=1.0)
    return table


class CharCNNGraph(nn.Module):
    """``CharCNN._encode`` on every word of the batch, the padding words included: (N, W) -> (N, F).

    Each convolution is written as what it computes on one-hot characters: a filter's k-th column applied to a
    character's embedding depends on the character alone, so it is a table (characters x filters), made once here,
    and the convolution at a position is the sum of its k tables' rows at the k characters it covers (row 0, the
    padding character's zero embedding, is zero, as the convolution's zero padding). In onnxruntime a Gather
    per column and their sum take a fraction of the time of the Conv and the transposes to and from its
    channels-first layout. Only the order of the float32 sums differs from the convolution's."""

    def __init__(self, cnn: CharCNN) -> None:
        super().__init__()
        embedding = cnn.embedding.weight.detach().float()  # (C, D)
        self.widths = [conv.kernel_size[0] for conv in cnn.convs]
        for i, conv in enumerate(cnn.convs):
            weight = conv.weight.detach().float()  # (F, D, w)
            for k in range(weight.shape[2]):
                self.register_buffer(f"table_{i}_{k}", embedding @ weight[:, :, k].T)  # (C, F)
            self.register_buffer(f"bias_{i}", conv.bias.detach().float())

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        W = chars.shape[1]
        parts = []
        for i, width in enumerate(self.widths):
            left = width // 2  # Conv1d's padding; an even width's extra last position is dropped, as CharCNN does
            padded = nn.functional.pad(chars, (left, width - 1 - left))  # (N, W + width - 1), 0: padding
            h = getattr(self, f"bias_{i}")
            for k in range(width):
                h = h + nn.functional.embedding(padded[:, k : k + W], getattr(self, f"table_{i}_{k}"))  # (N, W, F)
            parts.append(h)
        h = torch.cat(parts, dim=2)  # (N, W, F)
        real = torch.arange(W, device=chars.device)[None, :] < lengths[:, None]  # (N, W)
        # padding out of the max by adding -inf: onnxruntime's Where over (N, W, F) with an (N, W, 1) condition took
        # five times as long as this Add (h + 0 is h, h - inf is -inf: the same values as masked_fill)
        padding = torch.zeros(real.shape, dtype=h.dtype, device=h.device).masked_fill(~real, float("-inf"))
        return (h + padding[:, :, None]).max(dim=1).values  # (N, F)


class CharLSTMGraph(nn.Module):
    """``CharLSTM._encode``: the final states of the BiLSTM over each word's real characters: (N, W) -> (N, 2H).

    They are read from the outputs (forward: at the last real character; backward: at the first), which hold the
    same values: the exporter fails on a packed LSTM whose final states alone are used."""

    def __init__(self, lstm: CharLSTM) -> None:
        super().__init__()
        self.embedding, self.lstm = lstm.embedding, lstm.lstm
        self.hidden = lstm.lstm.hidden_size

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        W, H = chars.shape[1], self.hidden
        packed = pack_padded_sequence(self.embedding(chars), lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=W)  # (N, W, 2H)
        last = out.gather(1, (lengths - 1)[:, None, None].expand(-1, 1, 2 * H))[:, 0]  # (N, 2H)
        return torch.cat([last[:, :H], out[:, 0, H:]], dim=-1)  # (N, 2H)


class CharBothGraph(nn.Module):
    def __init__(self, both: CharCNNandLSTM) -> None:
        super().__init__()
        self.cnn, self.lstm = CharCNNGraph(both.cnn), CharLSTMGraph(both.lstm)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.cnn(chars, lengths), self.lstm(chars, lengths)], dim=-1)


def char_graph(chars: nn.Module | None) -> nn.Module | None:
    if chars is None:
        return None
    # CharCNNandLSTM first: it is no subclass of the others, but the order keeps the mapping readable
    for part, graph in ((CharCNNandLSTM, CharBothGraph), (CharCNN, CharCNNGraph), (CharLSTM, CharLSTMGraph)):
        if type(chars) is part:
            return graph(chars)
    raise TextlabError(f"ONNX export: the character encoder {type(chars).__name__} cannot be exported (textlab "
                       "exports CharCNN, CharLSTM and CharCNNandLSTM)")


class TaggerNetwork(nn.Module):
    """(words, chars, casing, lengths) -> emissions (B, T, K), with the weights of a ``SequenceTagger`` in eval mode.

    ``words`` may be a smaller table than the tagger's (``textlab.export.trim``): its rows are looked up as they are.
    """

    def __init__(self, tagger, words: torch.Tensor | None = None) -> None:
        super().__init__()
        embedder = tagger.embedder
        if type(embedder.words) is not WordEmbeddings:
            raise TextlabError(f"ONNX export: the word part {type(embedder.words).__name__} cannot be exported "
                               "(textlab exports WordEmbeddings)")
        if type(tagger.encoder) is not RNNEncoder:
            raise TextlabError(f"ONNX export: the encoder {type(tagger.encoder).__name__} cannot be exported "
                               "(textlab exports RNNEncoder)")
        self.register_buffer("words", word_table(embedder.words) if words is None else words)
        self.chars = char_graph(embedder.chars)
        self.casing = embedder.casing
        self.rnn = tagger.encoder.rnn
        self.projection = tagger.projection

    def forward(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, lengths: torch.Tensor
                ) -> torch.Tensor:
        B, T = words.shape
        mask = torch.arange(T, device=words.device)[None, :] < lengths[:, None]  # (B, T)
        parts = [nn.functional.embedding(words, self.words)]  # (B, T, D)
        if self.chars is not None:
            W = chars.shape[2]
            # each distinct word once (ONNX Unique), as TokenEmbedder does in eval mode: a batch repeats its words,
            # and its padding positions are all one row
            words_chars, which = torch.unique(chars.reshape(B * T, W), dim=0, return_inverse=True)  # (U, W), (B*T,)
            char_lengths = (words_chars != 0).sum(dim=1).clamp(min=1)  # (U,): an empty word reads one padding char
            encoded = self.chars(words_chars, char_lengths)[which].reshape(B, T, -1)  # (B, T, F)
            parts.append(encoded * mask[:, :, None].to(encoded.dtype))  # padding words: zeros, as in PyTorch
        if self.casing is not None:
            parts.append(self.casing(casing))  # (B, T, casing_dim)
        x = torch.cat(parts, dim=-1)  # (B, T, E)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=T)  # (B, T, 2H)
        return self.projection(out)  # (B, T, K)
