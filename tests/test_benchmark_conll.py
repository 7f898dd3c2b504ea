"""scripts/benchmark_conll.py end to end on toy CoNLL files: fit, test and predict, and the seqeval check."""

import json
import shlex
import subprocess
import sys

import pytest
import torch

from conftest import load_script
from textlab.data.sentence import Sentence
from textlab.data.toy_ner import generate_toy_ner, write_conll


# the shipped CoNLL recipe, made tiny: no GloVe (its 400k words would dominate the run)
# Every entity kept: a 2-epoch tagger this small is below 0.5 sure of nearly all of them, so the config's
# min_entity_probability would drop them all and leave the F1 checks comparing zeros.
# (the words part whole: jsonargparse reads `--model.init_args.words.init_args.pretrained null` as the string "None")
NO_GLOVE = ("--model.init_args.words '{\"class_path\": \"textlab.modules.WordEmbeddings\", "
            "\"init_args\": {\"dim\": 50, \"pretrained\": null}}' --data.init_args.words.add_pretrained_words null")
SMALL = (NO_GLOVE + " "
         "--model.init_args.encoder.init_args.hidden_size 16 --model.init_args.optimizer.init_args.lr 0.1 "
         "--model.init_args.decoder.init_args.min_entity_probability 0")


def toy_conll_folder(tmp_path, num_train, num_val, num_test):
    """A folder with the toy NER set as train.txt, valid.txt and test.txt, the CoNLL-2003 layout."""
    toy = generate_toy_ner(seed=5, num_train=num_train, num_val=num_val, num_test=num_test)
    data = tmp_path / "conll"
    data.mkdir()
    for split, name in [("train", "train.txt"), ("val", "valid.txt"), ("test", "test.txt")]:
        write_conll(toy[split], data / name)
    return data


def test_seqeval_check_reads_both_files_in_their_own_scheme(tmp_path):
    bench = load_script("benchmark_conll")
    gold = [Sentence(["EU", "rejects", "German", "call"], ["B-ORG", "O", "B-MISC", "O"]),
            Sentence(["Peter", "Blackburn"], ["B-PER", "I-PER"])]
    write_conll(gold, tmp_path / "gold.txt")
    # the model's BIOES output: one entity right (EU), one wrong type (German), one right (Peter Blackburn)
    write_conll([Sentence(gold[0].tokens, ["S-ORG", "O", "S-LOC", "O"]),
                 Sentence(gold[1].tokens, ["B-PER", "E-PER"])], tmp_path / "predicted.txt")
    assert bench.seqeval_f1(tmp_path / "gold.txt", tmp_path / "predicted.txt") == pytest.approx(2 / 3)
    write_conll([Sentence(["EU"], ["S-ORG"])], tmp_path / "short.txt")
    with pytest.raises(RuntimeError, match="tokens differ"):
        bench.seqeval_f1(tmp_path / "gold.txt", tmp_path / "short.txt")


def run_two_variants(tmp_path, capsys):
    """The benchmark on a toy folder, char-cnn and char-lstm, one seed, two epochs: (its arguments, its runs)."""
    data = toy_conll_folder(tmp_path, 400, 30, 30)
    out = tmp_path / "out"
    # char-lstm stacks configs/ner_char_lstm.yaml on the recipe: its runs must still land under --out
    argv = ["--data-dir", str(data), "--seeds", "1", "--variants", "char-cnn,char-lstm", "--max-epochs", "2",
            "--textlab-args", SMALL, "--out", str(out)]
    load_script("benchmark_conll").main(argv)
    return argv, out


