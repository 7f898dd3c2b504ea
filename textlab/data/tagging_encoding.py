"""Sentences -> ids for the tagger, in plain Python: the encoding that training, ``SequenceTagger.predict`` and the
torch-free ``textlab.runtime`` share (``textlab.data.tagging_batch`` pads the ids into tensors, the runtime into
numpy arrays), so an exported model reads text exactly as the checkpoint it came from.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from textlab.data.sentence import Origin, Sentence
from textlab.data.vocab import UNK, TaggingVocab, Vocab, WordVocab

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


# Per vocabulary: token -> (its word id, its character ids, its casing class). A frequent token is then encoded
# once (its word id alone took a regex and up to three lookups: a fifth of tagging a sentence with an exported
# model), and equal tokens share one tuple of character ids instead of a list each (a large prediction input
# holds all its encoded sentences, and the lists were most of their memory). Bounded, because a model kept in a
# server encodes whatever it is sent; the weak keys let the cache go with its vocabularies.
_TOKEN_CACHE_SIZE = 1 << 17
# word vocabulary -> character vocabulary -> cache
_token_caches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _token_cache(words: WordVocab, chars: Vocab):
    """The cache of this pair of vocabularies (token -> its ids), and the function that fills it for a token."""
    by_chars = _token_caches.get(words)
    if by_chars is None:
        by_chars = _token_caches[words] = weakref.WeakKeyDictionary()
    cache = by_chars.get(chars)
    if cache is None:
        cache = by_chars[chars] = {}
    lookup = chars.stoi.get
    unknown = chars.id(UNK)  # what Vocab.id gives a character never seen in training

    def encode(token: str) -> tuple[int, tuple[int, ...], int]:
        if len(cache) >= _TOKEN_CACHE_SIZE:
            cache.clear()
        found = cache[token] = (words.id(token), tuple([lookup(c, unknown) for c in token[:MAX_WORD_CHARS]]),
                                casing_id(token))
        return found

    return cache, encode


def encode_sentence(sentence: Sentence, vocab: TaggingVocab) -> EncodedSentence:
    """Ids for one sentence. Unknown gold tags are the caller's to check (they need file and line)."""
    tokens = sentence.tokens
    cache, encode = _token_cache(vocab.words, vocab.chars)
    encoded = [*map(cache.get, tokens)]  # (word, chars, casing) per token; None for one not seen yet
    if None in encoded:
        encoded = [found or encode(token) for found, token in zip(encoded, tokens)]
    # transposed into three sequences by zip in one pass
    words, chars, casing = zip(*encoded) if tokens else ((), (), ())
    return EncodedSentence(
        tokens=tokens,
        words=list(words),
        chars=list(chars),
        casing=list(casing),
        tags=None if sentence.tags is None else [vocab.tags.id(t) for t in sentence.tags],
        origin=sentence.origin,
    )
