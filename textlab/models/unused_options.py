"""Telling a user which of their settings the chosen components never read.

A config shared between runs often keeps the options of another component when a run switches it (the
char-CNN's widths under ``char_encoder none``): harmless, so the models log a warning rather than refuse.
"""

from __future__ import annotations

import inspect


def changed_options(cls: type, hparams, names) -> list[str]:
    """``name value`` for each of ``names`` whose value in ``hparams`` differs from its default in ``cls``'s
    ``__init__``: the only sign that a user set it (setting it to its default cannot be told apart, and
    does no harm)."""
    defaults = inspect.signature(cls.__init__).parameters
    return [f"{name} {_plain(hparams[name])}" for name in names
            if _plain(hparams[name]) != _plain(defaults[name].default)]


def _plain(value):
    if isinstance(value, bool):
        return str(value).lower()  # as a config writes it
    return list(value) if isinstance(value, (list, tuple)) else value  # the CLI gives char_widths as a tuple


def either(choices: list[str]) -> str:
    """``a, b or c``."""
    return " or ".join([", ".join(choices[:-1]), choices[-1]] if len(choices) > 1 else choices)
