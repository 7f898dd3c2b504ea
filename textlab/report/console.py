"""The short table a report prints: scores per type or class, the overall line, the error counts and the ECE."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def summary_table(report: dict) -> Table:
    tagger = report["kind"] == "tagger"
    o = report["overall"]
    what = f"{report['sentences']} sentences" if tagger else f"{report['texts']} texts"
    table = Table(title=f"{report.get('stage', 'evaluation')} report: {what}", title_justify="left")
    table.add_column("type" if tagger else "label")
    for name in ("precision", "recall", "F1", "support"):
        table.add_column(name, justify="right")
    rows = report["per_type"] if tagger else report["per_class"]
    for name, r in rows.items():
        table.add_row(escape(name), f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}", str(r["support"]))
    table.add_section()
    if tagger:
        table.add_row("micro avg", f"{o['precision']:.4f}", f"{o['recall']:.4f}", f"{o['f1']:.4f}", str(o["n_gold"]),
                      style="bold")
    else:
        table.add_row("macro avg", f"{o['macro_precision']:.4f}", f"{o['macro_recall']:.4f}", f"{o['macro_f1']:.4f}",
                      str(report["texts"]), style="bold")
    return table


def summary_lines(report: dict, folder: str) -> list[str]:
    lines = []
    if report["kind"] == "tagger":
        lines.append("errors: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report["errors"].items()))
    else:
        lines.append(f"accuracy {report['overall']['accuracy']:.4f}")
    calibration = report.get("calibration")
    if calibration and calibration["predictions"]:
        lines.append(f"expected calibration error {calibration['ece']:.4f} (per {calibration['unit']})")
    lines.append(f"report written to {folder}")
    return lines


def print_summary(report: dict, folder: str, console: Console | None = None) -> None:
    console = console or Console(soft_wrap=True)
    console.print(summary_table(report))
    for line in summary_lines(report, folder):
        console.print(line, highlight=False, markup=False)
