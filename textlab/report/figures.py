"""The report's pictures, drawn with matplotlib: the confusion matrix, scores by length, the reliability diagram, and
the learning curves of a fit.

Figures are made as ``matplotlib.figure.Figure`` objects and saved through the Agg canvas, never through pyplot:
pyplot keeps global state and picks a GUI backend (which a server, a test or a machine without a display must
not get), while a bare Figure draws with Agg wherever it runs and is freed like any object.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 100  # with the sizes below, PNGs of a few tens of KB


def confusion_figure(confusion: dict, title: str) -> Figure:
    """A heat map of ``{"rows", "columns", "counts"}`` (rows gold, columns predicted), each cell with its count."""
    rows, columns, counts = confusion["rows"], confusion["columns"], confusion["counts"]
    size = 1.6 + 0.55 * max(len(rows), len(columns))
    fig = Figure(figsize=(size + 0.8, size), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    high = max((v for row in counts for v in row), default=0)
    for i, row in enumerate(counts):
        for j, value in enumerate(row):
            if value:
                ax.text(j, i, str(value), ha="center", va="center", fontsize=8,
                        color="white" if value > high / 2 else "black")
    return fig


def by_length_figure(buckets: Sequence[dict], score: str, unit: str) -> Figure:
    """Bars of ``score`` per length bucket (``{"lengths", score, unit}``), each with how many ``unit`` it holds."""
    fig = Figure(figsize=(5.5, 3.5), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    names = [b["lengths"] for b in buckets]
    bars = ax.bar(names, [b[score] for b in buckets], color="tab:blue")
    ax.bar_label(bars, labels=[f"n={b[unit]}" for b in buckets], fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel(f"length in tokens ({unit})")
    shown = {"f1": "F1"}.get(score, score)
    ax.set_ylabel(shown)
    ax.set_title(f"{shown} by length")
    return fig


def reliability_figure(calibration: dict) -> Figure:
    """The reliability diagram: each bin's accuracy against its mean confidence, the diagonal being perfect
    calibration; bars are drawn at the bins, with how many predictions fell in each."""
    fig = Figure(figsize=(4.5, 4.2), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    full = [b for b in calibration["bins"] if b["count"]]
    width = calibration["bins"][0]["upper"] - calibration["bins"][0]["lower"]
    ax.bar([b["lower"] for b in full], [b["accuracy"] for b in full], width=width, align="edge",
           edgecolor="black", color="tab:blue", alpha=0.8, label="accuracy")
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    ax.plot([b["confidence"] for b in full], [b["accuracy"] for b in full], "o", color="tab:orange", markersize=4,
            label="mean confidence")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"confidence ({calibration['unit']})")
    ax.set_ylabel("accuracy")
    ax.set_title(f"reliability: ECE {calibration['ece']:.3f}, n={calibration['predictions']}")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def learning_curves_figure(history: Sequence[dict], monitor: str) -> Figure:
    """Training and validation loss, and the validation ``monitor`` metric, by epoch."""
    fig = Figure(figsize=(8, 3.2), dpi=DPI, layout="constrained")
    losses, metric = fig.subplots(1, 2)
    for name, style in (("train/loss", "-"), ("val/loss", "--")):
        points = [(row["epoch"], row[name]) for row in history if row.get(name) is not None]
        if points:
            losses.plot(*zip(*points), style, marker="o", markersize=3, label=name)
    losses.set_xlabel("epoch")
    losses.set_ylabel("loss")
    losses.legend(fontsize=8)
    points = [(row["epoch"], row[monitor]) for row in history if row.get(monitor) is not None]
    if points:
        metric.plot(*zip(*points), marker="o", markersize=3, color="tab:green")
    metric.set_xlabel("epoch")
    metric.set_ylabel(monitor)
    metric.set_title(monitor)
    for ax in (losses, metric):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs, not 1.2, 1.4, ...
    return fig


def report_figures(report: dict) -> dict[str, Figure]:
    """A report's figures by file name."""
    tagger = report["kind"] == "tagger"
    figures = {
        "confusion_matrix.png": confusion_figure(
            report["confusion"], "entity types (gold vs predicted)" if tagger else "labels (gold vs predicted)"),
    }
    if report["by_length"]:
        name = "f1_by_length.png" if tagger else "accuracy_by_length.png"
        figures[name] = by_length_figure(report["by_length"], "f1" if tagger else "accuracy",
                                         "sentences" if tagger else "texts")
    if report.get("calibration") and report["calibration"]["predictions"]:
        figures["reliability.png"] = reliability_figure(report["calibration"])
    return figures


def save_png(figure: Figure, path: str | os.PathLike) -> None:
    figure.savefig(path, format="png", dpi=DPI)
