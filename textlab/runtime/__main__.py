"""``python -m textlab.runtime DIR [INPUT|-] [--output FILE|-] ...``: tag or classify a file with an exported model,
writing JSON lines equal to ``textlab predict --output_format jsonl``'s records.

The options are parsed by argparse, not jsonargparse as textlab's other commands are: jsonargparse comes with the
training stack, and this command must run where only ``textlab[runtime]`` (onnxruntime, numpy, syntok) is
installed. For the same reason its errors are reported here (textlab.exits imports Lightning): a user's error is
one line on stderr and exit status 2.

The input is read, predicted and written a batch at a time, in the batches ``textlab predict`` makes, so memory
holds a few batches whatever the input's size.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

from textlab.data.prediction_batches import batches_in_order
from textlab.data.prediction_input import (
    CLASSIFICATION_FORMAT_NAMES, TAGGING_FORMAT_NAMES, classification_format_by_extension, classification_texts,
    guess_classification_format, guess_tagging_format, tagging_sentences,
)
from textlab.data.text_files import STDIN, LineSource
from textlab.errors import TextlabError

TAGGER_FORMATS = ("text", "tokenized", "jsonl", "conll")
CLASSIFIER_FORMATS = ("text", "jsonl", "csv", "tsv")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        # one line, as every textlab error, rather than argparse's usage block and then the message
        raise TextlabError(f"{message} (python -m textlab.runtime --help lists them)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m textlab.runtime",
        description="Tag or classify text with a model exported by `textlab export --format onnx`, without torch. "
                    "Writes one JSON record a sentence (a tagger) or a text (a classifier), as `textlab predict "
                    "--output_format jsonl` does.")
    p.add_argument("model_dir", metavar="DIR", help="the folder `textlab export --output DIR` wrote")
    p.add_argument("input", metavar="INPUT", nargs="?", default=STDIN, help="the file to predict; - (the default): "
                   "standard input")
    p.add_argument("--output", default=STDIN, help="where to write the records; - (the default): standard output")
    p.add_argument("--input_format", default="auto", choices=("auto", *TAGGER_FORMATS, "csv", "tsv"),
                   help="a tagger's input: text (plain text, cut by the model's tokenizer), tokenized (a sentence a "
                        "line, tokens split on whitespace), jsonl (a {\"text\": ..., \"id\": ...} document a line) or "
                        "conll (a token a line); a classifier's: text (a text a line), jsonl, csv or tsv (with a "
                        "header); auto (the default): guessed from the file, as textlab predict does")
    p.add_argument("--output_format", default="jsonl", choices=("jsonl", "text"),
                   help="jsonl (the default): JSON records; text: textlab predict's text output (CoNLL-style "
                        "token<TAB>tag lines; a classifier's label<TAB>text)")
    p.add_argument("--batch_size", type=int, default=64, help="sentences or texts a batch (default 64)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime's threads (default: SLURM_CPUS_PER_TASK, "
                   "OMP_NUM_THREADS, else the cores this process may run on)")
    p.add_argument("--encoding", default="utf-8", help="the input's text encoding (default utf-8)")
    p.add_argument("--text_column", default="text", help="a classifier's JSON lines field or CSV/TSV column that "
                   "holds the text (default text)")
    p.add_argument("--tag_scheme", default=None, choices=("IOB2", "BIOES"),
                   help="write a tagger's tags in this scheme (default: the model's own)")
    p.add_argument("--confidences", action="store_true",
                   help="a classifier's records also give the label's and every label's probability")
    return p


def main(argv: list[str] | None = None) -> None:
    try:
        run(parser().parse_args(argv))
    except TextlabError as e:
        print(f"textlab: error: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:  # a file the system refuses (missing, a folder, no permission): the user's, one line
        if e.filename is None:
            raise
        print(f"textlab: error: {e.filename}: {e.strerror}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("textlab: error: interrupted (Ctrl-C) before the end", file=sys.stderr)
        sys.exit(128 + signal.SIGINT)


def run(args: argparse.Namespace) -> None:
    from textlab.runtime import OnnxTagger, load  # here: an error in the arguments needs no model

    if args.batch_size < 1:
        raise TextlabError(f"--batch_size must be at least 1, not {args.batch_size}")
    model = load(args.model_dir, args.threads)
    source = LineSource(args.input, args.encoding, encoding_option="--encoding")
    if isinstance(model, OnnxTagger):
        if args.confidences:
            raise TextlabError("--confidences: an exported tagger gives its tags only; for their probabilities, "
                               "predict with the checkpoint (textlab predict --confidences true)")
        results = _tagged(model, source, args)
    else:
        if args.tag_scheme:
            raise TextlabError(f"--tag_scheme {args.tag_scheme}: for a tagger's output; this model is a classifier")
        results = _classified(model, source, args)
    _write(results, args.output, args.output_format, args.confidences)


def _input_format(given: str, allowed: tuple[str, ...], source: LineSource, guess, names: dict[str, str]) -> str:
    if given != "auto":
        if given not in allowed:
            raise TextlabError(f"--input_format {given}: this model reads {', '.join(allowed)} (or auto)")
        return given
    form = guess(source)
    # a guess: say what was guessed and how to overrule it, as textlab predict does
    print(f"textlab: {source.name}: read as {names[form]} (--input_format {'|'.join(allowed)} to read it otherwise)",
          file=sys.stderr)
    return form


def _tagged(model, source: LineSource, args: argparse.Namespace) -> Iterator[Any]:
    names = {k: v.format(tokenizer=model.vocab.tokenizer) for k, v in TAGGING_FORMAT_NAMES.items()}
    form = _input_format(args.input_format, TAGGER_FORMATS, source, guess_tagging_format, names)
    sentences = tagging_sentences(source, form, model.vocab.tokenizer)
    for batch in batches_in_order(sentences, args.batch_size, lambda s: len(s.tokens)):
        for result in model.tag_batch(batch):
            yield result.in_scheme(model.vocab.tag_scheme, args.tag_scheme) if args.tag_scheme else result


def _classified(model, source: LineSource, args: argparse.Namespace) -> Iterator[Any]:
    form = classification_format_by_extension(source) if args.input_format == "auto" else None
    form = form or _input_format(args.input_format, CLASSIFIER_FORMATS, source, guess_classification_format,
                                 CLASSIFICATION_FORMAT_NAMES)
    examples = (model.encode(e.text, e.id) for e in classification_texts(source, form, args.text_column))
    for batch in batches_in_order(examples, args.batch_size, lambda e: len(e.words)):
        yield from model.classify_batch(batch)


def _write(results: Iterator[Any], output: str, output_format: str, confidences: bool) -> None:
    """Each result as it comes; a file is written under ``<output>.partial`` and renamed at the end, so a failed
    run leaves no half-written output and never replaces an earlier one."""
    def record(result: Any) -> str:
        return result.to_json(confidences) if output_format == "jsonl" else result.to_text(confidences)

    if output == STDIN:
        try:
            for result in results:
                sys.stdout.write(record(result))
            sys.stdout.flush()
        except BrokenPipeError:  # `... | head`: the reader has gone, as it may; end quietly, as Unix tools do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(128 + signal.SIGPIPE)
        return
    partial = output + ".partial"
    try:
        os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
        stream = open(partial, "w", encoding="utf-8")
    except OSError as e:
        raise TextlabError(f"--output {output}: cannot write there ({e.strerror})") from None
    try:
        with stream:
            for result in results:
                stream.write(record(result))
    except BaseException:
        os.remove(partial)
        raise
    os.replace(partial, output)


if __name__ == "__main__":
    main()
