"""Settings that a model, data module or callback would silently ignore, or that contradict each other.

A contradiction (or a value that trains garbage) stops with one line; an option that the chosen kind of
component never reads, harmless and common when a run switches a shared config's component, logs one
warning line. Defaults never trigger either.
"""

import logging
from pathlib import Path

import pytest
import torch
import yaml

from conftest import ROOT, TOY_CONFIG
from textlab.callbacks import FreezeWordEmbeddings
from textlab.cli import main
from textlab.data import ClassificationDataModule, TaggingDataModule, ToyClassificationDataModule, ToyNERDataModule
from textlab.errors import TextlabError
from textlab.models import SequenceTagger, TextClassifier
from textlab.modules.embedders import WordEmbedder

SMALL_NER = ["--data.num_train", "40", "--data.num_val", "8", "--data.num_test", "8"]
SMALL_CLS = ["--data.num_train", "60", "--data.num_val", "12", "--data.num_test", "12"]


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


# -- the tagger ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dropout", "char_dropout"])
def test_tagger_dropout_of_one_is_refused(name, capsys, tmp_path):
    line = error_of(["fit", "--config", TOY_CONFIG, *SMALL_NER, f"--model.init_args.{name}", "1.0",
                     "--trainer.default_root_dir", tmp_path], capsys)
    assert line == (f"textlab: error: {name} 1.0 drops every value in training, and the network would learn from "
                    "nothing: use less than 1 (e.g. 0.5)")


@pytest.mark.parametrize("options, message", [
    ({"pretrained_word_swap": -0.1}, "pretrained_word_swap must be in [0, 1], not -0.1"),
    ({"pretrained_word_swap": 1.5}, "pretrained_word_swap must be in [0, 1], not 1.5"),
    ({"max_norm": 0.0}, "max_norm must be > 0 (null: no limit), not 0.0"),
    ({"max_norm": -1.0}, "max_norm must be > 0 (null: no limit), not -1.0"),
    ({"min_entity_probability": 1.5}, "min_entity_probability must be in [0, 1], not 1.5"),
    ({"min_entity_probability": -0.5}, "min_entity_probability must be in [0, 1], not -0.5"),
])
def test_tagger_values_out_of_range_are_refused(options, message, ner_vocab):
    with pytest.raises(TextlabError) as e:
        SequenceTagger(ner_vocab, **options)
    assert str(e.value) == message


@pytest.mark.parametrize("options, message", [
    ({"char_encoder": "none", "char_dim": 25, "char_widths": (2, 3)},
     "char_dim 25, char_widths [2, 3]: no effect with char_encoder none (ignored); remove them, or choose "
     "char_encoder cnn, both or cnn_lstm"),
    ({"char_encoder": "lstm", "char_filters": 50},
     "char_filters 50: no effect with char_encoder lstm (ignored); remove it, or choose char_encoder cnn, both or "
     "cnn_lstm"),
    ({"char_encoder": "cnn", "char_hidden": 50},
     "char_hidden 50: no effect with char_encoder cnn (ignored); remove it, or choose char_encoder lstm, both or "
     "cnn_lstm"),
    ({"decoder": "softmax", "constrained_training": True},
     "constrained_training true: no effect with decoder softmax, which has no transitions to constrain (ignored); "
     "remove it, or choose decoder crf"),
    ({"language_model_words": 100},
     "language_model_words 100: no effect with language_model_weight 0, which turns that loss off (ignored); "
     "remove it, or set language_model_weight (e.g. 0.1)"),
    ({"dropout": 0.0, "variational_dropout": True},
     "variational_dropout true: no effect with dropout 0, the dropout it draws masks for (ignored); remove it, or "
     "set dropout"),
])
def test_tagger_options_the_chosen_components_never_read_are_one_warning(options, message, ner_vocab, caplog):
    SequenceTagger(ner_vocab, **options)
    assert warnings_of(caplog) == [message]


