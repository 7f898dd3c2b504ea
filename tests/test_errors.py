"""Bad input ends with one line naming the file, the line and what was expected, and exit status 2."""

import pytest

from conftest import run_textlab
from textlab.cli import main

FIT = ["fit", "--model", "textlab.models.SequenceTagger", "--data", "textlab.data.TaggingDataModule"]
GOOD = "EU B-ORG\nrejects O\n\nPeter B-PER\nBlackburn I-PER\n"

CASES = {
    "wrong_columns": (b"EU NNP B-ORG\nrejects O\n", r"bad.txt:2: expected 3 columns \(as on line 1\), found 2"),
    "bare_prefix": (b"EU B-ORG\n\nPeter B-\n", r"bad.txt:3: invalid tag 'B-'"),
    "unknown_prefix": (b"EU X-PER\n", r"bad.txt:1: invalid tag 'X-PER'"),
    "empty_file": (b"", r"bad.txt:1: no sentences found"),
    "undecodable": (b"EU B-ORG\ncaf\xe9 O\n", r"bad.txt:2: cannot decode byte 0xe9 .* utf-8; pass --data.files.encoding"),
}


def fit_error(args, capsys) -> str:
    with pytest.raises(SystemExit) as exit:
        main(args)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("textlab: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.mark.parametrize("case", CASES)
def test_malformed_training_file(case, tmp_path, capsys):
    content, expected = CASES[case]
    (tmp_path / "bad.txt").write_bytes(content)
    line = fit_error(FIT + ["--data.files.train_file", str(tmp_path / "bad.txt"), "--trainer.fast_dev_run", "1"], capsys)
    assert __import__("re").search(expected, line), line


def test_encoding_option_reads_latin1(tmp_path):
    from textlab.data import ConllFiles, TaggingDataModule

    (tmp_path / "t.txt").write_bytes("café O\nParís B-LOC\n".encode("latin-1"))
    dm = TaggingDataModule(files=ConllFiles(train_file=str(tmp_path / "t.txt"), encoding="latin-1"))
    assert dm.sentences("train")[0].tokens == ["café", "París"]


def test_malformed_validation_file_names_that_file(tmp_path, capsys):
    (tmp_path / "train.txt").write_text(GOOD)
    (tmp_path / "valid.txt").write_text(GOOD + "\nLondon B-LOC extra\n")
    line = fit_error(FIT + ["--data.files.data_dir", str(tmp_path), "--trainer.fast_dev_run", "1"], capsys)
    assert "valid.txt:7: expected 2 columns" in line


def test_missing_files_and_bad_checkpoint(tmp_path, capsys):
    assert "nope.txt: no such file" in fit_error(FIT + ["--data.files.train_file", str(tmp_path / "nope.txt")], capsys)
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    line = fit_error(["predict", "--ckpt_path", str(tmp_path / "junk.ckpt"), "--data.predict_file", "x"], capsys)
    assert "junk.ckpt: not a readable textlab checkpoint" in line


def test_a_file_that_is_no_checkpoint_is_one_line(tmp_path, capsys):
    # a config given as --ckpt_path: its bytes fail inside torch's unpickler with an IndexError, not an UnpicklingError
    (tmp_path / "c.yaml").write_text("seed_everything: 1\ntrainer:\n  max_epochs: 1\n")
    line = fit_error(["test", "--ckpt_path", str(tmp_path / "c.yaml")], capsys)
    assert line.startswith(f"textlab: error: {tmp_path / 'c.yaml'}: not a readable textlab checkpoint")
    line = fit_error(["predict", "--ckpt_path", str(tmp_path), "--data.predict_file", "x"], capsys)
    assert line == f"textlab: error: {tmp_path}: a folder, not a checkpoint file (a .ckpt under its checkpoints/ folder?)"
    # a pickle with arbitrary objects: refused, without passing on torch's advice to load it unsafely
    import argparse

    import torch

    torch.save({"hyper_parameters": {}, "anything": argparse.Namespace(a=1)}, tmp_path / "odd.ckpt")
    line = fit_error(["test", "--ckpt_path", str(tmp_path / "odd.ckpt")], capsys)
    assert line == (f"textlab: error: {tmp_path / 'odd.ckpt'}: not a readable textlab checkpoint (it holds Python "
                    "objects other than tensors and plain containers, which textlab never loads)")


@pytest.mark.parametrize("vectors, message", [
    ("EU 0.1 0.2\nrejects 0.3 0.4\n", "pretrained vectors '{v}' have 2 dimensions, the word embedding 100: "
                                       "set the words part's dim to 2"),
    ("EU 0.1 0.2\nrejects 0.3 nan\n", "{v}:2: expected finite numbers, found nan"),
])
def test_pretrained_vectors_that_do_not_fit_are_one_line(tmp_path, capsys, vectors, message):
    (tmp_path / "train.txt").write_text(GOOD)
    (tmp_path / "v.txt").write_text(vectors)
    line = fit_error(FIT + ["--data.files.train_file", str(tmp_path / "train.txt"), "--model.init_args.words.init_args.pretrained",
                            str(tmp_path / "v.txt"), "--trainer.fast_dev_run", "1",
                            "--trainer.default_root_dir", str(tmp_path)], capsys)
    assert line == "textlab: error: " + message.format(v=tmp_path / "v.txt")


def test_resuming_from_a_checkpoint_that_does_not_fit_is_one_line(trained_tagger, tmp_path, capsys, monkeypatch):
    from conftest import TINY, TOY_CONFIG

    monkeypatch.chdir(tmp_path)
    fit = ["fit", "--config", str(TOY_CONFIG), *TINY, "--trainer.default_root_dir", str(tmp_path)]
    assert fit_error([*fit, "--ckpt_path", str(tmp_path / "nope.ckpt")], capsys) == (
        f"textlab: error: {tmp_path / 'nope.ckpt'}: no such checkpoint file")
    # another hidden size: Lightning's own error lists every mismatched tensor, over dozens of lines
    line = fit_error([*fit, "--ckpt_path", str(trained_tagger["last"]),
                      "--model.init_args.encoder.init_args.hidden_size", "7"], capsys)
    assert line.startswith(f"textlab: error: {trained_tagger['last']}: encoder.rnn.weight_ih_l0 is (")
    assert line.endswith("in the model these settings build; use the model settings and training data it was trained with")
    line = fit_error(["test", "--ckpt_path", str(trained_tagger["best"]), "--model.init_args.chars", "null",
                      "--data.class_path", "textlab.data.ToyNERDataModule", *TINY[:6]], capsys)
    assert line.startswith(f"textlab: error: {trained_tagger['best']}: ") and line.endswith("it was trained with")


def test_a_run_folder_that_cannot_be_made_is_one_line(tmp_path, capsys, monkeypatch):
    from conftest import TINY, TOY_CONFIG

    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    line = fit_error(["fit", "--config", str(TOY_CONFIG), *TINY, "--trainer.default_root_dir", "afile/run"], capsys)
    assert line == f"textlab: error: {tmp_path / 'afile' / 'run'}: Not a directory"


def test_error_is_one_line_on_stderr_in_a_real_process(tmp_path):
    (tmp_path / "bad.txt").write_bytes(CASES["bare_prefix"][0])
    proc = run_textlab(*FIT, "--data.files.train_file", "bad.txt", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "textlab: error: bad.txt:3: invalid tag 'B-': expected O or B-/I-/E-/S- followed by an entity type"
    )


@pytest.mark.parametrize("options, expected", [
    (["--trainer.check_val_every_n_epoch", "0"], "--trainer.check_val_every_n_epoch must be at least 1, not 0"),
    (["--trainer.accumulate_grad_batches", "0"], "--trainer.accumulate_grad_batches must be at least 1, not 0"),
    (["--data.init_args.num_workers", "-1"], "num_workers must be 0 (load in the training process) or more, not -1"),
    # Lightning refuses these with a ValueError, the first only once fit has loaded the data (300 sentences: 19 batches of 16)
    (["--trainer.val_check_interval", "1000"],
     "invalid trainer setting: `val_check_interval` (1000) must be less than or equal to the number of the training "
     "batches (19)"),
    (["--trainer.strategy", "fsdp", "--trainer.accelerator", "cpu"],
     "invalid trainer setting: The strategy `fsdp` requires a GPU accelerator, but received `accelerator='cpu'`"),
    (["--trainer.strategy", "nonsense"], "invalid trainer setting: You selected an invalid strategy name: `strategy='nonsense'`"),
])
def test_settings_that_would_fail_once_training_runs_are_one_line(options, expected, tmp_path, capsys, monkeypatch):
    # Lightning and the DataLoader take these and fail with ZeroDivisionError or ValueError in the middle of fit
    from conftest import TINY, TOY_CONFIG

    monkeypatch.chdir(tmp_path)
    assert fit_error(["fit", "--config", str(TOY_CONFIG), *TINY, *options], capsys).startswith(f"textlab: error: {expected}")


def test_contradictory_trainer_settings_are_one_line(capsys):
    line = fit_error(["fit", "--config", str(__import__("conftest").TOY_CONFIG), "--trainer.enable_checkpointing", "false"],
                     capsys)
    assert "enable_checkpointing=False" in line and "ModelCheckpoint" in line


@pytest.mark.parametrize("options, expected", [
    (["--model.init_args.words.init_args.normalize", "true"],
     "invalid model setting: normalize scales the pretrained vectors: set pretrained"),
    # values refused by the classes themselves (torch's dropout and LSTM, textlab's parts, the data module)
    (["--model.init_args.dropout", "1.5"], "invalid model setting: dropout probability has to be between 0 and 1"),
    (["--model.init_args.encoder.init_args.num_layers", "2", "--model.init_args.encoder.init_args.dropout", "1.5"],
     "invalid model setting: dropout should be a number in range [0, 1]"),
    (["--data.init_args.batch_size", "0"], "batch_size must be at least 1, not 0"),
    (["--model.init_args.words.init_args.dim", "-3"], "invalid model setting: dim must be at least 1, not -3"),
    (["--model.init_args.words.init_args.dim", "0"], "invalid model setting: dim must be at least 1, not 0"),
    (["--model.init_args.chars.init_args.widths", "[]"], "invalid model setting: the char CNN needs filters >= 1"),
    (["--model.init_args.word_dropout", "1.5"], "word_dropout must be in [0, 1), not 1.5"),
    (["--model.init_args.decoder.init_args.min_entity_probability", "2"],
     "invalid model setting: min_entity_probability must be in [0, 1], not 2.0"),
    # the optimiser is built when training starts (LightningCLI hands the model a callable)
    (["--model.init_args.optimizer.init_args.lr", "-1"], "invalid optimizer setting: Invalid learning rate: -1.0"),
])
def test_contradictory_model_settings_are_one_line(options, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a setting refused only once training starts would leave runs/ here
    line = fit_error(["fit", "--config", str(__import__("conftest").TOY_CONFIG), *options], capsys)
    assert line.startswith(f"textlab: error: {expected}")


@pytest.mark.parametrize("config, options, expected", [
    ("cls_textcnn", ["--model.init_args.encoder.init_args.filters", "0"],
     "invalid model setting: filters must be >= 1, got 0"),
    ("cls_bag", ["--model.init_args.encoder.init_args.buckets", "0"],
     "invalid model setting: hashed n-grams need buckets >= 1"),
    ("cls_textcnn", ["--model.init_args.embedder.init_args.mode", "non-static"],
     "invalid model setting: mode 'non-static' needs pretrained vectors"),
    ("cls_lstm", ["--model.init_args.optimizer.init_args.lr", "-1"], "invalid optimizer setting: Invalid learning rate"),
    ("cls_textcnn", ["--data.init_args.splits.num_folds", "1"],
     "--data.splits.num_folds 1: cross-validation needs at least 2 folds"),
])
def test_refused_classifier_settings_are_one_line(config, options, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    configs = __import__("conftest").ROOT / "configs"
    base = ["--config", str(configs / "cls_textcnn.yaml")] if config in ("cls_bag", "cls_lstm") else []  # variants
    line = fit_error(["fit", *base, "--config", str(configs / f"{config}.yaml"), *options,
                      "--trainer.max_epochs", "1"], capsys)
    assert line.startswith(f"textlab: error: {expected}"), line


@pytest.mark.parametrize("options, expected", [
    (["--model.init_args.encoder.init_args.hidden_size", "abc"],
     "--model.init_args.encoder.init_args.hidden_size: Expected a <class 'int'>. Got value: abc"),
    (["--model.init_args.nosuch", "1"], "--model.init_args.nosuch: not an argument of textlab.models.SequenceTagger"),
    (["--data.init_args.tag_scheme", "XYZ"], "--data.init_args.tag_scheme: Expected a typing.Literal['IOB2', 'BIOES']"),
    (["--trainer.max_epochs", "x"], "--trainer.max_epochs: Expected a <class 'int'>; got x"),
    (["--model.init_args.optimizer.init_args.lr", "abc"],
     "--model.init_args.optimizer.init_args.lr: Expected a <class 'float'>; got abc"),
    (["--trainer.callbacks+=nosuch.Callback"], "--trainer.callbacks: No module named 'nosuch'"),
    (["--nosuch", "1"], "unrecognized arguments: --nosuch 1"),
])
def test_unreadable_settings_are_one_line_without_the_usage(options, expected, capsys):
    # jsonargparse alone prints the command's usage (about 3.5 KB) and every type it tried
    with pytest.raises(SystemExit) as exit:
        main(["fit", "--config", str(__import__("conftest").TOY_CONFIG), *options])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"textlab: error: {expected}"), err
    assert err.rstrip().endswith("(options: textlab fit --help)"), err


def test_unreadable_setting_in_a_real_process(tmp_path):
    (tmp_path / "bad.yaml").write_text("trainer:\n  max_epochz: 3\n")
    proc = run_textlab("fit", "--config", __import__("conftest").TOY_CONFIG, "--config", "bad.yaml", cwd=tmp_path,
                       check=False)
    assert proc.returncode == 2
    assert proc.stderr == ("textlab: error: Subcommand 'fit' does not accept option 'trainer.max_epochz' "
                           "(options: textlab fit --help)\n")
