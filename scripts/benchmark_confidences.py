"""How well a tagger's confidences are calibrated, and what asking for them costs.

Tags a CoNLL file with gold tags through ``load_model(CKPT).predict(..., confidences=True)`` and prints:
- the predicted entities grouped by confidence: how many, their mean confidence and the share that are
  correct (type and boundaries equal to a gold entity), and the expected calibration error (ECE: the
  count-weighted gap between the two over ten equal-width bins);
- precision, recall and F1 of the entities kept at a confidence threshold (what a user who filters on
  ``span.confidence`` gets);
- the wall time of predicting the file without and with confidences (median of ``--repeats``).

    python scripts/benchmark_confidences.py --ckpt CKPT --data ../shared/data/conll2003/valid.txt
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from textlab import load_model
from textlab.data.conll import read_conll
from textlab.metrics.span_f1 import extract_spans

BINS = [(0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 0.99), (0.99, 1.0)]
THRESHOLDS = [0.0, 0.5, 0.7, 0.9, 0.95, 0.99]


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="a tagger checkpoint")
    parser.add_argument("--data", required=True, help="a CoNLL file with gold tags (e.g. CoNLL-2003's valid.txt)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes of each kind")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    model = load_model(args.ckpt)
    sentences = read_conll(args.data)
    tokens = [s.tokens for s in sentences]
    plain_times, scored_times = [], []
    for _ in range(args.repeats):  # alternated, so that a slower stretch of a shared machine hits both
        plain_times.append(timed(lambda: model.predict(tokens, args.batch_size))[0])
        seconds, results = timed(lambda: model.predict(tokens, args.batch_size, confidences=True))
        scored_times.append(seconds)

    predicted = []  # (confidence, correct) for every predicted entity
    n_gold = 0
    for sentence, result in zip(sentences, results):
        gold = {(label, s, e + 1) for label, s, e in extract_spans(sentence.tags)}
        n_gold += len(gold)
        predicted += [(span.confidence, (span.label, span.start, span.end) in gold) for span in result.spans]

    print(f"{args.data}: {len(sentences)} sentences, {n_gold} gold entities, {len(predicted)} predicted\n")
    print("| confidence | entities | mean confidence | correct |")
    print("|---|---:|---:|---:|")
    for low, high in BINS:
        group = [(p, ok) for p, ok in predicted if low <= p < high or (high == 1.0 and p == 1.0)]
        if group:
            mean = statistics.fmean(p for p, _ in group)
            correct = sum(ok for _, ok in group) / len(group)
            print(f"| [{low:.2f}, {high:.2f}{']' if high == 1.0 else ')'} | {len(group)} | {mean:.3f} | {correct:.3f} |")
    ece = 0.0
    for i in range(10):
        group = [(p, ok) for p, ok in predicted if i / 10 <= p < (i + 1) / 10 or (i == 9 and p == 1.0)]
        if group:
            gap = abs(statistics.fmean(p for p, _ in group) - sum(ok for _, ok in group) / len(group))
            ece += len(group) / len(predicted) * gap
    print(f"\nECE (10 bins): {ece:.4f}\n")

    print("| kept if confidence >= | entities kept | precision | recall | F1 |")
    print("|---:|---:|---:|---:|---:|")
    thresholds = {}
    for t in THRESHOLDS:
        kept = [ok for p, ok in predicted if p >= t]
        tp = sum(kept)
        precision = tp / len(kept) if kept else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        thresholds[t] = {"kept": len(kept), "precision": precision, "recall": recall, "f1": f1}
        print(f"| {t:.2f} | {len(kept)} | {100 * precision:.2f} | {100 * recall:.2f} | {100 * f1:.2f} |")

    plain, scored = statistics.median(plain_times), statistics.median(scored_times)
    print(f"\npredict without confidences: {plain:.2f} s, with: {scored:.2f} s (x{scored / plain:.2f}); "
          f"median of {args.repeats}, torch threads {torch.get_num_threads()}")
    return {"ece": ece, "thresholds": thresholds, "seconds_plain": plain, "seconds_confidences": scored}


if __name__ == "__main__":
    main()
