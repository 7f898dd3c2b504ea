"""The options of a command that is not a Trainer method (``textlab serve``, ``textlab report``): a settings
dataclass read by jsonargparse, whose docstring is the ``--help``, and ``--config FILE`` with them as YAML."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from jsonargparse import ActionConfigFile

from textlab.argument_errors import TextlabArgumentParser

Settings = TypeVar("Settings")


def settings_parser(settings: type, prog: str) -> TextlabArgumentParser:
    """The command's parser; TextlabArgumentParser: a wrong value is one line naming the option, as elsewhere."""
    parser = TextlabArgumentParser(prog=prog, description=settings.__doc__.split("\n")[0],
                                   env_prefix=prog.replace(" ", "_").upper(), default_env=False)
    parser.add_argument("--config", action=ActionConfigFile, help="A YAML file with any of the options below.")
    parser.add_class_arguments(settings, as_group=False)
    return parser


def parse_settings(settings: type[Settings], prog: str, argv: list[str] | None) -> Settings:
    """``settings`` from the command line ``argv`` (and the files ``--config`` names)."""
    config = settings_parser(settings, prog).parse_args(argv)
    names = {field.name for field in dataclasses.fields(settings)}
    return settings(**{name: value for name, value in vars(config).items() if name in names})
