"""The evaluation report: its numbers equal the logged test metrics and seqeval's report, its error categories are
right on hand-made examples, every picture is written, and ``textlab report`` works from a checkpoint and a file."""

import csv
import json
import random

import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from seqeval.metrics import classification_report
from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

from conftest import ROOT, TAGGER_DATA, TINY, TOY_CONFIG, load_script, metric_from_table, run_textlab
from textlab.cli import main
from textlab.data import ToyNERDataModule
from textlab.data.toy_classification import generate_toy_classification
from textlab.data.toy_ner import generate_toy_ner, write_conll
from textlab.predict import load_model
from textlab.report.calibration import reliability
from textlab.report.files import write_report
from textlab.report.length_buckets import bucket_name, bucket_of, group_by_length
from textlab.report.records import EvaluatedSentence
from textlab.report.span_errors import confusion_matrix, count_categories, judge_prediction, judge_sentence
from textlab.report.tagger_report import tagger_report

PNG = b"\x89PNG\r\n\x1a\n"
TAGGER_PICTURES = {"confusion_matrix.png", "f1_by_length.png", "reliability.png"}
CLASSIFIER_PICTURES = {"confusion_matrix.png", "accuracy_by_length.png", "reliability.png"}
CLS_CONFIG = ROOT / "configs" / "cls_textcnn.yaml"
CLS_DATA = {"num_train": 600, "num_val": 100, "num_test": 100}
CLS_TINY = [arg for name, n in CLS_DATA.items() for arg in (f"--data.{name}", str(n))] + ["--trainer.max_epochs", "3"]
DDP = ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"]


def as_logged(value: float) -> float:
    """A number as Lightning logs it: a float32 tensor, printed as a Python float."""
    return torch.tensor(value, dtype=torch.float32).item()


