"""textlab: config-driven BiLSTM-CRF taggers and text classifiers on PyTorch Lightning."""

from __future__ import annotations

__all__ = ["load_model"]
__version__ = "0.4.0"


def __getattr__(name: str):
    # Imported on first use (PEP 562): load_model needs torch, and the torch-free parts of textlab
    # (textlab.runtime, with onnxruntime alone) import this package too.
    if name == "load_model":
        from textlab.predict import load_model

        return load_model
    raise AttributeError(f"module 'textlab' has no attribute {name!r}")
