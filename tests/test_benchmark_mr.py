"""scripts/benchmark_mr.py end to end on a tiny MR-like corpus: k folds per variant, resume, tables."""

import json
import logging
import random
import shlex

import pytest
from conftest import load_script


def _mr_like(folder):
    rng = random.Random(0)
    words = {"pos": ["good", "fine", "moving", "clever"], "neg": ["bad", "dull", "flat", "clumsy"]}
    for label in ("pos", "neg"):
        lines = [f"a {rng.choice(words[label])} café film , {rng.choice(['really', 'truly'])} ." for _ in range(60)]
        (folder / f"rt-polarity.{label}").write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    (folder / "vectors.txt").write_text("good 1 0 0 0\nbad -1 0 0 0\nfilm 0 1 0 0\n")


def test_benchmark_runs_every_fold_resumes_and_names_the_vectors(tmp_path, capfd, monkeypatch):
    # main() gives the "textlab" logger a handler on this test's captured stderr, closed after it
    monkeypatch.setattr(logging.getLogger("textlab"), "handlers", [])
    data = tmp_path / "mr"
    data.mkdir()
    _mr_like(data)
    out = tmp_path / "out"
    argv = ["--data", str(data), "--folds", "2", "--variants", "rand,non-static", "--max-epochs", "1",
            "--rand-dim", "6", "--embeddings", str(data / "vectors.txt"), "--out", str(out),
            "--textlab-args", "--model.init_args.embedder.init_args.dim 4 "
                              "--model.init_args.encoder.init_args.filters 3 "
                              "--model.init_args.embedder.init_args.extra_dim 5 --data.init_args.batch_size 16"]
    bench = load_script("benchmark_mr")
    bench.main(argv)
    results = json.loads((out / "results.json").read_text())
    assert sorted((r["variant"], r["fold"]) for r in results["folds"]) == [
        ("non-static", 0), ("non-static", 1), ("rand", 0), ("rand", 1)]
    assert all(0.0 <= r["test_acc"] <= 1.0 for r in results["folds"])
    # rand never gets the extra part or the config's ensemble (Kim's CNN-rand), and its own word_dim; the
    # pretrained variants do, and the table says so
    assert {(r["variant"], r["word_dim"], r["extra_word_dim"], r["ensemble_ngrams"]) for r in results["folds"]} == {
        ("rand", 6, 0, 0), ("non-static", 4, 5, 3)}
    report = table = (out / "results.md").read_text()
    assert ("| CNN-non-static (" + str(data / "vectors.txt") + " + 5 trained dims; averaged with a logistic regression "
            "on 1-3-grams) | 2 |") in table
    # the config trains on the validation part too and tests the last epoch; the report says so
    assert all(r["train_with_dev"] and r["best_val_acc"] is None and r["epochs"] == 1 for r in results["folds"])
    assert "their validation part included (train_with_dev), for 1 epochs, and its last epoch was tested" in report
    assert "| CNN-rand (6d) | 2 |" in table and "| 76.1 |" in table
    assert shlex.split(results["command"])[2:] == argv  # the command printed runs again as given, quotes included
    printed = capfd.readouterr()
    assert printed.out.count("benchmark_mr: ") == 4
    assert printed.out.count("(trained on the validation part too, last of 1 epochs, ") == 4
    assert "Tip:" not in printed.out + printed.err  # Lightning's adverts, also when textlab runs in-process
    bench.main(argv)  # everything done: nothing retrained
    assert "benchmark_mr: " not in capfd.readouterr().out
    assert {r["seed"] for r in results["folds"]} == {1}
    with pytest.raises(SystemExit, match=r"holds folds trained with --seed 1, not 2: give each seed its own --out"):
        bench.main([*argv, "--seed", "2"])  # its folds would pass for done, and the table would mix two seeds


def test_table_names_the_classifier_that_textlab_args_chose(tmp_path, monkeypatch):
    monkeypatch.setattr(logging.getLogger("textlab"), "handlers", [])
    data = tmp_path / "mr"
    data.mkdir()
    _mr_like(data)
    out = tmp_path / "out"
    bench = load_script("benchmark_mr")
    bench.main(["--data", str(data), "--folds", "2", "--run-folds", "0", "--variants", "non-static",
                "--max-epochs", "1", "--embeddings", str(data / "vectors.txt"), "--out", str(out),
                "--textlab-args", "--model.init_args.embedder.init_args.dim 4 "
                                  "--model.init_args.embedder.init_args.extra_dim 0 "
                                  "--model.init_args.encoder textlab.modules.PooledRNN "
                                  "--model.init_args.encoder.init_args.hidden_size 3 "
                                  "--model.init_args.encoder.init_args.pooling mean "
                                  "--model.init_args.ensemble.init_args.ngrams 1 "
                                  "--model.init_args.ensemble.init_args.buckets 200000 "
                                  "--data.init_args.batch_size 16 --data.init_args.splits.train_with_dev false"])
    (fold,) = json.loads((out / "results.json").read_text())["folds"]
    assert fold["model"] == "BiLSTM-mean" and not fold["train_with_dev"] and 0 <= fold["best_val_acc"] <= 1
    report = (out / "results.md").read_text()
    assert ("| BiLSTM-mean-non-static (" + str(data / "vectors.txt") + "; averaged with a logistic regression on "
            "words) | 1 |") in report
    assert "less a validation part for 1 epochs; the epoch with the best val/acc was tested" in report
    rnn = {"class_path": "textlab.modules.PooledRNN", "init_args": {"bidirectional": False, "cell": "gru",
                                                                      "pooling": "last"}}
    assert bench.model_name({"encoder": rnn}) == "GRU-last"
    assert bench.model_name({"encoder": {"class_path": "textlab.modules.NgramBag", "init_args": {"dim": 4}}}) == "Bag"
    assert bench.model_name({"encoder": {"class_path": "textlab.modules.TextCNN"}}) == "CNN"


def test_bad_data_and_arguments_stop_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(logging.getLogger("textlab"), "handlers", [])
    bench = load_script("benchmark_mr")
    data = tmp_path / "mr"
    data.mkdir()
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match=r"benchmark_mr: no rt-polarity.pos in .*mr: pass --data with"):
        bench.main(["--data", str(data), "--out", str(out)])
    assert not out.exists()  # nothing started, nothing written
    for bad in (["--run-folds", "0,x"], ["--run-folds", "10"], ["--folds", "1"]):
        with pytest.raises(SystemExit) as exit:
            bench.main(["--data", str(data), *bad])
        assert exit.value.code == 2 and "error: --" in capsys.readouterr().err  # argparse: usage, then the line
    _mr_like(data)
    # a setting textlab refuses: its one line, after the fold it stopped in
    with pytest.raises(SystemExit, match=r"^benchmark_mr: rand fold 0: textlab: error: invalid model setting: "
                                         r"filters must be >= 1, got 0$"):
        bench.main(["--data", str(data), "--folds", "2", "--variants", "rand", "--max-epochs", "1", "--out", str(out),
                    "--textlab-args", "--model.init_args.encoder.init_args.filters 0"])