@pytest.mark.parametrize("options", [
    {}, {"char_encoder": "both", "char_hidden": 10, "char_filters": 3, "char_widths": [2]},
    {"char_encoder": "cnn_lstm", "char_hidden": 10, "char_dropout": 0.5},
    # the shipped char-LSTM config keeps the char-CNN's options at their defaults
    {"char_encoder": "lstm", "char_filters": 30, "char_widths": [3]},
    {"decoder": "softmax", "constrained_decoding": True},
])
def test_tagger_settings_every_option_of_which_is_read_log_no_warning(options, ner_vocab, caplog):
    SequenceTagger(ner_vocab, **options)
    assert warnings_of(caplog) == []


def test_an_ablation_without_chars_on_a_config_with_char_options_trains_with_one_warning(capsys, tmp_path):
    code, lines = run(["fit", "--config", TOY_CONFIG, *SMALL_NER, "--model.init_args.char_encoder", "none",
                       "--trainer.fast_dev_run", "1", "--trainer.default_root_dir", tmp_path], capsys)
    assert code == 0
    assert [line for line in lines if "no effect" in line] == [
        "textlab: char_dim 25: no effect with char_encoder none (ignored); remove it, or choose char_encoder cnn, "
        "lstm, both or cnn_lstm"]


def test_pretrained_only_words_without_pretrained_vectors_are_refused(capsys, tmp_path):
    # the vocabulary would hold words whose frozen rows nothing fills: each a zero vector
    (tmp_path / "vectors.txt").write_text("zanzibarqx 1 2 3 4\nquokkaqx 5 6 7 8\n")
    line = error_of(["fit", "--config", TOY_CONFIG, *SMALL_NER, "--data.init_args.add_pretrained_words",
                     tmp_path / "vectors.txt", "--trainer.default_root_dir", tmp_path], capsys)
    assert line == ("textlab: error: the word vocabulary holds 2 pretrained-only words "
                    "(--data.init_args.add_pretrained_words) but the model loads no pretrained vectors: set "
                    "--model.init_args.embeddings to the same vectors, or --data.init_args.add_pretrained_words null")


def test_pretrained_only_words_for_a_classifier_without_pretrained_vectors_are_refused(capsys, tmp_path):
    # embedding_mode rand: the added words would keep random vectors that no training step reaches
    (tmp_path / "vectors.txt").write_text("zanzibarqx 1 2 3 4\nquokkaqx 5 6 7 8\n")
    line = error_of(["fit", "--config", config("cls_textcnn"), *SMALL_CLS, "--data.init_args.add_pretrained_words",
                     tmp_path / "vectors.txt", "--trainer.default_root_dir", tmp_path], capsys)
    assert line == (f"textlab: error: --data.init_args.add_pretrained_words {tmp_path / 'vectors.txt'} adds "
                    "pretrained-only words, but the model loads no pretrained vectors (embedding_mode rand): set "
                    "--model.init_args.embeddings to the same vectors, or --data.init_args.add_pretrained_words null")


def test_a_sparse_only_optimiser_for_the_tagger_is_one_line(capsys, tmp_path):
    line = error_of(["fit", "--config", TOY_CONFIG, *SMALL_NER, "--model.init_args.optimizer", "torch.optim.SparseAdam",
                     "--trainer.default_root_dir", tmp_path], capsys)
    assert line == ("textlab: error: optimizer SparseAdam takes sparse gradients only, and the tagger's are dense: "
                    "use e.g. torch.optim.Adam or torch.optim.SGD")


def test_max_norm_also_caps_the_pretrained_only_words():
    words = WordEmbedder(6, 3, max_norm=1.0, num_trainable=4)
    matrix = torch.full((6, 3), 2.0).numpy()
    matrix[5] = 0.1  # shorter than max_norm: unchanged
    words.load_pretrained(matrix, matrix[:, 0] > 0)
    norms = words(torch.tensor([[2, 4, 5]])).norm(dim=-1)[0]
    assert norms.tolist() == pytest.approx([1.0, 1.0, 0.1 * 3**0.5], abs=1e-5)
    assert torch.equal(words.pretrained_only[0], torch.full((3,), 2.0))  # the buffer keeps the file's vectors


# -- the classifier --------------------------------------------------------------------------------


