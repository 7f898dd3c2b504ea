"""Reading text files line by line so that every error can name its file and line."""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterator

from textlab.errors import DataFormatError

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CONVERT = "convert it to UTF-8, e.g. with iconv -f utf-16 -t utf-8"
_SNIFF_BYTES = 1 << 16


def decoded_lines(path: str | os.PathLike, encoding: str,
                  encoding_option: str = "--data.files.encoding") -> Iterator[tuple[int, str]]:
    """Yield ``(lineno, text)`` for each line, decoding line by line so an error names its line (and
    ``encoding_option``, the option that sets the encoding, when the bytes are not UTF-8).

    The file is split on ``\\n`` in binary, so ``encoding`` must be ASCII-compatible (UTF-8,
    Latin-1, cp1252, ...); a trailing ``\\r`` is whitespace and disappears when columns are split. A file
    whose line breaks are a lone ``\\r`` (classic Mac OS) is split on that instead.
    """
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise DataFormatError(path, None, f"unknown encoding {encoding!r}") from None
    if "a\n".encode(codec.name) != b"a\n":  # UTF-16 and UTF-32 spread a line break over several bytes
        raise DataFormatError(path, None, f"encoding {encoding!r} is not supported: textlab reads encodings that "
                                          f"keep ASCII as it is (UTF-8, Latin-1, cp1252, ...); {_CONVERT}")
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
        f.seek(0)
        # Decided for the whole file, not per line: a stray CR inside a line of a LF file must not split it.
        lines = _split_on_cr(f) if b"\r" in head and b"\n" not in head else f
        for lineno, raw in enumerate(lines, start=1):
            if lineno == 1 and raw.startswith(_UTF16_BOMS):
                raise DataFormatError(path, 1, f"the file is UTF-16 (it starts with a UTF-16 byte-order mark); {_CONVERT}")
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as err:
                # the user's own choice of encoding failed: suggesting latin-1 (which decodes anything) would mislead
                hint = f"pass {encoding_option} (e.g. latin-1)" if codec.name == "utf-8" else "is the file in another encoding?"
                column = len(raw[: err.start].decode(encoding, errors="replace")) + 1  # characters, not bytes
                raise DataFormatError(
                    path,
                    lineno,
                    f"cannot decode byte 0x{raw[err.start]:02x} at column {column} as {encoding}; {hint}",
                ) from None
            # No text file holds a NUL; UTF-16 without a byte-order mark decodes to one every other character.
            if "\x00" in text:
                raise DataFormatError(path, lineno, f"NUL byte at column {text.index(chr(0)) + 1}: not a text file, "
                                                    f"or UTF-16 without a byte-order mark; if UTF-16, {_CONVERT}")
            # Editors on Windows often prepend a byte-order mark; it would otherwise stick to
            # the first token, and str.split() does not treat it as whitespace.
            yield lineno, text.lstrip("\ufeff") if lineno == 1 else text


def _split_on_cr(f) -> Iterator[bytes]:
    """The lines of a binary file whose line breaks are a lone CR, each with its CR as iteration keeps LF."""
    rest = b""
    for chunk in iter(lambda: f.read(_SNIFF_BYTES), b""):
        *lines, rest = (rest + chunk).split(b"\r")
        yield from (line + b"\r" for line in lines)
    if rest:
        yield rest
