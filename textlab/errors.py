"""Errors that textlab reports to the user as one line and a non-zero exit (see ``textlab.cli.main``)."""

from __future__ import annotations

import os


class TextlabError(Exception):
    """A problem with what the user gave us (a file, a config value, a checkpoint), not a bug."""


class DataFormatError(TextlabError):
    """Malformed input data. The message names the file, the line and what was expected."""

    def __init__(self, path: str | os.PathLike, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
