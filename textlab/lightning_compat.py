"""The one place where textlab relies on Lightning internals and wording; tests/test_lightning_compat.py fails
loudly when a Lightning upgrade changes any of them.

- ``LightningCLI._subcommand_parsers``: the only way to add an option to one subcommand (``fit
  --test_after_fit``, ``predict --output``); ``add_arguments_to_parser`` is called for every subcommand alike.
- ``LightningCLI._parse_ckpt_path``: with ``--ckpt_path`` it parses all the checkpoint's hyperparameters *over*
  the parsed arguments. That would undo the user's ``--model`` overrides and push the vocabularies through the
  parser and a YAML dump (~45 s for 400k words); textlab sets them as parser defaults instead (``textlab.cli``).
- ``LightningCLI._run_subcommand``: Lightning checks ``val_check_interval`` against an epoch's batches only
  once fit has loaded the data, and refuses a larger one with a plain ``ValueError``: a setting, so one line.
- ``_given_hyperparameters_context``: how LightningCLI makes a model built from class_path configs keep those
  plain configs as its hyperparameters (not the callables built from them); ``load_model`` builds a model
  from a checkpoint the same way, so that it can be saved and loaded again with ``weights_only``.
- EarlyStopping's ``RuntimeError`` when its metric was never logged: matched by its wording.
"""

from __future__ import annotations

import re

from typing import Any

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, instantiate_module
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters_context

from textlab.errors import TextlabError

# lightning/pytorch/callbacks/early_stopping.py
_EARLY_STOPPING_METRIC = re.compile(
    r"Early stopping conditioned on metric `(.*?)` which is not available\..*following: (.*)$", re.DOTALL)
# lightning/pytorch/loops/fit_loop.py
VAL_CHECK_INTERVAL = "`val_check_interval`"


class LightningInternals(LightningCLI):
    """The overrides of ``LightningCLI`` internals, each explained in the module docstring."""

    def subcommand_parser(self, subcommand: str) -> LightningArgumentParser:
        return self._subcommand_parsers[subcommand]

    def _parse_ckpt_path(self) -> None:
        return  # the checkpoint's hyperparameters are parser defaults already (TextlabCLI.parse_arguments)

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except ValueError as e:
            if VAL_CHECK_INTERVAL not in str(e):
                raise
            raise TextlabError(f"invalid trainer setting: {str(e).strip()}") from None


def early_stopping_metric(error: RuntimeError) -> tuple[str, str] | None:
    """(the metric EarlyStopping monitors, the metrics logged) when ``error`` is its "metric not available"."""
    found = _EARLY_STOPPING_METRIC.match(str(error))
    return found.groups() if found else None


def instantiate_from_hparams(cls: type, hparams: dict[str, Any]) -> Any:
    """``cls`` built from a checkpoint's hyperparameters (parts as class_path configs), keeping them plain."""
    instantiator = "lightning.pytorch.cli.instantiate_module"
    with _given_hyperparameters_context(hparams=hparams, instantiator=instantiator):
        return instantiate_module(cls, hparams)


def _keep_nested_nulls() -> None:
    """``--model.init_args.words.init_args.pretrained null``: jsonargparse (4.53) reads the ``null`` of an option
    two parts down as None, then hands it on to the part's own parser as the text ``--pretrained=None``, and the
    part gets the string "None" (a float option refuses it). Handing it on as ``null`` keeps it None."""
    from jsonargparse import _typehints
    from jsonargparse._util import NestedArg

    read = _typehints.parse_value_or_config
    if getattr(read, "keeps_nested_nulls", False):
        return

    def parse_value_or_config(value, *args, **kwargs):
        parsed, path = read(value, *args, **kwargs)
        if isinstance(parsed, NestedArg) and parsed.val is None and "." in parsed.key:
            parsed = NestedArg(key=parsed.key, val="null")
        return parsed, path

    parse_value_or_config.keeps_nested_nulls = True
    _typehints.parse_value_or_config = parse_value_or_config


_keep_nested_nulls()
