"""Train a config for a number of steps in one process and thread, and save the model's weights; or compare
two such weight files tensor by tensor. For checking that a change of code trains the same model.

    python scripts/train_steps.py --out after.pt -- --config configs/ner_bilstm_crf.yaml \\
        --data.files.data_dir ../shared/data/conll2003
    # the same with the earlier code first on PYTHONPATH (a checkout of it), its own option names, --out before.pt
    python scripts/train_steps.py --compare before.pt after.pt

Validation, callbacks, logging and checkpointing are off, so only the training steps draw random numbers.
"""

from __future__ import annotations

import argparse
import sys

import torch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="where to save the weights")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--root", default="runs/train_steps", help="the run's folder (nothing is kept there)")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two saved weight files")
    parser.add_argument("fit_args", nargs="*", help="textlab fit arguments, after --")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if not args.out:
        parser.error("--out is needed to train")
    torch.set_num_threads(1)
    from textlab.cli import TextlabCLI

    cli = TextlabCLI(["fit", *args.fit_args, "--trainer.max_steps", str(args.steps), "--trainer.callbacks", "[]",
                      "--trainer.logger", "false", "--trainer.enable_checkpointing", "false",
                      "--trainer.limit_val_batches", "0", "--trainer.enable_progress_bar", "false",
                      "--trainer.default_root_dir", args.root, "--test_after_fit", "false"])
    weights = {name: tensor.detach().clone() for name, tensor in cli.model.state_dict().items()}
    torch.save(weights, args.out)
    print(f"{args.out}: {len(weights)} tensors, {sum(t.numel() for t in weights.values())} numbers after "
          f"{cli.trainer.global_step} steps")
    return 0


def compare(a: str, b: str) -> int:
    first, second = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    if first.keys() != second.keys():
        print(f"different tensors: {sorted(set(first) ^ set(second))}")
        return 1
    differ = [name for name in first if not torch.equal(first[name], second[name])]
    print(f"{len(first)} tensors: " + ("bit-identical" if not differ else f"{len(differ)} differ: {', '.join(differ)}"))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
