"""Training options through the real entry point (one fast_dev_run batch each) and the callbacks."""

import os
from functools import partial

import pytest
import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.precision import MixedPrecision

from conftest import TOY_CONFIG, metric_from_table, run_textlab
from textlab.callbacks import FreezeWordEmbeddings
from textlab.cli import TextlabCLI
from textlab.data import ToyNERDataModule, Words
from textlab.data.sentence import Sentence
from textlab.data.tagging_batch import collate_tagging, encode_sentence
from textlab.models import SequenceTagger
from textlab.modules import CharCNN, CharCNNandLSTM, CharLSTM, CRFDecoder, RNNEncoder, SoftmaxDecoder, WordEmbeddings
from textlab.modules.dropout import VariationalDropout
from textlab.optim import InverseTimeDecay

SMALL = ["--data.num_train", "64", "--data.num_val", "16", "--data.num_test", "16"]
# a small tagger for the tests that build one in Python: the parts with their sizes, as a config gives them
SMALL_PARTS = dict(words=partial(WordEmbeddings, dim=8), encoder=partial(RNNEncoder, hidden_size=8))


def fit(*extra, tmp_path) -> TextlabCLI:
    """``textlab fit`` on the toy config in-process; the CLI object, whose model and trainer a test can inspect."""
    return TextlabCLI(["fit", "--config", str(TOY_CONFIG), *SMALL, "--trainer.default_root_dir", str(tmp_path), *extra])


def assert_one_step_trained(cli: TextlabCLI) -> None:
    """fast_dev_run took its optimiser step and left finite weights, whose test loss (run after fit) is finite."""
    assert cli.trainer.global_step == 1
    assert torch.isfinite(cli.trainer.callback_metrics["test/loss"])
    assert all(torch.isfinite(p).all() for p in cli.model.parameters())


# each chars part as a command line chooses it (the toy config's is a CharCNN), and the class it builds
CHARS = {
    "cnn": (["--model.init_args.chars.init_args.widths", "[2, 3]"], CharCNN),
    "lstm": (["--model.init_args.chars", "textlab.modules.CharLSTM"], CharLSTM),
    "both": (["--model.init_args.chars", "textlab.modules.CharCNNandLSTM",
              "--model.init_args.chars.init_args.widths", "[2, 3]"], CharCNNandLSTM),
    "none": (["--model.init_args.chars", "null"], type(None)),
}
DECODERS = {"crf": CRFDecoder, "softmax": SoftmaxDecoder}


@pytest.mark.parametrize("chars", list(CHARS))
@pytest.mark.parametrize("decoder", list(DECODERS))
def test_every_char_encoder_and_decoder_trains(chars, decoder, tmp_path):
    options, expected = CHARS[chars]
    cli = fit("--trainer.fast_dev_run", "1", *options,
              "--model.init_args.decoder", f"textlab.modules.{DECODERS[decoder].__name__}", tmp_path=tmp_path)
    assert type(cli.model.embedder.chars) is expected
    if chars in ("cnn", "both"):
        cnn = cli.model.embedder.chars if chars == "cnn" else cli.model.embedder.chars.cnn
        assert [conv.kernel_size[0] for conv in cnn.convs] == [2, 3]
    assert type(cli.model.decoder) is DECODERS[decoder]
    assert_one_step_trained(cli)


CHAR_PARTS = {"cnn": CharCNN, "lstm": CharLSTM, "both": CharCNNandLSTM, "none": None}


def _one_token_batch_gradients(chars: str, decoder: str) -> dict[str, torch.Tensor | None]:
    dm = ToyNERDataModule(num_train=64, num_val=8, num_test=8)
    torch.manual_seed(0)
    model = SequenceTagger(dm.vocab, **SMALL_PARTS, chars=CHAR_PARTS[chars], decoder=DECODERS[decoder], casing_dim=2)
    words = [w for w in dm.vocab["words"][2:12]]
    tags = [t for t in dm.vocab["tags"] if t != "O"][:1] + ["O"]
    batch = collate_tagging([encode_sentence(Sentence([w], [tags[i % 2]]), model.vocab) for i, w in enumerate(words)])
    assert batch.words.shape == (10, 1)
    model.decoder.loss(model(batch), batch.tags, batch.mask).backward()
    return {n: p.grad for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("chars", list(CHAR_PARTS))
@pytest.mark.parametrize("decoder", list(DECODERS))
def test_every_parameter_gets_a_gradient_from_a_batch_of_one_token_sentences_under_ddp(chars, decoder, monkeypatch):
    # DDP all-reduces every parameter's gradient each step: one left out on one process (pytorch-crf's
    # transitions on one-token sentences, which bucketing batches together) hung CoNLL training.
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda group=None: 2)
    grads = _one_token_batch_gradients(chars, decoder)
    assert [n for n, g in grads.items() if g is None] == []
    if decoder == "crf":
        assert not grads["decoder.crf.transitions"].any()


