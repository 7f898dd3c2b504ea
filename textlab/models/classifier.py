"""The text classifier LightningModule: word vectors -> TextCNN | pooled (bi)RNN -> dropout -> linear,
optionally plus a linear bag of words and hashed n-grams (``linear_ngrams``: trained with the network, or
fitted alone first and averaged with it, ``linear_training``); or an EmbeddingBag over
word ids and hashed n-grams -> dropout -> linear (fastText style).

Each block reports its output size, so no dimension is written twice in a config. The vocabulary
(words, labels, tokenizer) arrives from the data module as a plain dict and is saved with the
weights, so a checkpoint alone is enough to classify new text.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from textlab.checkpoint import check_weights_fit
from textlab.data.bucket_sampler import ordered_batches
from textlab.data.classification_batch import (
    ClassificationBatch,
    ClassificationVocab,
    collate_classification,
    encode_example,
)
from textlab.data.vectors import load_vectors, vectors_for_vocab
from textlab.errors import TextlabError
from textlab.models.unused_options import changed_options, either
from textlab.modules.classifiers import (
    BagEncoder,
    ChannelEmbedder,
    EmbeddingMode,
    LinearNgramBag,
    PooledRNN,
    Pooling,
    TextCNN,
)
from textlab.modules.mixup import Mixup, MixupLevel
from textlab.optim import build
from textlab.predict import Classification

log = logging.getLogger("textlab")


class TextClassifier(LightningModule):
    # what `textlab predict --ckpt_path` reads input with when no data module is configured
    default_datamodule: ClassVar[str] = "textlab.data.ClassificationDataModule"

    def __init__(
        self,
        vocab: dict,
        encoder: Literal["cnn", "rnn", "bag"] = "cnn",
        word_dim: int = 100,
        embeddings: str | None = None,
        normalize_embeddings: bool = False,
        embedding_mode: EmbeddingMode = "rand",
        extra_word_dim: int = 0,
        filters: int = 100,
        widths: tuple[int, ...] = (3, 4, 5),
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = True,
        cell: Literal["lstm", "gru"] = "lstm",
        pooling: Pooling = "max",
        ngrams: int = 1,
        buckets: int = 200_000,
        bag_mode: Literal["mean", "sum"] = "mean",
        sparse: bool = False,
        linear_ngrams: int = 0,
        linear_weighting: Literal["none", "naive_bayes"] = "none",
        linear_training: Literal["joint", "separate"] = "joint",
        linear_l2: float = 1.0,
        dropout: float = 0.5,
        embedding_dropout: float = 0.0,
        label_smoothing: float = 0.0,
        mixup: MixupLevel = "none",
        mixup_alpha: float = 1.0,
        class_weights: list[float] | Literal["balanced"] | None = None,
        output_max_norm: float | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        sparse_optimizer: OptimizerCallable = torch.optim.SparseAdam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        """
        Args:
            vocab: words and labels; filled in from the data module, never written by hand.
            encoder: cnn (TextCNN, Kim 2014), rnn (pooled LSTM/GRU) or bag (EmbeddingBag, fastText style).
            word_dim: word vector size (must equal the pretrained vectors' size when ``embeddings`` is set).
            embeddings: pretrained word vectors: a GloVe/word2vec text file or ``glove-6b-50d``.
            normalize_embeddings: scale each pretrained vector to length 1 (NCRF++'s ``norm_word_emb``).
            embedding_mode: rand (random, trained), static (pretrained, frozen), non-static (pretrained,
                fine-tuned), multichannel (a frozen and a fine-tuned copy; cnn only). bag: rand or non-static.
            extra_word_dim: cnn, rnn: also give every word an always trained vector of this size, from
                zeros, concatenated to its (pretrained) vector; 0: none.
            filters: cnn: filters per width.
            widths: cnn: filter widths, e.g. [3, 4, 5].
            hidden_size: rnn: hidden size per direction.
            num_layers: rnn: stacked layers.
            bidirectional: rnn: read the text in both directions.
            cell: rnn: lstm or gru.
            pooling: rnn: max or mean over the real tokens, or last (the final states).
            ngrams: bag: also hash word n-grams up to this length (1: words only).
            buckets: bag: hash buckets (embedding rows) for the n-grams.
            bag_mode: bag: mean or sum of the vectors.
            sparse: bag: sparse gradients for the bag, trained by ``sparse_optimizer`` while ``optimizer``
                trains the rest (Lightning's manual optimisation; no gradient clipping then).
            linear_ngrams: cnn, rnn: also a linear model over the text's words and hashed word n-grams up
                to this length (``buckets`` rows), whose class scores are added to the network's and trained
                with it; 0: none. spaCy's default text classifier (TextCatEnsemble) pairs a network with
                such a bag of n-grams the same way: the bag keeps exact phrases the word vectors blur.
            linear_weighting: none, or naive_bayes: scale each word's and n-gram's scores by its naive-Bayes
                log-count ratio in the training texts (NBSVM, Wang & Manning 2012), counted when training
                starts and saved in the checkpoint.
            linear_training: joint: the bag's scores are added to the network's and both train together;
                separate: before the network trains, the bag is fitted alone as an L2-regularised logistic
                regression on the training texts (NBSVM with naive_bayes) and then frozen, the network
                trains alone, and the model predicts the mean of the two models' probabilities.
            linear_l2: separate: the logistic regression's L2 penalty, ``l2 / 2 * |w|^2`` beside the summed
                cross-entropy (scikit-learn's ``C = 1 / l2``).
            dropout: dropout on the text vector, before the output layer.
            embedding_dropout: cnn, rnn: dropout on the token vectors, before the encoder (0: off).
            label_smoothing: cross-entropy label smoothing (0: off).
            mixup: train on mixtures of two texts of a batch and of their labels (Guo et al. 2019): word mixes
                the token vectors before the encoder (cnn, rnn), sentence the text vectors after it; none: off.
            mixup_alpha: mixup: the mixing weight is drawn from Beta(alpha, alpha) once per batch.
            class_weights: cross-entropy weight per label, each > 0, in the vocabulary's label order: the
                labels sorted as strings (numeric labels too: 1, 10, 2), as ``fit`` logs them; or ``balanced``
                (inverse training frequency).
            output_max_norm: rescale each output-layer weight row to at most this L2 norm (> 0) after every
                step (Kim 2014 used 3); null: no limit.
            optimizer: the optimiser, e.g. Adam or Adadelta.
            sparse_optimizer: the optimiser of the bag's sparse gradients (with ``sparse``).
            lr_scheduler: an optional learning-rate schedule, stepped once per epoch.
        """
        super().__init__()
        # Hyperparameters are logged by the CLI in a short form: the vocabulary would flood the logs.
        self.save_hyperparameters(logger=False)
        self.vocab = ClassificationVocab.from_dict(vocab)
        self.labels = self.vocab.labels.itos
        _check_embedding_mode(encoder, embeddings, embedding_mode)
        if normalize_embeddings and not embeddings:
            raise TextlabError("normalize_embeddings scales the pretrained vectors: set embeddings (e.g. glove-6b-50d)")
        if encoder == "bag" and extra_word_dim:
            raise TextlabError("extra_word_dim is for the cnn and rnn encoders: the bag has one vector per word")
        if encoder == "bag" and embedding_dropout:
            raise TextlabError("embedding_dropout is for the cnn and rnn encoders: the bag averages its vectors "
                               "before any dropout")
        if encoder == "bag" and linear_ngrams:
            raise TextlabError("linear_ngrams adds a bag of n-grams beside the cnn or rnn encoder: "
                               "for the bag encoder use ngrams")
        if linear_weighting != "none" and not linear_ngrams:
            raise TextlabError(f"linear_weighting {linear_weighting!r} weights the linear bag: set linear_ngrams too")
        if linear_ngrams < 0:
            raise TextlabError(f"linear_ngrams must be 0 (none) or an n-gram length >= 1, got {linear_ngrams}")
        if linear_training != "joint" and not linear_ngrams:
            raise TextlabError(f"linear_training {linear_training!r} trains the linear bag: set linear_ngrams too")
        if not (linear_l2 > 0 and math.isfinite(linear_l2)):
            raise TextlabError(f"linear_l2 must be > 0 (the logistic regression's L2 penalty), not {linear_l2}")
        self.encoder_kind = encoder
        self.embeddings = embeddings
        if not 0.0 <= label_smoothing <= 1.0:
            raise TextlabError(f"label_smoothing must be in [0, 1], not {label_smoothing}")
        if label_smoothing == 1.0:  # every target uniform, whatever its label
            raise TextlabError("label_smoothing 1.0 makes every target uniform whatever its label, and the model would "
                               "learn nothing from the labels: use less than 1 (e.g. 0.1)")
        # nn.Dropout refuses values outside [0, 1] itself, but takes 1.0, which zeroes every input in training
        for name, p in (("dropout", dropout), ("embedding_dropout", embedding_dropout)):
            if p == 1.0:
                raise TextlabError(f"{name} 1.0 drops every value in training, and the model would learn from "
                                   "nothing: use less than 1 (e.g. 0.5)")
        _warn_unused_options(self.hparams)
        if _sparse_optimizer_set(self.hparams["sparse_optimizer"]) and not (encoder == "bag" and sparse):
            log.warning("sparse_optimizer: no effect without encoder bag and sparse true, the only sparse gradients "
                        "(ignored); remove it, or set both")
        if output_max_norm is not None and not output_max_norm > 0:
            raise TextlabError(f"output_max_norm must be > 0 (null: no limit), not {output_max_norm}")
        self.label_smoothing, self.output_max_norm = label_smoothing, output_max_norm
        if mixup == "word" and encoder == "bag":
            raise TextlabError("mixup 'word' mixes token vectors before a cnn or rnn encoder; the bag has none: "
                               "use mixup sentence")
        if not (mixup_alpha > 0 and math.isfinite(mixup_alpha)):
            raise TextlabError(f"mixup_alpha must be > 0 (the Beta distribution's parameter), not {mixup_alpha}")
        self.mixup, self.mixup_alpha = mixup, mixup_alpha
        self.optimizer, self.sparse_optimizer, self.lr_scheduler = optimizer, sparse_optimizer, lr_scheduler
        # Lightning steps several optimisers only under manual optimisation (see training_step)
        self.automatic_optimization = not (encoder == "bag" and sparse)

        num_words = len(self.vocab.words)
        if encoder == "bag":
            self.embedder = None
            self.encoder = BagEncoder(num_words, word_dim, ngrams, buckets, bag_mode, sparse)
        else:
            self.embedder = ChannelEmbedder(num_words, word_dim, embedding_mode, extra_word_dim)
            if encoder == "cnn":
                self.encoder = TextCNN(self.embedder.output_dim, filters, widths)
            else:
                self.encoder = PooledRNN(
                    self.embedder.output_dim, hidden_size, num_layers, bidirectional, cell, pooling, dropout)
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(self.encoder.output_dim, len(self.labels))
        self.linear_training = linear_training
        self.linear_bag = None
        if linear_ngrams:
            # a separate bag is a model of its own, with an intercept, fitted before training and frozen
            separate = linear_training == "separate"
            self.linear_bag = LinearNgramBag(num_words, len(self.labels), linear_ngrams, buckets, bias=separate)
            self.linear_bag.requires_grad_(not separate)
        self.register_buffer("class_weight", self._class_weight(class_weights), persistent=False)

        K = len(self.labels)
        self.val_acc, self.val_f1 = MulticlassAccuracy(K, average="micro"), MulticlassF1Score(K, average="macro")
        self.test_acc, self.test_f1 = MulticlassAccuracy(K, average="micro"), MulticlassF1Score(K, average="macro")
        self.test_f1_per_label = MulticlassF1Score(K, average=None)
        self.test_confusion = MulticlassConfusionMatrix(K)

    def _class_weight(self, class_weights: list[float] | str | None) -> torch.Tensor | None:
        K = len(self.labels)
        if class_weights is None:
            return None
        if class_weights == "balanced":
            counts = self.vocab.label_counts
            if not counts or len(counts) != K or min(counts) < 1:
                raise TextlabError("class_weights 'balanced' needs the training label counts in the vocabulary")
            return torch.tensor([sum(counts) / (K * c) for c in counts], dtype=torch.float)
        if len(class_weights) != K:
            raise TextlabError(
                f"class_weights has {len(class_weights)} entries for {K} labels ({', '.join(self.labels)})")
        # a weight of 0 drops its label from the loss, and a batch of that label alone divides 0 by 0 (NaN)
        if not all(w > 0 and math.isfinite(w) for w in class_weights):
            raise TextlabError(f"class_weights must all be > 0, got {list(class_weights)} for the labels "
                               f"{', '.join(self.labels)}")
        return torch.tensor(class_weights, dtype=torch.float)

    # -- the network ---------------------------------------------------------------------------------

    def forward(self, batch: ClassificationBatch) -> torch.Tensor:
        """Class scores (B, K): softmax gives the model's probabilities."""
        logits = self.network_logits(batch)  # (B, K)
        if self.linear_bag is None:
            return logits
        bag = self.linear_bag(batch.flat, batch.offsets)  # (B, K)
        if self.linear_training == "joint":
            return logits + bag  # (B, K)
        # separate: the mean of the two models' probabilities, as log-probabilities
        both = torch.stack([logits.float().log_softmax(dim=-1), bag.float().log_softmax(dim=-1)])  # (2, B, K)
        return torch.logsumexp(both, dim=0) - math.log(2.0)  # (B, K)

    def network_logits(self, batch: ClassificationBatch, mix: Mixup | None = None) -> torch.Tensor:
        """The network's class scores (B, K), without a linear bag; ``mix``: of mixed texts, in training."""
        if self.encoder_kind == "bag":
            h = self.encoder(batch.flat, batch.offsets)  # (B, D)
        else:
            x = self.embedding_dropout(self.embedder(batch.words))  # (B, T, D), pads are zero vectors
            mask, lengths = batch.mask, batch.lengths
            if mix is not None and mix.level == "word":
                # a mixed text runs as long as the longer of its two (the shorter one adds zeros there)
                x, mask, lengths = mix(x), mask | mask[mix.partner], torch.maximum(lengths, lengths[mix.partner])
            if self.encoder_kind == "cnn":
                h = self.encoder(x, mask)  # (B, F * widths)
            else:
                h = self.encoder(x, lengths)  # (B, dirs * H)
        if mix is not None and mix.level == "sentence":
            h = mix(h)  # (B, D)
        return self.output(self.dropout(h))  # (B, K)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), labels, weight=self.class_weight, label_smoothing=self.label_smoothing)

    # -- Lightning hooks -----------------------------------------------------------------------------

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        check_weights_fit(self, checkpoint, self._trainer.ckpt_path if self._trainer is not None else None)

    def setup(self, stage: str) -> None:
        if stage == "fit":
            # the order class_weights follow: sorted as strings, so numeric labels go 1, 10, 2
            log.info("labels, in the order of class_weights and the outputs: %s", ", ".join(self.labels))
        added = getattr(self.trainer.datamodule, "add_pretrained_words", None) if self._trainer is not None else None
        if stage == "fit" and added and not self.embeddings:
            # Words that join the vocabulary from the vectors file but never occur in training would keep random
            # starting vectors that no step ever trains: worse than the <unk> vector they would otherwise get.
            raise TextlabError(f"--data.init_args.add_pretrained_words {added} adds pretrained-only words, but the model "
                               f"loads no pretrained vectors (embedding_mode {self.hparams.embedding_mode}): set "
                               "--model.init_args.embeddings to the same vectors, or --data.init_args.add_pretrained_words null")
        # Runs before Lightning restores a checkpoint, so a resumed run keeps its trained weights.
        if stage == "fit" and self.embeddings:
            matrix, found = vectors_for_vocab(self.vocab.words, load_vectors(self.embeddings, self.hparams.word_dim),
                                              unit_norm=self.hparams.normalize_embeddings)
            target = self.encoder if self.encoder_kind == "bag" else self.embedder
            target.load_pretrained(matrix, found)
            log.info("pretrained vectors for %d of %d words (%s)", found.sum(), len(found), self.embeddings)
        if stage == "fit" and self.hparams.linear_weighting == "naive_bayes":
            self.linear_bag.fit_naive_bayes(self._training_batches())
            log.info("linear bag: naive-Bayes log-count ratios from the training texts")
        if stage == "fit" and self.linear_training == "separate":
            accuracy = self.linear_bag.fit_logistic_regression(self._training_batches(), self.hparams.linear_l2)
            log.info("linear bag: fitted alone as a logistic regression (l2 %g), training accuracy %.4f; "
                     "frozen while the network trains", self.hparams.linear_l2, accuracy)

    def _training_batches(self, size: int = 1000):
        """The training texts as (flat ids, offsets, labels), in file order (no shuffling, no RNG used)."""
        datamodule = self.trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "examples"):
            option = ("linear_weighting 'naive_bayes' counts" if self.hparams.linear_weighting == "naive_bayes"
                      else "linear_training 'separate' fits the bag on")
            raise TextlabError(f"{option} the training texts of a ClassificationDataModule: train with one")
        examples = datamodule.examples("train")
        for start in range(0, len(examples), size):
            batch = collate_classification([encode_example(e.text, e.label, self.vocab) for e in examples[start : start + size]])
            yield batch.flat, batch.offsets, batch.labels

    def training_step(self, batch: ClassificationBatch, batch_idx: int) -> torch.Tensor:
        if self.mixup != "none":
            loss = self._mixup_loss(batch)
        else:
            # a separate bag was fitted before training: the network learns alone
            logits = self.network_logits(batch) if self.linear_training == "separate" else self(batch)
            loss = self.loss(logits, batch.labels)
        self.log("train/loss", loss, batch_size=len(batch), prog_bar=True)
        if not self.automatic_optimization:  # the sparse bag: a dense and a sparse optimiser
            optimizers = self.optimizers()
            for opt in optimizers:
                opt.zero_grad()
            self.manual_backward(loss)
            for opt in optimizers:
                opt.step()
        return loss

    def _mixup_loss(self, batch: ClassificationBatch) -> torch.Tensor:
        mix = Mixup.draw(self.mixup, self.mixup_alpha, len(batch), batch.words.device)
        logits = self.network_logits(batch, mix)  # (B, K)
        if self.linear_bag is not None and self.linear_training == "joint":
            logits = logits + mix(self.linear_bag(batch.flat, batch.offsets))  # linear: the bag of the mixed texts
        return mix.loss(logits.float(), batch.labels, weight=self.class_weight, label_smoothing=self.label_smoothing)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.output_max_norm is not None:
            with torch.no_grad():
                self.output.weight.copy_(torch.renorm(self.output.weight, 2, 0, self.output_max_norm))

    def on_train_epoch_end(self) -> None:
        if self.lr_scheduler is None:
            return
        schedulers = self.lr_schedulers()
        schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
        val_acc = self.trainer.callback_metrics.get("val/acc")
        if val_acc is None and any(isinstance(s, torch.optim.lr_scheduler.ReduceLROnPlateau) for s in schedulers):
            # Runs before Lightning steps the schedules of automatic optimisation, which would stop with a
            # longer message; the manual steps below would fail on the missing metric.
            raise TextlabError(
                f"lr_scheduler ReduceLROnPlateau steps on val/acc, and epoch {self.current_epoch} measured none: "
                "validate every epoch (validation data, --trainer.check_val_every_n_epoch 1) or use another schedule")
        if self.automatic_optimization:
            return
        # manual optimisation steps its schedules itself
        for scheduler in schedulers:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(val_acc)
            else:
                scheduler.step()

    def _evaluation_step(self, batch: ClassificationBatch, stage: str, *metrics) -> None:
        logits = self(batch)
        self.log(f"{stage}/loss", self.loss(logits, batch.labels), batch_size=len(batch))
        predicted = logits.argmax(dim=-1)
        for metric in metrics:
            metric.update(predicted, batch.labels)

    def validation_step(self, batch: ClassificationBatch, batch_idx: int) -> None:
        self._evaluation_step(batch, "val", self.val_acc, self.val_f1)

    def on_validation_epoch_end(self) -> None:
        self.log("val/acc", self.val_acc.compute(), prog_bar=True)
        self.log("val/macro_f1", self.val_f1.compute())
        self.val_acc.reset()
        self.val_f1.reset()

    def test_step(self, batch: ClassificationBatch, batch_idx: int) -> None:
        self._evaluation_step(batch, "test", self.test_acc, self.test_f1, self.test_f1_per_label, self.test_confusion)

    def on_test_epoch_end(self) -> None:
        self.log("test/acc", self.test_acc.compute())
        self.log("test/macro_f1", self.test_f1.compute())
        for label, f1 in zip(self.labels, self.test_f1_per_label.compute()):
            self.log(f"test/f1_{label}", f1)
        log.info("test confusion matrix (rows: gold, columns: predicted):\n%s",
                 format_confusion(self.test_confusion.compute().tolist(), self.labels))
        for metric in (self.test_acc, self.test_f1, self.test_f1_per_label, self.test_confusion):
            metric.reset()

    def predict_step(self, batch: ClassificationBatch, batch_idx: int) -> list[Classification]:
        probabilities = self(batch).float().softmax(dim=-1)  # (B, K)
        results = []
        for text, row in zip(batch.texts, probabilities.tolist()):
            best = max(range(len(row)), key=row.__getitem__)
            results.append(Classification(self.labels[best], dict(zip(self.labels, row)), text))
        return results

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        if self.automatic_optimization:
            optimizers = [build(self.optimizer, params, "optimizer")]
        else:
            bag = self.encoder.bag.weight
            optimizers = [build(self.optimizer, [p for p in params if p is not bag], "optimizer"),
                          build(self.sparse_optimizer, [bag], "sparse_optimizer")]
            _check_takes_sparse_gradients(self.sparse_optimizer)
        if isinstance(optimizers[0], torch.optim.SparseAdam):  # it would stop at the first step with a traceback
            which = "the output layer's" if not self.automatic_optimization else "this model's"
            raise TextlabError(f"optimizer SparseAdam takes sparse gradients only, and {which} are dense: use e.g. "
                               "torch.optim.Adam (the bag's sparse ones go to sparse_optimizer, with sparse true)")
        if self.lr_scheduler is None:
            return optimizers[0] if len(optimizers) == 1 else optimizers
        configs = []
        for optimizer in optimizers:
            scheduler = build(self.lr_scheduler, optimizer, "lr_scheduler")
            config = {"scheduler": scheduler, "interval": "epoch"}
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                config["monitor"] = "val/acc"
            configs.append({"optimizer": optimizer, "lr_scheduler": config})
        return configs[0] if len(configs) == 1 else configs

    # -- the Python API ------------------------------------------------------------------------------

    @torch.no_grad()
    def predict(self, texts: list[str], batch_size: int = 64) -> list[Classification]:
        """Classify raw texts (tokenised as in training). An empty text is classified as one unknown word."""
        if isinstance(texts, str):
            # a string is a sequence too: each character would be classified as a text
            raise TypeError("predict takes a list of texts: model.predict([text]), not model.predict(text)")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        was_training = self.training
        self.eval()
        results: list[Classification] = []
        encoded = [encode_example(t, None, self.vocab) for t in texts]
        # in order, but a very long text gets a batch of its own rather than padding its neighbours to its length
        for part in ordered_batches([len(e.words) for e in encoded], batch_size):
            batch = collate_classification([encoded[i] for i in part])
            batch = self.transfer_batch_to_device(batch, self.device, 0)
            results.extend(self.predict_step(batch, 0))
        self.train(was_training)
        return results


def _check_takes_sparse_gradients(sparse_optimizer) -> None:
    """Adam, AdamW, Adadelta or SGD with weight decay stop at the bag's first step with a traceback: try the
    configured optimiser on a throwaway sparse gradient now (no random numbers drawn, the model untouched)."""
    probe = nn.Parameter(torch.zeros(2, 1))
    probe.grad = torch.sparse_coo_tensor([[0]], [[1.0]], (2, 1), check_invariants=True)
    optimizer = build(sparse_optimizer, [probe], "sparse_optimizer")
    try:
        optimizer.step()
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[0].rstrip(".") if str(error).strip() else type(error).__name__
        raise TextlabError(f"sparse_optimizer {type(optimizer).__name__} cannot train the bag's sparse gradients "
                           f"({reason}): use torch.optim.SparseAdam, or set sparse false") from None


# The options each encoder reads. A config shared between runs often keeps options of another encoder when
# a run switches it (cls_bag.yaml's ngrams under encoder cnn): harmless, so a warning, not an error.
_ENCODER_OPTIONS = {
    "cnn": ("filters", "widths"),
    "rnn": ("hidden_size", "num_layers", "bidirectional", "cell", "pooling"),
    "bag": ("ngrams", "bag_mode", "sparse"),
}


def _warn_unused_options(hparams) -> None:
    """Log one line for each group of options set away from their defaults that these settings never read."""

    def changed(*names: str) -> list[str]:
        return changed_options(TextClassifier, hparams, names)

    encoder = hparams["encoder"]
    others = [o for kind, options in _ENCODER_OPTIONS.items() if kind != encoder for o in options]
    if unused := changed(*others):
        readers = [k for k, read in _ENCODER_OPTIONS.items() if all(o.split()[0] in read for o in unused)]
        log.warning("%s: no effect with encoder %s (ignored); remove %s%s", ", ".join(unused), encoder,
                    "it" if len(unused) == 1 else "them", f", or choose encoder {either(readers)}" if readers else "")
    if hparams.get("linear_training", "joint") != "separate" and (unused := changed("linear_l2")):
        log.warning("%s: no effect without linear_training separate (ignored)", unused[0])
    hashes = (encoder == "bag" and hparams["ngrams"] > 1) or hparams["linear_ngrams"] > 1
    if not hashes and (unused := changed("buckets")):
        log.warning("%s: no effect without hashed n-grams (ignored): they come with encoder bag and ngrams >= 2, "
                    "or linear_ngrams >= 2", unused[0])


def _sparse_optimizer_set(configured) -> bool:
    """Whether ``sparse_optimizer`` differs from its default, SparseAdam with SparseAdam's own defaults. The CLI
    hands the model a wrapped callable whatever the user wrote, and the hyperparameters hold its
    ``class_path`` and ``init_args``; Python callers pass a callable."""
    if configured is torch.optim.SparseAdam:
        return False
    if isinstance(configured, functools.partial):
        # a checkpoint's hyperparameters come back from Lightning as the CLI's partial: (instantiator, class, **args)
        if torch.optim.SparseAdam not in configured.args:
            return True
        given = configured.keywords
    elif isinstance(configured, dict) and configured.get("class_path") == "torch.optim.SparseAdam":
        given = configured.get("init_args") or {}
    else:
        return True
    defaults = {name: p.default for name, p in inspect.signature(torch.optim.SparseAdam).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return any(_plain(value) != _plain(defaults.get(name)) for name, value in given.items())


def _plain(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def _check_embedding_mode(encoder: str, embeddings: str | None, mode: str) -> None:
    if mode == "rand" and embeddings:
        raise TextlabError("embedding_mode 'rand' starts from random vectors: set embeddings to null, "
                           "or choose static, non-static or multichannel")
    if mode != "rand" and not embeddings:
        raise TextlabError(f"embedding_mode {mode!r} needs pretrained vectors: set embeddings (e.g. glove-6b-50d)")
    if mode == "multichannel" and encoder != "cnn":
        raise TextlabError("embedding_mode 'multichannel' is for the cnn encoder only")
    if mode == "static" and encoder == "bag":
        raise TextlabError("embedding_mode 'static' would freeze the whole bag (n-grams too): use non-static")


def format_confusion(matrix: list[list[int]], labels: list[str]) -> str:
    width = max(8, *(len(label) for label in labels), *(len(str(v)) for row in matrix for v in row)) + 1
    lines = [" " * width + "".join(f"{label:>{width}}" for label in labels)]
    lines += [f"{label:<{width}}" + "".join(f"{v:>{width}}" for v in row) for label, row in zip(labels, matrix)]
    return "\n".join(lines)
