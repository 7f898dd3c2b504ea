"""textlab export: the ONNX model and its description, run with onnxruntime and checked against the PyTorch model
they came from (tags exactly, probabilities closely), on toy models trained by the CLI and on models built here
with every part the export supports."""

import functools
import hashlib
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from conftest import ROOT, load_script, run_textlab
from textlab.cli import main
from textlab.data.toy_classification import generate_toy_classification
from textlab.data.toy_ner import generate_toy_ner, write_conll
from textlab.data.vocab import ClassificationVocab, TaggingVocab
from textlab.errors import TextlabError
from textlab.export.model_onnx import model_onnx
from textlab.export.onnx_export import export_network
from textlab.export.tag_decoding import decoding_model, threshold_float32
from textlab.export.tagger_network import char_graph
from textlab.models import SequenceTagger, TextClassifier
from textlab.modules import (CharCNN, CharCNNandLSTM, CharLSTM, CRFDecoder, NgramBag, NgramLogisticRegression, PooledRNN,
                             RNNEncoder, SoftmaxDecoder, TextCNN, WordChannels, WordEmbeddings)
from textlab.predict import load_model

TAGS = {"IOB2": ["O"] + [f"{p}-{t}" for t in ("PER", "LOC", "ORG") for p in "BI"],
        "BIOES": ["O"] + [f"{p}-{t}" for t in ("PER", "LOC", "ORG") for p in "BIES"]}
CLASSIFIER_CONFIGS = {"cls_textcnn": [], "cls_lstm": ["cls_lstm.yaml"], "cls_bag": ["cls_bag.yaml"]}


def session(path_or_model) -> ort.InferenceSession:
    source = path_or_model.SerializeToString() if isinstance(path_or_model, onnx.ModelProto) else str(path_or_model)
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def exported_tags(run: ort.InferenceSession, model: SequenceTagger, sentences: list[list[str]]) -> list[list[str]]:
    """The export's tags for one batch, fed with the arrays PyTorch's own collate makes."""
    batch = model.collate([model.encode(tokens) for tokens in sentences])
    arrays = {"words": batch.words, "chars": batch.chars, "casing": batch.casing, "lengths": batch.lengths}
    ids = run.run(["tags"], {name: value.numpy() for name, value in arrays.items()})[0]
    assert ids.shape == tuple(batch.words.shape) and not ids[~batch.mask.numpy()].any()  # 0 past each sentence
    return [[model.tags[i] for i in row[:n]] for row, n in zip(ids.tolist(), batch.lengths.tolist())]


def pytorch_tags(model: SequenceTagger, sentences: list[list[str]]) -> list[list[str]]:
    return [result.tags for result in model.predict(sentences, batch_size=len(sentences))]


def export_in_process(*args) -> None:
    """``textlab export ...`` as the command runs it, in this process."""
    main(["export", *map(str, args)])


def save_checkpoint(model, path) -> str:
    """A model built in Python saved as a checkpoint ``load_model`` reads (weights and plain hyperparameters)."""
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    return str(path)


# -- the decoding graph against PyTorch's decoders, on random emissions --------------------------------------------

DECODERS = [(kind, scheme, constrained, p) for kind in ("crf", "softmax") for scheme in ("IOB2", "BIOES")
            for constrained in ((True, False) if kind == "crf" else (None,)) for p in (0.0, 0.5)]


@pytest.mark.parametrize("kind,scheme,constrained,min_probability", DECODERS)
def test_decoding_graph_equals_pytorch_decoding(kind, scheme, constrained, min_probability):
    torch.manual_seed(len(DECODERS) + DECODERS.index((kind, scheme, constrained, min_probability)))
    tags = TAGS[scheme]
    if kind == "crf":
        decoder = CRFDecoder(tags, scheme, constrained=constrained, min_entity_probability=min_probability)
        with torch.no_grad():
            for p in decoder.crf.parameters():
                p.normal_()
    else:
        decoder = SoftmaxDecoder(tags, scheme, min_entity_probability=min_probability)
    run = session(decoding_model(decoder))
    filtered = 0
    for trial in range(40):
        B, T = 1 + trial % 5, 1 + (trial * 7) % 11  # T = 1 included, and batches of one sentence
        lengths = torch.randint(1, T + 1, (B,))
        lengths[trial % B] = T
        emissions = torch.randn(B, T, len(tags)) * 3
        mask = torch.arange(T)[None, :] < lengths[:, None]
        expected, _ = decoder.decode(emissions, mask)
        got = run.run(["tags"], {"emissions": emissions.numpy(), "lengths": lengths.numpy()})[0]
        np.testing.assert_array_equal(got, expected.numpy(), err_msg=f"lengths {lengths.tolist()}")
        filtered += int((expected != decoder.best_paths(emissions, mask)).any())
    if min_probability:  # the filter had entities to drop, so the comparison covered it
        assert filtered >= 5


