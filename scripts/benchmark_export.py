"""The ONNX export of a tagger against its checkpoint on CoNLL-2003: size, test F1 and agreement per variant.

    python scripts/benchmark_export.py --ckpt CKPT --data-dir ../shared/data/conll2003 [--keep 20000 50000 100000]

Each variant is exported by ``textlab export`` into a temporary folder: float32; int8 (``--int8 true``);
``--keep_pretrained N`` for each N, in float32 and int8. Every test sentence is then tagged by the export through
``textlab.runtime`` (the same encoding as PyTorch: the export's own vocabulary, trimmed or not) and by the
checkpoint in PyTorch. The table gives model.onnx's size and the folder's (with textlab_model.json, whose vocabulary
is trimmed too), the export's entity F1 on the gold tags (seqeval,
conlleval's span rule), its change from the checkpoint's F1, and how many sentences' tags differ from the
checkpoint's (0 is expected for float32). It measures no speed: scripts/benchmark_speed.py does.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from seqeval.metrics import f1_score

from textlab import load_model, runtime
from textlab.data.conll import read_conll
from textlab.export.command import MODEL_FILE
from textlab.export.command import main as export


def variants(keep: list[int]) -> list[tuple[str, list[str]]]:
    rows = [("float32", []), ("int8", ["--int8", "true"])]
    for n in keep:
        rows.append((f"keep {n}", ["--keep_pretrained", str(n)]))
        rows.append((f"int8 + keep {n}", ["--int8", "true", "--keep_pretrained", str(n)]))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="the tagger's checkpoint")
    parser.add_argument("--data-dir", required=True, help="the folder with the CoNLL files")
    parser.add_argument("--split", default="test", help="the file to tag: <split>.txt (default test)")
    parser.add_argument("--keep", type=int, nargs="*", default=[20000, 50000, 100000],
                        help="--keep_pretrained values to export (default 20000 50000 100000)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    sentences = read_conll(os.path.join(args.data_dir, f"{args.split}.txt"))
    tokens = [s.tokens for s in sentences]
    gold = [s.tags for s in sentences]
    model = load_model(args.ckpt)
    reference = [r.tags for r in model.predict(tokens, args.batch_size)]
    reference_f1 = f1_score(gold, reference)
    print(f"{args.ckpt} in PyTorch: {args.split} F1 {100 * reference_f1:.2f} on {len(sentences)} sentences")
    rows = []
    print(f"| variant | model.onnx MB | folder MB | {args.split} F1 | F1 change | sentences differing from PyTorch |")
    print("|---|---|---|---|---|---|")
    for name, options in variants(args.keep):
        with tempfile.TemporaryDirectory() as folder:
            output = os.path.join(folder, "export")
            export(["--ckpt_path", args.ckpt, "--output", output, *options])
            size = os.path.getsize(os.path.join(output, MODEL_FILE)) / 1e6
            folder_size = sum(os.path.getsize(os.path.join(output, f)) for f in os.listdir(output)) / 1e6
            tagger = runtime.load(output, threads=1)
            tags = [r.tags for r in tagger.predict(tokens, args.batch_size)]
        f1 = f1_score(gold, tags)
        differing = sum(a != b for a, b in zip(tags, reference))
        row = {"variant": name, "mb": size, "folder_mb": folder_size, "f1": f1, "change": f1 - reference_f1,
               "differing": differing}
        rows.append(row)
        print(f"| {name} | {size:.1f} | {folder_size:.1f} | {100 * f1:.2f} | {100 * (f1 - reference_f1):+.2f} | {differing} of "
              f"{len(sentences)} |", flush=True)
    return rows


if __name__ == "__main__":
    main()