def assert_pictures(folder, names):
    assert {p.name for p in folder.glob("*.png")} == names
    for name in names:
        data = (folder / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 2000, name  # a PNG with something drawn in it


def run_main(args, capsys) -> tuple[int, str, str]:
    """``textlab ARGS`` in-process: the exit status, stdout and stderr."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _own_log_handler(monkeypatch, tmp_path):
    # main() gives the "textlab" logger a handler on the current stderr: one per test, gone after it.
    import logging

    monkeypatch.setattr(logging.getLogger("textlab"), "handlers", [])
    monkeypatch.chdir(tmp_path)


# -- the span error categories, on hand-made examples ------------------------------------------------------

# One of each: gold and predicted spans (type, start, end inclusive) of one sentence.
GOLD = [("PER", 0, 1), ("LOC", 3, 3), ("ORG", 5, 6), ("MISC", 8, 9), ("PER", 11, 11)]
PREDICTED = [
    ("PER", 0, 1),  # exact
    ("ORG", 3, 3),  # wrong type: the LOC's boundaries
    ("ORG", 5, 5),  # wrong boundary: inside the ORG
    ("LOC", 8, 8),  # wrong both: inside the MISC, another type
    ("LOC", 13, 13),  # spurious: no gold entity there
]  # and the PER at 11 is missed


def test_each_error_category_on_a_hand_made_example():
    categories, missed = judge_sentence(GOLD, PREDICTED)
    assert categories == ["exact", "wrong_type", "wrong_boundary", "wrong_both", "spurious"]
    assert missed == [False, False, False, False, True]
    assert [judge_prediction(p, GOLD)[1] for p in PREDICTED] == [GOLD[0], GOLD[1], GOLD[2], GOLD[3], None]
    assert count_categories([GOLD], [PREDICTED]) == {
        "exact": 1, "wrong_type": 1, "wrong_boundary": 1, "wrong_both": 1, "missed": 1, "spurious": 1}


def test_a_prediction_across_two_gold_entities_is_a_boundary_error_when_one_has_its_type():
    gold = [("LOC", 0, 1), ("PER", 2, 3)]
    assert judge_prediction(("PER", 1, 3), gold) == ("wrong_boundary", ("PER", 2, 3))
    assert judge_prediction(("ORG", 1, 3), gold) == ("wrong_both", ("PER", 2, 3))  # the larger overlap
    # a gold entity only partly predicted is not missed
    assert judge_sentence(gold, [("PER", 1, 3)]) == (["wrong_boundary"], [False, False])


def test_span_confusion_matrix_rows_add_up_to_each_types_support():
    types = ["LOC", "MISC", "ORG", "PER"]
    matrix = confusion_matrix([GOLD], [PREDICTED], types)
    assert matrix["rows"] == [*types, "spurious"] and matrix["columns"] == [*types, "missed"]
    cell = {(r, c): matrix["counts"][i][j] for i, r in enumerate(matrix["rows"]) for j, c in enumerate(matrix["columns"])}
    assert {key: n for key, n in cell.items() if n} == {
        ("PER", "PER"): 1, ("LOC", "ORG"): 1, ("ORG", "ORG"): 1, ("MISC", "LOC"): 1, ("PER", "missed"): 1,
        ("spurious", "LOC"): 1}
    support = {t: sum(1 for g in GOLD if g[0] == t) for t in types}
    assert [sum(row) for row in matrix["counts"][:-1]] == [support[t] for t in types]


# -- calibration and length buckets ------------------------------------------------------------------------


def test_reliability_bins_give_torchmetrics_calibration_error():
    rng = random.Random(0)
    confidences = [rng.random() for _ in range(500)]
    correct = [rng.random() < p ** 0.5 for p in confidences]  # under-confident
    result = reliability(confidences, correct, bins=10)
    expected = binary_calibration_error(torch.tensor(confidences), torch.tensor(correct, dtype=torch.long), n_bins=10)
    assert result["ece"] == pytest.approx(expected.item(), abs=1e-6)
    table = result["bins"]
    assert sum(b["count"] for b in table) == 500 and [b["lower"] for b in table] == pytest.approx([k / 10 for k in range(10)])
    from_bins = sum(b["count"] / 500 * abs(b["accuracy"] - b["confidence"]) for b in table if b["count"])
    assert from_bins == pytest.approx(expected.item(), abs=1e-6)
    for b in table:
        if b["count"]:
            assert b["lower"] <= b["confidence"] < b["upper"]
    # by hand: two bins, one right and one wrong prediction each side of 0.5
    small = reliability([0.2, 0.3, 0.9, 1.0], [False, True, True, True], bins=2)
    assert [(b["count"], b["confidence"], b["accuracy"]) for b in small["bins"]] == [(2, 0.25, 0.5), (2, 0.95, 1.0)]
    assert reliability([], [])["ece"] is None


def test_a_classifiers_ece_is_torchmetrics_multiclass_calibration_error():
    torch.manual_seed(0)
    probabilities = torch.randn(300, 4).softmax(dim=-1)
    target = torch.randint(0, 4, (300,))
    confidence, predicted = probabilities.max(dim=1)
    ours = reliability(confidence.tolist(), (predicted == target).tolist(), bins=15)["ece"]
    assert ours == pytest.approx(multiclass_calibration_error(probabilities, target, 4, n_bins=15).item(), abs=1e-6)


def test_length_buckets():
    assert [bucket_name(b) for b in range(7)] == ["1-5", "6-10", "11-20", "21-40", "41-80", "81-160", "161+"]
    assert [bucket_of(n) for n in (1, 5, 6, 10, 11, 160, 161, 5000)] == [0, 0, 1, 1, 2, 5, 6, 6]
    assert group_by_length([12, 3, 200, 4]) == {0: [1, 3], 2: [0], 6: [2]}


# -- a tagger's report from hand-made sentences -----------------------------------------------------------


def sentence(text, gold, predicted, confidences):
    from textlab.metrics.span_f1 import extract_spans

    return EvaluatedSentence(text.split(), gold.split(), predicted.split(), extract_spans(predicted.split()), confidences)


HAND_MADE = [
    sentence("John Smith visited New York", "B-PER E-PER O B-LOC E-LOC", "B-PER E-PER O B-ORG E-ORG", [0.9, 0.6]),
    sentence("Acme sued Bob", "S-ORG O S-PER", "O O O", []),
    sentence("It rained", "O O", "O O", []),
]


def test_tagger_report_from_hand_made_sentences():
    report = tagger_report(HAND_MADE, training={("PER", "John Smith"), ("LOC", "Paris")}, worst=10, bins=5)
    seqeval = classification_report([s.gold for s in HAND_MADE], [s.predicted for s in HAND_MADE], output_dict=True,
                                     zero_division=0)
    for name, row in report["per_type"].items():
        assert row == pytest.approx({"precision": seqeval[name]["precision"], "recall": seqeval[name]["recall"],
                                     "f1": seqeval[name]["f1-score"], "support": seqeval[name]["support"]})
    assert set(report["per_type"]) == {"LOC", "ORG", "PER"}
    assert report["overall"] == pytest.approx({"tp": 1, "n_pred": 2, "n_gold": 4, "precision": 0.5, "recall": 0.25,
                                               "f1": seqeval["micro avg"]["f1-score"]})
    assert report["errors"] == {"exact": 1, "wrong_type": 1, "wrong_boundary": 0, "wrong_both": 0, "missed": 2,
                                "spurious": 0}
    seen, unseen = report["seen_unseen"]["seen"], report["seen_unseen"]["unseen"]
    assert (seen["tp"], seen["n_pred"], seen["n_gold"]) == (1, 1, 1)  # John Smith
    assert (unseen["tp"], unseen["n_pred"], unseen["n_gold"]) == (0, 1, 3)  # New York (as ORG), Acme, Bob
    assert report["calibration"]["predictions"] == 2 and report["calibration"]["ece"] == pytest.approx(
        (abs(1 - 0.9) + abs(0 - 0.6)) / 2)
    assert [b["sentences"] for b in report["by_length"]] == [3] and report["by_length"][0]["lengths"] == "1-5"
    # the two sentences with errors, most first (a tie in sorted order); the error-free one is not listed
    worst = report["worst"]
    assert [w["tokens"][0] for w in worst] == ["Acme", "John"] and [w["errors"] for w in worst] == [2, 2]
    assert [(e["text"], e["category"]) for e in worst[1]["gold"]] == [("John Smith", "exact"), ("New York", "wrong_type")]
    assert [(e["text"], e["category"], e["confidence"]) for e in worst[1]["predicted"]] == [
        ("John Smith", "exact", 0.9), ("New York", "wrong_type", 0.6)]
    # no training data: that part says why and nothing else
    assert tagger_report(HAND_MADE, None, "no --train file")["seen_unseen"] == {"note": "no --train file"}


def test_a_tensorboard_logger_gets_the_figures(tmp_path):
    class RecordingTensorBoard(TensorBoardLogger):
        def __init__(self):  # TensorBoardLogger's own needs the tensorboard package, which textlab does not
            self.figures = []

        @property
        def experiment(self):
            return self

        def add_figure(self, tag, figure, global_step=None, close=True):
            self.figures.append((tag, type(figure), global_step))

    logger = RecordingTensorBoard()
    report = write_report(tmp_path / "out", {"stage": "test", **tagger_report(HAND_MADE)}, [logger], step=7)
    assert sorted(logger.figures) == sorted((f"test_report/{name[:-4]}", Figure, 7) for name in TAGGER_PICTURES)
    assert set(report["figures"]) == TAGGER_PICTURES
    assert_pictures(tmp_path / "out", TAGGER_PICTURES)


# -- textlab test, validate and fit, on the toy tagger ----------------------------------------------------------


@pytest.fixture(scope="module")
def tagger_test(trained_tagger, tmp_path_factory):
    """`textlab test` of the shared toy tagger, as a user runs it: its output and its report."""
    run_dir = tmp_path_factory.mktemp("tagger_test")
    proc = run_textlab("test", "--config", TOY_CONFIG, *TAGGER_DATA, "--ckpt_path", trained_tagger["best"],
                       "--trainer.default_root_dir", run_dir, cwd=run_dir)
    folder = run_dir / "lightning_logs" / "version_0" / "test_report"
    return {"stdout": proc.stdout, "folder": folder, "report": json.loads((folder / "report.json").read_text()),
            "dir": run_dir}


def test_test_report_numbers_are_the_logged_test_metrics(tagger_test):
    report, out = tagger_test["report"], tagger_test["stdout"]
    overall = report["overall"]
    for name in ("tp", "n_pred", "n_gold"):
        assert overall[name] == metric_from_table(out, f"test/{name}")
    for name in ("precision", "recall", "f1"):
        assert as_logged(overall[name]) == metric_from_table(out, f"test/{name}")
    for type_, row in report["per_type"].items():
        assert as_logged(row["f1"]) == metric_from_table(out, f"test/f1_{type_}")
    assert overall["tp"] > 0 and report["sentences"] == 60
    # the error categories count the same spans: the exact ones are the true positives, and every prediction is one
    errors = report["errors"]
    assert errors["exact"] == overall["tp"]
    assert sum(errors[k] for k in ("exact", "wrong_type", "wrong_boundary", "wrong_both", "spurious")) == overall["n_pred"]
    counts = report["confusion"]["counts"]
    assert [sum(row) for row in counts[:-1]] == [report["per_type"][t]["support"] for t in report["confusion"]["rows"][:-1]]
    assert sum(b["n_gold"] for b in report["by_length"]) == overall["n_gold"]
    seen = report["seen_unseen"]
    assert seen["seen"]["n_gold"] + seen["unseen"]["n_gold"] == overall["n_gold"]
    assert seen["unseen"]["n_gold"] > seen["seen"]["n_gold"]  # the toy test set's names are new
    # the short table, printed before Lightning's
    assert "test report: 60 sentences" in out and f"report written to {tagger_test['folder']}" in out
    assert f"micro avg │    {overall['precision']:.4f}" in out


def test_test_report_per_type_table_is_seqevals_on_the_toy_test_set(trained_tagger, tagger_test):
    """Computed another way: the Python API's predictions of the toy test sentences, scored by seqeval."""
    data = ToyNERDataModule(seed=0, num_train=600, num_val=60, num_test=60, vocab_from=str(trained_tagger["best"]))
    gold = data.sentences("test")
    predicted = load_model(trained_tagger["best"]).predict([s.tokens for s in gold])
    seqeval = classification_report([s.tags for s in gold], [p.tags for p in predicted], output_dict=True,
                                    zero_division=0)
    report = tagger_test["report"]
    assert set(report["per_type"]) == set(seqeval) - {"micro avg", "macro avg", "weighted avg"}
    for name, row in report["per_type"].items():
        expected = seqeval[name]
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == (
            expected["precision"], expected["recall"], expected["f1-score"], expected["support"])
    micro = seqeval["micro avg"]
    assert (report["overall"]["precision"], report["overall"]["recall"], report["overall"]["f1"]) == (
        micro["precision"], micro["recall"], micro["f1-score"])
    assert report["averages"]["macro avg"]["f1-score"] == pytest.approx(seqeval["macro avg"]["f1-score"])


def test_test_report_writes_every_file(tagger_test):
    folder = tagger_test["folder"]
    assert_pictures(folder, TAGGER_PICTURES)
    report = tagger_test["report"]
    assert set(report["figures"]) == TAGGER_PICTURES and report["stage"] == "test" and report["kind"] == "tagger"
    assert report["calibration"]["unit"] == "predicted entity" and 0 <= report["calibration"]["ece"] <= 1
    assert 0 < len(report["worst"]) <= 10
    assert [w["errors"] for w in report["worst"]] == sorted((w["errors"] for w in report["worst"]), reverse=True)
    markdown = (folder / "report.md").read_text()
    assert markdown.startswith("# Evaluation report: test\n")
    for heading in ("## Scores by entity type", "## Errors", "## Confusions between entity types",
                    "## F1 by sentence length", "## Entities seen and unseen in training",
                    "## Calibration of the entity probabilities", "sentences with the most errors"):
        assert heading in markdown
    for name in TAGGER_PICTURES:
        assert f"({name})" in markdown


def test_fit_writes_learning_curves_from_the_epochs_it_logged(trained_tagger):
    version = next(trained_tagger["dir"].rglob("metrics.csv")).parent
    history = json.loads((version / "learning_curves.json").read_text())
    assert [row["epoch"] for row in history] == [1.0, 2.0, 3.0]
    with open(version / "metrics.csv") as f:
        logged = [row for row in csv.DictReader(f) if row.get("val/f1")]
    assert [row["val/f1"] for row in history] == [float(row["val/f1"]) for row in logged]
    assert all(row["train/loss"] > 0 for row in history) and history[0]["train/loss"] > history[-1]["train/loss"]
    assert_pictures(version, {"learning_curves.png"})
    # and the test at the end of the fit wrote its report beside them
    assert (version / "test_report" / "report.json").is_file()


def test_learning_curves_record_the_mean_loss_since_the_last_validation():
    from types import SimpleNamespace

    from lightning.pytorch.trainer.states import TrainerFn

    from textlab.callbacks import LearningCurves

    trainer = SimpleNamespace(
        accumulate_grad_batches=2, num_training_batches=4, current_epoch=0, global_step=1, sanity_checking=False,
        state=SimpleNamespace(fn=TrainerFn.FITTING), strategy=SimpleNamespace(reduce=lambda value, reduce_op: value),
        callback_metrics={"val/f1": torch.tensor(0.5), "train/loss": torch.tensor(9.0)})
    module = SimpleNamespace(automatic_optimization=True)
    curves = LearningCurves()
    curves.on_train_epoch_start(trainer, module)
    for loss in (1.0, 3.0):  # as Lightning hands them on under accumulate_grad_batches 2: halved
        curves.on_train_batch_end(trainer, module, {"loss": torch.tensor(loss / 2)}, None, 0)
    curves.on_validation_end(trainer, module)  # half way through the epoch
    curves.on_train_batch_end(trainer, module, {"loss": torch.tensor(2.5)}, None, 2)
    trainer.global_step = 2
    curves.on_train_epoch_end(trainer, module)  # a batch after the validation: a row of its own
    assert curves.history == [{"epoch": 0.5, "step": 1, "train/loss": 2.0, "val/f1": 0.5},
                              {"epoch": 0.75, "step": 2, "train/loss": 5.0}]
    restored = LearningCurves()
    restored.load_state_dict(curves.state_dict())  # what a checkpoint keeps and a resumed fit starts from
    assert restored.history == curves.history


def test_a_resumed_fit_draws_the_epochs_before_the_restart_too(tmp_path):
    args = ["fit", "--config", TOY_CONFIG, *TINY, "--test_after_fit", "false", "--trainer.default_root_dir", tmp_path]
    run_textlab(*args[:-2], "--trainer.max_epochs", "1", *args[-2:], cwd=tmp_path)
    first = json.loads((tmp_path / "lightning_logs" / "version_0" / "learning_curves.json").read_text())
    run_textlab(*args, "--ckpt_path", "last", cwd=tmp_path)  # TINY's 2 epochs: one more
    resumed = json.loads((tmp_path / "lightning_logs" / "version_1" / "learning_curves.json").read_text())
    assert [row["epoch"] for row in first] == [1.0] and [row["epoch"] for row in resumed] == [1.0, 2.0]
    assert resumed[0] == first[0]
    assert_pictures(tmp_path / "lightning_logs" / "version_1", {"learning_curves.png"})


def test_validate_reports_the_validation_metrics_and_report_false_writes_none(trained_tagger, tmp_path, capsys):
    args = ["validate", "--config", TOY_CONFIG, *TAGGER_DATA, "--ckpt_path", trained_tagger["best"],
            "--trainer.default_root_dir", tmp_path, "--trainer.enable_progress_bar", "false"]
    code, out, _ = run_main(args, capsys)
    assert code == 0
    report = json.loads((tmp_path / "lightning_logs" / "version_0" / "validate_report" / "report.json").read_text())
    assert report["stage"] == "validate" and report["sentences"] == 60
    assert as_logged(report["overall"]["f1"]) == metric_from_table(out, "val/f1")
    assert report["overall"]["n_gold"] == metric_from_table(out, "val/n_gold")
    code, out, _ = run_main([*args, "--report", "false"], capsys)
    assert code == 0 and "report written" not in out
    assert not (tmp_path / "lightning_logs" / "version_1" / "validate_report").exists()


def test_a_tagger_that_drops_unlikely_entities_is_reported_as_it_was_tested(trained_tagger, tmp_path, capsys):
    code, out, err = run_main(["test", "--config", TOY_CONFIG, *TAGGER_DATA, "--ckpt_path", trained_tagger["best"],
                               "--model.init_args.decoder.init_args.min_entity_probability", "0.9",
                               "--trainer.default_root_dir", tmp_path, "--trainer.enable_progress_bar", "false"], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "lightning_logs" / "version_0" / "test_report" / "report.json").read_text())
    for name in ("tp", "n_pred", "n_gold"):
        assert report["overall"][name] == metric_from_table(out, f"test/{name}")
    # every entity left has a probability of at least 0.9
    assert report["overall"]["n_pred"] > 0
    assert sum(b["count"] for b in report["calibration"]["bins"] if b["lower"] >= 0.9) == report["overall"]["n_pred"]


