"""The text classifier: word vectors -> TextCNN | pooled (bi)RNN -> dropout -> linear, or a fastText-style
n-gram bag -> dropout -> linear; optionally averaged with a logistic regression on n-grams (NBSVM).

``embedder``, ``encoder`` and ``ensemble`` are parts a config chooses by ``class_path``
(``textlab.modules``), called here with the sizes the vocabulary knows. The vocabulary (words, labels,
tokenizer) arrives from the data module as a plain dict and is saved with the weights, so a checkpoint
alone is enough to classify new text.
"""

from __future__ import annotations

import logging
import math
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassF1Score

from textlab.data.classification_batch import ClassificationBatch, collate_classification, encode_example
from textlab.data.classification_readers import Example
from textlab.data.vocab import ClassificationVocab
from textlab.errors import TextlabError
from textlab.models.base import TextModel, check_dropout
from textlab.models.sparse_training import SparseBagTraining
from textlab.modules.dropout import Dropout
from textlab.modules.ngram_bags import NgramLogisticRegression
from textlab.modules.text_encoders import TextCNN
from textlab.modules.word_channels import WordChannels
from textlab.results import Classification

log = logging.getLogger("textlab")

# The parts, as the model calls them: with the sizes that only the vocabulary knows.
EmbedderPart = Callable[[int], nn.Module]  # (words in the vocabulary) -> token vectors
EncoderPart = Callable[[int], nn.Module]  # (token vector size; with no embedder, words in the vocabulary) -> text vector
EnsemblePart = Callable[[int, int], NgramLogisticRegression]  # (words, labels) -> a model averaged with the network


