"""report.md: the report for people, with the tables and the pictures beside it."""

from __future__ import annotations

from collections.abc import Sequence

from textlab.report.span_errors import CATEGORIES

MEANING = {
    "exact": "right type and boundaries",
    "wrong_type": "right boundaries, wrong type",
    "wrong_boundary": "right type, overlapping but wrong boundaries",
    "wrong_both": "overlapping a gold entity, wrong type and boundaries",
    "missed": "gold entity that no prediction overlaps",
    "spurious": "prediction that overlaps no gold entity",
}


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    """A Markdown table; columns of numbers are right-aligned."""
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    return lines + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows] + [""]


def _figure(report: dict, name: str, alt: str) -> list[str]:
    return [f"![{alt}]({name})", ""] if name in report.get("figures", []) else []


def _confusion(report: dict) -> list[str]:
    c = report["confusion"]
    return _table(["gold \\ predicted", *c["columns"]], [[row, *counts] for row, counts in zip(c["rows"], c["counts"])])


def _calibration(report: dict) -> list[str]:
    c = report.get("calibration")
    if not c:
        return ["The model gives no probabilities for its predictions.", ""]
    if not c["predictions"]:
        return ["No predictions to calibrate.", ""]
    lines = [f"Expected calibration error (ECE, {len(c['bins'])} bins, per {c['unit']}): **{c['ece']:.4f}**: the "
             "mean gap between how sure the model says it is and how often it is right.", ""]
    lines += _figure(report, "reliability.png", "reliability diagram")
    return lines + _table(["confidence", "predictions", "mean confidence", "accuracy"],
                          [[f"{b['lower']:.1f}–{b['upper']:.1f}", b["count"], b["confidence"], b["accuracy"]]
                           for b in c["bins"] if b["count"]])


def _entities(entities: list[dict]) -> str:
    if not entities:
        return "–"
    shown = []
    for e in entities:
        note = "" if e["category"] == "exact" else f" ({e['category'].replace('_', ' ')})"
        shown.append(f"[{e['label']} {e['text']}]{note}")
    return "; ".join(shown)


def tagger_markdown(report: dict) -> list[str]:
    o = report["overall"]
    lines = ["## Scores by entity type", ""]
    rows = [[name, r["precision"], r["recall"], r["f1"], r["support"]] for name, r in report["per_type"].items()]
    rows.append(["**micro avg**", o["precision"], o["recall"], o["f1"], o["n_gold"]])
    rows += [[f"{name}", r["precision"], r["recall"], r["f1-score"], o["n_gold"]] for name, r in report["averages"].items()]
    lines += _table(["type", "precision", "recall", "F1", "support"], rows)
    lines += ["## Errors", "", f"{o['n_pred']} predicted entities, {o['n_gold']} gold entities.", ""]
    lines += _table(["kind", "count", "meaning"], [[k, report["errors"][k], MEANING[k]] for k in CATEGORIES])
    lines += ["## Confusions between entity types", "",
              "Each gold entity against the prediction with its boundaries, else the most overlapping one (so a row "
              "adds up to the type's support); `missed`: no prediction overlaps it; row `spurious`: predictions "
              "that overlap no gold entity.", ""]
    lines += _figure(report, "confusion_matrix.png", "confusion matrix") + _confusion(report)
    lines += ["## F1 by sentence length", ""] + _figure(report, "f1_by_length.png", "F1 by sentence length")
    lines += _table(["tokens", "sentences", "gold", "predicted", "precision", "recall", "F1"],
                    [[b["lengths"], b["sentences"], b["n_gold"], b["n_pred"], b["precision"], b["recall"], b["f1"]]
                     for b in report["by_length"]])
    lines += ["## Entities seen and unseen in training", ""]
    seen = report["seen_unseen"]
    if "note" in seen:
        lines += [f"Skipped: {seen['note']}.", ""]
    else:
        lines += ["An entity is seen when an entity of its type with the same text occurs in the training data.", ""]
        lines += _table(["entities", "gold", "predicted", "precision", "recall", "F1"],
                        [[name, s["n_gold"], s["n_pred"], s["precision"], s["recall"], s["f1"]]
                         for name, s in seen.items()])
    lines += ["## Calibration of the entity probabilities", ""] + _calibration(report)
    lines += ["## The sentences with the most errors", ""]
    if not report["worst"]:
        return lines + ["No sentence has a wrong or missed entity.", ""]
    lines += _table(["errors", "sentence", "gold", "predicted"],
                    [[w["errors"], " ".join(w["tokens"]), _entities(w["gold"]), _entities(w["predicted"])]
                     for w in report["worst"]])
    return lines


def classifier_markdown(report: dict) -> list[str]:
    o = report["overall"]
    lines = ["## Scores by class", ""]
    rows = [[name, r["precision"], r["recall"], r["f1"], r["support"]] for name, r in report["per_class"].items()]
    rows.append(["**macro avg**", o["macro_precision"], o["macro_recall"], o["macro_f1"], report["texts"]])
    lines += _table(["label", "precision", "recall", "F1", "support"], rows)
    lines += [f"Accuracy: **{o['accuracy']:.4f}** on {report['texts']} texts.", ""]
    lines += ["## Confusion matrix", ""] + _figure(report, "confusion_matrix.png", "confusion matrix") + _confusion(report)
    lines += ["## Accuracy by text length", ""] + _figure(report, "accuracy_by_length.png", "accuracy by text length")
    lines += _table(["tokens", "texts", "accuracy"], [[b["lengths"], b["texts"], b["accuracy"]] for b in report["by_length"]])
    lines += ["## Calibration of the class probabilities", ""] + _calibration(report)
    lines += ["## The most confident mistakes", ""]
    if not report["worst"]:
        return lines + ["No text is misclassified.", ""]
    lines += _table(["confidence", "predicted", "gold", "text"],
                    [[w["confidence"], w["predicted"], w["gold"], w["text"]] for w in report["worst"]])
    return lines


def report_markdown(report: dict) -> str:
    o = report["overall"]
    kind = report["kind"]
    title = f"# Evaluation report: {report.get('stage', 'evaluation')}"
    about = [f"- model: `{report['model']}`" if report.get("model") else None,
             f"- checkpoint: `{report['checkpoint']}`" if report.get("checkpoint") else None,
             f"- data: `{report['data']}`" if report.get("data") else None]
    if kind == "tagger":
        headline = (f"{report['sentences']} sentences, {report['tokens']} tokens: entity F1 **{o['f1']:.4f}** "
                    f"(precision {o['precision']:.4f}, recall {o['recall']:.4f}).")
        body = tagger_markdown(report)
    else:
        headline = (f"{report['texts']} texts: accuracy **{o['accuracy']:.4f}**, macro F1 {o['macro_f1']:.4f}.")
        body = classifier_markdown(report)
    return "\n".join([title, "", headline, "", *[line for line in about if line], "", *body]).rstrip() + "\n"
