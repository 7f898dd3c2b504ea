"""Values a model part refuses, and settings that contradict each other: one ``textlab: error:`` line, exit 2.

Each part (``textlab.modules``) checks its own values when the model builds it (ValueError, printed as "invalid
model setting: ..."); the models check what spans parts (TextlabError). An option no part reads cannot be set
at all: jsonargparse refuses it (tests/test_configs.py).
"""

import logging
import re
from functools import partial
from pathlib import Path

import pytest
import torch

from conftest import ROOT, TOY_CONFIG
from textlab.callbacks import FreezeWordEmbeddings
from textlab.cli import main
from textlab.data import (
    ClassFiles, ClassificationDataModule, ClassificationWords, ConllFiles, LabelledFiles, Splits, TaggingHub,
    ToyClassificationDataModule, ToyNERDataModule, Words,
)
from textlab.errors import TextlabError
from textlab.models import SequenceTagger, TextClassifier
from textlab.modules import (CharCNN, CharCNNandLSTM, CharLSTM, CRFDecoder, NgramBag, NgramLogisticRegression,
                             PooledRNN, SoftmaxDecoder, TextCNN, WordChannels, WordEmbeddings)

SMALL_NER = ["--data.num_train", "40", "--data.num_val", "8", "--data.num_test", "8"]
SMALL_CLS = ["--data.num_train", "60", "--data.num_val", "12", "--data.num_test", "12"]
M = "--model.init_args."


def config(name: str) -> str:
    return str(ROOT / "configs" / f"{name}.yaml")


@pytest.fixture(autouse=True)
def _own_log_handler(monkeypatch, tmp_path):
    # main() gives the "textlab" logger a handler on the current stderr: one per test, gone after it.
    # Runs that start training write their run folder under the working folder: tmp_path, not the checkout.
    monkeypatch.setattr(logging.getLogger("textlab"), "handlers", [])
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def ner_vocab():
    return ToyNERDataModule(num_train=40, num_val=8, num_test=8).vocab


@pytest.fixture(scope="module")
def cls_vocab():
    return ToyClassificationDataModule(num_train=60, num_val=12, num_test=12).vocab


