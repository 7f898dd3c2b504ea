"""Using a trained model: ``load_model(ckpt)`` and the prediction writer."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from lightning.pytorch import LightningModule
from lightning.pytorch.callbacks import BasePredictionWriter

from textlab.checkpoint import read_checkpoint
from textlab.errors import TextlabError
from textlab.lightning_compat import instantiate_from_hparams

# Only these may be named by a checkpoint: a checkpoint must not make us import arbitrary code.
MODEL_PACKAGE = "textlab.models."


def model_class(class_path: str, ckpt_path: str | os.PathLike) -> type[LightningModule]:
    """The textlab model class a checkpoint names; anything outside ``textlab.models`` is refused."""
    module_name, _, class_name = class_path.rpartition(".")
    cls = None
    if class_path.startswith(MODEL_PACKAGE):
        try:
            cls = getattr(importlib.import_module(module_name), class_name, None)
        except ImportError:
            pass
    if not (isinstance(cls, type) and issubclass(cls, LightningModule)):
        raise TextlabError(f"{ckpt_path}: not a textlab model checkpoint (model class {class_path or 'missing'!r})")
    return cls


def load_model(ckpt_path: str | os.PathLike, map_location: str = "cpu") -> LightningModule:
    """The model of a textlab checkpoint, in eval mode, ready for ``model.predict([...])``.

    Needs nothing but the checkpoint, read once: the vocabularies and the parts are inside it.
    """
    checkpoint = read_checkpoint(ckpt_path)
    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if k != "_instantiator"}
    cls = model_class(hparams.get("_class_path", ""), ckpt_path)
    # as Lightning's load_from_checkpoint builds a model the CLI made: the parts from their class_path configs
    model = instantiate_from_hparams(cls, hparams)
    model.on_load_checkpoint(checkpoint)
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(map_location).eval()


class PredictionWriter(BasePredictionWriter):
    """Writes each batch's predictions as it comes (``result.to_text(confidences)``, or ``to_json`` for
    ``output_format="jsonl"``), to a file or stdout.

    Writing per batch keeps memory flat however large the input; the file is only complete when the
    run ends, so it is written under a temporary name and renamed then. The file is opened in ``setup``,
    before any prediction, so a path that cannot be written fails at once, and an input without a single
    sentence still gives an (empty) output file. Lightning calls ``teardown`` only after a run that
    succeeded, so a failed one never replaces an earlier output.
    """

    def __init__(self, output: str | None = None, confidences: bool = False, output_format: str = "text",
                 tag_scheme: str | None = None) -> None:
        super().__init__(write_interval="batch")
        if output_format not in ("text", "jsonl"):
            raise TextlabError(f"--output_format {output_format}: expected text or jsonl")
        if tag_scheme not in (None, "IOB2", "BIOES"):
            raise TextlabError(f"--tag_scheme {tag_scheme}: expected IOB2 or BIOES (or null: the model's own)")
        self.output, self.confidences, self.output_format = output, confidences, output_format
        self.tag_scheme = tag_scheme
        self._model_scheme: str | None = None
        self._stream: Any = None

    def setup(self, trainer, pl_module, stage: str) -> None:
        if stage != "predict" or not trainer.is_global_zero:
            return  # every process predicts the whole input; the first one writes it
        if self.tag_scheme is not None:
            self._model_scheme = getattr(getattr(pl_module, "vocab", None), "tag_scheme", None)
            if self._model_scheme is None:
                raise TextlabError(f"--tag_scheme {self.tag_scheme}: for a tagger's output; this model is a classifier")
        if self.output in (None, "-"):
            self._stream = sys.stdout
            return
        if os.path.isdir(self.output):
            raise TextlabError(f"--output {self.output}: a folder; give the path of a file to write")
        folder = os.path.dirname(self.output)
        blocking = next((f for f in _ancestors(folder) if os.path.exists(f) and not os.path.isdir(f)), None)
        if blocking:
            raise TextlabError(f"--output {self.output}: {blocking} is a file, not a folder")
        try:
            os.makedirs(folder or ".", exist_ok=True)
            self._stream = open(self.output + ".partial", "w", encoding="utf-8")
        except OSError as e:
            raise TextlabError(f"--output {self.output}: cannot write there ({e.strerror})") from None

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        if self._stream is None:
            return
        if self._model_scheme is not None:
            prediction = [result.in_scheme(self._model_scheme, self.tag_scheme) for result in prediction]
        if self.output_format == "jsonl":
            self._stream.write("".join(result.to_json(self.confidences) for result in prediction))
        else:
            self._stream.write("".join(result.to_text(self.confidences) for result in prediction))

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self._stream is None:
            return
        if self._stream is sys.stdout:
            sys.stdout.flush()
        else:
            self._stream.close()
            os.replace(self.output + ".partial", self.output)
        self._stream = None

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if self._stream is not None and self._stream is not sys.stdout:
            self._stream.close()
            os.remove(self.output + ".partial")
        self._stream = None


def _ancestors(folder: str) -> list[str]:
    """``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``."""
    parts = []
    while folder and folder not in parts and os.path.dirname(folder) != folder:
        parts.append(folder)
        folder = os.path.dirname(folder)
    return parts[::-1]
