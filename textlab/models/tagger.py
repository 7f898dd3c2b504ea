"""The sequence tagger LightningModule: embedder -> dropout -> BiLSTM/BiGRU -> dropout -> linear -> CRF.

Each block reports its output size, so no dimension is written twice in a config. The vocabularies
arrive from the data module (``vocab``, a plain dict) and are saved with the weights, so a checkpoint
alone is enough to tag new text.
"""

from __future__ import annotations

import logging
from typing import ClassVar, Literal

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn

from textlab.checkpoint import check_weights_fit
from textlab.data.bucket_sampler import ordered_batches
from textlab.data.sentence import Sentence
from textlab.data.tagging_batch import CASINGS, TaggingBatch, collate_tagging, encode_sentence
from textlab.data.vectors import load_vectors, vectors_for_vocab
from textlab.data.vocab import TaggingVocab
from textlab.errors import TextlabError
from textlab.metrics.span_f1 import SpanF1, types_from_tags
from textlab.models.unused_options import changed_options, either
from textlab.modules.char_encoders import CharEncoderKind, build_char_encoder
from textlab.modules.crf import CRFDecoder, SoftmaxDecoder
from textlab.modules.dropout import VariationalDropout
from textlab.modules.embedders import TokenEmbedder, TrainedWordVectors, WordEmbedder
from textlab.modules.encoders import RNNEncoder
from textlab.modules.initialisation import ma_hovy_init_
from textlab.modules.language_model import NeighbourWordLoss
from textlab.modules.tag_confidences import DecodedConfidences, tag_confidences
from textlab.optim import build
from textlab.predict import TaggedSentence

log = logging.getLogger("textlab")