def run(args, capsys) -> tuple[int, list[str]]:
    """``textlab ARGS`` in-process: the exit status and the ``textlab:`` lines it wrote to stderr."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exit:
        code = exit.code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return code, [line for line in err.splitlines() if line.startswith("textlab:")]


def error_of(args, capsys) -> str:
    code, lines = run(args, capsys)
    errors = [line for line in lines if line.startswith("textlab: error:")]
    assert code == 2 and len(errors) == 1, lines
    return errors[0]


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "textlab" and r.levelno == logging.WARNING]


CHAR_DROPOUT = "dropout 1.0 drops every character in training: use less than 1 (e.g. 0.5)"
NORMALIZE = "normalize scales the pretrained vectors: set pretrained (e.g. glove-6b-50d)"
DROPOUT = ("dropout 1.0 drops every value in training, and the network would learn from nothing: use less than 1 "
           "(e.g. 0.5)")

# -- the tagger's parts ----------------------------------------------------------------------------


@pytest.mark.parametrize("slot, part, options, message", [
    ("words", WordEmbeddings, {"max_norm": 0.0}, "max_norm must be > 0 (null: no limit), not 0.0"),
    ("words", WordEmbeddings, {"max_norm": -1.0}, "max_norm must be > 0 (null: no limit), not -1.0"),
    ("words", WordEmbeddings, {"normalize": True}, NORMALIZE),
    ("chars", CharCNN, {"filters": 0}, "the char CNN needs filters >= 1 and widths >= 1, got 0 and [3]"),
    ("chars", CharCNN, {"widths": []}, "the char CNN needs filters >= 1 and widths >= 1, got 30 and []"),
    ("chars", CharCNN, {"widths": [3, 0]}, "the char CNN needs filters >= 1 and widths >= 1, got 30 and [3, 0]"),
    ("chars", CharCNNandLSTM, {"filters": 0}, "the char CNN needs filters >= 1 and widths >= 1, got 0 and [3]"),
    ("chars", CharCNN, {"dropout": 1.0}, CHAR_DROPOUT),
    ("chars", CharLSTM, {"dropout": 1.0}, CHAR_DROPOUT),
    ("chars", CharCNNandLSTM, {"dropout": 1.0}, CHAR_DROPOUT),
    ("decoder", CRFDecoder, {"min_entity_probability": 1.5}, "min_entity_probability must be in [0, 1], not 1.5"),
    ("decoder", SoftmaxDecoder, {"min_entity_probability": -0.5}, "min_entity_probability must be in [0, 1], not -0.5"),
])
def test_tagger_parts_refuse_values_they_cannot_use(slot, part, options, message, ner_vocab):
    with pytest.raises(ValueError) as e:
        SequenceTagger(ner_vocab, **{slot: partial(part, **options)})
    assert str(e.value) == message


@pytest.mark.parametrize("decoder", [CRFDecoder, SoftmaxDecoder])
def test_dropping_entities_needs_an_o_tag(decoder):
    tags = ["B-PER", "I-PER"]
    decoder(tags, "IOB2")  # without min_entity_probability nothing is turned into O
    with pytest.raises(ValueError, match=r"^min_entity_probability turns dropped entities into O tags, and the "
                                         r"training data has no O tag$"):
        decoder(tags, "IOB2", min_entity_probability=0.5)


@pytest.mark.parametrize("options, message", [
    ({"dropout": 1.0}, DROPOUT),
    ({"word_dropout": 1.0}, "word_dropout must be in [0, 1), not 1.0"),
    ({"word_dropout": -0.1}, "word_dropout must be in [0, 1), not -0.1"),
])
def test_tagger_values_that_train_garbage_are_refused(options, message, ner_vocab):
    with pytest.raises(TextlabError) as e:
        SequenceTagger(ner_vocab, **options)
    assert str(e.value) == message


@pytest.mark.parametrize("options, message", [
    ([f"{M}dropout", "1.0"], DROPOUT),
    ([f"{M}chars.init_args.dropout", "1.0"], f"invalid model setting: {CHAR_DROPOUT}"),
    ([f"{M}decoder.init_args.min_entity_probability", "1.5"],
     "invalid model setting: min_entity_probability must be in [0, 1], not 1.5"),
    ([f"{M}chars.filters", "0"],  # jsonargparse's short form reaches the same part
     "invalid model setting: the char CNN needs filters >= 1 and widths >= 1, got 0 and [3]"),
    ([f"{M}optimizer", "torch.optim.SparseAdam"],
     "optimizer SparseAdam takes sparse gradients only, and this model's are dense: use e.g. torch.optim.Adam (an "
     "NgramBag's sparse ones go to sparse_optimizer)"),
])
def test_refused_tagger_settings_are_one_line(options, message, capsys, tmp_path):
    line = error_of(["fit", "--config", TOY_CONFIG, *SMALL_NER, *options, "--trainer.default_root_dir", tmp_path],
                    capsys)
    assert line == f"textlab: error: {message}"


def test_an_ablation_without_chars_trains_without_a_word_about_the_char_options(capsys, tmp_path):
    # the toy config's CharCNN options go with the part: null removes them too
    code, lines = run(["fit", "--config", TOY_CONFIG, *SMALL_NER, f"{M}chars", "null", "--trainer.fast_dev_run", "1",
                       "--trainer.default_root_dir", tmp_path], capsys)
    assert code == 0 and not [line for line in lines if "warning" in line.lower() or "no effect" in line]


def test_pretrained_only_words_without_pretrained_vectors_are_refused(capsys, tmp_path):
    # the vocabulary would hold words whose frozen rows nothing fills: each a zero vector
    (tmp_path / "vectors.txt").write_text("zanzibarqx 1 2 3 4\nquokkaqx 5 6 7 8\n")
    line = error_of(["fit", "--config", TOY_CONFIG, *SMALL_NER, "--data.init_args.words.add_pretrained_words",
                     tmp_path / "vectors.txt", "--trainer.default_root_dir", tmp_path], capsys)
    assert line == ("textlab: error: the word vocabulary holds 2 pretrained-only words "
                    "(--data.init_args.words.add_pretrained_words) but the model loads no pretrained vectors: set the "
                    "word part's pretrained (e.g. --model.init_args.words.init_args.pretrained) to the same vectors, "
                    "or --data.init_args.words.add_pretrained_words null")


def test_pretrained_only_words_for_a_classifier_without_pretrained_vectors_are_refused(capsys, tmp_path):
    # mode rand: the added words would keep random vectors that no training step reaches
    (tmp_path / "vectors.txt").write_text("zanzibarqx 1 2 3 4\nquokkaqx 5 6 7 8\n")
    line = error_of(["fit", "--config", config("cls_textcnn"), *SMALL_CLS,
                     "--data.init_args.words.add_pretrained_words", tmp_path / "vectors.txt", "--trainer.default_root_dir", tmp_path], capsys)
    assert line.startswith("textlab: error: the word vocabulary holds 2 pretrained-only words ") and (
        "loads no pretrained vectors" in line), line


def test_max_norm_also_caps_the_pretrained_only_words():
    words = WordEmbeddings(6, 4, dim=3, max_norm=1.0)
    matrix = torch.full((6, 3), 2.0).numpy()
    matrix[5] = 0.1  # shorter than max_norm: unchanged
    words.load_pretrained(matrix, matrix[:, 0] > 0)
    norms = words(torch.tensor([[2, 4, 5]])).norm(dim=-1)[0]
    assert norms.tolist() == pytest.approx([1.0, 1.0, 0.1 * 3**0.5], abs=1e-5)
    assert torch.equal(words.pretrained_only[0], torch.full((3,), 2.0))  # the buffer keeps the file's vectors


# -- the classifier's parts ------------------------------------------------------------------------


@pytest.mark.parametrize("parts, message", [
    ({"embedder": partial(WordChannels, mode="static")},
     "mode 'static' needs pretrained vectors: set pretrained (e.g. glove-6b-50d)"),
    ({"embedder": partial(WordChannels, mode="multichannel")},
     "mode 'multichannel' needs pretrained vectors: set pretrained (e.g. glove-6b-50d)"),
    ({"embedder": partial(WordChannels, pretrained="glove-6b-50d")},
     "mode 'rand' starts from random vectors: set pretrained to null, or choose static, non-static or multichannel"),
    ({"embedder": partial(WordChannels, mode="rand", normalize=True)}, NORMALIZE),
    ({"embedder": None, "encoder": partial(NgramBag, normalize=True)}, NORMALIZE),
    ({"embedder": None, "encoder": partial(NgramBag, ngrams=0)}, "ngrams must be >= 1"),
    ({"embedder": None, "encoder": partial(NgramBag, ngrams=2, buckets=0)}, "hashed n-grams need buckets >= 1, got 0"),
    ({"encoder": partial(TextCNN, filters=0)}, "filters must be >= 1, got 0"),
    ({"encoder": partial(TextCNN, widths=[])}, "filter widths must be >= 1, got []"),
    ({"ensemble": partial(NgramLogisticRegression, l2=0.0)},
     "l2 must be > 0 (the logistic regression's L2 penalty), not 0.0"),
    ({"ensemble": partial(NgramLogisticRegression, ngrams=0)}, "ngrams must be >= 1"),
])
def test_classifier_parts_refuse_values_they_cannot_use(parts, message, cls_vocab):
    with pytest.raises(ValueError) as e:
        TextClassifier(cls_vocab, **parts)
    assert str(e.value) == message


@pytest.mark.parametrize("options, message", [
    ({"embedder": None}, "encoder TextCNN reads word vectors: set an embedder (e.g. textlab.modules.WordChannels)"),
    ({"embedder": None, "encoder": PooledRNN},
     "encoder PooledRNN reads word vectors: set an embedder (e.g. textlab.modules.WordChannels)"),
    ({"encoder": NgramBag}, "encoder NgramBag reads word ids itself: set embedder to null"),
    ({"embedder": partial(WordChannels, mode="multichannel", pretrained="v.txt"), "encoder": PooledRNN},
     "mode 'multichannel' is for the TextCNN encoder only"),
    ({"dropout": 1.0}, DROPOUT),
    ({"output_max_norm": 0.0}, "output_max_norm must be > 0 (null: no limit), not 0.0"),
    ({"output_max_norm": -3.0}, "output_max_norm must be > 0 (null: no limit), not -3.0"),
    ({"class_weights": [1.0, 2.0]}, "class_weights has 2 entries for 3 labels (negative, neutral, positive)"),
    ({"class_weights": [1.0, 0.0, 1.0]},
     "class_weights must all be > 0, got [1.0, 0.0, 1.0] for the labels negative, neutral, positive"),
    ({"class_weights": [1.0, float("inf"), 1.0]},
     "class_weights must all be > 0, got [1.0, inf, 1.0] for the labels negative, neutral, positive"),
])
def test_classifier_settings_that_do_not_fit_together_are_refused(options, message, cls_vocab):
    with pytest.raises(TextlabError) as e:
        TextClassifier(cls_vocab, **options)
    assert str(e.value) == message


@pytest.mark.parametrize("name, options, message", [
    ("cls_textcnn", [f"{M}embedder", "null"],
     "encoder TextCNN reads word vectors: set an embedder (e.g. textlab.modules.WordChannels)"),
    ("cls_bag", [f"{M}embedder", "textlab.modules.WordChannels"],
     "encoder NgramBag reads word ids itself: set embedder to null"),
    ("cls_lstm", [f"{M}embedder.init_args.mode", "multichannel", f"{M}embedder.init_args.pretrained", "v.txt"],
     "mode 'multichannel' is for the TextCNN encoder only"),
    ("cls_textcnn", [f"{M}embedder.init_args.mode", "static"],
     "invalid model setting: mode 'static' needs pretrained vectors: set pretrained (e.g. glove-6b-50d)"),
    ("cls_textcnn", [f"{M}class_weights", "[1, 0, 1]"],
     "class_weights must all be > 0, got [1.0, 0.0, 1.0] for the labels negative, neutral, positive"),
    ("cls_textcnn", [f"{M}ensemble", "textlab.modules.NgramLogisticRegression", f"{M}ensemble.init_args.l2", "0"],
     "invalid model setting: l2 must be > 0 (the logistic regression's L2 penalty), not 0.0"),
    # the bag's own optimiser is tried on a sparse gradient before training; the model's on dense ones
    ("cls_bag", [f"{M}encoder.init_args.sparse_optimizer", "torch.optim.Adam"],
     re.compile(r"sparse_optimizer Adam cannot train the bag's sparse gradients \(.+\): use torch\.optim\.SparseAdam, "
                r"or no sparse_optimizer \(dense gradients\)")),
    ("cls_bag", [f"{M}encoder.init_args.sparse_optimizer", "torch.optim.SGD",
                 f"{M}encoder.init_args.sparse_optimizer.init_args.lr", "0.1",
                 f"{M}encoder.init_args.sparse_optimizer.init_args.weight_decay", "0.01"],
     re.compile(r"sparse_optimizer SGD cannot train the bag's sparse gradients \(.+\): use torch\.optim\.SparseAdam, "
                r"or no sparse_optimizer \(dense gradients\)")),
    ("cls_textcnn", [f"{M}optimizer", "torch.optim.SparseAdam"],
     "optimizer SparseAdam takes sparse gradients only, and this model's are dense: use e.g. torch.optim.Adam (an "
     "NgramBag's sparse ones go to sparse_optimizer)"),
])
def test_refused_classifier_settings_are_one_line(name, options, message, capsys, tmp_path):
    stack = ["--config", config("cls_textcnn")] if name != "cls_textcnn" else []
    line = error_of(["fit", *stack, "--config", config(name), *SMALL_CLS, *options, "--trainer.default_root_dir",
                     tmp_path], capsys)
    if isinstance(message, str):
        assert line == f"textlab: error: {message}"
    else:
        assert message.fullmatch(line.removeprefix("textlab: error: ")), line


def test_the_sparse_bag_still_trains_with_sgd(tmp_path):
    from textlab.cli import TextlabCLI

    def bag_after(*trainer_options):
        cli = TextlabCLI(["fit", "--config", config("cls_textcnn"), "--config", config("cls_bag"), *SMALL_CLS,
                          f"{M}encoder.init_args.sparse_optimizer", "torch.optim.SGD",
                          f"{M}encoder.init_args.sparse_optimizer.init_args.lr", "0.1",
                          "--test_after_fit", "false", "--trainer.default_root_dir", str(tmp_path), *trainer_options])
        return cli.trainer.global_step, cli.model.encoder.bag.weight.detach().clone()

    untrained = bag_after("--trainer.max_steps", "0")  # the same seeded start, no step taken
    trained = bag_after("--trainer.fast_dev_run", "1")
    assert (untrained[0], trained[0]) == (0, 2)  # one batch: a step of each optimiser, the sparse and the dense
    moved = (trained[1] != untrained[1]).any(dim=1)
    assert 0 < int(moved.sum()) < len(moved)  # the rows of the batch's words and n-grams, and only those


def test_a_sparse_bag_checkpoint_predicts_with_its_nested_optimiser(capsys, tmp_path):
    # the checkpoint gives the model its parts back, the bag's sparse_optimizer (a callable) inside one of them
    code, _ = run(["fit", "--config", config("cls_textcnn"), "--config", config("cls_bag"), *SMALL_CLS,
                   "--trainer.max_epochs", "1", "--test_after_fit", "false", "--trainer.default_root_dir", tmp_path],
                  capsys)
    assert code == 0
    (tmp_path / "in.txt").write_text("a good kettle\n")
    code, _ = run(["predict", "--ckpt_path", next(tmp_path.rglob("last.ckpt")), "--data.predict_file",
                   tmp_path / "in.txt", "--output", tmp_path / "out.tsv"], capsys)
    assert code == 0 and len((tmp_path / "out.tsv").read_text().splitlines()) == 1


# -- callbacks ---------------------------------------------------------------------------------------


def test_freezing_the_word_embeddings_of_the_bag_is_one_line(capsys, tmp_path):
    line = error_of(["fit", "--config", config("cls_textcnn"), "--config", config("cls_bag"), *SMALL_CLS,
                     "--trainer.callbacks+=textlab.callbacks.FreezeWordEmbeddings",
                     "--trainer.default_root_dir", tmp_path], capsys)
    assert line == ("textlab: error: FreezeWordEmbeddings freezes the word embeddings of a tagger or of a TextCNN or "
                    "PooledRNN classifier; an NgramBag's rows hold its n-grams too: remove the callback")


def test_a_negative_unfreeze_epoch_is_refused(capsys, tmp_path):
    line = error_of(["fit", "--config", TOY_CONFIG, *SMALL_NER,
                     "--trainer.callbacks+=textlab.callbacks.FreezeWordEmbeddings",
                     "--trainer.callbacks.unfreeze_at_epoch=-1", "--trainer.default_root_dir", tmp_path], capsys)
    assert line == ("textlab: error: FreezeWordEmbeddings: unfreeze_at_epoch must be an epoch (0 or more) or null "
                    "(frozen for the whole run), not -1")


def test_unfreezing_static_embeddings_is_refused(capsys, tmp_path):
    (tmp_path / "vectors.txt").write_text("good 1 2 3 4\nbad 5 6 7 8\n")
    line = error_of(["fit", "--config", config("cls_textcnn"), *SMALL_CLS, f"{M}embedder.init_args.dim", "4",
                     f"{M}embedder.init_args.pretrained", tmp_path / "vectors.txt", f"{M}embedder.init_args.mode",
                     "static", "--trainer.callbacks+=textlab.callbacks.FreezeWordEmbeddings",
                     "--trainer.callbacks.unfreeze_at_epoch=2", "--trainer.default_root_dir", tmp_path], capsys)
    assert line.startswith("textlab: error: FreezeWordEmbeddings(unfreeze_at_epoch=2) would train the word vectors "
                           "that ") and "static" in line, line


@pytest.mark.parametrize("pretrained", [False, True])
def test_freezing_random_word_vectors_and_never_reaching_the_unfreeze_epoch_are_warnings(pretrained, capsys, tmp_path):
    (tmp_path / "vectors.txt").write_text("Peter 1 2 3 4\nLondon 5 6 7 8\n")
    vectors = [f"{M}words.init_args.dim", "4", f"{M}words.init_args.pretrained", tmp_path / "vectors.txt"]
    code, lines = run(["fit", "--config", TOY_CONFIG, *SMALL_NER, *(vectors if pretrained else []),
                       "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1",
                       "--trainer.limit_val_batches", "1", "--test_after_fit", "false",
                       "--trainer.callbacks+=textlab.callbacks.FreezeWordEmbeddings",
                       "--trainer.callbacks.unfreeze_at_epoch=5", "--trainer.default_root_dir", tmp_path], capsys)
    assert code == 0
    said = [line for line in lines if "FreezeWordEmbeddings" in line]
    assert said[-1] == ("textlab: FreezeWordEmbeddings: unfreeze_at_epoch 5 (counted from 0) comes after the last "
                        "epoch of --trainer.max_epochs 1: the word embeddings stay frozen for the whole run")
    random = [line for line in said if "freezes random vectors" in line]  # only when no vectors are loaded
    assert len(said) == (1 if pretrained else 2) and len(random) == (0 if pretrained else 1), said


def test_an_average_that_would_start_after_the_last_epoch_is_a_warning(capsys, tmp_path):
    code, lines = run(["fit", "--config", TOY_CONFIG, *SMALL_NER, "--trainer.max_epochs", "1",
                       "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1",
                       "--test_after_fit", "false", "--trainer.callbacks+=textlab.callbacks.TailWeightAveraging",
                       "--trainer.default_root_dir", tmp_path], capsys)
    assert code == 0
    assert [line for line in lines if "TailWeightAveraging" in line] == [
        "textlab: TailWeightAveraging: start_epoch 30 (counted from 0) comes after the last epoch of "
        "--trainer.max_epochs 1: nothing is averaged, and the run validates and keeps its own weights"]


@pytest.mark.parametrize("threads", ["0", "-1"])
def test_cpu_threads_below_one_are_refused(threads, capsys, tmp_path):
    # 0 fell back to the default without a word; -1 failed inside torch with a traceback once fit began
    line = error_of(["fit", "--config", config("cls_textcnn"), *SMALL_CLS, "--cpu_threads.per_process", threads,
                     "--trainer.default_root_dir", tmp_path], capsys)
    assert line == (f"textlab: error: --cpu_threads.per_process must be at least 1 (null: the cores divided by the "
                    f"processes), not {threads}")


def test_freeze_callback_constructed_directly_refuses_a_negative_epoch():
    with pytest.raises(TextlabError, match=r"^FreezeWordEmbeddings: unfreeze_at_epoch must be an epoch"):
        FreezeWordEmbeddings(unfreeze_at_epoch=-2)


@pytest.mark.parametrize("options, reason", [
    (["--trainer.callbacks.monitor=val/F1"], "misspelt"),
    (["--trainer.callbacks.monitor=val/f1", "--trainer.max_steps", "2"], "no validation before the epoch ended"),
])
def test_early_stopping_on_a_metric_never_logged_is_one_line(options, reason, capsys, tmp_path):
    line = error_of(["fit", "--config", TOY_CONFIG, *SMALL_NER, "--trainer.max_epochs", "1",
                     "--trainer.callbacks+=lightning.pytorch.callbacks.EarlyStopping", *options,
                     "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", tmp_path], capsys)
    monitor = options[0].split("=")[1]
    assert line.startswith(f"textlab: error: EarlyStopping monitors {monitor}, which nothing had logged when it "
                           "checked (logged: train/loss")
    assert line.endswith("a misspelt name, or no validation before the end of the epoch (--trainer.max_steps, "
                         "--trainer.limit_val_batches 0); fix that, or remove the callback")


# -- data modules (their options are the data helper's to translate; kept as they were) ---------------


def test_the_toy_ner_set_takes_no_data_sources():
    with pytest.raises(TypeError, match="multiple values for keyword argument 'files'"):
        ToyNERDataModule(files=ConllFiles(train_file="my.conll"))
    with pytest.raises(TypeError, match="multiple values for keyword argument 'hub'"):
        ToyNERDataModule(hub=TaggingHub(name="conll2003"))


def test_the_toy_ner_set_refuses_a_train_file_from_the_cli(capsys, tmp_path):
    (tmp_path / "my.conll").write_text("EU B-ORG\nrejects O\n")
    line = error_of(["fit", "--config", TOY_CONFIG, "--data.files.train_file", tmp_path / "my.conll",
                     "--trainer.default_root_dir", tmp_path], capsys)
    assert line.startswith(f"textlab: error: --data: unrecognized arguments: --files.train_file={tmp_path / 'my.conll'}")


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.fixture
def csvs(tmp_path):
    rows = lambda n: "text,label\n" + "".join(f"text {i},{'xy'[i % 2]}\n" for i in range(n))  # noqa: E731
    return {split: _write(tmp_path / f"{split}.csv", rows(n)) for split, n in (("train", 40), ("val", 6), ("test", 6))}


@pytest.fixture
def class_files(tmp_path):
    _write(tmp_path / "r.pos", "".join(f"good film {i}\n" for i in range(20)))
    _write(tmp_path / "r.neg", "".join(f"dull film {i}\n" for i in range(20)))
    return {"class_files": ClassFiles({"pos": "r.pos", "neg": "r.neg"}, str(tmp_path))}


def test_class_files_and_a_train_file_together_are_refused(class_files, csvs):
    with pytest.raises(TextlabError) as e:
        ClassificationDataModule(files=LabelledFiles(train_file=csvs["train"]), **class_files)
    assert str(e.value) == (f"--data.files.train_file {csvs['train']} and --data.class_files both name the training "
                            "data: give one of them")


def test_a_pretrained_words_scope_without_pretrained_words_is_one_warning(class_files, caplog):
    ClassificationDataModule(**class_files, words=ClassificationWords(pretrained_words_scope="data"))
    assert warnings_of(caplog) == [
        "--data.words.pretrained_words_scope data: no effect without --data.words.add_pretrained_words, whose words "
        "it picks (ignored); set that too, or remove it"]


def test_split_options_with_nothing_to_split_are_one_warning(csvs, class_files, caplog):
    def warning(module) -> str:
        caplog.clear()
        assert module.vocab  # the data still loads, the option aside
        [line] = warnings_of(caplog)
        return line

    def files(*splits: str) -> LabelledFiles:
        return LabelledFiles(**{f"{split}_file": csvs[split] for split in splits})

    assert warning(ClassificationDataModule(files=files("train", "val"), splits=Splits(val_fraction=0.3))) == (
        f"--data.splits.val_fraction 0.3: no effect, the validation data is given ({csvs['val']}) (ignored); remove it")
    assert warning(ClassificationDataModule(files=files("train", "test"), splits=Splits(test_fraction=0.3))) == (
        f"--data.splits.test_fraction 0.3: no effect, the test data is given ({csvs['test']}) (ignored); remove it")
    assert warning(ClassificationDataModule(files=files("train", "val"), splits=Splits(test_fraction=0.3))) == (
        "--data.splits.test_fraction 0.3: no effect, a test part is split off only when no validation data is given either "
        f"({csvs['val']}) (ignored); remove it")
    assert warning(ClassificationDataModule(files=files("train", "val", "test"), splits=Splits(split_seed=4))) == (
        f"--data.splits.split_seed 4: no effect, nothing is split off the training data (validation data: {csvs['val']}; "
        f"test data: {csvs['test']}) (ignored); remove it")
    assert warning(ClassificationDataModule(**class_files, splits=Splits(num_folds=4, test_fraction=0.3))) == (
        "--data.splits.test_fraction 0.3: no effect with --data.splits.num_folds, where fold 0 is the test set "
        "(ignored); remove it")
    assert warning(ToyClassificationDataModule(num_train=30, num_val=6, num_test=6, splits=Splits(split_seed=3))) == (
        "--data.splits.split_seed 3: no effect, nothing is split off the training data (validation data: toy classification "
        "set (val); test data: toy classification set (test)) (ignored); remove it")


def test_split_options_that_are_used_or_ask_for_nothing_pass(csvs, class_files, caplog):
    # a fraction of 0 asks for no held-out part, and there is none: consistent with a given file
    given = {split: csvs[split] for split in ("train", "val", "test")}
    assert ClassificationDataModule(files=LabelledFiles(train_file=given["train"], val_file=given["val"]),
                                    splits=Splits(val_fraction=0.0)).vocab
    assert ClassificationDataModule(files=LabelledFiles(train_file=given["train"], test_file=given["test"]),
                                    splits=Splits(val_fraction=0.2, split_seed=3)).vocab
    assert ClassificationDataModule(**class_files, splits=Splits(num_folds=4, val_fraction=0.2, split_seed=3)).vocab
    assert ToyClassificationDataModule(num_train=30, num_val=6, num_test=6, splits=Splits(num_folds=3, split_seed=3)).vocab
    assert warnings_of(caplog) == []


def test_reading_options_a_checkpoint_overrules_are_one_warning_each(ner_vocab, cls_vocab, tmp_path, caplog):
    # the checkpoint's vocabulary decides how text is read (textlab sets vocab_from from --ckpt_path)
    torch.save({"hyper_parameters": {"vocab": ner_vocab}}, tmp_path / "tagger.ckpt")
    torch.save({"hyper_parameters": {"vocab": cls_vocab}}, tmp_path / "classifier.ckpt")
    tagger, classifier = tmp_path / "tagger.ckpt", tmp_path / "classifier.ckpt"
    lower = Words(lowercase=True)
    assert ToyNERDataModule(vocab_from=str(tagger), tag_scheme="IOB2", words=lower).vocab["tag_scheme"] == "BIOES"
    basic = ClassificationWords(tokenizer="basic")
    assert ToyClassificationDataModule(vocab_from=str(classifier), words=basic).vocab["tokenizer"] == "whitespace"
    assert ToyNERDataModule(vocab_from=str(tagger), tag_scheme="BIOES").vocab  # as trained: no warning
    five = ClassificationWords(max_tokens=5)
    assert ToyClassificationDataModule(vocab_from=str(classifier), words=five).vocab["max_tokens"] is None
    assert warnings_of(caplog) == [
        f"--data.tag_scheme IOB2: ignored, the checkpoint {tagger} was trained with tag_scheme BIOES and reads text "
        "that way",
        f"--data.words.lowercase true: ignored, the checkpoint {tagger} was trained with lowercase false and reads text "
        "that way",
        f"--data.words.tokenizer basic: ignored, the checkpoint {classifier} was trained with tokenizer whitespace and reads "
        "text that way",
        f"--data.words.max_tokens 5: ignored, the checkpoint {classifier} was trained with max_tokens null and reads "
        "text that way"]