def test_a_report_under_ddp_is_the_one_process_report(trained_tagger, tagger_test, tmp_path):
    run_textlab("test", "--config", TOY_CONFIG, *TAGGER_DATA, "--ckpt_path", trained_tagger["best"], *DDP,
                "--trainer.default_root_dir", tmp_path, cwd=tmp_path)
    report = json.loads((tmp_path / "lightning_logs" / "version_0" / "test_report" / "report.json").read_text())
    assert report == tagger_test["report"]  # every sentence counted once, in the same order


# -- textlab report: a checkpoint and a file, no config -----------------------------------------------------------


@pytest.fixture(scope="module")
def toy_conll(tmp_path_factory):
    """The shared tagger's training and test sentences as CoNLL files."""
    folder = tmp_path_factory.mktemp("toy_conll")
    toy = generate_toy_ner(seed=0, num_train=600, num_val=60, num_test=60)
    write_conll(toy["train"], folder / "train.txt")
    write_conll(toy["test"], folder / "test.txt")
    return folder


def test_report_command_on_a_toy_checkpoint(trained_tagger, tagger_test, toy_conll, tmp_path):
    proc = run_textlab("report", "--ckpt_path", trained_tagger["best"], "--data", toy_conll / "test.txt",
                       "--train", toy_conll / "train.txt", "--output", "out", cwd=tmp_path)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    # the same sentences as `textlab test` evaluated from the config: the same report
    for part in ("overall", "per_type", "errors", "confusion", "by_length", "seen_unseen", "calibration", "worst"):
        assert report[part] == tagger_test["report"][part], part
    assert report["data"] == str(toy_conll / "test.txt") and report["checkpoint"] == str(trained_tagger["best"])
    assert_pictures(tmp_path / "out", TAGGER_PICTURES)
    assert "report written to out" in proc.stdout


