"""Writing a report: report.json, report.md and the PNGs into one folder, and the figures to TensorBoard."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from lightning.pytorch.loggers import Logger, TensorBoardLogger
from matplotlib.figure import Figure

from textlab.errors import TextlabError
from textlab.report.figures import report_figures, save_png
from textlab.report.markdown import report_markdown


def write_report(folder: str | os.PathLike, report: dict, loggers: Iterable[Logger] = (), step: int = 0) -> dict:
    """Write ``report`` with its figures into ``folder`` (made if needed), and give the figures to the TensorBoard
    loggers among ``loggers`` under ``<stage>_report/<name>``; returns the report with the figures' file names."""
    folder = str(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise TextlabError(f"{folder}: a file, not a folder to write the report into")
    os.makedirs(folder, exist_ok=True)
    figures = report_figures(report)
    report = {**report, "figures": list(figures)}
    with open(os.path.join(folder, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(folder, "report.md"), "w", encoding="utf-8") as f:
        f.write(report_markdown(report))
    for name, figure in figures.items():
        save_png(figure, os.path.join(folder, name))
    add_figures(loggers, {f"{report.get('stage', 'evaluation')}_report/{name.removesuffix('.png')}": figure
                          for name, figure in figures.items()}, step)
    return report


def add_figures(loggers: Iterable[Logger], figures: dict[str, Figure], step: int = 0) -> None:
    """The figures to every TensorBoard logger (its SummaryWriter takes matplotlib figures; others' experiments
    do not). Called on the first process only, where the loggers write."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            for tag, figure in figures.items():
                logger.experiment.add_figure(tag, figure, global_step=step, close=False)
