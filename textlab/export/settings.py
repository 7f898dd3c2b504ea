"""What ``textlab export`` is told: the checkpoint, the folder to write, and the options. Their ``--help``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textlab.errors import TextlabError


@dataclass(frozen=True)
class ExportSettings:
    """Export a trained tagger or classifier for inference without PyTorch: DIR/model.onnx and DIR/textlab_model.json.

    Args:
        ckpt_path: The checkpoint to export (a tagger's or a classifier's, as textlab fit writes it).
        output: The folder to write model.onnx and textlab_model.json into (made if needed; refused if it holds
            files already, unless --overwrite true).
        format: The format to export to: onnx (one ONNX model; a tagger's includes its decoding).
        int8: Quantise the network's weights to int8 (onnxruntime's dynamic quantisation): about a quarter of the
            size, and predictions that may differ slightly; the decoding stays float32.
        keep_pretrained: Keep only the words seen in training and this many of the pretrained-only words (the
            most frequent, in the vectors file's order); the others read as unknown words. Null: keep every word.
        overwrite: Replace the model.onnx and textlab_model.json of an earlier export in the folder.
    """

    ckpt_path: str
    output: str
    format: Literal["onnx"] = "onnx"
    int8: bool = False
    keep_pretrained: int | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.keep_pretrained is not None and self.keep_pretrained < 0:
            raise TextlabError(f"--keep_pretrained {self.keep_pretrained}: must be 0 or more (null keeps every word)")
