"""The sequence tagger: words (+ characters, + casing) -> dropout -> BiLSTM/BiGRU -> dropout -> linear -> CRF.

Each of ``words``, ``chars``, ``encoder`` and ``decoder`` is a part a config chooses by ``class_path``
(``textlab.modules``), called here with the sizes the vocabulary knows; each reports its output size,
so no dimension is written twice in a config. The vocabularies arrive from the data module (``vocab``,
a plain dict) and are saved with the weights, so a checkpoint alone is enough to tag new text.
"""

from __future__ import annotations

from typing import Callable

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn

from textlab.data.sentence import Sentence
from textlab.data.tagging_batch import CASINGS, TaggingBatch, collate_tagging, encode_sentence
from textlab.data.vocab import TaggingVocab
from textlab.errors import TextlabError
from textlab.metrics.span_f1 import SpanF1, extract_spans, types_from_tags
from textlab.models.base import TextModel, check_dropout
from textlab.modules.char_encoders import CharCNN
from textlab.modules.crf import CRFDecoder, TagDecoder
from textlab.modules.dropout import Dropout, VariationalDropout
from textlab.modules.embedders import TokenEmbedder, WordEmbeddings
from textlab.modules.encoders import RNNEncoder
from textlab.data.plain_text import document_sentences
from textlab.results import TaggedDocument, TaggedSentence

# The parts, as the model calls them: with the sizes that only the vocabulary knows.
WordsPart = Callable[[int, int], WordEmbeddings]  # (words in the vocabulary, of them trained) -> word vectors
CharsPart = Callable[[int], nn.Module]  # (characters in the vocabulary) -> one vector per word
EncoderPart = Callable[[int], nn.Module]  # (token vector size) -> contextual vectors
DecoderPart = Callable[[list, str], TagDecoder]  # (tag names, tag scheme) -> loss and decoding