def test_in_one_process_a_batch_of_one_token_sentences_leaves_the_crf_transitions_without_gradient():
    # ... as a plain PyTorch loop would: SGD with momentum then leaves them where they are for that step,
    # where a zero gradient would move them by the momentum (and changed the CoNLL runs).
    grads = _one_token_batch_gradients("cnn", "crf")
    assert grads["decoder.crf.transitions"] is None
    assert [n for n, g in grads.items() if g is None] == ["decoder.crf.transitions"]
    transitions = torch.nn.Parameter(torch.ones(3))
    sgd = torch.optim.SGD([transitions], lr=0.1, momentum=0.9)
    transitions.grad = torch.ones(3)
    sgd.step()
    after_one = transitions.detach().clone()
    transitions.grad = None
    sgd.step()
    assert torch.equal(transitions.detach(), after_one)  # skipped without a gradient
    transitions.grad = torch.zeros(3)
    sgd.step()
    assert not torch.equal(transitions.detach(), after_one)  # moved by the momentum with a zero one


@pytest.mark.parametrize("options", [["--model.init_args.encoder.init_args.cell", "gru",
                                      "--model.init_args.encoder.init_args.num_layers", "2"],
                                     ["--model.init_args.casing_dim", "4", "--model.init_args.word_dropout", "0.1",
                                      "--model.init_args.chars.init_args.dropout", "0.5",
                                      "--model.init_args.variational_dropout", "true"],
                                     ["--data.init_args.tag_scheme", "IOB2", "--data.init_args.bucket", "false",
                                      "--model.init_args.decoder.init_args.constrained", "false"]])
def test_encoder_and_data_options(options, tmp_path):
    cli = fit("--trainer.fast_dev_run", "1", *options, tmp_path=tmp_path)
    assert_one_step_trained(cli)
    model, data = cli.model, cli.datamodule
    given = dict(zip(options[::2], options[1::2]))
    if "--model.init_args.encoder.init_args.cell" in given:  # GRU, 2 layers
        assert isinstance(model.encoder.rnn, torch.nn.GRU) and model.encoder.rnn.num_layers == 2
        assert model.encoder.rnn.hidden_size == 100  # the rest of the config's encoder stays
    if "--model.init_args.casing_dim" in given:
        assert model.embedder.casing.embedding_dim == 4
        assert model.word_dropout == 0.1 and isinstance(model.dropout, VariationalDropout)
        assert model.embedder.chars.dropout.p == 0.5
    if "--data.init_args.tag_scheme" in given:
        assert model.vocab.tag_scheme == "IOB2" and not any(t[:2] in ("E-", "S-") for t in model.tags)
        assert data.bucket is False
        assert model.decoder.allowed.all()  # unconstrained Viterbi


def test_pretrained_vectors_and_vocabulary_extension(tmp_path):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("said 1 2 3 4\nzanzibar 5 6 7 8\n")
    dm = ToyNERDataModule(num_train=64, num_val=8, num_test=8, words=Words(add_pretrained_words=str(vectors)))
    assert dm.vocab["words"][-1] == "zanzibar"  # a pretrained-only word joined the vocabulary
    model = SequenceTagger(dm.vocab, words=partial(WordEmbeddings, dim=4, pretrained=str(vectors)))
    model.setup("fit")
    words = model.embedder.words
    ids = torch.tensor([dm.vocab["words"].index(w) for w in ("said", "zanzibar")])
    assert words(ids).tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    # "zanzibar" is not a training word: its vector sits in the fixed table, not among the trainable rows
    assert len(words.weight) == dm.vocab["trainable_words"] == len(dm.vocab["words"]) - 1
    weight = words.weight
    model.setup("test")  # evaluating never reloads vectors over trained weights
    with torch.no_grad():
        weight.zero_()
    model.setup("test")
    assert weight.abs().sum() == 0