class SequenceTagger(LightningModule):
    # what `textlab predict --ckpt_path` reads input with when no data module is configured
    default_datamodule: ClassVar[str] = "textlab.data.TaggingDataModule"

    def __init__(
        self,
        vocab: dict,
        word_dim: int = 100,
        embeddings: str | None = None,
        normalize_embeddings: bool = False,
        max_norm: float | None = None,
        scale_grad_by_freq: bool = False,
        extra_word_dim: int = 0,
        frozen_word_copy: bool = False,
        pretrained_word_swap: float = 0.0,
        char_encoder: CharEncoderKind = "cnn",
        char_dim: int = 30,
        char_filters: int = 30,
        char_widths: tuple[int, ...] = (3,),
        char_hidden: int = 25,
        char_dropout: float = 0.0,
        casing_dim: int = 0,
        encoder: Literal["lstm", "gru"] = "lstm",
        hidden_size: int = 200,
        num_layers: int = 1,
        dropout: float = 0.5,
        variational_dropout: bool = False,
        recurrent_dropout: float = 0.0,
        word_dropout: float = 0.0,
        language_model_weight: float = 0.0,
        language_model_words: int = 7500,
        decoder: Literal["crf", "softmax"] = "crf",
        constrained_decoding: bool = True,
        constrained_training: bool = False,
        min_entity_probability: float = 0.0,
        init: Literal["pytorch", "ma_hovy"] = "pytorch",
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        """
        Args:
            vocab: words, characters and tags; filled in from the data module, never written by hand.
            word_dim: word embedding size (must equal the pretrained vectors' size when ``embeddings`` is set).
            embeddings: pretrained word vectors to start from: a GloVe/word2vec text file or ``glove-6b-50d``.
            normalize_embeddings: scale each pretrained vector to length 1 (NCRF++'s ``norm_word_emb``).
            max_norm: renormalise word vectors whose norm exceeds this (``nn.Embedding``'s max_norm).
            scale_grad_by_freq: scale word-embedding gradients by inverse word frequency in the batch.
            extra_word_dim: also give each training word a second vector of this size, from zeros and always
                trained (also with ``FreezeWordEmbeddings``); words never seen in training get zeros there.
            frozen_word_copy: also give each token its word vector as it started, never trained, beside the
                fine-tuned one (Kim 2014's multichannel input); needs ``embeddings``.
            pretrained_word_swap: in training, the probability that a training word's occurrence gets its
                pretrained vector as loaded instead of the fine-tuned one, as a word never seen in training
                has at test time; needs ``embeddings``.
            char_encoder: character features: cnn, lstm, both (side by side), cnn_lstm (stacked) or none.
            char_dim: character embedding size.
            char_filters: CNN filters per width.
            char_widths: CNN filter widths, e.g. [3] or [2, 3, 4].
            char_hidden: character LSTM hidden size per direction.
            char_dropout: dropout on the character embeddings before the character encoder (Ma & Hovy: 0.5).
            casing_dim: size of a learned casing-class embedding (0: off).
            encoder: the word-level recurrent cell, lstm or gru (always bidirectional).
            hidden_size: hidden size per direction.
            num_layers: stacked recurrent layers.
            dropout: dropout on token vectors and on the encoder's output (and between layers).
            variational_dropout: draw that dropout's mask once per sentence, the same at every position.
            recurrent_dropout: dropout on the encoder's hidden-to-hidden weights in training (weight drop), one
                mask per batch for every step.
            word_dropout: probability of replacing a training word by <unk> (the word keeps its char features).
            language_model_weight: weight of an auxiliary loss in training (Rei 2017): from each token the forward
                encoder predicts the next word and the backward one the previous word (0: off).
            language_model_words: how many of the most frequent training words that loss predicts; any other
                word is one class.
            decoder: crf (pytorch-crf loss, Viterbi decoding) or softmax (independent per-token decisions).
            constrained_decoding: forbid impossible transitions (e.g. O -> I-PER) when decoding with the CRF.
            constrained_training: forbid them in the CRF's loss too: its normaliser sums over allowed paths only
                (needs ``constrained_decoding``).
            min_entity_probability: drop a decoded entity whose probability under the model is below this (its
                tags become O), in validation, test and prediction; training is unchanged. 0.5 keeps the
                entities the model finds likelier than not: fewer false positives for some misses.
            init: starting weights: PyTorch's defaults, or Ma & Hovy's (char embeddings uniform +-sqrt(3/dim),
                Glorot-uniform weight matrices, zero biases but 1.0 on the LSTM forget gate).
            optimizer: the optimiser, e.g. SGD with momentum (Ma & Hovy) or Adam.
            lr_scheduler: an optional learning-rate schedule, stepped once per epoch.
        """
        super().__init__()
        # Hyperparameters are logged by the CLI in a short form: the vocabularies would flood the logs.
        self.save_hyperparameters(logger=False)
        self.vocab = TaggingVocab.from_dict(vocab)
        self.tags = self.vocab.tags.itos
        self.embeddings = embeddings
        if not 0.0 <= word_dropout < 1.0:
            raise TextlabError(f"word_dropout must be in [0, 1), not {word_dropout}")
        # nn.Dropout refuses values outside [0, 1] itself, but takes 1.0, which zeroes every input in training
        for name, p in (("dropout", dropout), ("char_dropout", char_dropout)):
            if p == 1.0:
                raise TextlabError(f"{name} 1.0 drops every value in training, and the network would learn from "
                                   "nothing: use less than 1 (e.g. 0.5)")
        # a negative probability would keep the swap's buffers and never swap; above 1 is no probability
        if not 0.0 <= pretrained_word_swap <= 1.0:
            raise TextlabError(f"pretrained_word_swap must be in [0, 1], not {pretrained_word_swap}")
        # nn.Embedding takes any max_norm, and one <= 0 flips or zeroes the looked-up vectors in place
        if max_norm is not None and not max_norm > 0:
            raise TextlabError(f"max_norm must be > 0 (null: no limit), not {max_norm}")
        _warn_unused_options(self.hparams)
        self.word_dropout = word_dropout
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler

        if normalize_embeddings and not embeddings:
            raise TextlabError("normalize_embeddings scales the pretrained vectors: set embeddings (e.g. glove-6b-50d)")
        if frozen_word_copy and not embeddings:
            raise TextlabError("frozen_word_copy keeps the pretrained vectors beside the fine-tuned ones: "
                               "set embeddings (e.g. glove-6b-50d)")
        if pretrained_word_swap and not embeddings:
            raise TextlabError("pretrained_word_swap swaps in the pretrained vectors: "
                               "set embeddings (e.g. glove-6b-50d)")
        words = WordEmbedder(len(self.vocab.words), word_dim, max_norm, scale_grad_by_freq, self.vocab.trainable_words,
                             frozen_word_copy, pretrained_word_swap)
        chars = build_char_encoder(char_encoder, len(self.vocab.chars), char_dim, char_filters, char_widths, char_hidden,
                                    char_dropout)
        trained = TrainedWordVectors(words.num_embeddings, extra_word_dim) if extra_word_dim else None
        self.embedder = TokenEmbedder(words, chars, len(CASINGS), casing_dim, trained)
        # DDP broadcasts every buffer from rank 0 before each forward. The fixed pretrained rows (78 MB for
        # GloVe 6B 50d) are the same on every rank already: each loads them in setup() or from the checkpoint.
        self._ddp_params_and_buffers_to_ignore = ["embedder.words.pretrained_only"]
        if frozen_word_copy or pretrained_word_swap:
            self._ddp_params_and_buffers_to_ignore.append("embedder.words.initial")
        self.dropout = VariationalDropout(dropout) if variational_dropout else nn.Dropout(dropout)
        self.encoder = RNNEncoder(self.embedder.output_dim, hidden_size, num_layers, dropout, encoder,
                                  recurrent_dropout)
        self.projection = nn.Linear(self.encoder.output_dim, len(self.tags))
        if language_model_weight < 0:
            raise TextlabError(f"language_model_weight must be 0 (off) or positive, not {language_model_weight}")
        if language_model_weight and language_model_words < 3:
            raise TextlabError(f"language_model_words must be at least 3, not {language_model_words}")
        self.language_model_weight = language_model_weight
        self.neighbour_words = None
        if language_model_weight:
            trained_words = self.vocab.trainable_words or len(self.vocab.words)
            self.neighbour_words = NeighbourWordLoss(self.encoder.output_dim, min(language_model_words, trained_words))
        if decoder == "crf":
            self.decoder = CRFDecoder(self.tags, self.vocab.tag_scheme, constrained_decoding, constrained_training)
        else:
            self.decoder = SoftmaxDecoder()
        if init == "ma_hovy":
            ma_hovy_init_(self)

        # `textlab predict --confidences` and `predict(..., confidences=True)` set this; not a hyperparameter
        self.predict_confidences = False
        if not 0.0 <= min_entity_probability <= 1.0:
            raise TextlabError(f"min_entity_probability must be in [0, 1], not {min_entity_probability}")
        if min_entity_probability and "O" not in self.tags:
            raise TextlabError("min_entity_probability turns dropped entities into O tags, and the training data "
                               "has no O tag")
        self.min_entity_probability = min_entity_probability
        types = types_from_tags(self.tags)
        self.val_f1 = SpanF1(types)
        self.test_f1 = SpanF1(types)

    # -- the network ---------------------------------------------------------------------------------

    def forward(self, batch: TaggingBatch) -> torch.Tensor:
        return self.projection(self.dropout(self.encode(batch)))  # (B, T, K) emissions

    def encode(self, batch: TaggingBatch) -> torch.Tensor:
        words = batch.words
        if self.training and self.word_dropout > 0:
            dropped = torch.rand(words.shape, device=words.device) < self.word_dropout
            words = words.masked_fill(dropped & batch.mask, 1)  # 1 = <unk>
        x = self.embedder(words, batch.chars, batch.casing, batch.mask)  # (B, T, E)
        return self.encoder(self.dropout(x), batch.lengths)  # (B, T, 2H)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[str]]:
        return self._tag_names(self._decode(emissions, mask)[0], mask)

    def _decode(self, emissions: torch.Tensor, mask: torch.Tensor, confidences: bool = False
                ) -> tuple[torch.Tensor, DecodedConfidences | None]:
        """Tag ids (B, T), less the entities under ``min_entity_probability``, and their confidences if asked."""
        paths = self.decoder.decode(emissions, mask)
        if not (confidences or self.min_entity_probability):
            return paths, None
        scored = tag_confidences(emissions, mask, paths, self.tags, self.decoder.lattice(emissions),
                                 self.min_entity_probability)
        return scored.paths, scored

    def _tag_names(self, paths: torch.Tensor, mask: torch.Tensor) -> list[list[str]]:
        lengths = mask.sum(dim=1).tolist()
        return [[self.tags[i] for i in path[:n]] for path, n in zip(paths.tolist(), lengths)]

    # -- Lightning hooks -----------------------------------------------------------------------------

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        check_weights_fit(self, checkpoint, self._trainer.ckpt_path if self._trainer is not None else None)

    def setup(self, stage: str) -> None:
        pretrained_only = len(self.vocab.words) - (self.vocab.trainable_words or len(self.vocab.words))
        if stage == "fit" and pretrained_only and not self.embeddings:
            # Those words' rows are frozen and only the pretrained file fills them: without it every such word
            # (most test words unseen in training) is a zero vector. Checked here, not in __init__, so that a
            # checkpoint trained so before this check still loads for test and predict.
            raise TextlabError(
                f"the word vocabulary holds {pretrained_only} pretrained-only words "
                "(--data.init_args.add_pretrained_words) but the model loads no pretrained vectors: set "
                "--model.init_args.embeddings to the same vectors, or --data.init_args.add_pretrained_words null")
        # Runs before Lightning restores a checkpoint, so a resumed run keeps its trained weights.
        if stage == "fit" and self.embeddings:
            matrix, found = vectors_for_vocab(self.vocab.words, load_vectors(self.embeddings, self.hparams.word_dim),
                                              unit_norm=self.hparams.normalize_embeddings)
            self.embedder.words.load_pretrained(matrix, found)
            log.info("pretrained vectors for %d of %d words (%s)", found.sum(), len(found), self.embeddings)

    def training_step(self, batch: TaggingBatch, batch_idx: int) -> torch.Tensor:
        states = self.encode(batch)
        loss = self.decoder.loss(self.projection(self.dropout(states)), batch.tags, batch.mask)
        self.log("train/loss", loss, batch_size=len(batch), prog_bar=True)
        if self.neighbour_words is not None:
            neighbours = self.neighbour_words(self.dropout(states), batch.words, batch.mask)
            self.log("train/lm_loss", neighbours, batch_size=len(batch))
            loss = loss + self.language_model_weight * neighbours
        return loss

    def _evaluation_step(self, batch: TaggingBatch, stage: str, metric: SpanF1) -> None:
        emissions = self(batch)
        loss = self.decoder.loss(emissions, batch.tags, batch.mask)
        self.log(f"{stage}/loss", loss, batch_size=len(batch), sync_dist=True)
        gold = [[self.tags[i] for i in row[:n]] for row, n in zip(batch.tags.tolist(), batch.lengths.tolist())]
        metric.update(self.decode(emissions, batch.mask), gold)

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

    def predict_step(self, batch: TaggingBatch, batch_idx: int) -> list[TaggedSentence]:
        paths, scored = self._decode(self(batch), batch.mask, self.predict_confidences)
        tags = self._tag_names(paths, batch.mask)
        if not self.predict_confidences:
            return [TaggedSentence(tokens, t) for tokens, t in zip(batch.tokens, tags)]
        return [TaggedSentence(tokens, t, c, sc)
                for tokens, t, c, sc in zip(batch.tokens, tags, scored.tokens, scored.entities)]

    def configure_optimizers(self):
        optimizer = build(self.optimizer, [p for p in self.parameters() if p.requires_grad], "optimizer")
        if isinstance(optimizer, torch.optim.SparseAdam):  # it would stop at the first step with a traceback
            raise TextlabError("optimizer SparseAdam takes sparse gradients only, and the tagger's are dense: "
                               "use e.g. torch.optim.Adam or torch.optim.SGD")
        if self.lr_scheduler is None:
            return optimizer
        scheduler = build(self.lr_scheduler, optimizer, "lr_scheduler")
        config = {"scheduler": scheduler, "interval": "epoch"}
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            config["monitor"] = "val/f1"
        return {"optimizer": optimizer, "lr_scheduler": config}

    # -- the Python API ------------------------------------------------------------------------------

    @torch.no_grad()
    def predict(self, sentences: list[str] | list[list[str]], batch_size: int = 64, confidences: bool = False
                ) -> list[TaggedSentence]:
        """Tag raw sentences: strings (split on whitespace) or token lists. Empty sentences give empty results.

        ``confidences``: also give each token's probability of its tag and each span's probability
        (``result.confidences``, ``span.confidence``); one more forward and backward pass over each batch.
        """
        if isinstance(sentences, str):  # iterating it would tag each character as a sentence
            raise TypeError("predict takes a list of sentences (strings or token lists), not a string: predict([text])")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        token_lists = [s.split() if isinstance(s, str) else list(s) for s in sentences]
        results: list[TaggedSentence | None] = [
            (TaggedSentence([], [], [], []) if confidences else TaggedSentence([], [])) if not t else None
            for t in token_lists
        ]
        todo = [i for i, t in enumerate(token_lists) if t]
        was_training, asked_before = self.training, self.predict_confidences
        self.eval()
        self.predict_confidences = confidences
        try:
            # in order, but a very long sentence gets a batch of its own rather than padding its neighbours to its length
            for part in ordered_batches([len(token_lists[i]) for i in todo], batch_size):
                chunk = [todo[j] for j in part]
                batch = collate_tagging([encode_sentence(Sentence(token_lists[i]), self.vocab) for i in chunk])
                batch = self.transfer_batch_to_device(batch, self.device, 0)
                for i, tagged in zip(chunk, self.predict_step(batch, 0)):
                    results[i] = tagged
        finally:
            self.train(was_training)
            self.predict_confidences = asked_before
        return results


# The char options each char_encoder reads. A config shared between runs often keeps options of another
# encoder when a run switches it (an ablation with char_encoder none): harmless, so a warning, not an error.
_CHAR_OPTIONS = ("char_dim", "char_filters", "char_widths", "char_hidden", "char_dropout")
_CHAR_OPTIONS_READ = {
    "cnn": ("char_dim", "char_filters", "char_widths", "char_dropout"),
    "lstm": ("char_dim", "char_hidden", "char_dropout"),
    "both": _CHAR_OPTIONS,
    "cnn_lstm": _CHAR_OPTIONS,
    "none": (),
}


def _warn_unused_options(hparams) -> None:
    """Log one line for each group of options set away from their defaults that these settings never read."""

    def changed(*names: str) -> list[str]:
        return changed_options(SequenceTagger, hparams, names)

    encoder = hparams["char_encoder"]
    if unused := changed(*(o for o in _CHAR_OPTIONS if o not in _CHAR_OPTIONS_READ.get(encoder, _CHAR_OPTIONS))):
        readers = [k for k, read in _CHAR_OPTIONS_READ.items() if read and all(o.split()[0] in read for o in unused)]
        log.warning("%s: no effect with char_encoder %s (ignored); remove %s, or choose char_encoder %s",
                    ", ".join(unused), encoder, "it" if len(unused) == 1 else "them", either(readers))
    if hparams["decoder"] != "crf" and (unused := changed("constrained_training")):
        log.warning("%s: no effect with decoder %s, which has no transitions to constrain (ignored); remove it, "
                    "or choose decoder crf", unused[0], hparams["decoder"])
    if not hparams["language_model_weight"] and (unused := changed("language_model_words")):
        log.warning("%s: no effect with language_model_weight 0, which turns that loss off (ignored); remove it, "
                    "or set language_model_weight (e.g. 0.1)", unused[0])
    if not hparams["dropout"] and (unused := changed("variational_dropout")):
        log.warning("%s: no effect with dropout 0, the dropout it draws masks for (ignored); remove it, or set "
                    "dropout", unused[0])
