"""What the tagger and the classifier share: the vocabulary in the checkpoint, pretrained vectors, the
optimiser and schedule, checkpoint checks, and the Python ``predict()`` API.

A model is built from parts (``textlab.modules``) that a config chooses by ``class_path``; the model
calls each part with the sizes only the vocabulary knows. Subclasses say how texts become batches
(``encode``, ``collate``) and what one batch of predictions is (``predict_batch``).
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any, ClassVar

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable

from textlab.checkpoint import check_weights_fit
from textlab.data.prediction_batches import length_sorted_batches
from textlab.errors import TextlabError
from textlab.modules.pretrained import PretrainedWords
from textlab.optim import build

log = logging.getLogger("textlab")


def check_dropout(name: str, p: float) -> None:
    # nn.Dropout refuses values outside [0, 1] itself, but takes 1.0, which zeroes every input in training
    if p == 1.0:
        raise TextlabError(f"{name} 1.0 drops every value in training, and the network would learn from "
                           "nothing: use less than 1 (e.g. 0.5)")


class TextModel(LightningModule):
    # what `textlab predict --ckpt_path` reads input with when no data module is configured
    default_datamodule: ClassVar[str]
    # the metric whose plateau a ReduceLROnPlateau schedule watches
    monitor: ClassVar[str]

    def __init__(self, optimizer: OptimizerCallable, lr_scheduler: LRSchedulerCallable | None) -> None:
        super().__init__()
        # Hyperparameters are logged by the CLI in a short form: the vocabularies would flood the logs.
        self.save_hyperparameters(logger=False)
        _plain_parts(self.hparams, type(self))
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler
        # `textlab predict --confidences` sets this before the run; predict() passes its own argument instead
        self.predict_confidences = False

    # -- building and loading ----------------------------------------------------------------------------

    def pretrained_parts(self) -> list[PretrainedWords]:
        """The parts that start from pretrained vectors."""
        return [m for m in self.modules() if isinstance(m, PretrainedWords) and m.pretrained]

    def pretrained_only_words(self) -> int:
        """How many vocabulary words came from a pretrained vectors file alone, never seen in training."""
        return len(self.vocab.words) - (self.vocab.trainable_words or len(self.vocab.words))

    def setup(self, stage: str) -> None:
        if stage != "fit":
            return
        parts = self.pretrained_parts()
        pretrained_only = self.pretrained_only_words()
        if pretrained_only and not parts:
            # Those words join the vocabulary from a vectors file and never occur in training: without the
            # vectors every such word (most test words unseen in training) would be a zero or random vector.
            raise TextlabError(
                f"the word vocabulary holds {pretrained_only} pretrained-only words "
                "(--data.init_args.words.add_pretrained_words) but the model loads no pretrained vectors: set the word "
                "part's pretrained (e.g. --model.init_args.words.init_args.pretrained) to the same vectors, or "
                "--data.init_args.words.add_pretrained_words null")
        # Runs before Lightning restores a checkpoint, so a resumed run keeps its trained weights.
        for part in parts:
            found, of = part.load_pretrained_vectors(self.vocab.words)
            log.info("pretrained vectors for %d of %d words (%s)", found, of, part.pretrained)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        check_weights_fit(self, checkpoint, self._trainer.ckpt_path if self._trainer is not None else None)

    # -- training ------------------------------------------------------------------------------------

    def configure_optimizers(self) -> Any:
        optimizer = build(self.optimizer, [p for p in self.parameters() if p.requires_grad], "optimizer")
        return self._with_schedule([optimizer])

    def _with_schedule(self, optimizers: list) -> Any:
        if isinstance(optimizers[0], torch.optim.SparseAdam):  # it would stop at the first step with a traceback
            raise TextlabError("optimizer SparseAdam takes sparse gradients only, and this model's are dense: use "
                               "e.g. torch.optim.Adam (an NgramBag's sparse ones go to sparse_optimizer)")
        if self.lr_scheduler is None:
            return optimizers[0] if len(optimizers) == 1 else optimizers
        configs = []
        for optimizer in optimizers:
            scheduler = build(self.lr_scheduler, optimizer, "lr_scheduler")
            config = {"scheduler": scheduler, "interval": "epoch"}
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                config["monitor"] = self.monitor
            configs.append({"optimizer": optimizer, "lr_scheduler": config})
        return configs[0] if len(configs) == 1 else configs

    # -- prediction ----------------------------------------------------------------------------------

    def predict_step(self, batch: Any, batch_idx: int) -> list:
        return self.predict_batch(batch, self.predict_confidences)

    def predict_batch(self, batch: Any, confidences: bool) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, text: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def collate(self, encoded: list) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def predict_texts(self, texts: list, batch_size: int, confidences: bool) -> list:
        """Predict ``texts`` in order, ``batch_size`` at a time.

        Safe to call from several threads at once: it reads the model and changes nothing on it. So it needs
        the model in eval mode (``load_model`` returns it so), rather than switching the mode for the call.
        """
        if isinstance(texts, str):  # iterating it would predict each character as a text
            raise TypeError("predict takes a list of texts, not a string: model.predict([text])")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if self.training:
            raise RuntimeError("predict needs the model in eval mode: call model.eval() first (load_model returns "
                               "it so); dropout would make every prediction random")
        encoded = [self.encode(t) for t in texts]
        results: list = [None] * len(encoded)
        # texts of similar length together (less padding), a very long one in a batch of its own
        for part in length_sorted_batches([len(e.words) for e in encoded], batch_size):
            batch = self.collate([encoded[i] for i in part])
            if self.device.type != "cpu":  # batches are made on the CPU (Lightning's walk over one takes 0.2 ms)
                batch = self.transfer_batch_to_device(batch, self.device, 0)
            for i, result in zip(part, self.predict_batch(batch, confidences)):
                results[i] = result
        return results



def _plain_parts(hparams: Any, model_class: type) -> None:
    """Parts given in Python (classes, ``functools.partial``) as the CLI writes them, ``class_path`` and
    ``init_args``, so that the checkpoint holds plain values only (it is read with ``weights_only``) and is
    rebuilt from them as a CLI-made one is. A model the CLI built has its config as hyperparameters already."""
    if "_instantiator" in hparams:
        return
    for name, value in list(hparams.items()):
        hparams[name] = _as_config(value)
    hparams["_class_path"] = f"{model_class.__module__}.{model_class.__qualname__}"
    hparams["_instantiator"] = "lightning.pytorch.cli.instantiate_module"


def _as_config(value: Any) -> Any:
    if isinstance(value, functools.partial) and not value.args and inspect.isclass(value.func):
        return {"class_path": f"{value.func.__module__}.{value.func.__qualname__}",
                "init_args": {k: _as_config(v) for k, v in value.keywords.items()}}
    if inspect.isclass(value):
        return {"class_path": f"{value.__module__}.{value.__qualname__}", "init_args": {}}
    return value