def test_normalize_embeddings_gives_every_pretrained_vector_length_one(tmp_path):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("said 3 0 0 4\nzanzibar 0 0 0 2\n")
    dm = ToyNERDataModule(num_train=64, num_val=8, num_test=8, words=Words(add_pretrained_words=str(vectors)))
    model = SequenceTagger(dm.vocab, words=partial(WordEmbeddings, dim=4, pretrained=str(vectors), normalize=True))
    model.setup("fit")
    ids = torch.tensor([dm.vocab["words"].index(w) for w in ("said", "zanzibar")])
    # the trainable row of a training word and the fixed row of a pretrained-only word alike
    assert model.embedder.words(ids).tolist() == [pytest.approx([0.6, 0, 0, 0.8]), [0, 0, 0, 1]]


def test_learning_rate_halved_when_dev_f1_stalls(tmp_path):
    # ReduceLROnPlateau steps on val/f1 at each epoch's end (flair's annealing)
    fit("--trainer.max_epochs", "3",
        "--model.init_args.optimizer.init_args.lr", "1e-9",  # nothing learns: dev F1 never improves
        "--model.init_args.lr_scheduler.class_path", "torch.optim.lr_scheduler.ReduceLROnPlateau",
        "--model.init_args.lr_scheduler.init_args.mode", "max", "--model.init_args.lr_scheduler.init_args.factor",
        "0.5", "--model.init_args.lr_scheduler.init_args.patience", "0",
        "--model.init_args.lr_scheduler.init_args.eps", "0", "--trainer.logger", "CSVLogger",
        "--trainer.logger.save_dir", str(tmp_path),
        "--trainer.callbacks+=LearningRateMonitor", "--trainer.callbacks.logging_interval=epoch", tmp_path=tmp_path)
    rows = (tmp_path / "lightning_logs/version_0/metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    column = next(i for i, name in enumerate(header) if name.startswith("lr-"))
    lrs = [float(r.split(",")[column]) for r in rows[1:] if r.split(",")[column]]
    # epoch 0 sets the best dev F1, epoch 1 does not improve on it: halved from epoch 2 (patience 0)
    assert lrs == pytest.approx([1e-9, 1e-9, 5e-10], rel=1e-6)


class _RecordEmbeddings(Callback):
    def __init__(self):
        self.snapshots = []

    def on_train_epoch_end(self, trainer, pl_module):
        self.snapshots.append(pl_module.embedder.words.weight.detach().clone())


def test_word_embeddings_frozen_then_unfrozen(tmp_path):
    dm = ToyNERDataModule(num_train=64, num_val=16, num_test=16, batch_size=16)
    model = SequenceTagger(dm.vocab, **SMALL_PARTS, chars=None)
    start = model.embedder.words.weight.detach().clone()
    record = _RecordEmbeddings()
    trainer = Trainer(
        max_epochs=2, callbacks=[FreezeWordEmbeddings(unfreeze_at_epoch=1), record], default_root_dir=tmp_path,
        enable_progress_bar=False, logger=False, enable_checkpointing=False,
    )
    trainer.fit(model, datamodule=dm)
    assert torch.equal(record.snapshots[0], start)  # epoch 0: frozen
    assert not torch.equal(record.snapshots[1], start)  # epoch 1: training


class _RecordLearningRates(Callback):
    def __init__(self):
        self.lrs = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0:  # the learning rates this epoch trains with
            self.lrs.append([group["lr"] for group in trainer.optimizers[0].param_groups])


def test_unfrozen_embeddings_follow_the_learning_rate_schedule_also_after_resuming(tmp_path):
    record = _RecordLearningRates()

    def fit_until(max_epochs, ckpt_path=None):
        dm = ToyNERDataModule(num_train=64, num_val=16, num_test=16, batch_size=16)
        model = SequenceTagger(
            dm.vocab, **SMALL_PARTS, chars=None,
            optimizer=lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9),
            lr_scheduler=lambda opt: InverseTimeDecay(opt, decay=0.5),
        )
        trainer = Trainer(
            max_epochs=max_epochs, callbacks=[FreezeWordEmbeddings(unfreeze_at_epoch=1), record,
                                              ModelCheckpoint(dirpath=tmp_path, save_last=True)],
            default_root_dir=tmp_path, enable_progress_bar=False, logger=False,
        )
        trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)

    fit_until(3)
    at_3 = torch.load(tmp_path / "last.ckpt", weights_only=True)["state_dict"]["embedder.words.weight"]
    fit_until(5, ckpt_path=tmp_path / "last.ckpt")  # resumed after the embeddings joined
    # and they go on training (Lightning gives back their optimiser group, not their requires_grad)
    assert not torch.equal(torch.load(tmp_path / "last.ckpt", weights_only=True)["state_dict"]["embedder.words.weight"], at_3)
    # the lr during epoch e is 0.1 / (1 + 0.5 e); the embeddings' group joins at epoch 1 and decays with the rest
    assert [len(lrs) for lrs in record.lrs] == [1, 2, 2, 2, 2]
    for epoch, lrs in enumerate(record.lrs):
        assert lrs == pytest.approx([0.1 / (1 + 0.5 * epoch)] * len(lrs))


