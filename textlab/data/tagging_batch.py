"""Sentences -> ids -> padded batches for the tagger (the middle of file -> ... -> predictions).

Used by the data module for training and by ``SequenceTagger.predict`` for raw text, so both encode
text the same way.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from itertools import chain

import torch

from textlab.data.sentence import Origin, Sentence
from textlab.data.vocab import UNK, TaggingVocab, Vocab

# Longer tokens (URLs, hashes) are cut: one 500-character token would widen every word of its batch.
MAX_WORD_CHARS = 64

# Casing classes (Reimers & Gurevych 2017); 0 is padding.
CASINGS = ("<pad>", "other", "numeric", "mostly_numeric", "all_lower", "all_upper", "initial_upper", "contains_digit")


def casing_id(token: str) -> int:
    digits = sum(map(str.isdigit, token))
    if token.isdigit():
        kind = "numeric"
    elif digits / max(len(token), 1) > 0.5:
        kind = "mostly_numeric"
    elif token.islower():
        kind = "all_lower"
    elif token.isupper():
        kind = "all_upper"
    elif token[:1].isupper():
        kind = "initial_upper"
    elif digits:
        kind = "contains_digit"
    else:
        kind = "other"
    return CASINGS.index(kind)


@dataclass(slots=True)
class EncodedSentence:
    tokens: list[str]
    words: list[int]
    chars: list[list[int]]  # per token; tuples when made by encode_sentence, shared by equal tokens
    casing: list[int]
    tags: list[int] | None
    origin: Origin | None = None  # where a sentence of plain text came from (for character offsets)


# Per character vocabulary: token -> (its character ids, its casing class). Equal tokens then share one
# tuple of ids instead of a list each (a large prediction input holds all its encoded sentences, and the
# lists were most of their memory), and a frequent token is encoded once. Bounded, because a model kept
# in a server encodes whatever it is sent; the weak key lets the cache go with its vocabulary.
_TOKEN_CACHE_SIZE = 1 << 17
_token_caches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _token_encoder(chars: Vocab):
    cache = _token_caches.get(chars)
    if cache is None:
        cache = _token_caches[chars] = {}
    lookup = chars.stoi.get
    unknown = chars.id(UNK)  # what Vocab.id gives a character never seen in training

    def encode(token: str) -> tuple[tuple[int, ...], int]:
        found = cache.get(token)
        if found is None:
            if len(cache) >= _TOKEN_CACHE_SIZE:
                cache.clear()
            found = cache[token] = (tuple([lookup(c, unknown) for c in token[:MAX_WORD_CHARS]]), casing_id(token))
        return found

    return encode


def encode_sentence(sentence: Sentence, vocab: TaggingVocab) -> EncodedSentence:
    """Ids for one sentence. Unknown gold tags are the caller's to check (they need file and line)."""
    tokens = sentence.tokens
    encode = _token_encoder(vocab.chars)
    encoded = [encode(t) for t in tokens]
    return EncodedSentence(
        tokens=tokens,
        words=[vocab.words.id(t) for t in tokens],
        chars=[c for c, _ in encoded],
        casing=[k for _, k in encoded],
        tags=None if sentence.tags is None else [vocab.tags.id(t) for t in sentence.tags],
        origin=sentence.origin,
    )


@dataclass(init=False)
class TaggingBatch:
    """A padded batch. Lightning moves the tensor fields to the device; ``tokens`` stays on the host."""

    words: torch.Tensor  # (B, T) long, 0 = pad
    chars: torch.Tensor  # (B, T, L) long, 0 = pad
    casing: torch.Tensor  # (B, T) long, 0 = pad
    mask: torch.Tensor  # (B, T) bool, True on real tokens
    lengths: torch.Tensor  # (B,) long, on the CPU as packing wants
    tags: torch.Tensor | None  # (B, T) long, 0 where masked; None for unlabelled input
    # Not an init field (there is an __init__ below): Lightning's apply_to_collection, which moves every batch
    # to the device, keeps such fields as they are. It would otherwise visit every token string of the
    # batch, one Python call each: a fifth of the prediction loop's time on a CPU.
    tokens: list[list[str]] = field(init=False)
    origins: list[Origin | None] = field(init=False)  # per sentence, as tokens

    def __init__(self, words, chars, casing, mask, lengths, tags, tokens, origins=None) -> None:
        self.words, self.chars, self.casing, self.mask = words, chars, casing, mask
        self.lengths, self.tags = lengths, tags
        self.tokens = tokens
        self.origins = origins if origins is not None else [None] * len(tokens)

    def __len__(self) -> int:
        return len(self.tokens)


def collate_tagging(sentences: list[EncodedSentence | dict]) -> TaggingBatch:
    """Pads a list of encoded sentences (objects, or rows of a cached Arrow corpus) into one batch.

    Each field is filled by one assignment from a flat tensor, not one small tensor per token: real tokens
    are left-aligned, so ``x[mask]`` lists them sentence by sentence, token by token, as they are concatenated.
    """
    sentences = [EncodedSentence(**{k: v for k, v in s.items() if k != "n_tokens"}) if isinstance(s, dict) else s
                 for s in sentences]
    B = len(sentences)
    lengths = torch.tensor([len(s.words) for s in sentences], dtype=torch.long)
    T = int(lengths.max())
    mask = torch.arange(T)[None, :] < lengths[:, None]
    word_chars = [c for s in sentences for c in s.chars]
    char_counts = torch.tensor([len(c) for c in word_chars], dtype=torch.long)
    L = max(1, int(char_counts.max()) if len(word_chars) else 0)  # an empty token is all padding, not no characters

    def padded(values: list[int]) -> torch.Tensor:
        out = torch.zeros(B, T, dtype=torch.long)
        out[mask] = torch.tensor(values, dtype=torch.long)
        return out

    words = padded([w for s in sentences for w in s.words])
    casing = padded([k for s in sentences for k in s.casing])
    labelled = all(s.tags is not None for s in sentences)
    tags = padded([t for s in sentences for t in s.tags]) if labelled else None
    real_chars = torch.zeros(len(word_chars), L, dtype=torch.long)  # one row per real token
    real_chars[torch.arange(L)[None, :] < char_counts[:, None]] = torch.tensor(list(chain.from_iterable(word_chars)),
                                                                               dtype=torch.long)
    chars = torch.zeros(B, T, L, dtype=torch.long)
    chars[mask] = real_chars
    return TaggingBatch(words, chars, casing, mask, lengths, tags, [s.tokens for s in sentences],
                        [s.origin for s in sentences])