@pytest.mark.parametrize("options, message", [
    ({"label_smoothing": 1.0}, "label_smoothing 1.0 makes every target uniform whatever its label, and the model "
                               "would learn nothing from the labels: use less than 1 (e.g. 0.1)"),
    ({"dropout": 1.0}, "dropout 1.0 drops every value in training, and the model would learn from nothing: use less "
                       "than 1 (e.g. 0.5)"),
    ({"embedding_dropout": 1.0}, "embedding_dropout 1.0 drops every value in training, and the model would learn "
                                 "from nothing: use less than 1 (e.g. 0.5)"),
])
def test_classifier_values_that_train_garbage_are_refused(options, message, cls_vocab):
    with pytest.raises(TextlabError) as e:
        TextClassifier(cls_vocab, **options)
    assert str(e.value) == message


def test_classifier_label_smoothing_of_one_is_one_line_from_the_cli(capsys, tmp_path):
    line = error_of(["fit", "--config", config("cls_textcnn"), *SMALL_CLS, "--model.init_args.label_smoothing", "1",
                     "--trainer.default_root_dir", tmp_path], capsys)
    assert line == ("textlab: error: label_smoothing 1.0 makes every target uniform whatever its label, and the model "
                    "would learn nothing from the labels: use less than 1 (e.g. 0.1)")


@pytest.mark.parametrize("options, message", [
    ({"encoder": "cnn", "pooling": "mean", "hidden_size": 4, "sparse": True},
     "hidden_size 4, pooling mean, sparse true: no effect with encoder cnn (ignored); remove them"),
    ({"encoder": "rnn", "filters": 4, "widths": [2]},
     "filters 4, widths [2]: no effect with encoder rnn (ignored); remove them, or choose encoder cnn"),
    ({"encoder": "bag", "bidirectional": False, "cell": "gru"},
     "bidirectional false, cell gru: no effect with encoder bag (ignored); remove them, or choose encoder rnn"),
    ({"encoder": "cnn", "ngrams": 2},
     "ngrams 2: no effect with encoder cnn (ignored); remove it, or choose encoder bag"),
    ({"encoder": "bag", "ngrams": 1, "buckets": 30},
     "buckets 30: no effect without hashed n-grams (ignored): they come with encoder bag and ngrams >= 2, or "
     "linear_ngrams >= 2"),
    ({"encoder": "rnn", "linear_ngrams": 1, "buckets": 30},
     "buckets 30: no effect without hashed n-grams (ignored): they come with encoder bag and ngrams >= 2, or "
     "linear_ngrams >= 2"),
])
def test_classifier_options_of_another_encoder_are_one_warning(options, message, cls_vocab, caplog):
    TextClassifier(cls_vocab, **options)
    assert warnings_of(caplog) == [message]


@pytest.mark.parametrize("options", [{"encoder": "cnn"}, {"encoder": "bag", "sparse": False}])
def test_a_sparse_optimiser_without_the_sparse_bag_is_one_warning(options, cls_vocab, caplog):
    TextClassifier(cls_vocab, **options, sparse_optimizer=lambda params: torch.optim.SparseAdam(params, lr=0.1))
    assert warnings_of(caplog) == ["sparse_optimizer: no effect without encoder bag and sparse true, the only sparse "
                                   "gradients (ignored); remove it, or set both"]


@pytest.mark.parametrize("name, options, warned", [
    ("cls_textcnn", [], False),  # the CLI hands the model its default wrapped: not a setting of the user's
    ("cls_textcnn", ["--model.init_args.sparse_optimizer.init_args.lr", "0.1"], True),
    ("cls_bag", ["--model.init_args.sparse", "true", "--model.init_args.sparse_optimizer.init_args.lr", "0.1"], False),
])
def test_a_sparse_optimiser_set_on_the_command_line_warns_only_without_the_sparse_bag(name, options, warned, capsys,
                                                                                      tmp_path):
    code, lines = run(["fit", "--config", config(name), *SMALL_CLS, *options, "--trainer.max_epochs", "1",
                       "--test_after_fit", "false", "--trainer.default_root_dir", tmp_path], capsys)
    assert code == 0
    assert [line for line in lines if "sparse_optimizer" in line] == (
        ["textlab: sparse_optimizer: no effect without encoder bag and sparse true, the only sparse gradients "
         "(ignored); remove it, or set both"] if warned else [])
    # the checkpoint gives the model its hyperparameters back as the CLI's partial: the same verdict again
    (tmp_path / "in.txt").write_text("a good kettle\n")
    code, lines = run(["predict", "--ckpt_path", next(tmp_path.rglob("last.ckpt")), "--data.predict_file",
                       tmp_path / "in.txt", "--output", tmp_path / "out.tsv"], capsys)
    assert code == 0 and any("sparse_optimizer" in line for line in lines) == warned