def test_benchmark_runs_the_user_commands_and_writes_its_tables(tmp_path, capsys):
    argv, out = run_two_variants(tmp_path, capsys)
    saved = json.loads((out / "results.json").read_text())
    runs = {r["variant"]: r for r in saved["runs"]}
    assert set(runs) == {"char-cnn", "char-lstm"}
    for r in runs.values():
        assert r["epochs"] == 2 and 1 <= r["best_epoch"] <= 2
        assert abs(r["test_f1"] - r["seqeval_f1"]) <= 1e-4
        assert (out / r["variant"] / "seed_1" / "test_predictions.txt").is_file()
        assert 0 < r["unconstrained_test_f1"] <= 1  # the same checkpoint, decoded without constraints
    from textlab.checkpoint import read_hparams

    chars = {v: read_hparams(r["checkpoint"])["chars"]["class_path"] for v, r in runs.items()}
    assert chars == {"char-cnn": "textlab.modules.CharCNN", "char-lstm": "textlab.modules.CharLSTM"}
    table = (out / "results.md").read_text()
    assert "| char-cnn | the config" in table and "| char-lstm | char-BiLSTM" in table and "Command:" in table
    assert "| char-lstm | 1 | 2 |" in table
    assert shlex.split(saved["command"])[2:] == argv  # the command printed runs again as given, quotes included
    assert "Data: valid: " in table and "entities unseen in training" in table
    assert "char-cnn seed 1:" in capsys.readouterr().out