class TextClassifier(SparseBagTraining, TextModel):
    default_datamodule = "textlab.data.ClassificationDataModule"
    monitor = "val/acc"

    def __init__(
        self,
        vocab: dict,
        embedder: EmbedderPart | None = WordChannels,
        encoder: EncoderPart = TextCNN,
        ensemble: EnsemblePart | None = None,
        dropout: float = 0.5,
        class_weights: list[float] | Literal["balanced"] | None = None,
        output_max_norm: float | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        """
        Args:
            vocab: words and labels; filled in from the data module, never written by hand.
            embedder: the word vectors, ``textlab.modules.WordChannels`` (Kim's rand, static, non-static or
                multichannel); null for an encoder that reads word ids itself (``NgramBag``).
            encoder: ``textlab.modules.TextCNN`` (Kim 2014), ``PooledRNN`` (pooled LSTM/GRU) or ``NgramBag``
                (fastText-style EmbeddingBag over words and hashed n-grams).
            ensemble: ``textlab.modules.NgramLogisticRegression``: before the network trains, a logistic
                regression on the training texts' n-grams is fitted alone (NBSVM with ``naive_bayes``) and
                frozen; the model predicts the mean of the two models' probabilities. null: the network alone.
            dropout: dropout on the text vector, before the output layer.
            class_weights: cross-entropy weight per label, each > 0, in the vocabulary's label order: the
                labels sorted as strings (numeric labels too: 1, 10, 2), as ``fit`` logs them; or ``balanced``
                (inverse training frequency).
            output_max_norm: rescale each output-layer weight row to at most this L2 norm (> 0) after every
                step (Kim 2014 used 3); null: no limit.
            optimizer: the optimiser, e.g. Adam or Adadelta (an NgramBag's sparse rows have their own).
            lr_scheduler: an optional learning-rate schedule, stepped once per epoch.
        """
        super().__init__(optimizer, lr_scheduler)
        self.vocab = ClassificationVocab.from_dict(vocab)
        self.labels = self.vocab.labels.itos
        check_dropout("dropout", dropout)
        if output_max_norm is not None and not output_max_norm > 0:
            raise TextlabError(f"output_max_norm must be > 0 (null: no limit), not {output_max_norm}")
        self.output_max_norm = output_max_norm
        num_words, K = len(self.vocab.words), len(self.labels)
        # built in this order so that the random initialisation is drawn as it always was
        self.embedder = embedder(num_words) if embedder is not None else None
        self.encoder = encoder(self.embedder.output_dim if self.embedder is not None else num_words)
        _check_parts(self.embedder, self.encoder)
        self.dropout = Dropout(dropout)
        self.output = nn.Linear(self.encoder.output_dim, K)
        self.ensemble = ensemble(num_words, K) if ensemble is not None else None
        self.register_buffer("class_weight", self._class_weight(class_weights), persistent=False)
        self.setup_sparse_training()
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
        """Class log-probabilities (B, K): the network's, or the mean of its and the ensemble's probabilities."""
        network = self.network_logits(batch).float().log_softmax(dim=-1)  # (B, K)
        if self.ensemble is None:
            return network
        ensemble = self.ensemble(batch.flat, batch.offsets).float().log_softmax(dim=-1)  # (B, K)
        return torch.logsumexp(torch.stack([network, ensemble]), dim=0) - math.log(2.0)  # (B, K)

    def network_logits(self, batch: ClassificationBatch) -> torch.Tensor:
        """The network's class scores (B, K), without the ensemble."""
        if self.embedder is None:
            h = self.encoder(batch.flat, batch.offsets)  # (B, D): the bag reads word ids
        else:
            h = self.encoder(self.embedder(batch.words), batch.mask)  # (B, D): TextCNN or PooledRNN
        return self.output(self.dropout(h))  # (B, K)

    def fit_ensemble(self, examples: list[Example], size: int = 1000) -> None:
        """Fit the ensemble on the labelled training ``examples`` (``textlab fit`` calls this before training;
        so must a Python caller before ``trainer.fit``). Deterministic: no random numbers are drawn."""
        batches = []
        for start in range(0, len(examples), size):
            batch = collate_classification([encode_example(e.text, e.label, self.vocab) for e in examples[start : start + size]])
            batches.append((batch.flat, batch.offsets, batch.labels))
        accuracy = self.ensemble.fit(batches)
        log.info("ensemble: %s fitted alone on the training texts (training accuracy %.4f); frozen while the "
                 "network trains", type(self.ensemble).__name__, accuracy)

    # -- Lightning hooks -----------------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        if stage == "fit":
            # the order class_weights follow: sorted as strings, so numeric labels go 1, 10, 2
            log.info("labels, in the order of class_weights and the outputs: %s", ", ".join(self.labels))
        super().setup(stage)

    def on_fit_start(self) -> None:
        if self.ensemble is not None and not bool(self.ensemble.fitted):
            raise TextlabError("the ensemble is fitted on the training texts before the network trains: textlab fit "
                               "does this; in Python call model.fit_ensemble(datamodule.examples('train')) first")

    def training_step(self, batch: ClassificationBatch, batch_idx: int) -> torch.Tensor:
        # the ensemble was fitted before training: the network learns alone
        loss = F.cross_entropy(self.network_logits(batch).float(), batch.labels, weight=self.class_weight)
        self.log("train/loss", loss, batch_size=len(batch), prog_bar=True)
        self.step_sparse(loss)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.output_max_norm is not None:
            with torch.no_grad():
                self.output.weight.copy_(torch.renorm(self.output.weight, 2, 0, self.output_max_norm))

    def _evaluation_step(self, batch: ClassificationBatch, stage: str, *metrics) -> None:
        log_probabilities = self(batch)
        self.log(f"{stage}/loss", F.nll_loss(log_probabilities, batch.labels, weight=self.class_weight),
                 batch_size=len(batch))
        predicted = log_probabilities.argmax(dim=-1)
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

    def predict_batch(self, batch: ClassificationBatch, confidences: bool) -> list[Classification]:
        probabilities = self(batch).exp()  # (B, K)
        results = []
        for text, text_id, row in zip(batch.texts, batch.ids, probabilities.tolist()):
            best = max(range(len(row)), key=row.__getitem__)
            results.append(Classification(self.labels[best], dict(zip(self.labels, row)), text, text_id))
        return results

    # -- the Python API ------------------------------------------------------------------------------

    def encode(self, text: str):
        return encode_example(text, None, self.vocab)

    def collate(self, encoded: list) -> ClassificationBatch:
        return collate_classification(encoded)

    def predict(self, texts: list[str], batch_size: int = 64) -> list[Classification]:
        """Classify raw texts (tokenised as in training). An empty text is classified as one unknown word."""
        return self.predict_texts(texts, batch_size, confidences=True)


def _check_parts(embedder: nn.Module | None, encoder: nn.Module) -> None:
    reads_ids = getattr(encoder, "reads_ids", False)
    if reads_ids and embedder is not None:
        raise TextlabError(f"encoder {type(encoder).__name__} reads word ids itself: set embedder to null")
    if not reads_ids and embedder is None:
        raise TextlabError(f"encoder {type(encoder).__name__} reads word vectors: set an embedder "
                           "(e.g. textlab.modules.WordChannels)")
    if getattr(embedder, "mode", None) == "multichannel" and not isinstance(encoder, TextCNN):
        # the two channels are summed, which equals two channels only under a linear first layer
        raise TextlabError("mode 'multichannel' is for the TextCNN encoder only")


def format_confusion(matrix: list[list[int]], labels: list[str]) -> str:
    width = max(8, *(len(label) for label in labels), *(len(str(v)) for row in matrix for v in row)) + 1
    lines = [" " * width + "".join(f"{label:>{width}}" for label in labels)]
    lines += [f"{label:<{width}}" + "".join(f"{v:>{width}}" for v in row) for label, row in zip(labels, matrix)]
    return "\n".join(lines)