@pytest.mark.parametrize("options", [
    {}, {"encoder": "bag", "ngrams": 2, "buckets": 30, "sparse": True},
    {"encoder": "cnn", "linear_ngrams": 2, "buckets": 30, "filters": 4},
    {"encoder": "cnn", "linear_ngrams": 2, "buckets": 30, "linear_training": "separate", "linear_l2": 0.5},
    {"encoder": "rnn", "hidden_size": 4, "pooling": "last", "bidirectional": False},
])
def test_classifier_settings_every_option_of_which_is_read_log_no_warning(options, cls_vocab, caplog):
    TextClassifier(cls_vocab, **options)
    assert warnings_of(caplog) == []


@pytest.mark.parametrize("options", [{}, {"linear_ngrams": 2, "buckets": 30}])
def test_linear_l2_without_the_separate_bag_is_one_warning(options, cls_vocab, caplog):
    TextClassifier(cls_vocab, linear_l2=0.5, **options)
    assert warnings_of(caplog) == ["linear_l2 0.5: no effect without linear_training separate (ignored)"]


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "configs").glob("*.yaml")))
def test_shipped_configs_set_no_option_their_model_or_data_ignores(name, ner_vocab, cls_vocab, caplog):
    model = yaml.safe_load(Path(config(name)).read_text())["model"]
    callables = ("optimizer", "sparse_optimizer", "lr_scheduler")
    options = {k: v for k, v in model["init_args"].items() if k not in callables}
    if model["class_path"].endswith("SequenceTagger"):
        SequenceTagger(ner_vocab, **options)
    else:
        TextClassifier(cls_vocab, **options)
    data = yaml.safe_load(Path(config(name)).read_text())["data"]
    data_class = {"TaggingDataModule": TaggingDataModule, "ToyNERDataModule": ToyNERDataModule,
                  "ClassificationDataModule": ClassificationDataModule,
                  "ToyClassificationDataModule": ToyClassificationDataModule}[data["class_path"].rsplit(".", 1)[1]]
    data_class(**data["init_args"])  # its options checked; the data (MR, CoNLL) need not be here
    assert warnings_of(caplog) == []


def test_the_readmes_bag_of_words_alone_trains_with_one_warning(capsys, tmp_path):
    # README: "cls_bag.yaml with --model.init_args.ngrams 1"; the config's buckets then go unused
    code, lines = run(["fit", "--config", config("cls_bag"), *SMALL_CLS, "--model.init_args.ngrams", "1",
                       "--trainer.fast_dev_run", "1", "--trainer.default_root_dir", tmp_path], capsys)
    assert code == 0
    assert [line for line in lines if "no effect" in line] == [
        "textlab: buckets 20000: no effect without hashed n-grams (ignored): they come with encoder bag and "
        "ngrams >= 2, or linear_ngrams >= 2"]