class SequenceTagger(TextModel):
    default_datamodule = "textlab.data.TaggingDataModule"
    monitor = "val/f1"

    def __init__(
        self,
        vocab: dict,
        words: WordsPart = WordEmbeddings,
        chars: CharsPart | None = CharCNN,
        casing_dim: int = 0,
        encoder: EncoderPart = RNNEncoder,
        decoder: DecoderPart = CRFDecoder,
        dropout: float = 0.5,
        variational_dropout: bool = False,
        word_dropout: float = 0.0,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        """
        Args:
            vocab: words, characters and tags; filled in from the data module, never written by hand.
            words: the word vectors, e.g. ``textlab.modules.WordEmbeddings`` with ``dim`` and ``pretrained``.
            chars: the character encoder: ``textlab.modules.CharCNN``, ``CharLSTM`` or ``CharCNNandLSTM``;
                null: no character features.
            casing_dim: size of a learned casing-class embedding (Reimers & Gurevych 2017; 0: off).
            encoder: the sentence encoder, ``textlab.modules.RNNEncoder`` (BiLSTM or BiGRU).
            decoder: ``textlab.modules.CRFDecoder`` (CRF loss, Viterbi) or ``SoftmaxDecoder`` (per-token).
            dropout: dropout on the token vectors and on the encoder's output.
            variational_dropout: draw that dropout's mask once per sentence, the same at every position
                (flair's locked dropout).
            word_dropout: probability of replacing a training word by <unk> (the word keeps its char features).
            optimizer: the optimiser, e.g. SGD with momentum (Ma & Hovy) or Adam.
            lr_scheduler: an optional learning-rate schedule, stepped once per epoch.
        """
        super().__init__(optimizer, lr_scheduler)
        self.vocab = TaggingVocab.from_dict(vocab)
        self.tags = self.vocab.tags.itos
        if not 0.0 <= word_dropout < 1.0:
            raise TextlabError(f"word_dropout must be in [0, 1), not {word_dropout}")
        check_dropout("dropout", dropout)
        self.word_dropout = word_dropout
        # built in this order so that the random initialisation is drawn as it always was
        word_vectors = words(len(self.vocab.words), self.vocab.trainable_words)
        char_encoder = chars(len(self.vocab.chars)) if chars is not None else None
        self.embedder = TokenEmbedder(word_vectors, char_encoder, len(CASINGS), casing_dim)
        # DDP broadcasts every buffer from rank 0 before each forward. The fixed pretrained rows (78 MB for
        # GloVe 6B 50d) are the same on every rank already: each loads them in setup() or from the checkpoint.
        self._ddp_params_and_buffers_to_ignore = ["embedder.words.pretrained_only"]
        self.dropout = VariationalDropout(dropout) if variational_dropout else Dropout(dropout)
        self.encoder = encoder(self.embedder.output_dim)
        self.projection = nn.Linear(self.encoder.output_dim, len(self.tags))
        self.decoder = decoder(self.tags, self.vocab.tag_scheme)
        types = types_from_tags(self.tags)
        self.val_f1 = SpanF1(types)
        self.test_f1 = SpanF1(types)

    # -- the network ---------------------------------------------------------------------------------

    def forward(self, batch: TaggingBatch) -> torch.Tensor:
        return self.projection(self.dropout(self.encode_tokens(batch)))  # (B, T, K) emissions

    def encode_tokens(self, batch: TaggingBatch) -> torch.Tensor:
        words = batch.words
        if self.training and self.word_dropout > 0:
            dropped = torch.rand(words.shape, device=words.device) < self.word_dropout
            words = words.masked_fill(dropped & batch.mask, 1)  # 1 = <unk>
        x = self.embedder(words, batch.chars, batch.casing, batch.mask)  # (B, T, E)
        return self.encoder(self.dropout(x), batch.lengths)  # (B, T, 2H)

    def tag(self, batch: TaggingBatch, emissions: torch.Tensor, confidences: bool = False) -> list[TaggedSentence]:
        """Decode: tag ids, then tag names, then the entities, each once; every user of a result reads those."""
        paths, scored = self.decoder.decode(emissions, batch.mask, confidences)
        lengths = batch.lengths.tolist()
        names = [[self.tags[i] for i in path[:n]] for path, n in zip(paths.tolist(), lengths)]
        if scored is None:
            return [TaggedSentence.from_tags(tokens, tags, origin=origin)
                    for tokens, tags, origin in zip(batch.tokens, names, batch.origins)]
        return [TaggedSentence.from_tags(tokens, tags, spans, token_ps if confidences else None,
                                         entity_ps if confidences else None, origin)
                for tokens, tags, spans, token_ps, entity_ps, origin
                in zip(batch.tokens, names, scored.spans, scored.tokens, scored.entities, batch.origins)]

    # -- Lightning hooks -----------------------------------------------------------------------------

    def training_step(self, batch: TaggingBatch, batch_idx: int) -> torch.Tensor:
        loss = self.decoder.loss(self(batch), batch.tags, batch.mask)
        self.log("train/loss", loss, batch_size=len(batch), prog_bar=True)
        return loss

    def _evaluation_step(self, batch: TaggingBatch, stage: str, metric: SpanF1) -> None:
        emissions = self(batch)
        loss = self.decoder.loss(emissions, batch.tags, batch.mask)
        self.log(f"{stage}/loss", loss, batch_size=len(batch), sync_dist=True)
        gold = [extract_spans([self.tags[i] for i in row[:n]]) for row, n in zip(batch.tags.tolist(), batch.lengths.tolist())]
        predicted = [[(s.label, s.start, s.end - 1) for s in result.spans] for result in self.tag(batch, emissions)]
        metric.update_spans(predicted, gold)

    def _log_metric(self, stage: str, metric: SpanF1) -> None:
        # compute() already summed the counts over all processes: log plain numbers, no second reduction
        scores = {f"{stage}/{k}": v.item() for k, v in metric.compute().items()}
        self.log(f"{stage}/f1", scores.pop(f"{stage}/f1"), prog_bar=True)
        self.log_dict(scores)
        metric.reset()

    def validation_step(self, batch: TaggingBatch, batch_idx: int) -> None:
        self._evaluation_step(batch, "val", self.val_f1)

    def on_validation_epoch_end(self) -> None:
        self._log_metric("val", self.val_f1)

    def test_step(self, batch: TaggingBatch, batch_idx: int) -> None:
        self._evaluation_step(batch, "test", self.test_f1)

    def on_test_epoch_end(self) -> None:
        self._log_metric("test", self.test_f1)

    def predict_batch(self, batch: TaggingBatch, confidences: bool) -> list[TaggedSentence]:
        return self.tag(batch, self(batch), confidences)

    # -- the Python API ------------------------------------------------------------------------------

    def encode(self, sentence: list[str] | Sentence):
        return encode_sentence(sentence if isinstance(sentence, Sentence) else Sentence(sentence), self.vocab)

    def collate(self, encoded: list) -> TaggingBatch:
        return collate_tagging(encoded)

    def predict(self, sentences: list[str] | list[list[str]], batch_size: int = 64, confidences: bool = False
                ) -> list[TaggedSentence]:
        """Tag sentences: strings (split on whitespace) or token lists. Empty sentences give empty results.

        ``confidences``: also give each token's probability of its tag and each entity's probability
        (``result.confidences``, ``span.confidence``); one more forward and backward pass over each batch.
        """
        if isinstance(sentences, str):  # iterating it would tag each character as a sentence
            raise TypeError("predict takes a list of sentences (strings or token lists), not a string: predict([text])")
        token_lists = [s.split() if isinstance(s, str) else list(s) for s in sentences]
        todo = [i for i, tokens in enumerate(token_lists) if tokens]
        tagged = self.predict_texts([token_lists[i] for i in todo], batch_size, confidences)
        results = [TaggedSentence([], [], [], [] if confidences else None) for _ in token_lists]
        for i, result in zip(todo, tagged):
            results[i] = result
        return results

    def tag_text(self, text: str, confidences: bool = False) -> TaggedDocument:
        """Tag a document given as plain text: cut into sentences and tokens as the model was set up to (its
        ``tokenizer``), each entity with ``start_char``/``end_char`` into ``text`` (``text[start_char:end_char]``
        is ``span.text``)."""
        return self.tag_texts([text], confidences=confidences)[0]

    def tag_texts(self, texts: list[str], batch_size: int = 64, confidences: bool = False) -> list[TaggedDocument]:
        """``tag_text`` for several documents, their sentences batched together."""
        if isinstance(texts, str):  # iterating it would tag each character as a document
            raise TypeError("tag_texts takes a list of documents, not a string: tag_text(text) or tag_texts([text])")
        documents = [list(document_sentences(text, self.vocab.tokenizer, i)) for i, text in enumerate(texts)]
        tagged = iter(self.predict_texts([s for sentences in documents for s in sentences], batch_size, confidences))
        return [TaggedDocument(text, [next(tagged) for _ in sentences]) for text, sentences in zip(texts, documents)]
