"""What reading plain text costs a tagger: entity F1 on detokenised CoNLL-2003 vs on its gold tokens.

Each document of a CoNLL file (``-DOCSTART-`` to ``-DOCSTART-``) is turned back into plain text: every
sentence detokenised with sacremoses' Moses detokenizer (plus ``do n't`` -> ``don't``, which Moses leaves
split), the sentences joined by a line break (as a wire story is laid out: headline, dateline, body) or by
a space (one running paragraph, which leaves the sentence splitter more to find). The gold entities become
character spans of that text. The tagger then reads the text as a user's text is read (``tag_texts``: the
checkpoint's tokenizer finds the sentences and tokens), and its entities are matched to the gold ones by
exact character offsets and type. The pre-tokenised row tags the gold tokens and is scored the same way
(it equals seqeval's entity F1, which the script checks).

Rows beside the checkpoint's tokenizer, each reading a line at a time as textlab does: syntok as it comes
(without textlab's CoNLL conventions: an abbreviation's period, a hyphenated or inner-capital word and a
list item's number kept whole), and segtok (flair's choice) when it is installed.
"token match" is the share of gold tokens that the tokenizer found with the same start and end.

    python scripts/benchmark_tokenization.py --ckpt CKPT --data ../shared/data/conll2003/test.txt
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import time
from collections.abc import Callable, Iterator

import torch
from sacremoses import MosesDetokenizer
from seqeval.metrics import f1_score

from textlab import load_model
from textlab.data.conll import convert_tags
from textlab.data.plain_text import TokenAt, split_sentences
from textlab.data.sentence import Origin, Sentence
from textlab.metrics.span_f1 import extract_spans

_NOT = re.compile(r"(\w) n't\b")


def read_documents(path: str) -> list[list[tuple[list[str], list[str]]]]:
    """The CoNLL file's documents, each a list of (tokens, tags) sentences: the word is the first column, the
    tag the last."""
    documents: list[list[tuple[list[str], list[str]]]] = [[]]
    tokens: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in list(f) + [""]:
            columns = line.split()
            if columns and columns[0] == "-DOCSTART-":
                if documents[-1]:
                    documents.append([])
                continue
            if columns:
                tokens.append(columns[0])
                tags.append(columns[-1])
            elif tokens:
                documents[-1].append((tokens, tags))
                tokens, tags = [], []
    return [d for d in documents if d]


def detokenize(tokens: list[str], moses: MosesDetokenizer) -> tuple[str, list[int]]:
    """The sentence as plain text, and each gold token's offset in it (tokens are found in order)."""
    text = _NOT.sub(r"\1n't", moses.detokenize(tokens))
    starts, cursor = [], 0
    for token in tokens:
        found = text.find(token, cursor)
        if found < 0 or text[cursor:found].strip():
            raise ValueError(f"token {token!r} not found in the detokenised {text!r}")
        starts.append(found)
        cursor = found + len(token)
    return text, starts


def build_texts(documents, joiner: str) -> tuple[list[str], list[list[list[int]]]]:
    """Each document's text (its sentences joined by ``joiner``) and each gold token's offset in it."""
    moses = MosesDetokenizer(lang="en")
    texts, offsets = [], []
    for document in documents:
        parts, starts, position = [], [], 0
        for tokens, _ in document:
            text, token_starts = detokenize(tokens, moses)
            parts.append(text)
            starts.append([position + s for s in token_starts])
            position += len(text) + len(joiner)
        texts.append(joiner.join(parts))
        offsets.append(starts)
    return texts, offsets


def char_spans(tokens: list[str], starts: list[int], chunks) -> set[tuple[int, int, str]]:
    return {(starts[s], starts[e] + len(tokens[e]), label) for label, s, e in chunks}


def scores(gold: list[set], predicted: list[set]) -> tuple[float, float, float]:
    correct = sum(len(g & p) for g, p in zip(gold, predicted))
    n_gold, n_predicted = sum(map(len, gold)), sum(map(len, predicted))
    precision = correct / n_predicted if n_predicted else 0.0
    recall = correct / n_gold if n_gold else 0.0
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def by_line(split: Callable[[str], Iterator[list[TokenAt]]]) -> Callable[[str], Iterator[list[TokenAt]]]:
    """``split`` on each line, as textlab's tokenizers read text (a line break ends a sentence)."""
    def split_lines(text: str) -> Iterator[list[TokenAt]]:
        position = 0
        for line in text.splitlines(keepends=True):
            for tokens in split(line):
                yield [(token, start + position) for token, start in tokens]
            position += len(line)
    return split_lines


def syntok_as_it_comes(text: str) -> Iterator[list[TokenAt]]:
    from syntok import segmenter

    for paragraph in segmenter.analyze(text):
        for sentence in paragraph:
            tokens = [(t.value, t.offset) for t in sentence if t.value]
            if tokens:
                yield tokens