@pytest.mark.parametrize("options, pattern", [
    (["--model.init_args.sparse_optimizer", "torch.optim.Adam"],
     r"textlab: error: sparse_optimizer Adam cannot train the bag's sparse gradients \(.+\): use "
     r"torch\.optim\.SparseAdam, or set sparse false"),
    (["--model.init_args.sparse_optimizer", "torch.optim.SGD", "--model.init_args.sparse_optimizer.init_args.lr", "0.1",
      "--model.init_args.sparse_optimizer.init_args.weight_decay", "0.01"],
     r"textlab: error: sparse_optimizer SGD cannot train the bag's sparse gradients \(.+\): use "
     r"torch\.optim\.SparseAdam, or set sparse false"),
    (["--model.init_args.sparse", "false", "--model.init_args.optimizer", "torch.optim.SparseAdam"],
     r"textlab: error: optimizer SparseAdam takes sparse gradients only, and this model's are dense: use e\.g\. "
     r"torch\.optim\.Adam \(the bag's sparse ones go to sparse_optimizer, with sparse true\)"),
])
def test_optimisers_that_cannot_take_the_gradients_are_one_line_before_training(options, pattern, capsys, tmp_path):
    line = error_of(["fit", "--config", config("cls_bag"), *SMALL_CLS, *options,
                     "--trainer.default_root_dir", tmp_path], capsys)
    assert __import__("re").fullmatch(pattern, line), line


def test_the_sparse_bag_still_trains_with_sgd(tmp_path):
    from textlab.cli import TextlabCLI

    def bag_after(*trainer_options):
        cli = TextlabCLI(["fit", "--config", str(config("cls_bag")), *SMALL_CLS, "--model.init_args.sparse_optimizer",
                          "torch.optim.SGD", "--model.init_args.sparse_optimizer.init_args.lr", "0.1",
                          "--test_after_fit", "false", "--trainer.default_root_dir", str(tmp_path), *trainer_options])
        return cli.trainer.global_step, cli.model.encoder.bag.weight.detach().clone()

    untrained = bag_after("--trainer.max_steps", "0")  # the same seeded start, no step taken
    trained = bag_after("--trainer.fast_dev_run", "1")
    assert (untrained[0], trained[0]) == (0, 2)  # one batch: a step of each optimiser, the sparse and the dense
    moved = (trained[1] != untrained[1]).any(dim=1)
    assert 0 < int(moved.sum()) < len(moved)  # the rows of the batch's words and n-grams, and only those


# -- callbacks ---------------------------------------------------------------------------------------


def test_freezing_the_word_embeddings_of_the_bag_is_one_line(capsys, tmp_path):
    line = error_of(["fit", "--config", config("cls_bag"), *SMALL_CLS,
                     "--trainer.callbacks+=textlab.callbacks.FreezeWordEmbeddings",
                     "--trainer.default_root_dir", tmp_path], capsys)
    assert line == ("textlab: error: FreezeWordEmbeddings freezes the word embeddings of a tagger or of a cnn or rnn "
                    "classifier; the bag encoder's rows hold its n-grams too: remove the callback")


def test_a_negative_unfreeze_epoch_is_refused(capsys, tmp_path):
    line = error_of(["fit", "--config", TOY_CONFIG, *SMALL_NER,
                     "--trainer.callbacks+=textlab.callbacks.FreezeWordEmbeddings",
                     "--trainer.callbacks.unfreeze_at_epoch=-1", "--trainer.default_root_dir", tmp_path], capsys)
    assert line == ("textlab: error: FreezeWordEmbeddings: unfreeze_at_epoch must be an epoch (0 or more) or null "
                    "(frozen for the whole run), not -1")


def test_unfreezing_static_embeddings_is_refused(capsys, tmp_path):
    (tmp_path / "vectors.txt").write_text("good 1 2 3 4\nbad 5 6 7 8\n")
    line = error_of(["fit", "--config", config("cls_textcnn"), *SMALL_CLS, "--model.init_args.word_dim", "4",
                     "--model.init_args.embeddings", tmp_path / "vectors.txt", "--model.init_args.embedding_mode",
                     "static", "--trainer.callbacks+=textlab.callbacks.FreezeWordEmbeddings",
                     "--trainer.callbacks.unfreeze_at_epoch=2", "--trainer.default_root_dir", tmp_path], capsys)
    assert line == ("textlab: error: FreezeWordEmbeddings(unfreeze_at_epoch=2) would train the word vectors that "
                    "embedding_mode static keeps frozen: choose embedding_mode non-static, or unfreeze_at_epoch null")