def test_threshold_float32_compares_as_pytorch_does():
    for p in (0.5, 0.3, 0.1, 0.7, 1e-8):
        t = threshold_float32(p)
        below = np.nextafter(t, np.float32(0))
        assert float(t) >= p and float(below) < p  # x < p exactly when x < t, for every float32 x


# -- the toy tagger through the command --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_sentences():
    sentences = generate_toy_ner(seed=7, num_train=1, num_val=1, num_test=150)["test"]
    return [s.tokens for s in sentences]


@pytest.fixture(scope="module")
def tagger_export(trained_tagger, tmp_path_factory):
    """`textlab export --ckpt_path BEST --format onnx --output DIR` in a subprocess, as a user runs it."""
    work = tmp_path_factory.mktemp("export")
    out = work / "ner-onnx"
    proc = run_textlab("export", "--ckpt_path", trained_tagger["best"], "--format", "onnx", "--output", out, cwd=work)
    return {"dir": out, "ckpt": trained_tagger["best"], "stderr": proc.stderr}


def test_export_writes_the_model_and_its_description(tagger_export):
    out = tagger_export["dir"]
    assert sorted(os.listdir(out)) == ["model.onnx", "textlab_model.json"]
    assert "Warning" not in tagger_export["stderr"]  # the exporter's C++ warnings are not shown on success
    model = load_model(tagger_export["ckpt"])
    manifest = json.loads((out / "textlab_model.json").read_text())
    assert manifest["format"] == "textlab-onnx" and manifest["format_version"] == 1
    assert manifest["model_class"] == "SequenceTagger"
    assert manifest["vocab"] == model.vocab.to_dict()
    assert TaggingVocab.from_dict(manifest["vocab"]).tokenizer == model.vocab.tokenizer
    assert manifest["inputs"] == ["words", "chars", "casing", "lengths"] and manifest["outputs"] == ["tags"]
    assert manifest["int8"] is False and manifest["keep_pretrained"] is None
    digest = hashlib.sha256(tagger_export["ckpt"].read_bytes()).hexdigest()
    assert manifest["source"] == {"checkpoint": tagger_export["ckpt"].name, "sha256": digest}
    graph = onnx.load(out / "model.onnx")
    onnx.checker.check_model(graph)
    assert [i.name for i in graph.graph.input] == manifest["inputs"]
    assert [o.name for o in graph.graph.output] == ["tags"]
    assert "Scan" in {node.op_type for node in graph.graph.node}  # the decoding is in the graph


def test_exported_tagger_gives_pytorch_tags_for_any_batch_and_lengths(tagger_export, toy_sentences):
    model = load_model(tagger_export["ckpt"])
    run = session(tagger_export["dir"] / "model.onnx")
    expected = pytorch_tags(model, toy_sentences)
    assert sum(tag != "O" for tags in expected for tag in tags) > 100  # a tagger that finds entities
    for batch_size in (1, 7, 150):  # batches of other sizes, sentence lengths and word lengths than the export's
        got = []
        for start in range(0, len(toy_sentences), batch_size):
            got += exported_tags(run, model, toy_sentences[start : start + batch_size])
        assert got == expected


def test_entity_filter_in_the_exported_graph_equals_pytorch(tagger_export, toy_sentences):
    model = load_model(tagger_export["ckpt"])
    unfiltered = pytorch_tags(model, toy_sentences)
    model.decoder.min_entity_probability = 0.9  # the CRF's own filter, as a config sets it
    expected = pytorch_tags(model, toy_sentences)
    assert expected != unfiltered  # some entities are dropped
    run = session(model_onnx(model).model)
    assert exported_tags(run, model, toy_sentences) == expected


def test_int8_export_is_smaller_and_mostly_agrees(tagger_export, toy_sentences, tmp_path):
    proc = run_textlab("export", "--ckpt_path", tagger_export["ckpt"], "--output", tmp_path / "int8", "--int8", "true",
                       cwd=tmp_path)
    # said once: onnxruntime's quantiser logs through the root logger, which then printed it a second time
    assert (proc.stdout + proc.stderr).count("exported") == 1, proc.stdout + proc.stderr
    manifest = json.loads((tmp_path / "int8" / "textlab_model.json").read_text())
    assert manifest["int8"] is True
    path = tmp_path / "int8" / "model.onnx"
    assert path.stat().st_size < 0.5 * (tagger_export["dir"] / "model.onnx").stat().st_size
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert "DynamicQuantizeLSTM" in ops and "Scan" in ops  # int8 weights; the decoding kept as it was
    model = load_model(tagger_export["ckpt"])
    got = exported_tags(session(path), model, toy_sentences)
    expected = pytorch_tags(model, toy_sentences)
    same = sum(a == b for g, e in zip(got, expected) for a, b in zip(g, e))
    assert same >= 0.97 * sum(map(len, expected))


