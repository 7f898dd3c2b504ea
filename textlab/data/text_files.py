"""Reading text files, or standard input, line by line so that every error can name its file and line."""

from __future__ import annotations

import codecs
import io
import itertools
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

from textlab.errors import DataFormatError

# What a user writes for "read standard input" (``--data.predict_file -``), and how errors name it.
STDIN = "-"
STDIN_NAME = "<stdin>"

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CONVERT = "convert it to UTF-8, e.g. with iconv -f utf-16 -t utf-8"
_SNIFF_BYTES = 1 << 16


def input_name(path: str | os.PathLike) -> str:
    """How messages name an input: its path, or ``<stdin>`` for ``-``."""
    return STDIN_NAME if str(path) == STDIN else str(path)


def decoded_lines(source: str | os.PathLike | BinaryIO, encoding: str,
                  encoding_option: str = "--data.files.encoding") -> Iterator[tuple[int, str]]:
    """Yield ``(lineno, text)`` for each line of a file, of standard input (``source`` ``-``) or of a binary
    stream, decoding line by line so an error names its line (and ``encoding_option``, the option that sets the
    encoding, when the bytes are not UTF-8). Errors name a stream by its ``name`` (``<stdin>`` for stdin).

    The input is split on ``\\n`` in binary, so ``encoding`` must be ASCII-compatible (UTF-8,
    Latin-1, cp1252, ...); a trailing ``\\r`` is whitespace and disappears when columns are split. An input
    whose line breaks are a lone ``\\r`` (classic Mac OS) is split on that instead.

    A stream is read forward only (stdin cannot seek), and a line is yielded as soon as it has arrived.
    """
    is_stream = not isinstance(source, (str, os.PathLike))
    if not is_stream and str(source) == STDIN:
        source, is_stream, name = sys.stdin.buffer, True, STDIN_NAME
    else:
        name = str(getattr(source, "name", "<stream>")) if is_stream else str(source)
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise DataFormatError(name, None, f"unknown encoding {encoding!r}") from None
    if "a\n".encode(codec.name) != b"a\n":  # UTF-16 and UTF-32 spread a line break over several bytes
        raise DataFormatError(name, None, f"encoding {encoding!r} is not supported: textlab reads encodings that "
                                          f"keep ASCII as it is (UTF-8, Latin-1, cp1252, ...); {_CONVERT}")
    if is_stream:
        yield from _decoded(_raw_lines(source), name, encoding, codec.name, encoding_option)
        return
    with open(source, "rb") as f:
        yield from _decoded(_raw_lines(f), name, encoding, codec.name, encoding_option)


def _raw_lines(f: BinaryIO) -> Iterator[bytes]:
    """The lines of a binary stream, each with its line break. Whether lines end with LF or a lone CR is decided
    from the start (up to the first LF, or the first 64 KiB), once for the whole input, not per line: a stray CR
    inside a line of a LF file must not split it. Read forward only, and without waiting for more than the first
    line when it ends in a LF, so that a pipe's lines come through as they arrive."""
    read = getattr(f, "read1", f.read)  # read1: what has arrived, not a full buffer
    head = b""
    while len(head) < _SNIFF_BYTES and b"\n" not in head:
        chunk = read(_SNIFF_BYTES - len(head))
        if not chunk:
            break
        head += chunk
    if b"\r" in head and b"\n" not in head:
        yield from _split_on_cr(itertools.chain([head], iter(lambda: read(_SNIFF_BYTES), b"")))
        return
    if head and not head.endswith(b"\n"):
        head += f.readline()  # the rest of the line the head ends in
    yield from itertools.chain(io.BytesIO(head), f)


def _decoded(lines: Iterator[bytes], name: str, encoding: str, codec_name: str,
             encoding_option: str) -> Iterator[tuple[int, str]]:
    for lineno, raw in enumerate(lines, start=1):
        if lineno == 1 and raw.startswith(_UTF16_BOMS):
            raise DataFormatError(name, 1, f"the file is UTF-16 (it starts with a UTF-16 byte-order mark); {_CONVERT}")
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as err:
            # the user's own choice of encoding failed: suggesting latin-1 (which decodes anything) would mislead
            hint = f"pass {encoding_option} (e.g. latin-1)" if codec_name == "utf-8" else "is the file in another encoding?"
            column = len(raw[: err.start].decode(encoding, errors="replace")) + 1  # characters, not bytes
            raise DataFormatError(
                name,
                lineno,
                f"cannot decode byte 0x{raw[err.start]:02x} at column {column} as {encoding}; {hint}",
            ) from None
        # No text file holds a NUL; UTF-16 without a byte-order mark decodes to one every other character.
        if "\x00" in text:
            raise DataFormatError(name, lineno, f"NUL byte at column {text.index(chr(0)) + 1}: not a text file, "
                                                f"or UTF-16 without a byte-order mark; if UTF-16, {_CONVERT}")
        # Editors on Windows often prepend a byte-order mark; it would otherwise stick to
        # the first token, and str.split() does not treat it as whitespace.
        yield lineno, text.lstrip("\ufeff") if lineno == 1 else text


def _split_on_cr(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The lines of binary chunks whose line breaks are a lone CR, each with its CR as iteration keeps LF."""
    rest = b""
    for chunk in chunks:
        *lines, rest = (rest + chunk).split(b"\r")
        yield from (line + b"\r" for line in lines)
    if rest:
        yield rest


class LineSource:
    """A text input read line by line, from its start as often as needed: a file is opened again each time;
    standard input (``-``), which can be read once, keeps the lines looked at beforehand (``head``, to guess
    the format) and gives them back first, so nothing is lost to the look."""

    def __init__(self, path: str | os.PathLike, encoding: str, encoding_option: str = "--data.files.encoding") -> None:
        self.path, self.encoding, self.encoding_option = str(path), encoding, encoding_option
        self.name = input_name(path)
        self._stdin: Iterator[tuple[int, str]] | None = None
        self._stdin_head: list[tuple[int, str]] = []
        self._stdin_read = False

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIN

    def head(self, n: int) -> list[str]:
        """The first ``n`` lines (fewer if the input is shorter)."""
        if not self.is_stdin:
            lines = decoded_lines(self.path, self.encoding, self.encoding_option)
            try:
                return [text for _, text in itertools.islice(lines, n)]
            finally:
                lines.close()
        if self._stdin is None:
            self._stdin = decoded_lines(STDIN, self.encoding, self.encoding_option)
        if len(self._stdin_head) < n:
            self._stdin_head += itertools.islice(self._stdin, n - len(self._stdin_head))
        return [text for _, text in self._stdin_head[:n]]

    def lines(self) -> Iterator[tuple[int, str]]:
        """``(lineno, text)`` for every line from the first; standard input only once."""
        if not self.is_stdin:
            return decoded_lines(self.path, self.encoding, self.encoding_option)
        if self._stdin_read:
            raise RuntimeError("standard input can be read once only")
        self._stdin_read = True
        if self._stdin is None:
            self._stdin = decoded_lines(STDIN, self.encoding, self.encoding_option)
        head, self._stdin_head = self._stdin_head, []
        return itertools.chain(head, self._stdin)