def test_freezing_random_word_vectors_and_never_reaching_the_unfreeze_epoch_are_warnings(capsys, tmp_path):
    code, lines = run(["fit", "--config", TOY_CONFIG, *SMALL_NER, "--trainer.max_epochs", "1",
                       "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1",
                       "--test_after_fit", "false", "--trainer.callbacks+=textlab.callbacks.FreezeWordEmbeddings",
                       "--trainer.callbacks.unfreeze_at_epoch=5", "--trainer.default_root_dir", tmp_path], capsys)
    assert code == 0
    assert [line for line in lines if "FreezeWordEmbeddings" in line] == [
        "textlab: FreezeWordEmbeddings keeps the pretrained word vectors as loaded, and the model loads none "
        "(--model.init_args.embeddings null): it freezes random vectors; set embeddings, or remove the callback",
        "textlab: FreezeWordEmbeddings: unfreeze_at_epoch 5 (counted from 0) comes after the last epoch of "
        "--trainer.max_epochs 1: the word embeddings stay frozen for the whole run"]


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


# -- data modules ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, value", [
    ("train_file", "my.conll"), ("val_file", "v.conll"), ("test_file", "t.conll"), ("data_dir", "data"),
    ("hf_dataset", "conll2003"), ("hf_config", "en"), ("hf_tokens_column", "words"), ("hf_tags_column", "labels"),
])
def test_the_toy_ner_set_refuses_options_that_name_data(name, value):
    with pytest.raises(TextlabError) as e:
        ToyNERDataModule(**{name: value})
    assert str(e.value) == (f"--data.{name}: the toy set (textlab.data.ToyNERDataModule) is generated and reads no "
                            f"data; for your own data pass --data textlab.data.TaggingDataModule --data.{name} ...")


def test_the_toy_ner_set_refuses_a_train_file_from_the_cli(capsys, tmp_path):
    (tmp_path / "my.conll").write_text("EU B-ORG\nrejects O\n")
    line = error_of(["fit", "--config", TOY_CONFIG, "--data.train_file", tmp_path / "my.conll",
                     "--trainer.default_root_dir", tmp_path], capsys)
    assert line == ("textlab: error: --data.train_file: the toy set (textlab.data.ToyNERDataModule) is generated and "
                    "reads no data; for your own data pass --data textlab.data.TaggingDataModule --data.train_file ...")


@pytest.mark.parametrize("options, message", [
    ({"hf_config": "en"}, "--data.hf_config en: no effect without --data.hf_dataset (ignored); name the dataset, or "
                          "remove it"),
    ({"hf_tokens_column": "words", "hf_tags_column": "labels"},
     "--data.hf_tokens_column words, --data.hf_tags_column labels: no effect without --data.hf_dataset (ignored); "
     "name the dataset, or remove them"),
])
def test_tagging_hugging_face_options_without_a_dataset_are_one_warning(options, message, caplog):
    TaggingDataModule(train_file="train.txt", **options)
    assert warnings_of(caplog) == [message]


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
    return {"data_dir": str(tmp_path), "class_files": {"pos": "r.pos", "neg": "r.neg"}}


def test_class_files_and_a_train_file_together_are_refused(class_files, csvs):
    with pytest.raises(TextlabError) as e:
        ClassificationDataModule(train_file=csvs["train"], **class_files)
    assert str(e.value) == (f"--data.train_file {csvs['train']} and --data.class_files both name the training data: "
                            "give one of them")


@pytest.mark.parametrize("options, message", [
    ({"label_column": "y"}, "--data.label_column y: no effect with --data.class_files, whose labels are their keys "
                            "(ignored); remove it"),
    ({"pretrained_words_scope": "data"}, "--data.pretrained_words_scope data: no effect without "
                                         "--data.add_pretrained_words, whose words it picks (ignored); set that too, "
                                         "or remove it"),
    ({"hf_config": "sst2"},
     "--data.hf_config sst2: no effect without --data.hf_dataset (ignored); name the dataset, or remove it"),
])
def test_classification_options_the_given_data_never_reads_are_one_warning(options, message, class_files, caplog):
    ClassificationDataModule(**class_files, **options)
    assert warnings_of(caplog) == [message]