def segtok_tokens(text: str) -> Iterator[list[TokenAt]]:
    from segtok.segmenter import split_single
    from segtok.tokenizer import split_contractions, word_tokenizer

    cursor = 0
    for sentence in split_single(text):
        tokens = []
        for token in split_contractions(word_tokenizer(sentence)):
            found = text.find(token, cursor)
            if found < 0:  # segtok changed the characters (not seen so far): leave the token out
                continue
            tokens.append((token, found))
            cursor = found + len(token)
        if tokens:
            yield tokens


def tag_with(model, texts: list[str], split: Callable[[str], Iterator[list[TokenAt]]], batch_size: int) -> list[list]:
    """Each document's predicted (start_char, end_char, label) set and its tokens' (start, end), with ``split``
    finding the sentences and tokens."""
    sentences = []
    for number, text in enumerate(texts):
        for index, tokens in enumerate(split(text)):
            starts = tuple(s for _, s in tokens)
            end = starts[-1] + len(tokens[-1][0])
            sentences.append(Sentence([t for t, _ in tokens], origin=Origin(number, 0, index, starts,
                                                                            text[starts[0]:end])))
    results = model.predict_texts(sentences, batch_size, False)
    spans: list[set] = [set() for _ in texts]
    tokens_at: list[set] = [set() for _ in texts]
    for sentence, result in zip(sentences, results):
        document = sentence.origin.document
        spans[document] |= {(s.start_char, s.end_char, s.label) for s in result.spans}
        tokens_at[document] |= {(s, s + len(t)) for s, t in zip(sentence.origin.starts, sentence.tokens)}
    return [spans, tokens_at]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="a tagger checkpoint")
    parser.add_argument("--data", required=True, help="a CoNLL file with gold tags and -DOCSTART- lines")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.ckpt)
    documents = read_documents(args.data)
    n_sentences = sum(map(len, documents))

    # pre-tokenised: the gold tokens, scored by character offsets like the rest
    flat = [s for d in documents for s in d]
    predicted_tags = [r.tags for r in model.predict([tokens for tokens, _ in flat], args.batch_size)]
    scheme = model.vocab.tag_scheme
    seqeval_f1 = f1_score([tags for _, tags in flat], [convert_tags(tags, scheme, "IOB2") for tags in predicted_tags])

    rows = []
    tokenizer = model.vocab.tokenizer
    print(f"{args.data}: {len(documents)} documents, {n_sentences} sentences; checkpoint tokenizer: {tokenizer}")
    for joiner_name, joiner in (("line break", "\n"), ("space", " ")):
        texts, offsets = build_texts(documents, joiner)
        gold, gold_tokens, pre = [], [], []
        i = 0
        for document, starts in zip(documents, offsets):
            g, p, toks = set(), set(), set()
            for (tokens, tags), token_starts in zip(document, starts):
                g |= char_spans(tokens, token_starts, extract_spans(tags))
                p |= char_spans(tokens, token_starts, extract_spans(predicted_tags[i]))
                toks |= {(s, s + len(t)) for s, t in zip(token_starts, tokens)}
                i += 1
            gold.append(g), pre.append(p), gold_tokens.append(toks)
        if joiner_name == "line break":
            p, r, f = scores(gold, pre)
            rows.append(dict(text="gold tokens", tokenizer="(pre-tokenised)", token_match=1.0, p=p, r=r, f1=f, seconds=None))
            assert abs(f - seqeval_f1) < 1e-9, f"character-offset F1 {f} != seqeval's {seqeval_f1}"
            baseline = f
        splitters = [(f"{tokenizer} (textlab)", lambda text: (t for _, t in split_sentences(text, tokenizer)))]
        if tokenizer == "syntok":
            splitters.append(("syntok as it comes", by_line(syntok_as_it_comes)))
        if importlib.util.find_spec("segtok") is not None:
            splitters.append(("segtok", by_line(segtok_tokens)))
        for name, split in splitters:
            start = time.perf_counter()
            spans, tokens_at = tag_with(model, texts, split, args.batch_size)
            seconds = time.perf_counter() - start
            match = sum(len(g & t) for g, t in zip(gold_tokens, tokens_at)) / sum(map(len, gold_tokens))
            p, r, f = scores(gold, spans)
            rows.append(dict(text=f"sentences joined by a {joiner_name}", tokenizer=name, token_match=match,
                             p=p, r=r, f1=f, seconds=seconds))

    print("\n| input | tokenizer | token match | precision | recall | F1 | F1 vs gold tokens | tagging s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        seconds = f"{row['seconds']:.1f}" if row["seconds"] is not None else ""
        print(f"| {row['text']} | {row['tokenizer']} | {100 * row['token_match']:.2f}% | {100 * row['p']:.2f} | "
              f"{100 * row['r']:.2f} | {100 * row['f1']:.2f} | {100 * (row['f1'] - baseline):+.2f} | {seconds} |")
    return rows


if __name__ == "__main__":
    main()
