"""textlab: config-driven BiLSTM-CRF taggers and text classifiers on PyTorch Lightning."""

from textlab.predict import load_model

__all__ = ["load_model"]
__version__ = "0.3.0"
