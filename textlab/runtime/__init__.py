"""Prediction with an exported model (``textlab export --format onnx --output DIR``) and nothing of the training
stack: onnxruntime, numpy and syntok only (``pip install 'textlab[runtime]'``); importing this package imports
neither torch nor Lightning.

    from textlab import runtime
    tagger = runtime.load("ner-onnx")
    for entity in tagger.tag_text("Angela Merkel visited Paris.").entities:
        print(entity.label, entity.start_char, entity.end_char, entity.text)

From the shell: ``python -m textlab.runtime DIR input.txt`` (JSON lines, as ``textlab predict --output_format
jsonl``).
"""

from __future__ import annotations

import os

from textlab.runtime.classifier import OnnxClassifier
from textlab.runtime.exported import ExportedModel, open_exported
from textlab.runtime.tagger import OnnxTagger

__all__ = ["ExportedModel", "OnnxClassifier", "OnnxTagger", "load"]


def load(directory: str | os.PathLike, threads: int | None = None) -> OnnxTagger | OnnxClassifier:
    """The exported model in ``directory``: an ``OnnxTagger`` or an ``OnnxClassifier``, as the checkpoint was.

    ``threads``: onnxruntime's threads; by default as textlab's training processes (SLURM_CPUS_PER_TASK,
    OMP_NUM_THREADS, else the cores this process may run on). Runs on the CPU.
    """
    exported = open_exported(directory, threads)
    model = OnnxTagger if exported.model_class == "SequenceTagger" else OnnxClassifier
    return model(exported)
