"""An export folder (``textlab export --format onnx --output DIR``) opened for prediction: its description,
``textlab_model.json``, checked, and ``model.onnx`` in an onnxruntime session. Whatever is wrong with the folder
is one ``TextlabError`` naming the file and what was expected."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from textlab.errors import TextlabError
from textlab.thread_share import threads_per_process

MANIFEST = "textlab_model.json"
MODEL = "model.onnx"
FORMAT = "textlab-onnx"
FORMAT_VERSION = 1
MODEL_CLASSES = ("SequenceTagger", "TextClassifier")

_MADE_BY = "the folder `textlab export --format onnx --output DIR` writes"


@dataclass(frozen=True)
class ExportedModel:
    directory: str
    manifest: dict[str, Any]  # textlab_model.json
    session: Any  # onnxruntime.InferenceSession
    threads: int  # onnxruntime's intra-op threads

    @property
    def model_class(self) -> str:
        return self.manifest["model_class"]

    def run(self, output: str, arrays: dict[str, Any]) -> Any:
        """The model's ``output`` for the inputs it declares, taken from ``arrays`` by name."""
        return self.session.run([output], {name: arrays[name] for name in self.manifest["inputs"]})[0]


def read_manifest(directory: str) -> dict[str, Any]:
    """``DIR/textlab_model.json``, checked: the format and version this runtime reads, a model class it knows."""
    if not os.path.isdir(directory):
        what = "does not exist" if not os.path.exists(directory) else "is not a folder"
        raise TextlabError(f"{directory}: {what}; expected {_MADE_BY}")
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise TextlabError(f"{path}: missing; expected {_MADE_BY} (model.onnx and {MANIFEST})") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise TextlabError(f"{path}: not JSON ({e}); expected the description {_MADE_BY}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise TextlabError(f"{path}: format {found!r}, expected {FORMAT!r}: not {_MADE_BY}")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        made_by = manifest.get("textlab_version", "an unknown version")
        raise TextlabError(f"{path}: format_version {version!r} (written by textlab {made_by}); this textlab reads "
                           f"format_version {FORMAT_VERSION}: export the checkpoint again with this version")
    if manifest.get("model_class") not in MODEL_CLASSES:
        raise TextlabError(f"{path}: model_class {manifest.get('model_class')!r}, expected one of "
                           f"{', '.join(MODEL_CLASSES)}")
    for key, kind in (("vocab", dict), ("inputs", list), ("outputs", list)):
        if not isinstance(manifest.get(key), kind):
            raise TextlabError(f"{path}: {key!r} missing or not a JSON {'object' if kind is dict else 'list'}")
    return manifest


def open_exported(directory: str | os.PathLike, threads: int | None = None) -> ExportedModel:
    """The export folder ``directory`` ready to predict, with ``threads`` onnxruntime threads (by default what
    textlab's training uses: SLURM_CPUS_PER_TASK, OMP_NUM_THREADS, or the cores this process may run on)."""
    directory = os.fspath(directory)
    manifest = read_manifest(directory)
    if threads is not None and threads < 1:
        raise TextlabError(f"threads must be at least 1, not {threads}")
    threads = threads or threads_per_process(1)[0]
    session = _session(os.path.join(directory, MODEL), threads)
    declared = [i.name for i in session.get_inputs()]
    if sorted(declared) != sorted(manifest["inputs"]):
        raise TextlabError(f"{os.path.join(directory, MANIFEST)}: lists the inputs {manifest['inputs']} but "
                           f"{MODEL} reads {declared}: the two files come from different exports")
    return ExportedModel(directory, manifest, session, threads)


def _session(path: str, threads: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise TextlabError("textlab.runtime needs onnxruntime: pip install 'textlab[runtime]'") from None
    if not os.path.isfile(path):
        raise TextlabError(f"{path}: missing; expected {_MADE_BY} (model.onnx and {MANIFEST})")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # the graph is one chain of steps: no independent branches to run at once
    options.log_severity_level = 3  # errors only: onnxruntime's warnings are about its own graph optimisations
    try:
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own classes (InvalidProtobuf, Fail, ...), not one base
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TextlabError(f"{path}: onnxruntime cannot load it ({reason})") from None
