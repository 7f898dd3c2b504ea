"""Readers for labelled texts: CSV/TSV (configurable columns), JSONL (configurable fields), and line
files of one class each (the MR layout). Every problem is a DataFormatError naming the file and the
1-based line (CSV/TSV count the header line).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from textlab.data.text_files import decoded_lines
from textlab.errors import DataFormatError, TextlabError

FileFormat = Literal["auto", "csv", "tsv", "jsonl", "text"]
# The csv module refuses fields over 131,072 characters, a guard against a runaway quote; a long review or
# a whole document is bigger than that. 2**31 - 1 fits a C long everywhere (sys.maxsize overflows on
# Windows), and a quote left open is still reported, at the end of the file.
csv.field_size_limit(2**31 - 1)
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class Example:
    """One text with its label (None for unlabelled input), and where it was read, for messages."""

    text: str
    label: str | None = None
    where: str = ""
    line: int | None = None
    id: Any = None  # a prediction input record's "id", carried to its result


def detect_format(path: str, given: FileFormat = "auto", unlabelled_ok: bool = False) -> str:
    """The format of ``path``: the given one, or the extension's; plain text when unlabelled input allows it."""
    if given != "auto":
        return given
    found = EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if found:
        return found
    if unlabelled_ok:
        return "text"
    raise TextlabError(f"{path}: cannot tell the format from the extension: pass --data.files.format csv, tsv or jsonl")


def check_text(text, path: str, line: int, column: str) -> str:
    if not isinstance(text, str):
        raise DataFormatError(path, line, f"{column!r} must be a string, found {type(text).__name__}")
    if not text.strip():
        raise DataFormatError(path, line, f"empty text in {column!r}")
    return text


def check_label(label, path: str, line: int, column: str) -> str:
    if isinstance(label, bool) or not isinstance(label, (str, int)):
        raise DataFormatError(path, line, f"label {column!r} must be a string or an integer, found {label!r}")
    label = str(label).strip()
    if not label:
        raise DataFormatError(path, line, f"empty label in {column!r}")
    return label


def read_delimited(
    path: str, delimiter: str, text_column: str, label_column: str | None,
    encoding: str = "utf-8", header: bool = True,
) -> list[Example]:
    """CSV (quoted fields may span lines) or TSV (no quoting). Line numbers count the header line.

    Without a header, columns are named by their 0-based index ("0", "1", ...). ``label_column`` None
    reads unlabelled text (prediction input); then a missing label column is no error.
    """
    return list(delimited_examples(decoded_lines(path, encoding), path, delimiter, text_column, label_column, header))


def delimited_examples(
    lines: Iterable[tuple[int, str]], where: str, delimiter: str, text_column: str, label_column: str | None,
    header: bool = True, allow_empty: bool = False,
) -> Iterator[Example]:
    """``read_delimited`` of ``(lineno, text)`` lines (``decoded_lines``), one example at a time, errors naming
    ``where``; with ``allow_empty`` an input without a single line (prediction input) is no error."""
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader((text for _, text in lines), delimiter=delimiter, quoting=quoting)
    names: list[str] | None = None
    end = 0  # last physical line read so far: a record starts on the line after the previous one
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if names is None:
                if header:
                    names = [c.strip() for c in row]
                    for column in (text_column, label_column):
                        if column is not None and column not in names:
                            raise DataFormatError(
                                where, start, f"no column {column!r} (columns: {', '.join(names)}); "
                                "pass --data.files.text_column / --data.files.label_column")
                    continue
                names = [str(i) for i in range(len(row))]
                for column in (text_column, label_column):
                    if column is not None and column not in names:
                        raise DataFormatError(where, start, f"no column {column!r}: the file has {len(names)} columns")
            if len(row) != len(names):
                raise DataFormatError(where, start, f"expected {len(names)} fields, found {len(row)}")
            values = dict(zip(names, row))
            text = check_text(values[text_column], where, start, text_column)
            label = check_label(values[label_column], where, start, label_column) if label_column in values else None
            yield Example(text, label, where, start)
    except csv.Error as e:
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise DataFormatError(where, reader.line_num, f"malformed {kind}: {e}") from None
    if names is None and not allow_empty:
        raise DataFormatError(where, None, "empty file")


def read_jsonl(path: str, text_field: str, label_field: str | None, encoding: str = "utf-8") -> list[Example]:
    """One JSON object a line; blank lines are skipped."""
    examples = []
    for lineno, line in decoded_lines(path, encoding):
        if not line.strip():
            continue
        # a JSON array, one-line or pretty-printed, is the usual mistake: say what JSON Lines is
        array = "expected JSON Lines (one JSON object a line), found a JSON array"
        try:
            obj = json.loads(line.rstrip("\r\n"))  # without the line break, an error's column is on this line
        except json.JSONDecodeError as e:
            if line.lstrip().startswith("["):
                raise DataFormatError(path, lineno, array) from None
            raise DataFormatError(path, lineno, f"invalid JSON: {e.msg} at column {e.colno}") from None
        if isinstance(obj, list):
            raise DataFormatError(path, lineno, array)
        if not isinstance(obj, dict):
            raise DataFormatError(path, lineno, "expected a JSON object a line")
        for name, option in ((text_field, "text_column"), (label_field, "label_column")):
            if name is not None and name not in obj:
                fields = ", ".join(obj)
                raise DataFormatError(path, lineno, f"no field {name!r} (fields: {fields}); pass --data.files.{option}")
        text = check_text(obj[text_field], path, lineno, text_field)
        label = check_label(obj[label_field], path, lineno, label_field) if label_field in obj else None
        examples.append(Example(text, label, path, lineno))
    return examples


def read_lines(path: str, label: str | None, encoding: str = "utf-8", allow_empty: bool = False,
               encoding_option: str = "--data.files.encoding") -> list[Example]:
    """One text a line, all with ``label`` (a file of one class) or unlabelled (prediction input, where
    empty lines are kept so output lines line up with input lines)."""
    examples = []
    for lineno, line in decoded_lines(path, encoding, encoding_option):
        text = line.rstrip("\r\n")
        if not text.strip() and not allow_empty:
            raise DataFormatError(path, lineno, "empty line: expected one text a line")
        examples.append(Example(text, label, path, lineno))
    return examples


def read_file(
    path: str, fmt: FileFormat, text_column: str, label_column: str | None,
    encoding: str = "utf-8", header: bool = True,
) -> list[Example]:
    if not os.path.isfile(path):
        raise TextlabError(f"{path}: no such file")
    kind = detect_format(path, fmt, unlabelled_ok=label_column is None)
    if kind == "jsonl":
        return read_jsonl(path, text_column, label_column, encoding)
    if kind in ("csv", "tsv"):
        return read_delimited(path, "," if kind == "csv" else "\t", text_column, label_column, encoding, header)
    if label_column is not None:
        raise TextlabError(f"{path}: plain text has no labels: use CSV, TSV or JSONL, or --data.class_files")
    return read_lines(path, None, encoding, allow_empty=True)