def test_benchmark_script_scores_the_exports(tagger_export, tmp_path):
    write_conll(generate_toy_ner(seed=7, num_train=1, num_val=1, num_test=80)["test"], tmp_path / "test.txt")
    rows = load_script("benchmark_export").main(["--ckpt", str(tagger_export["ckpt"]), "--data-dir", str(tmp_path),
                                                 "--keep"])
    assert [row["variant"] for row in rows] == ["float32", "int8"]
    assert rows[0]["differing"] == 0 and rows[0]["change"] == 0 and rows[0]["f1"] > 0.5
    assert rows[1]["mb"] < rows[0]["mb"]


# -- taggers built here, with the parts the toy config does not use ------------------------------------------------

WORDS = ["<pad>", "<unk>", "Anna", "lives", "in", "Rome", "Acme", "hired", "Bob", "."]
PRETRAINED_ONLY = [f"word{i}" for i in range(40)]


def built_tagger(chars, casing_dim, encoder, decoder, scheme, max_norm=None) -> SequenceTagger:
    words = WORDS + PRETRAINED_ONLY
    vocab = {"words": words, "chars": ["<pad>", "<unk>"] + sorted(set("".join(words[2:]))), "tags": TAGS[scheme],
             "tag_scheme": scheme, "trainable_words": len(WORDS)}
    torch.manual_seed(0)
    model = SequenceTagger(vocab, words=functools.partial(WordEmbeddings, dim=8, max_norm=max_norm), chars=chars,
                           casing_dim=casing_dim, encoder=encoder, decoder=decoder)
    with torch.no_grad():
        model.embedder.words.pretrained_only.normal_()
        model.projection.weight.mul_(20)  # decisive emissions: entities of every kind, some dropped by a filter
    return model.eval()


TAGGERS = {
    "char LSTM, casing, 2-layer BiGRU, softmax with a filter, max_norm": dict(
        chars=functools.partial(CharLSTM, dim=5, hidden=4), casing_dim=3,
        encoder=functools.partial(RNNEncoder, hidden_size=6, cell="gru", num_layers=2),
        decoder=functools.partial(SoftmaxDecoder, min_entity_probability=0.3), scheme="IOB2", max_norm=1.0),
    "char CNN of widths 2 and 3 with a char LSTM, unconstrained CRF with a filter": dict(
        chars=functools.partial(CharCNNandLSTM, dim=5, filters=4, widths=(2, 3), hidden=3), casing_dim=0,
        encoder=functools.partial(RNNEncoder, hidden_size=5),
        decoder=functools.partial(CRFDecoder, constrained=False, min_entity_probability=0.5), scheme="BIOES"),
    "no characters, constrained CRF": dict(
        chars=None, casing_dim=0, encoder=functools.partial(RNNEncoder, hidden_size=5), decoder=CRFDecoder,
        scheme="BIOES"),
}
SENTENCES = [["Anna", "lives", "in", "Rome", "."], ["Bob"], ["word3", "hired", "Anna", "word39", "of", "Acme", "Unseen"],
             ["in", "in", "in", "Rome", "word0", "Rome", "Rome", "x" * 70, "."], ["Acme", "Bob", "."]]


@pytest.mark.parametrize("name", list(TAGGERS))
def test_exported_tagger_parts_give_pytorch_tags(name):
    model = built_tagger(**TAGGERS[name])
    run = session(model_onnx(model).model)
    expected = pytorch_tags(model, SENTENCES)
    assert any(tag != "O" for tags in expected for tag in tags)
    assert exported_tags(run, model, SENTENCES) == expected
    assert [exported_tags(run, model, [s])[0] for s in SENTENCES] == expected


