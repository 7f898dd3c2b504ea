"""Using a trained model: ``load_model(ckpt)`` and the prediction writer."""

from __future__ import annotations

import importlib
import itertools
import os
import shutil
import struct
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from lightning.pytorch import Callback, LightningModule

from textlab.checkpoint import read_checkpoint
from textlab.data.predict_stream import input_batch
from textlab.errors import TextlabError
from textlab.lightning_compat import instantiate_from_hparams
from textlab.onednn_cache import bound_primitive_caches

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
    bound_primitive_caches()  # before the model first runs: memory would otherwise grow with the input (see there)
    checkpoint = read_checkpoint(ckpt_path)
    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if k != "_instantiator"}
    cls = model_class(hparams.get("_class_path", ""), ckpt_path)
    # as Lightning's load_from_checkpoint builds a model the CLI made: the parts from their class_path configs
    model = instantiate_from_hparams(cls, hparams)
    model.on_load_checkpoint(checkpoint)
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(map_location).eval()


class PredictionWriter(Callback):
    """Writes each batch's predictions as it comes (``result.to_text(confidences)``, or ``to_json`` for
    ``output_format="jsonl"``), to a file or stdout (flushed after every batch, so a pipe gets them as they come).

    Writing per batch keeps memory flat however large the input; the file is only complete when the
    run ends, so it is written under a temporary name (``<output>.partial``) and renamed then. The file is
    opened in ``setup``, before any prediction, so a path that cannot be written fails at once, and an input
    without a single sentence still gives an (empty) output file. A failed run removes what it wrote and never
    replaces an earlier output.

    Several processes (DDP) each predict their share of the batches (batch k: process k % world, see
    ``textlab.data.predict_stream``) and write them to ``<output>.partial.rank<r>`` (for stdout, in a temporary
    folder), each batch framed by its place in the input and its length. When all have finished, the first
    process merges the parts, a batch at a time, in input order into the output and removes them: the output is
    the one a single process writes, byte for byte.

    A plain Callback rather than Lightning's ``BasePredictionWriter``: for the writer, Lightning's prediction loop
    looks up every batch's example indices, which a streamed input (an ``IterableDataset``) does not have, and
    for a batch sampler keeps them all until the end.
    """

    def __init__(self, output: str | None = None, confidences: bool = False, output_format: str = "text",
                 tag_scheme: str | None = None) -> None:
        super().__init__()
        if output_format not in ("text", "jsonl"):
            raise TextlabError(f"--output_format {output_format}: expected text or jsonl")
        if tag_scheme not in (None, "IOB2", "BIOES"):
            raise TextlabError(f"--tag_scheme {tag_scheme}: expected IOB2 or BIOES (or null: the model's own)")
        self.output = None if output in (None, "-") else output
        self.confidences, self.output_format, self.tag_scheme = confidences, output_format, tag_scheme
        if self.output is not None:  # here, before a run starts any other process
            _check_output_path(self.output)
        self._model_scheme: str | None = None
        self._stream: Any = None  # the first process's output: the .partial file or stdout
        self._part: Any = None  # several processes: this one's part
        self._parts: list[str] = []  # several processes: every process's part
        self._tmpdir: str | None = None  # the parts' folder when the output is stdout
        self._rank, self._world = 0, 1

    # -- opening ---------------------------------------------------------------------------------------

    def setup(self, trainer, pl_module, stage: str) -> None:
        if stage != "predict":
            return
        if self.tag_scheme is not None:
            self._model_scheme = getattr(getattr(pl_module, "vocab", None), "tag_scheme", None)
            if self._model_scheme is None:
                raise TextlabError(f"--tag_scheme {self.tag_scheme}: for a tagger's output; this model is a classifier")
        self._rank, self._world = trainer.global_rank, trainer.world_size
        error, prefix = None, None
        if self._rank == 0:
            try:
                self._stream = self._open_output()
                if self._world > 1:
                    prefix = self._parts_prefix(trainer.num_nodes)
            except TextlabError as e:
                error = str(e)
        if self._world > 1:
            # every process waits for the first one's output and parts' place, or its error (else they would hang)
            error, prefix = trainer.strategy.broadcast((error, prefix), src=0)
        if error is not None:
            self._close_output(remove=True)
            raise TextlabError(error)
        if self._world > 1:
            self._parts = [f"{prefix}.rank{r}" for r in range(self._world)]
            self._part = open(self._parts[self._rank], "wb")

    def _open_output(self) -> Any:
        if self.output is None:
            return sys.stdout
        try:
            os.makedirs(os.path.dirname(self.output) or ".", exist_ok=True)
            return open(self.output + ".partial", "w", encoding="utf-8")
        except OSError as e:
            raise TextlabError(f"--output {self.output}: cannot write there ({e.strerror})") from None

    def _parts_prefix(self, num_nodes: int) -> str:
        """Where the processes write their parts: beside the output, or in a new temporary folder for stdout."""
        if self.output is not None:
            return self.output + ".partial"
        if num_nodes > 1:  # a temporary folder is on one machine only
            raise TextlabError("--output: on several machines (--trainer.num_nodes) the processes write their parts "
                               "beside the output: give --output FILE on a file system every machine sees")
        self._tmpdir = tempfile.mkdtemp(prefix="textlab-predict-")
        return os.path.join(self._tmpdir, "stdout.partial")

    # -- writing ---------------------------------------------------------------------------------------

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        if self._model_scheme is not None:
            outputs = [result.in_scheme(self._model_scheme, self.tag_scheme) for result in outputs]
        if self.output_format == "jsonl":
            text = "".join(result.to_json(self.confidences) for result in outputs)
        else:
            text = "".join(result.to_text(self.confidences) for result in outputs)
        if self._part is not None:
            data = text.encode("utf-8")
            self._part.write(_FRAME.pack(input_batch(batch_idx, self._rank, self._world), len(data)))
            self._part.write(data)
        elif self._stream is not None:
            self._stream.write(text)
            if self._stream is sys.stdout:
                self._stream.flush()

    def on_predict_end(self, trainer, pl_module) -> None:
        if self._part is not None:
            self._part.close()
            self._part = None
            trainer.strategy.barrier("textlab: predictions written")
            if self._stream is not None:
                merge_parts(self._parts, self._stream.write)
                self._remove_parts()
        self._close_output()

    def teardown(self, trainer, pl_module, stage: str) -> None:
        # a run that predicted nothing (--trainer.limit_predict_batches 0) ends without on_predict_end
        if self._part is not None:
            self._part.close()
            self._part = None
            os.remove(self._parts[self._rank])
        self._close_output()

    # -- closing ---------------------------------------------------------------------------------------

    def _close_output(self, remove: bool = False) -> None:
        """Close the output, and rename the file to its name (or ``remove`` it, after a failure)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if stream is sys.stdout:
            stream.flush()
            return
        stream.close()
        if remove:
            os.remove(self.output + ".partial")
        else:
            os.replace(self.output + ".partial", self.output)

    def _remove_parts(self) -> None:
        for path in self._parts:
            if os.path.exists(path):
                os.remove(path)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if self._part is not None:
            self._part.close()
            self._part = None
        if self._stream is not None:  # the first process removes every process's part with its own output
            self._remove_parts()
        elif self._parts and os.path.exists(self._parts[self._rank]):
            os.remove(self._parts[self._rank])
        self._close_output(remove=True)


# A batch's frame in a process's part: its place in the input, and the length of its output in bytes.
_FRAME = struct.Struct("<QQ")


def merge_parts(parts: list[str], write: Callable[[str], Any]) -> None:
    """``write`` the batches framed in ``parts`` (process r's part holds batches r, r + world, ...) in input order,
    one batch in memory at a time."""
    files = [open(path, "rb") for path in parts]
    try:
        for k in itertools.count():
            part = files[k % len(files)]
            header = part.read(_FRAME.size)
            if not header:  # batch k does not exist, nor any after it: every part must be at its end
                left = [f.name for f in files if f.read(1)]
                if left:
                    raise RuntimeError(f"{', '.join(left)}: batches after the last batch {k - 1} of the input")
                return
            index, size = _FRAME.unpack(header)
            if index != k:
                raise RuntimeError(f"{part.name}: batch {index} where batch {k} of the input belongs")
            write(part.read(size).decode("utf-8"))
    finally:
        for f in files:
            f.close()


def _check_output_path(output: str) -> None:
    """A path where a file can be made: not a folder, no file where a folder has to be."""
    if os.path.isdir(output):
        raise TextlabError(f"--output {output}: a folder; give the path of a file to write")
    folder = os.path.dirname(output)
    blocking = next((f for f in _ancestors(folder) if os.path.exists(f) and not os.path.isdir(f)), None)
    if blocking:
        raise TextlabError(f"--output {output}: {blocking} is a file, not a folder")


def _ancestors(folder: str) -> list[str]:
    """``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``."""
    parts = []
    while folder and folder not in parts and os.path.dirname(folder) != folder:
        parts.append(folder)
        folder = os.path.dirname(folder)
    return parts[::-1]