def test_report_command_without_training_data_says_so(trained_tagger, toy_conll, tmp_path, capsys):
    code, out, _ = run_main(["report", "--ckpt_path", trained_tagger["best"], "--data", toy_conll / "test.txt",
                             "--output", tmp_path / "out", "--worst", "2"], capsys)
    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["seen_unseen"] == {"note": "no training data given (--train FILE)"} and len(report["worst"]) == 2
    assert "Skipped: no training data given (--train FILE)." in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize("lines, options, message", [
    (["Paris B-LOC", "is O", "big X-FOO"], [], "bad.txt:3: invalid tag 'X-FOO'"),
    (["Paris B-LOC", "is O", "big B-COLOUR"], [], "bad.txt:3: entity type 'COLOUR' (token 'big') never occurs in the "
                                                  "training data"),
    (["Paris B-LOC"], ["--text_column", "body"], "--text_column: for a classifier's data; this checkpoint is a tagger"),
    (None, [], "bad.txt: no such file (--data)"),
])
def test_report_command_bad_input_is_one_line(trained_tagger, tmp_path, capsys, lines, options, message):
    if lines is not None:
        (tmp_path / "bad.txt").write_text("\n".join(lines) + "\n")
    code, _, err = run_main(["report", "--ckpt_path", trained_tagger["best"], "--data", "bad.txt", *options], capsys)
    errors = [line for line in err.splitlines() if line.startswith("textlab: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith(f"textlab: error: {message}"), errors[0]
    assert not (tmp_path / "report").exists()


# -- a classifier ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_classifier(tmp_path_factory):
    """A toy TextCNN fitted by `textlab fit --config configs/cls_textcnn.yaml`; the test at its end writes a report."""
    run_dir = tmp_path_factory.mktemp("classifier")
    proc = run_textlab("fit", "--config", CLS_CONFIG, *CLS_TINY, "--trainer.default_root_dir", run_dir, cwd=run_dir)
    version = run_dir / "lightning_logs" / "version_0"
    return {"stdout": proc.stdout, "best": next(version.glob("checkpoints/best-*.ckpt")), "version": version,
            "report": json.loads((version / "test_report" / "report.json").read_text())}


def test_classifier_report_numbers_are_the_logged_test_metrics(trained_classifier):
    report, out = trained_classifier["report"], trained_classifier["stdout"]
    assert as_logged(report["overall"]["accuracy"]) == metric_from_table(out, "test/acc")
    assert as_logged(report["overall"]["macro_f1"]) == metric_from_table(out, "test/macro_f1")
    for label, row in report["per_class"].items():
        assert as_logged(row["f1"]) == metric_from_table(out, f"test/f1_{label}")
    counts = report["confusion"]["counts"]
    assert sum(map(sum, counts)) == report["texts"] == 100
    assert sum(counts[i][i] for i in range(len(counts))) / 100 == pytest.approx(report["overall"]["accuracy"])
    assert [sum(row) for row in counts] == [row["support"] for row in report["per_class"].values()]
    assert sum(b["texts"] for b in report["by_length"]) == 100
    wrong = [w["confidence"] for w in report["worst"]]
    assert wrong == sorted(wrong, reverse=True) and all(w["gold"] != w["predicted"] for w in report["worst"])
    assert 0 <= report["calibration"]["ece"] <= 1 and report["calibration"]["predictions"] == 100
    assert_pictures(trained_classifier["version"] / "test_report", CLASSIFIER_PICTURES)
    assert_pictures(trained_classifier["version"], {"learning_curves.png"})
    assert "## Scores by class" in (trained_classifier["version"] / "test_report" / "report.md").read_text()


def test_report_command_for_a_classifier_reads_its_labelled_csv(trained_classifier, tmp_path, capsys):
    with open(tmp_path / "test.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "label"])
        writer.writerows(generate_toy_classification(seed=0, **CLS_DATA)["test"])
    code, out, err = run_main(["report", "--ckpt_path", trained_classifier["best"], "--data", "test.csv",
                               "--text_column", "review", "--output", "out"], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    for part in ("overall", "per_class", "confusion", "by_length", "calibration", "worst"):
        assert report[part] == trained_classifier["report"][part], part
    assert_pictures(tmp_path / "out", CLASSIFIER_PICTURES)
    assert "test report: 100 texts" in out
    code, _, err = run_main(["report", "--ckpt_path", trained_classifier["best"], "--data", "test.csv",
                             "--train", "test.csv"], capsys)
    assert code == 2 and "textlab: error: --train: seen and unseen entities are for a tagger" in err


# -- the docs' pictures --------------------------------------------------------------------------------------


def test_make_report_pictures_draws_each_kind_from_the_toy_checkpoints(trained_tagger, trained_classifier, tmp_path):
    small = ["--data.num_train", "600", "--data.num_val", "60", "--data.num_test", "60"]
    written = load_script("make_report_pictures").main([
        "--tagger", str(trained_tagger["best"]), "--classifier", str(trained_classifier["best"]),
        "--output", str(tmp_path / "images"), "--work", str(tmp_path / "work"), "--", *small])
    names = {f"tagger_{n}" for n in [*TAGGER_PICTURES, "learning_curves.png"]} | {
        f"classifier_{n}" for n in [*CLASSIFIER_PICTURES, "learning_curves.png"]}
    assert set(written) == names
    assert_pictures(tmp_path / "images", names)