@pytest.mark.parametrize("widths", [(3,), (2, 3, 4), (1, 5)])
def test_char_cnn_as_tables_equals_the_convolution(widths):
    torch.manual_seed(sum(widths))
    cnn = CharCNN(num_chars=12, dim=6, filters=4, widths=widths).eval()
    lengths = torch.tensor([1, 2, 5, 9, 3, 1])
    chars = torch.randint(1, 12, (len(lengths), 9)) * (torch.arange(9)[None, :] < lengths[:, None])
    chars[-1] = 0  # a row of padding alone, as the padding words (length 1: one padding character)
    graph = char_graph(cnn)
    with torch.no_grad():
        expected, got = cnn(chars, lengths), graph(chars, lengths)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # and the traced graph in onnxruntime: a shorter batch than the one traced, so the sizes are dynamic
    example = (chars[:, :9], lengths)
    model = export_network(graph, dict(chars=example[0], lengths=example[1]), "encoded",
                           {"chars": {0: "N", 1: "W"}, "lengths": {0: "N"}})
    short = chars[:3, :5]
    out = session(model).run(["encoded"], {"chars": short.numpy(), "lengths": lengths[:3].numpy()})[0]
    np.testing.assert_allclose(out, expected[:3].numpy(), rtol=1e-5, atol=1e-5)


def test_keep_pretrained_trims_the_word_table(tmp_path):
    model = built_tagger(**TAGGERS["no characters, constrained CRF"])
    ckpt = save_checkpoint(model, tmp_path / "tagger.ckpt")
    export_in_process("--ckpt_path", ckpt, "--output", tmp_path / "all")
    export_in_process("--ckpt_path", ckpt, "--output", tmp_path / "keep", "--keep_pretrained", 5)
    manifest = json.loads((tmp_path / "keep" / "textlab_model.json").read_text())
    assert manifest["keep_pretrained"] == 5
    assert manifest["vocab"]["words"] == WORDS + PRETRAINED_ONLY[:5]
    # 35 rows of 8 float32 fewer
    assert (tmp_path / "all" / "model.onnx").stat().st_size - (tmp_path / "keep" / "model.onnx").stat().st_size >= 35 * 8 * 4
    kept = [["Anna", "word4", "in", "Rome"], ["word0", "Bob", "."]]
    full, trimmed = session(tmp_path / "all" / "model.onnx"), session(tmp_path / "keep" / "model.onnx")
    assert exported_tags(trimmed, model, kept) == exported_tags(full, model, kept) == pytorch_tags(model, kept)
    # a word trimmed away reads as <unk>: what PyTorch gives with the trimmed vocabulary
    dropped = [["Anna", "word30", "in", "word39"]]
    model.vocab = TaggingVocab.from_dict(manifest["vocab"])
    assert exported_tags(trimmed, model, dropped) == pytorch_tags(model, dropped)


# -- classifiers ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_texts():
    return [text for text, _ in generate_toy_classification(seed=3, num_train=1, num_val=1, num_test=60)["test"]] + ["good"]


@pytest.fixture(scope="module")
def trained_classifiers(tmp_path_factory):
    """A tiny classifier of each shipped config, fitted by `textlab fit` in this process."""
    checkpoints = {}
    for name, variants in CLASSIFIER_CONFIGS.items():
        run_dir = tmp_path_factory.mktemp(name)
        configs = [arg for v in ["cls_textcnn.yaml", *variants] for arg in ("--config", ROOT / "configs" / v)]
        main(["fit", *map(str, configs), "--data.num_train", "200", "--data.num_val", "40", "--data.num_test", "0",
              "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(run_dir),
              "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"])
        checkpoints[name] = sorted(run_dir.rglob("last.ckpt"))[0]
    return checkpoints


def assert_same_probabilities(directory, model, texts):
    manifest = json.loads((directory / "textlab_model.json").read_text())
    assert manifest["model_class"] == "TextClassifier" and manifest["inputs"] == ["words", "lengths"]
    assert manifest["outputs"] == ["probabilities"] and manifest["vocab"] == model.vocab.to_dict()
    run = session(directory / "model.onnx")
    expected = model.predict(texts)
    for batch_size in (1, 16, len(texts)):
        got = []
        for start in range(0, len(texts), batch_size):
            batch = model.collate([model.encode(t) for t in texts[start : start + batch_size]])
            got.append(run.run(["probabilities"], {"words": batch.words.numpy(), "lengths": batch.lengths.numpy()})[0])
        got = np.concatenate(got)
        want = np.array([[r.probabilities[label] for label in model.labels] for r in expected])
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
        assert [model.labels[i] for i in got.argmax(axis=1)] == [r.label for r in expected]


@pytest.mark.parametrize("name", list(CLASSIFIER_CONFIGS))
def test_exported_classifier_gives_pytorch_probabilities(name, trained_classifiers, toy_texts, tmp_path):
    export_in_process("--ckpt_path", trained_classifiers[name], "--output", tmp_path / "onnx")
    assert_same_probabilities(tmp_path / "onnx", load_model(trained_classifiers[name]), toy_texts)