def test_resume_from_last_checkpoint_continues_the_epoch_count(tmp_path):
    fit("--trainer.max_epochs", "1", tmp_path=tmp_path)
    last = next(tmp_path.rglob("last.ckpt"))
    first = torch.load(last, weights_only=True)
    # "last": the newest last.ckpt of an earlier run under default_root_dir
    fit("--trainer.max_epochs", "2", "--ckpt_path", "last", "--test_after_fit", "false", tmp_path=tmp_path)
    # the checkpoints go on in the first run's folder (ModelCheckpoint keeps its best); the logs start version_1
    assert not any(tmp_path.rglob("version_1/checkpoints"))
    resumed = torch.load(next(tmp_path.rglob("version_0/**/last.ckpt")), weights_only=True)
    assert (first["epoch"], resumed["epoch"]) == (0, 1)
    assert resumed["global_step"] == 2 * first["global_step"]


def test_bf16_mixed_precision_trains_on_the_cpu(tmp_path):
    import csv
    import math

    cli = fit("--trainer.max_epochs", "1", "--trainer.precision", "bf16-mixed", "--test_after_fit", "false",
              "--trainer.log_every_n_steps", "2", tmp_path=tmp_path)
    # the steps ran under bf16 autocast on the CPU, not in float32
    plugin = cli.trainer.precision_plugin
    assert isinstance(plugin, MixedPrecision) and plugin.device == "cpu" and plugin.precision == "bf16-mixed"
    with plugin.forward_context():
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    rows = list(csv.DictReader(next(tmp_path.rglob("metrics.csv")).open()))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert losses and all(math.isfinite(v) for v in losses)
    assert any(r.get("val/f1") for r in rows)
    ckpt = torch.load(next(tmp_path.rglob("last.ckpt")), weights_only=True)
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())


class _RecordWeights(Callback):
    """The weights after every optimiser step, and the weights each validation sees."""

    def __init__(self):
        self.steps, self.validated = [], []

    @staticmethod
    def _weights(pl_module):
        return {n: p.detach().clone() for n, p in pl_module.named_parameters()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps.append((trainer.current_epoch, trainer.global_step, self._weights(pl_module)))

    def on_validation_epoch_start(self, trainer, pl_module):
        self.validated.append(self._weights(pl_module))


def _mean(snapshots):
    return {n: torch.stack([s[n] for s in snapshots]).mean(0) for n in snapshots[0]}


def _assert_weights_equal(actual, expected):
    assert actual.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], msg=name)


