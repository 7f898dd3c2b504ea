"""Reading text files line by line so that every error can name its file and line."""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterator

from textlab.errors import DataFormatError


def decoded_lines(path: str | os.PathLike, encoding: str) -> Iterator[tuple[int, str]]:
    """Yield ``(lineno, text)`` for each line, decoding line by line so an error names its line.

    The file is split on ``\\n`` in binary, so ``encoding`` must be ASCII-compatible (UTF-8,
    Latin-1, cp1252, ...); a trailing ``\\r`` is whitespace and disappears when columns are split.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataFormatError(path, None, f"unknown encoding {encoding!r}") from None
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as err:
                raise DataFormatError(
                    path,
                    lineno,
                    f"cannot decode byte 0x{raw[err.start]:02x} at column {err.start + 1} as "
                    f"{encoding}; pass --data.encoding (e.g. latin-1)",
                ) from None
            # Editors on Windows often prepend a byte-order mark; it would otherwise stick to
            # the first token, and str.split() does not treat it as whitespace.
            yield lineno, text.lstrip("\ufeff") if lineno == 1 else text