def test_split_options_with_nothing_to_split_are_one_warning(csvs, class_files, caplog):
    def warning(module) -> str:
        caplog.clear()
        assert module.vocab  # the data still loads, the option aside
        [line] = warnings_of(caplog)
        return line

    assert warning(ClassificationDataModule(train_file=csvs["train"], val_file=csvs["val"], val_fraction=0.3)) == (
        f"--data.val_fraction 0.3: no effect, the validation data is given ({csvs['val']}) (ignored); remove it")
    assert warning(ClassificationDataModule(train_file=csvs["train"], test_file=csvs["test"], test_fraction=0.3)) == (
        f"--data.test_fraction 0.3: no effect, the test data is given ({csvs['test']}) (ignored); remove it")
    assert warning(ClassificationDataModule(train_file=csvs["train"], val_file=csvs["val"], test_fraction=0.3)) == (
        "--data.test_fraction 0.3: no effect, a test part is split off only when no validation data is given either "
        f"({csvs['val']}) (ignored); remove it")
    assert warning(ClassificationDataModule(train_file=csvs["train"], val_file=csvs["val"], test_file=csvs["test"],
                                            split_seed=4)) == (
        f"--data.split_seed 4: no effect, nothing is split off the training data (validation data: {csvs['val']}; "
        f"test data: {csvs['test']}) (ignored); remove it")
    assert warning(ClassificationDataModule(**class_files, num_folds=4, test_fraction=0.3)) == (
        "--data.test_fraction 0.3: no effect with --data.num_folds, where fold 0 is the test set (ignored); remove it")
    assert warning(ToyClassificationDataModule(num_train=30, num_val=6, num_test=6, split_seed=3)) == (
        "--data.split_seed 3: no effect, nothing is split off the training data (validation data: toy classification "
        "set (val); test data: toy classification set (test)) (ignored); remove it")


def test_split_options_that_are_used_or_ask_for_nothing_pass(csvs, class_files, caplog):
    # a fraction of 0 asks for no held-out part, and there is none: consistent with a given file
    assert ClassificationDataModule(train_file=csvs["train"], val_file=csvs["val"], val_fraction=0.0).vocab
    assert ClassificationDataModule(train_file=csvs["train"], test_file=csvs["test"], val_fraction=0.2,
                                    split_seed=3).vocab
    assert ClassificationDataModule(**class_files, num_folds=4, val_fraction=0.2, split_seed=3).vocab
    assert ToyClassificationDataModule(num_train=30, num_val=6, num_test=6, num_folds=3, split_seed=3).vocab
    assert warnings_of(caplog) == []


def test_reading_options_a_checkpoint_overrules_are_one_warning_each(ner_vocab, cls_vocab, tmp_path, caplog):
    # the checkpoint's vocabulary decides how text is read (textlab sets vocab_from from --ckpt_path)
    torch.save({"hyper_parameters": {"vocab": ner_vocab}}, tmp_path / "tagger.ckpt")
    torch.save({"hyper_parameters": {"vocab": cls_vocab}}, tmp_path / "classifier.ckpt")
    tagger, classifier = tmp_path / "tagger.ckpt", tmp_path / "classifier.ckpt"
    assert ToyNERDataModule(vocab_from=str(tagger), tag_scheme="IOB2", lowercase=True).vocab["tag_scheme"] == "BIOES"
    assert ToyClassificationDataModule(vocab_from=str(classifier), tokenizer="basic").vocab["tokenizer"] == "whitespace"
    assert ToyNERDataModule(vocab_from=str(tagger), tag_scheme="BIOES").vocab  # as trained: no warning
    assert ToyClassificationDataModule(vocab_from=str(classifier), max_tokens=5).vocab["max_tokens"] is None
    assert warnings_of(caplog) == [
        f"--data.tag_scheme IOB2: ignored, the checkpoint {tagger} was trained with tag_scheme BIOES and reads text "
        "that way",
        f"--data.lowercase true: ignored, the checkpoint {tagger} was trained with lowercase false and reads text "
        "that way",
        f"--data.tokenizer basic: ignored, the checkpoint {classifier} was trained with tokenizer whitespace and reads "
        "text that way",
        f"--data.max_tokens 5: ignored, the checkpoint {classifier} was trained with max_tokens null and reads "
        "text that way"]


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
