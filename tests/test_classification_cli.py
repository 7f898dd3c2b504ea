"""Classifiers through the user-facing commands: fit, test and predict in subprocesses, as a user runs them."""

import json
import math
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, metric_from_table, run_textlab

CONFIGS = ["cls_textcnn", "cls_lstm", "cls_bag"]
# the encoder each config trains: cls_lstm.yaml and cls_bag.yaml are variants stacked on the cls_textcnn.yaml base
ENCODERS = {"cls_textcnn": "textlab.modules.TextCNN", "cls_lstm": "textlab.modules.PooledRNN",
            "cls_bag": "textlab.modules.NgramBag"}
# Small enough for CI, large enough that every classifier learns something.
TINY = ["--data.num_train", "600", "--data.num_val", "100", "--data.num_test", "100", "--trainer.max_epochs", "3"]
TEXTS = ["the kettle is not reliable at all .", "i love this phone , it is very good .", "the lamp arrived on monday ."]


def config(name):
    """The --config arguments of a config: the base alone, or the base and a variant stacked on it."""
    base = ["--config", ROOT / "configs" / "cls_textcnn.yaml"]
    return base if name == "cls_textcnn" else [*base, "--config", ROOT / "configs" / f"{name}.yaml"]


@pytest.fixture(scope="session", params=CONFIGS)
def trained(request, tmp_path_factory):
    """A classifier fitted by `textlab fit --config configs/<name>.yaml` (tiny settings)."""
    name = request.param
    run_dir = tmp_path_factory.mktemp(name)
    proc = run_textlab("fit", *config(name), *TINY, "--trainer.default_root_dir", run_dir, cwd=run_dir)
    ckpts = sorted(run_dir.rglob("best-*.ckpt"))
    assert len(ckpts) == 1 and (ckpts[0].parent / "last.ckpt").is_file()
    # the variant's parts replaced the base's: the checkpoint says which encoder (and embedder) trained
    hparams = torch.load(ckpts[0], weights_only=True)["hyper_parameters"]
    assert hparams["encoder"]["class_path"] == ENCODERS[name]
    assert (hparams["embedder"] is None) == (name == "cls_bag")
    return {"name": name, "dir": run_dir, "best": ckpts[0], "fit_output": proc.stdout, "fit_log": proc.stderr}


def test_fit_tests_the_best_checkpoint_and_logs_the_metrics(trained):
    output = trained["fit_output"]
    assert metric_from_table(output, "test/acc") >= 0.5  # chance: 0.33; the full configs reach 1.0 (slow test)
    assert 0 < metric_from_table(output, "test/macro_f1") <= 1
    for label in ("negative", "neutral", "positive"):
        assert 0 <= metric_from_table(output, f"test/f1_{label}") <= 1
    assert "test confusion matrix (rows: gold, columns: predicted)" in trained["fit_log"]


def test_test_command_in_a_fresh_folder_reproduces_the_accuracy(trained, tmp_path):
    proc = run_textlab(
        "test", *config(trained["name"]), *TINY, "--ckpt_path", trained["best"],
        "--trainer.default_root_dir", tmp_path, cwd=tmp_path,
    )
    assert metric_from_table(proc.stdout, "test/acc") == metric_from_table(trained["fit_output"], "test/acc")


