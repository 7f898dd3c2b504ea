"""``textlab export --ckpt_path CKPT --format onnx --output DIR [--int8 true] [--keep_pretrained N]``.

DIR receives ``model.onnx`` (the network and, for a tagger, its decoding, with dynamic batch and lengths) and
``textlab_model.json`` (the vocabularies and tokenisation settings, the inputs and outputs, and where the model
came from), which ``textlab.runtime`` reads without PyTorch. Everything that can be wrong with the settings
ends in one line (exit 2) before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os

from textlab import __version__
from textlab.checkpoint import check_checkpoint_path
from textlab.command_settings import parse_settings
from textlab.errors import TextlabError
from textlab.export.settings import ExportSettings

log = logging.getLogger("textlab")

MODEL_FILE, MANIFEST_FILE = "model.onnx", "textlab_model.json"
FORMAT, FORMAT_VERSION = "textlab-onnx", 1


def main(argv: list[str] | None = None) -> None:
    settings = parse_settings(ExportSettings, "textlab export", argv)
    check_checkpoint_path(settings.ckpt_path)
    check_output(settings.output, settings.overwrite)
    try:  # the export extra; a checkout installed without it gets one line saying so, not a traceback
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise TextlabError(f"textlab export needs {e.name}: pip install 'textlab[export]'") from None
    from textlab.export.model_onnx import model_onnx  # imports onnx
    from textlab.export.quantize import quantize_int8
    from textlab.predict import load_model

    model = load_model(settings.ckpt_path)
    exported = model_onnx(model, settings.keep_pretrained)
    os.makedirs(settings.output, exist_ok=True)
    path = os.path.join(settings.output, MODEL_FILE)
    partial = path + ".partial"  # renamed once complete: an interrupted export never leaves a broken model.onnx
    try:
        if settings.int8:
            quantize_int8(exported.model, partial)
        else:
            onnx.save(exported.model, partial)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "textlab_version": __version__,
        "model_class": type(model).__name__, "vocab": exported.vocab,
        "inputs": exported.inputs, "outputs": exported.outputs,
        "int8": settings.int8, "keep_pretrained": settings.keep_pretrained,
        "source": {"checkpoint": os.path.basename(settings.ckpt_path), "sha256": file_sha256(settings.ckpt_path)},
    }
    write_json(os.path.join(settings.output, MANIFEST_FILE), manifest)
    log.info("exported %s (%s) to %s: %s %.1f MB", settings.ckpt_path, type(model).__name__, settings.output,
             MODEL_FILE, os.path.getsize(path) / 1e6)


def check_output(output: str, overwrite: bool) -> None:
    """Refuse a folder that holds files, as spaCy's ``package`` does without ``--force``: an export must not
    mix with, or silently replace, files that are there."""
    if os.path.exists(output) and not os.path.isdir(output):
        raise TextlabError(f"--output {output}: a file, not a folder to export into")
    if os.path.isdir(output) and os.listdir(output) and not overwrite:
        raise TextlabError(f"--output {output}: the folder holds files already; choose a new or empty folder, or "
                           "--overwrite true to replace an earlier export there")


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: str, value: dict) -> None:
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False)
        f.write("\n")
    os.replace(partial, path)