CLASSIFIER_PARTS = {
    "multichannel TextCNN with extra dims, NBSVM ensemble": dict(
        embedder=functools.partial(WordChannels, dim=6, pretrained="glove-6b-50d", mode="multichannel", extra_dim=3),
        encoder=functools.partial(TextCNN, filters=4, widths=(1, 2, 5)),
        ensemble=functools.partial(NgramLogisticRegression, ngrams=3, buckets=50)),
    "GRU, last states": dict(embedder=functools.partial(WordChannels, dim=6),
                             encoder=functools.partial(PooledRNN, hidden_size=4, cell="gru", pooling="last",
                                                       num_layers=2)),
    "LSTM, mean": dict(embedder=functools.partial(WordChannels, dim=6),
                       encoder=functools.partial(PooledRNN, hidden_size=4, bidirectional=False, pooling="mean")),
    "trigram bag, sum": dict(embedder=None, encoder=functools.partial(NgramBag, dim=5, ngrams=3, buckets=30, mode="sum")),
}


@pytest.mark.parametrize("name", list(CLASSIFIER_PARTS))
def test_exported_classifier_parts_give_pytorch_probabilities(name, toy_texts, tmp_path):
    words = ["<pad>", "<unk>"] + sorted({w for t in toy_texts for w in t.split()})[::2]  # half the words unknown
    vocab = {"words": words, "labels": ["negative", "neutral", "positive"], "tokenizer": "whitespace"}
    torch.manual_seed(0)
    model = TextClassifier(vocab, **CLASSIFIER_PARTS[name])
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
        if model.ensemble is not None:
            model.ensemble.scale.uniform_(0.5, 2.0)
    ckpt = save_checkpoint(model.eval(), tmp_path / "classifier.ckpt")
    export_in_process("--ckpt_path", ckpt, "--output", tmp_path / "onnx")
    assert_same_probabilities(tmp_path / "onnx", model, toy_texts)


@pytest.mark.parametrize("name", ["multichannel TextCNN with extra dims, NBSVM ensemble", "trigram bag, sum"])
def test_keep_pretrained_trims_a_classifier(name, toy_texts, tmp_path):
    """The word rows go, the n-gram rows after them stay, and a word trimmed away reads as <unk>."""
    words = ["<pad>", "<unk>"] + sorted({w for t in toy_texts for w in t.split()})
    vocab = {"words": words, "labels": ["negative", "neutral", "positive"], "trainable_words": 12}
    torch.manual_seed(1)
    model = TextClassifier(vocab, **CLASSIFIER_PARTS[name])
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    ckpt = save_checkpoint(model.eval(), tmp_path / "classifier.ckpt")
    export_in_process("--ckpt_path", ckpt, "--output", tmp_path / "onnx", "--keep_pretrained", 10)
    model.vocab = ClassificationVocab.from_dict({**vocab, "words": words[:22]})
    assert_same_probabilities(tmp_path / "onnx", model, toy_texts)


# -- what is refused ----------------------------------------------------------------------------------------------


def test_a_missing_checkpoint_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        export_in_process("--ckpt_path", tmp_path / "nope.ckpt", "--output", tmp_path / "out")
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"textlab: error: {tmp_path / 'nope.ckpt'}: no such checkpoint file"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args,message", [
    (["--format", "tflite"], "--format"),
    (["--keep_pretrained", "-1"], "--keep_pretrained -1: must be 0 or more"),
    (["--output", "{taken}"], "holds files already"),
])
def test_bad_settings_are_one_line_and_exit_2(args, message, tagger_export, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    args = [a.format(taken=taken) for a in args]
    output = [] if "--output" in args else ["--output", tmp_path / "out"]
    with pytest.raises(SystemExit) as exit_:
        export_in_process("--ckpt_path", tagger_export["ckpt"], *output, *args)
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert (taken / "notes.txt").read_text() == "mine" and not (tmp_path / "out").exists()


def test_overwrite_replaces_an_earlier_export(tagger_export, tmp_path):
    out = tmp_path / "again"
    export_in_process("--ckpt_path", tagger_export["ckpt"], "--output", out)
    export_in_process("--ckpt_path", tagger_export["ckpt"], "--output", out, "--overwrite", "true", "--int8", "true")
    assert json.loads((out / "textlab_model.json").read_text())["int8"] is True
    assert sorted(os.listdir(out)) == ["model.onnx", "textlab_model.json"]


def test_a_part_that_cannot_be_exported_is_named():
    with pytest.raises(TextlabError, match="character encoder Linear cannot be exported"):
        char_graph(torch.nn.Linear(2, 2))
