"""The data modules and their parts, each imported on first use (PEP 562): they need torch and datasets,
and the torch-free modules of this package (plain_text, vocab, tagging_encoding, ...) serve textlab.runtime,
which has neither. ``from textlab.data import TaggingDataModule`` and a config's
``class_path: textlab.data.TaggingDataModule`` work as before."""

from __future__ import annotations

import importlib

_MODULE_OF = {
    "ClassFiles": "sources", "ClassificationDataModule": "classification", "ClassificationHub": "hub",
    "ClassificationWords": "vocab", "ConllFiles": "sources", "LabelledFiles": "sources", "Splits": "splits",
    "TaggingDataModule": "tagging", "TaggingHub": "hub", "ToyClassificationDataModule": "classification",
    "ToyNERDataModule": "tagging", "Words": "vocab",
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'textlab.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"textlab.data.{_MODULE_OF[name]}"), name)
    globals()[name] = value  # found once; later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))
