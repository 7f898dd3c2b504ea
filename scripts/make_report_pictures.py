"""The evaluation report's pictures for the docs, from the toy tagger and the toy classifier.

Fits each toy model with its shipped config (``textlab fit --config configs/ner_toy.yaml``, then
``configs/cls_textcnn.yaml``; the test at the end of the fit writes the report, the fit its learning curves), or
tests a given checkpoint with that config, and copies the PNGs into ``--output`` as ``tagger_<name>.png`` and
``classifier_<name>.png``. With ``--work DIR`` the runs, with their report.md and report.json, stay in DIR.

    python scripts/make_report_pictures.py                        # fits both: a few minutes on a laptop CPU
    python scripts/make_report_pictures.py --tagger T.ckpt --classifier C.ckpt
    python scripts/make_report_pictures.py -- --trainer.max_epochs 3   # options after -- go to every textlab run
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"tagger": ROOT / "configs" / "ner_toy.yaml", "classifier": ROOT / "configs" / "cls_textcnn.yaml"}


def textlab(*args, cwd: Path) -> None:
    """Run the installed CLI as a user would; its output goes to this script's."""
    subprocess.run([sys.executable, "-m", "textlab", *map(str, args)], cwd=cwd, check=True)


def pictures_of(kind: str, config: Path, ckpt: str | None, work: Path, extra: list[str]) -> dict[str, Path]:
    """``{name: PNG}`` of one model: its test report's figures and, when its run has them, its learning curves."""
    run = work / kind
    run.mkdir(parents=True, exist_ok=True)
    if ckpt is None:
        textlab("fit", "--config", config, *extra, "--trainer.default_root_dir", run, cwd=run)
        curves = next(run.rglob("learning_curves.png"))
    else:
        textlab("test", "--config", config, *extra, "--ckpt_path", Path(ckpt).resolve(),
                "--trainer.default_root_dir", run, cwd=run)
        curves = Path(ckpt).resolve().parent.parent / "learning_curves.png"  # LOGGER/VERSION/checkpoints/CKPT
    report = next(run.rglob("test_report/report.json")).parent
    found = {png.stem: png for png in sorted(report.glob("*.png"))}
    if curves.is_file():
        found["learning_curves"] = curves
    else:
        print(f"{kind}: no learning curves beside {ckpt} (a run of textlab fit draws them)", file=sys.stderr)
    return found


def main(argv: list[str] | None = None) -> dict[str, Path]:
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tagger", help="a toy tagger checkpoint to test instead of fitting one")
    parser.add_argument("--classifier", help="a toy classifier checkpoint to test instead of fitting one")
    parser.add_argument("--output", default=str(ROOT / "docs" / "images"), help="where the pictures go")
    parser.add_argument("--work", help="where the runs go (default: a temporary folder, removed at the end)")
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)

    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    written = {}
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(args.work or temporary)
        for kind, config in MODELS.items():
            for name, path in pictures_of(kind, config, getattr(args, kind), work, extra).items():
                target = output / f"{kind}_{name}.png"
                shutil.copyfile(path, target)
                written[target.name] = target
    for target in written.values():
        print(f"{target} ({target.stat().st_size // 1024} KB)")
    return written


if __name__ == "__main__":
    main()