def test_tail_weight_averaging_validates_checkpoints_and_resumes_the_average(tmp_path):
    from textlab.callbacks import TailWeightAveraging

    record = _RecordWeights()

    def fit_until(max_epochs, ckpt_path=None):
        dm = ToyNERDataModule(num_train=64, num_val=16, num_test=16, batch_size=16)
        model = SequenceTagger(dm.vocab, **SMALL_PARTS, chars=None,
                               optimizer=lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9))
        trainer = Trainer(
            max_epochs=max_epochs, num_sanity_val_steps=0, default_root_dir=tmp_path, enable_progress_bar=False,
            logger=False, callbacks=[TailWeightAveraging(start_epoch=1, every_n_steps=3), record,
                                     ModelCheckpoint(dirpath=tmp_path, filename="{epoch}", save_top_k=-1)],
        )
        trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
        return model

    fit_until(2)
    model = fit_until(4, ckpt_path=tmp_path / "epoch=1.ckpt")  # resumed while averaging
    steps_per_epoch = 4  # 64 sentences in batches of 16
    assert [(epoch, step) for epoch, step, _ in record.steps] == [(e, e * 4 + i + 1) for e in range(4) for i in range(4)]
    averaged = [w for epoch, step, w in record.steps if epoch >= 1 and step % 3 == 0]  # steps 6, 9, 12, 15
    assert len(averaged) == 4

    # before the average begins: validation and checkpoint are the current weights
    _assert_weights_equal(record.validated[0], record.steps[steps_per_epoch - 1][2])
    first = torch.load(tmp_path / "epoch=0.ckpt", weights_only=False)
    assert "averaging_state" not in first
    _assert_weights_equal({n: first["state_dict"][n] for n in record.validated[0]}, record.validated[0])
    # then the average of the snapshots so far, across the resume
    _assert_weights_equal(record.validated[1], _mean(averaged[:1]))  # epoch 1: step 6
    _assert_weights_equal(record.validated[3], _mean(averaged))
    last = torch.load(tmp_path / "epoch=3.ckpt", weights_only=False)
    assert int(last["averaging_state"]["n_averaged"]) == 4
    _assert_weights_equal({n: last["state_dict"][n] for n in averaged[0]}, _mean(averaged))
    _assert_weights_equal({n: last["current_model_state"][n] for n in averaged[0]}, record.steps[-1][2])
    # and the model left after training is the average
    _assert_weights_equal(dict(model.named_parameters()), _mean(averaged))


def test_tail_weight_averaging_checkpoint_tests_in_a_fresh_process_as_fit_tested_it(tmp_path):
    # enough training that the average and the current weights score apart (0.11 and 0.48 when fit's own test
    # loaded the current weights of the checkpoint instead of its average)
    data = ["--data.num_train", "300", "--data.num_val", "60", "--data.num_test", "60"]
    fitted = run_textlab(
        "fit", "--config", TOY_CONFIG, *data, "--trainer.max_epochs", "4", "--trainer.default_root_dir", tmp_path,
        "--trainer.callbacks+=textlab.callbacks.TailWeightAveraging", "--trainer.callbacks.start_epoch=1",
        "--trainer.callbacks.every_n_steps=5", cwd=tmp_path)
    best = next(tmp_path.rglob("best-*.ckpt"))
    saved = torch.load(best, weights_only=False)
    assert int(saved["averaging_state"]["n_averaged"]) > 0
    assert any(not torch.equal(saved["state_dict"][k], v) for k, v in saved["current_model_state"].items())
    tested = run_textlab("test", "--ckpt_path", best, "--data.class_path", "textlab.data.ToyNERDataModule", *data,
                         cwd=tmp_path, warnings=True)
    assert metric_from_table(tested.stdout, "test/f1") == metric_from_table(fitted.stdout, "test/f1") > 0.05
    assert "WeightAveraging" not in tested.stderr


def test_ckpt_path_last_looks_in_the_runs_of_the_root_only(tmp_path):
    from textlab.resume import newest_last_checkpoint as _newest_last_checkpoint

    other = tmp_path / "runs" / "ner_toy" / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"another config's run, under the working folder")
    assert _newest_last_checkpoint(str(tmp_path)) is None  # not resumed: that run is not one of this root's
    ours = [tmp_path / "lightning_logs" / f"version_{v}" / "checkpoints" / "last.ckpt" for v in (0, 1)]
    for i, path in enumerate(ours):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
        os.utime(path, (1000 + i, 1000 + i))
    assert _newest_last_checkpoint(str(tmp_path)) == str(ours[1])