def test_predict_needs_only_the_checkpoint_and_writes_label_tab_text(trained, tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n")
    proc = run_textlab("predict", "--ckpt_path", trained["best"], "--data.predict_file", "in.txt", cwd=tmp_path)
    lines = proc.stdout.splitlines()
    assert [line.split("\t", 1)[1] for line in lines] == TEXTS
    assert all(line.split("\t")[0] in ("negative", "neutral", "positive") for line in lines)
    assert not (tmp_path / "lightning_logs").exists()


def test_predict_csv_input_to_an_output_file(trained, tmp_path):
    (tmp_path / "in.csv").write_text('id,text\n1,"the phone is great , not slow ."\n2,the router is broken .\n')
    run_textlab("predict", "--ckpt_path", trained["best"], "--data.predict_file", "in.csv", "--output", "out/labels.tsv",
                cwd=tmp_path)
    out = (tmp_path / "out" / "labels.tsv").read_text().splitlines()
    assert [line.split("\t")[1] for line in out] == ["the phone is great , not slow .", "the router is broken ."]


def test_predict_with_confidences_writes_the_labels_probability(trained, tmp_path):
    from textlab import load_model

    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n")
    proc = run_textlab("predict", "--ckpt_path", trained["best"], "--data.predict_file", "in.txt", "--confidences", "true",
                       cwd=tmp_path)
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    api = load_model(trained["best"]).predict(TEXTS)
    assert [(label, text) for label, _, text in rows] == [(r.label, t) for r, t in zip(api, TEXTS)]
    assert [float(p) for _, p, _ in rows] == pytest.approx([r.probabilities[r.label] for r in api], abs=1e-4)



def test_predict_as_json_lines_gives_text_label_and_on_request_probabilities(trained, tmp_path):
    from textlab import load_model

    texts = [*TEXTS, 'a "quoted" text \\ with a backslash and caf\u00e9']
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    common = ("predict", "--ckpt_path", trained["best"], "--data.predict_file", "in.txt", "--output_format", "jsonl")
    plain = [json.loads(line) for line in run_textlab(*common, cwd=tmp_path).stdout.splitlines()]
    scored = [json.loads(line) for line in run_textlab(*common, "--confidences", "true", cwd=tmp_path).stdout.splitlines()]
    api = load_model(trained["best"]).predict(texts)
    assert plain == [{"text": t, "label": r.label} for t, r in zip(texts, api)]
    for record, result in zip(scored, api):
        assert record["confidence"] == pytest.approx(result.probabilities[result.label], abs=1e-4)
        assert record["probabilities"] == pytest.approx(result.probabilities, abs=1e-4)
        assert record["label"] == result.label == max(record["probabilities"], key=record["probabilities"].get)


def test_a_tag_scheme_for_a_classifier_is_one_line(trained, tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n")
    proc = run_textlab("predict", "--ckpt_path", trained["best"], "--data.predict_file", "in.txt", "--tag_scheme", "IOB2",
                       cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == ("textlab: error: --tag_scheme IOB2: for a tagger's output; this "
                                                    "model is a classifier")

def test_checkpoint_in_a_fresh_process_predicts_what_the_loaded_model_predicts(trained, tmp_path):
    from textlab import load_model

    model = load_model(trained["best"])
    before = [[r.label, r.probabilities] for r in model.predict(TEXTS)]
    assert all(abs(sum(p.values()) - 1) < 1e-5 for _, p in before)
    code = (
        "import json, sys; from textlab import load_model; m = load_model(sys.argv[1]); "
        f"print(json.dumps([[r.label, r.probabilities] for r in m.predict({TEXTS!r})]))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(trained["best"])], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    after = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [label for label, _ in after] == [label for label, _ in before]
    for (_, p), (_, q) in zip(after, before):
        assert p == pytest.approx(q, abs=1e-6)
    assert torch.load(trained["best"], weights_only=True)["hyper_parameters"]["vocab"]["labels"] == [
        "negative", "neutral", "positive"]


def test_bad_input_is_a_one_line_error_naming_file_and_line(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\ngood,pos\n,neg\n")
    proc = run_textlab("fit", *config("cls_textcnn"), "--data", "textlab.data.ClassificationDataModule",
                       "--data.files.train_file", "train.csv", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "textlab: error: train.csv:3: empty text in 'text'"


def test_user_csv_files_train_end_to_end(tmp_path):
    from textlab.data.toy_classification import generate_toy_classification

    data = generate_toy_classification(seed=7, num_train=400, num_val=0, num_test=0)["train"]
    with open(tmp_path / "reviews.tsv", "w") as f:
        f.write("stars\treview\n" + "".join(f"{label}\t{text}\n" for text, label in data))
    proc = run_textlab(
        "fit", *config("cls_bag"), "--data", "textlab.data.ClassificationDataModule",
        "--data.files.train_file", "reviews.tsv", "--data.files.text_column", "review",
        "--data.files.label_column", "stars",
        "--trainer.max_epochs", "2", "--trainer.default_root_dir", "run", cwd=tmp_path,
    )
    assert metric_from_table(proc.stdout, "test/acc") >= 0.6  # 10% held out for the test, 10% for val
    [best] = (tmp_path / "run").rglob("best-*.ckpt")
    labels = torch.load(best, weights_only=True)["hyper_parameters"]["vocab"]["labels"]
    assert labels == sorted({label for _, label in data})  # the stars column, not the reviews


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_full_toy_config_reaches_90_percent(name, tmp_path):
    proc = run_textlab("fit", *config(name), "--trainer.default_root_dir", tmp_path, cwd=tmp_path)
    assert metric_from_table(proc.stdout, "test/acc") >= 0.9


def test_fit_with_train_with_dev_trains_on_train_and_val_and_tests_the_last_epoch(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_textlab("fit", *config("cls_bag"), "--data.num_train", "300", "--data.num_val", "60",
                       "--data.num_test", "60", "--trainer.max_epochs", "2", "--data.splits.train_with_dev", "true",
                       "--trainer.default_root_dir", run_dir, cwd=tmp_path)
    output = proc.stdout + proc.stderr
    assert "the 60 validation examples are training examples too" in output
    assert "Restoring states from the checkpoint" not in output  # the model as trained is tested, not a best epoch
    # 2 epochs over the 300 training and the 60 validation texts, in batches of 32 (cls_bag.yaml), each batch
    # stepping two optimisers (the sparse bag's and the rest's), which Lightning's step count counts apart
    assert torch.load(next(run_dir.rglob("last.ckpt")), weights_only=True)["global_step"] == 2 * math.ceil(360 / 32) * 2
    assert metric_from_table(proc.stdout, "test/acc") >= 0.6


def _toy_vectors(path):
    """A small vectors file for some toy words (random elsewhere), as GloVe is for MR."""
    g = torch.Generator().manual_seed(0)
    words = ["good", "bad", "reliable", "broken", "great", "slow", "not", "love", "phone", "kettle"]
    path.write_text("".join(f"{w} " + " ".join(f"{v:.4f}" for v in torch.randn(8, generator=g).tolist()) + "\n"
                            for w in words))
    return path


def test_fit_with_an_ensemble_fits_it_first_saves_it_and_tests_and_predicts_from_the_checkpoint(tmp_path):
    """cls_textcnn_mr.yaml's model on the toy set: pretrained non-static vectors with trained extra dims, a
    TextCNN with output_max_norm, averaged with a naive-Bayes logistic regression on 1-3-grams."""
    run_dir = tmp_path / "run"
    vectors = _toy_vectors(tmp_path / "vectors.txt")
    options = ["--model.init_args.embedder.init_args.mode", "non-static",
               "--model.init_args.embedder.init_args.pretrained", vectors,
               "--model.init_args.embedder.init_args.dim", "8", "--model.init_args.embedder.init_args.extra_dim", "8",
               "--model.init_args.output_max_norm", "3.0",
               "--model.init_args.ensemble", "textlab.modules.NgramLogisticRegression",
               "--model.init_args.ensemble.init_args.ngrams", "3", "--model.init_args.ensemble.init_args.buckets", "1000"]
    fit = run_textlab("fit", *config("cls_textcnn"), *TINY, *options, "--trainer.default_root_dir", run_dir,
                      cwd=tmp_path)
    assert "ensemble: NgramLogisticRegression fitted alone on the training texts" in fit.stderr
    assert "pretrained vectors for" in fit.stderr
    best = next(run_dir.rglob("best-*.ckpt"))
    checkpoint = torch.load(best, weights_only=True)
    state, hparams = checkpoint["state_dict"], checkpoint["hyper_parameters"]
    assert hparams["ensemble"]["class_path"] == "textlab.modules.NgramLogisticRegression"
    assert hparams["embedder"]["init_args"]["mode"] == "non-static"
    words = len(hparams["vocab"]["words"])
    assert state["ensemble.weight"].shape == (words + 1000, 3) and state["ensemble.weight"].abs().sum() > 0  # from zeros
    assert state["ensemble.bias"].abs().sum() > 0 and bool(state["ensemble.fitted"])
    assert not torch.equal(state["ensemble.scale"], torch.ones_like(state["ensemble.scale"]))  # naive_bayes: true
    assert state["output.weight"].norm(dim=1).max() <= 3.0 + 1e-4
    # the fit's command as `textlab test`, in a fresh process: the checkpoint's weights give the accuracy the fit
    # measured (the settings are the fit's: the config's would conflict, e.g. its mode rand with the vectors)
    test = run_textlab("test", *config("cls_textcnn"), *TINY, *options, "--ckpt_path", best,
                       "--trainer.default_root_dir", tmp_path / "test", cwd=tmp_path)
    assert metric_from_table(test.stdout, "test/acc") == metric_from_table(fit.stdout, "test/acc") >= 0.6
    assert "fitted alone" not in test.stderr  # nothing refitted: the checkpoint holds the fitted part
    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n")
    run_textlab("predict", "--ckpt_path", best, "--data.predict_file", "in.txt", "--output", "out.tsv",
                "--confidences", "true", cwd=tmp_path)
    out = [line.split("\t") for line in (tmp_path / "out.tsv").read_text().splitlines()]
    assert [text for _, _, text in out] == TEXTS
    assert {label for label, _, _ in out} <= {"negative", "neutral", "positive"}
    # the probabilities are the mean of the network's and the ensemble's, as the Python API gives them
    from textlab import load_model

    model = load_model(best)
    assert model.ensemble is not None and bool(model.ensemble.fitted)
    api = model.predict(TEXTS)
    assert [label for label, _, _ in out] == [r.label for r in api]
    assert [float(p) for _, p, _ in out] == pytest.approx([r.probabilities[r.label] for r in api], abs=1e-4)


def textlab_in_process(args, tmp_path, monkeypatch, capsys):
    """`textlab ARGS` run in this process from tmp_path, as a user would type it: (exit status, stderr)."""
    from textlab.cli import main

    monkeypatch.chdir(tmp_path)
    try:
        main([str(a) for a in args])
        status = 0
    except SystemExit as e:
        status = e.code
    return status, capsys.readouterr().err


@pytest.mark.parametrize("command, option", [("fit", "--data.files.train_file"), ("test", "--data.files.test_file")])
def test_the_toy_configs_refuse_a_data_file(command, option, tmp_path, monkeypatch, capsys):
    (tmp_path / "my.csv").write_text("text,label\ngood,pos\nbad,neg\n")
    args = [command, *config("cls_textcnn"), option, "my.csv"]
    if command == "test":
        vocab = {"words": ["<pad>", "<unk>", "good"], "labels": ["neg", "pos"]}
        hparams = {"_class_path": "textlab.models.TextClassifier", "vocab": vocab}
        torch.save({"hyper_parameters": hparams, "state_dict": {}}, tmp_path / "model.ckpt")
        args += ["--ckpt_path", "model.ckpt"]
    status, err = textlab_in_process(args, tmp_path, monkeypatch, capsys)
    assert status == 2
    # the toy module has no files part: jsonargparse refuses the option instead of the run ignoring it
    assert err.strip().splitlines()[-1].startswith(
        f"textlab: error: --data: unrecognized arguments: --{option.removeprefix('--data.')}=my.csv")


PLATEAU = '{"class_path": "torch.optim.lr_scheduler.ReduceLROnPlateau", "init_args": {"mode": "max"}}'


@pytest.mark.parametrize("name", ["cls_bag", "cls_textcnn"])  # manual and automatic optimisation
def test_reduce_lr_on_plateau_without_validation_in_an_epoch_is_a_one_line_error(name, tmp_path, monkeypatch, capsys):
    status, err = textlab_in_process(
        ["fit", *config(name), "--data.num_train", "40", "--data.num_val", "8", "--data.num_test", "8",
         "--model.init_args.lr_scheduler", PLATEAU, "--trainer.check_val_every_n_epoch", "2",
         "--trainer.max_epochs", "2"], tmp_path, monkeypatch, capsys)
    assert status == 2
    assert err.strip().splitlines()[-1] == (
        "textlab: error: lr_scheduler ReduceLROnPlateau steps on val/acc, and epoch 0 measured none: validate every "
        "epoch (validation data, --trainer.check_val_every_n_epoch 1) or use another schedule")


def test_fit_logs_the_label_order_class_weights_follow(tmp_path, monkeypatch, capsys):
    rows = "".join(f"text {i} {label},{label}\n" for i in range(6) for label in (1, 2, 10))
    (tmp_path / "train.csv").write_text("text,label\n" + rows)
    status, err = textlab_in_process(
        ["fit", *config("cls_bag"), "--data", "textlab.data.ClassificationDataModule",
         "--data.files.train_file", "train.csv", "--model.init_args.class_weights", "[1, 1, 2]",
         "--trainer.max_epochs", "1"], tmp_path, monkeypatch, capsys)
    assert status == 0, err[-2000:]
    assert "textlab: labels, in the order of class_weights and the outputs: 1, 10, 2" in err.splitlines()
