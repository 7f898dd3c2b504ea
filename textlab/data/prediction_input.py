"""What a prediction input file holds and how it is read, for ``textlab predict`` (the data modules) and the
torch-free ``textlab.runtime`` alike, so both read the same input into the same sentences and texts.

Each format is guessed from the input's first lines when not given; the caller says what was guessed (and how to
overrule it, with its own option's name): ``*_FORMAT_NAMES`` hold the words for that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from textlab.data.classification_readers import EXTENSIONS, Example, delimited_examples
from textlab.data.conll import SNIFF_LINES, conll_sentences, looks_like_conll
from textlab.data.plain_text import Tokenizer, json_text, jsonl_documents, looks_like_jsonl, stream_document
from textlab.data.sentence import Sentence
from textlab.data.text_files import LineSource

TAGGING_FORMAT_NAMES = {"jsonl": "JSON lines, a document a line", "conll": "CoNLL, a token a line",
                        "text": "plain text, sentences and tokens by {tokenizer}"}
CLASSIFICATION_FORMAT_NAMES = {"jsonl": "JSON lines, a text a line", "text": "one text a line"}


def guess_tagging_format(source: LineSource) -> str:
    """``jsonl``, ``conll`` or ``text``, from the input's first lines."""
    head = source.head(SNIFF_LINES)  # standard input keeps them, to give them back when it is read
    first = next((line for line in head if line.strip()), None)
    return "jsonl" if looks_like_jsonl(first) else "conll" if looks_like_conll(head) else "text"


def tagging_sentences(source: LineSource, form: str, tokenizer: Tokenizer, tag_column: int = -1
                      ) -> Iterator[Sentence]:
    """The sentences to tag, read as they are needed; plain text is cut by the model's ``tokenizer``,
    ``tokenized`` text is a sentence a line, its tokens split on whitespace."""
    lines = source.lines()
    if form == "conll":
        return conll_sentences(lines, source.name, tag_column, require_tags=False)
    if form == "jsonl":
        return jsonl_documents(lines, source.name, tokenizer)
    return stream_document((line for _, line in lines), "whitespace" if form == "tokenized" else tokenizer)


def classification_format_by_extension(source: LineSource) -> str | None:
    """``csv``, ``tsv`` or ``jsonl`` by the file's extension; None for standard input or another extension."""
    return None if source.is_stdin else EXTENSIONS.get(os.path.splitext(source.path)[1].lower())


def guess_classification_format(source: LineSource) -> str:
    """``jsonl`` if the first line is a JSON object, else ``text``."""
    first = next((line for line in source.head(SNIFF_LINES) if line.strip()), None)
    return "jsonl" if looks_like_jsonl(first) else "text"


def classification_texts(source: LineSource, form: str, text_column: str = "text", header: bool = True
                         ) -> Iterator[Example]:
    """The texts to classify, read as they are needed: a line each (``text``, every line, an empty one too, so
    output lines line up with input lines), a JSON object's ``text_column`` field, or a CSV/TSV column."""
    lines = source.lines()
    if form in ("csv", "tsv"):
        yield from delimited_examples(lines, source.name, "," if form == "csv" else "\t", text_column, None, header,
                                      allow_empty=True)
        return
    for lineno, line in lines:
        if form == "text":
            yield Example(line.rstrip("\r\n"), None, source.name, lineno)
        elif line.strip():
            text, text_id = json_text(line, source.name, lineno, text_column)
            yield Example(text, None, source.name, lineno, text_id)