@pytest.mark.slow  # four more runs of the script (about 2 minutes on 2 cores): kept out of CI's time
def test_a_rerun_trains_nothing_tests_again_what_lost_its_results_and_extends_on_request(tmp_path, capsys):
    argv, out = run_two_variants(tmp_path, capsys)
    runs = {r["variant"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
    capsys.readouterr()
    # a rerun finds both runs done and trains nothing
    load_script("benchmark_conll").main(argv)
    assert ": training" not in capsys.readouterr().out
    # without the results (as when a test step failed), a rerun tests the trained checkpoints again
    (out / "results.json").unlink()
    load_script("benchmark_conll").main(argv)
    printed = capsys.readouterr().out
    assert ": training" not in printed and "char-cnn seed 1: trained already, testing" in printed
    retested = {r["variant"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
    assert retested == runs
    # --extend continues char-cnn from its last.ckpt to a third epoch; char-lstm is not asked for
    longer = [a if a != "2" else "3" for a in argv]
    longer[longer.index("char-cnn,char-lstm")] = "char-cnn"
    load_script("benchmark_conll").main([*longer, "--extend"])
    assert "char-cnn seed 1: continuing" in capsys.readouterr().out
    extended = {r["variant"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
    assert len(extended) == 2 and extended["char-lstm"] == runs["char-lstm"]
    cnn = extended["char-cnn"]
    assert cnn["epochs"] == 3 and 1 <= cnn["best_epoch"] <= 3 and cnn["minutes"] > runs["char-cnn"]["minutes"]
    assert cnn["dev_f1"] >= runs["char-cnn"]["dev_f1"]  # the best over both parts
    # the continued run saved into the first part's folder, whose ModelCheckpoint state holds the best over both
    (last,) = (out / "char-cnn" / "seed_1").rglob("last.ckpt")
    assert last.parent.parent.name == "version_0" and torch.load(last, weights_only=True)["epoch"] == 2


@pytest.mark.parametrize("decoder, expected", [
    ({"class_path": "textlab.modules.CRFDecoder", "init_args": {"constrained": True}}, True),
    ("textlab.modules.CRFDecoder", True),  # its default: constrained
    ({"class_path": "textlab.modules.CRFDecoder", "init_args": {"constrained": False}}, False),
    ({"class_path": "textlab.modules.SoftmaxDecoder", "init_args": {}}, False),
])
def test_unconstrained_decoding_is_measured_only_for_a_constrained_crf(decoder, expected, monkeypatch):
    import textlab.checkpoint

    bench = load_script("benchmark_conll")
    monkeypatch.setattr(textlab.checkpoint, "read_hparams", lambda path: {"decoder": decoder})
    assert bench.decodes_with_constraints("best.ckpt") is expected


def test_every_variant_names_only_options_the_model_and_data_take(tmp_path, monkeypatch, capsys):
    # `textlab fit --print_config` parses every override without training: a removed option fails here
    from textlab.cli import main

    monkeypatch.chdir(tmp_path)
    bench = load_script("benchmark_conll")
    for variant, (_, overrides) in bench.VARIANTS.items():
        with pytest.raises(SystemExit) as exited:
            main(["fit", "--config", str(bench.CONFIG), *overrides, "--print_config"])
        assert exited.value.code in (0, None), (variant, capsys.readouterr().err[-2000:])


def test_a_failed_run_ends_the_script_with_one_line_naming_the_run_and_textlabs_error(tmp_path):
    data = toy_conll_folder(tmp_path, 40, 10, 10)
    lines = (data / "train.txt").read_text().splitlines()
    lines[2] = "Zanzibar B-LOC extra columns here and a bad tag Q-LOC"
    (data / "train.txt").write_text("\n".join(lines) + "\n")
    argv = ["--data-dir", str(data), "--seeds", "1", "--max-epochs", "1", "--out", str(tmp_path / "out"),
            "--textlab-args",
            NO_GLOVE]
    with pytest.raises(SystemExit) as stopped:
        load_script("benchmark_conll").main(argv)
    message = str(stopped.value.code)
    assert message.startswith("benchmark_conll: char-cnn seed 1: textlab fit failed (exit 2): textlab: error: ")
    assert "train.txt:3: expected" in message and "\n" not in message
    assert message.endswith("fit.log")


@pytest.mark.parametrize("returncode", [143, -15])  # textlab's own exit on SIGTERM, or killed outright
def test_a_run_stopped_by_sigterm_is_reported_as_stopped(returncode, tmp_path, monkeypatch):
    bench = load_script("benchmark_conll")
    monkeypatch.setattr(bench.subprocess, "run",
                        lambda argv, **kwargs: subprocess.CompletedProcess(argv, returncode, "", "Terminated\n"))
    with pytest.raises(bench.RunFailed, match=r"^textlab fit was stopped \(SIGTERM\); see .*fit.log$"):
        bench.textlab("fit", "--config", "x.yaml", log_file=tmp_path / "fit.log")
    assert (tmp_path / "fit.log").read_text().startswith("$ textlab fit --config x.yaml\n")


def test_train_with_dev_trains_on_dev_the_fixed_epochs_and_tests_the_last(tmp_path):
    data = toy_conll_folder(tmp_path, 400, 30, 30)
    out = tmp_path / "out"
    load_script("benchmark_conll").main(["--data-dir", str(data), "--seeds", "1", "--variants", "train-with-dev",
                                         "--max-epochs", "2", "--textlab-args", SMALL, "--out", str(out)])
    (r,) = json.loads((out / "results.json").read_text())["runs"]
    assert r["epochs"] == r["best_epoch"] == 2 and r["dev_f1"] is None  # dev trains, so it selects nothing
    assert r["checkpoint"].endswith("last.ckpt") and abs(r["test_f1"] - r["seqeval_f1"]) <= 1e-4
    fit_log = (out / "train-with-dev" / "seed_1" / "fit.log").read_text()
    assert "train: 430 sentences" in fit_log and "val: 30 sentences" in fit_log
    assert "train_with_dev: the validation sentences are training sentences too" in fit_log
    assert "| train-with-dev | 1 | 2 | 2 | – |" in (out / "results.md").read_text()


@pytest.mark.parametrize("bad, message", [
    (["--jobs", "0"], "--jobs 0: at least 1"),
    (["--seed-list", "1,x"], "--seed-list 1,x: expected seeds separated by commas"),
    (["--extend"], "--extend needs --max-epochs"),
])
def test_bad_arguments_are_a_usage_error_not_a_traceback(bad, message, capsys):
    with pytest.raises(SystemExit) as exit:
        load_script("benchmark_conll").parse_args(bad)
    assert exit.value.code == 2 and f"error: {message}" in capsys.readouterr().err
