"""Prediction on large and odd real-world input: very long sentences, lines and tokens, Unicode oddities.

Through `textlab predict` and `load_model(...).predict` as a user runs them; what must hold is that every
input sentence or line comes back once, in order, token for token, and that an odd input changes nothing
for the ordinary input beside it.
"""

import base64
import random
from functools import partial

import pytest
import torch

from conftest import ROOT, run_textlab
from textlab import load_model
from textlab.data.bucket_sampler import BucketBatchSampler
from textlab.data.prediction_batches import batches_in_order
from textlab.data.sentence import Sentence
from textlab.data.tagging_batch import MAX_WORD_CHARS, collate_tagging, encode_sentence
from textlab.data.toy_classification import generate_toy_classification
from textlab.data.toy_ner import generate_toy_ner
from textlab.modules import char_encoders

TOY_TEST = [" ".join(s.tokens) for s in generate_toy_ner(seed=0, num_train=10, num_val=10, num_test=40)["test"]]
REVIEWS = [text for text, _ in generate_toy_classification(seed=0, num_train=10, num_val=10, num_test=40)["test"]]
TINY_CLS = ["--data.num_train", "300", "--data.num_val", "50", "--data.num_test", "50", "--trainer.max_epochs", "1"]
# The tagger's input here is a pre-tokenised sentence a line, as model.predict takes it (plain text is cut by syntok)
TOKENIZED = ["--data.predict_format", "tokenized"]


def predict_file(ckpt, tmp_path, name, lines, *options):
    """``textlab predict`` on ``lines`` written one a line; the output file's text."""
    (tmp_path / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    run_textlab("predict", "--ckpt_path", ckpt, "--data.predict_file", name, "--output", name + ".out", *options,
                cwd=tmp_path)
    return (tmp_path / (name + ".out")).read_text(encoding="utf-8")


def blocks(output: str) -> list[list[tuple[str, str]]]:
    """A tagger's output as sentences of (token, tag), split on the two characters the format uses."""
    return [[tuple(line.split("\t")) for line in block.split("\n")] for block in output.rstrip("\n").split("\n\n")]


def entity_tags(sentences: list[list[tuple[str, str]]]) -> int:
    """How many tokens got an entity tag: comparing taggings says little if nearly every tag is O."""
    return sum(tag != "O" for sentence in sentences for _, tag in sentence)


@torch.no_grad()
def emissions(model, token_lists: list[list[str]]) -> torch.Tensor:
    """The tagger's scores for each tag at each position, before decoding: finer to compare than tags."""
    return model(collate_tagging([encode_sentence(Sentence(tokens), model.vocab) for tokens in token_lists]))


@pytest.fixture(scope="module", params=[["cls_textcnn"], ["cls_textcnn", "cls_lstm"]], ids=["cls_textcnn", "cls_lstm"])
def classifier(request, tmp_path_factory):
    """A classifier that pads its batches, fitted by `textlab fit --config configs/cls_textcnn.yaml` (with the
    cls_lstm.yaml variant stacked on it for the LSTM; tiny settings)."""
    run_dir = tmp_path_factory.mktemp(request.param[-1])
    configs = [arg for name in request.param for arg in ("--config", ROOT / "configs" / f"{name}.yaml")]
    run_textlab("fit", *configs, *TINY_CLS, "--test_after_fit", "false", "--trainer.default_root_dir", run_dir,
                cwd=run_dir)
    return next(run_dir.rglob("last.ckpt"))


def test_a_very_long_sentence_among_short_ones_is_tagged_as_if_each_were_alone(trained_tagger, tmp_path):
    # a file without blank lines read as CoNLL, or a log on one line: thousands of tokens in one sentence
    rng = random.Random(0)
    long_sentence = " ".join(rng.choice(TOY_TEST).split()[rng.randrange(5)] for _ in range(3000))
    lines = TOY_TEST[:5] + [long_sentence] + TOY_TEST[5:20]
    # its batch would hold 8 x 3000 positions: it is cut, and every sentence still comes back once, in order
    out = blocks(predict_file(trained_tagger["best"], tmp_path, "all.txt", lines, "--data.eval_batch_size", "8", *TOKENIZED))
    model = load_model(trained_tagger["best"])
    alone = [list(zip(r.tokens, r.tags)) for line in lines for r in model.predict([line])]
    assert [[token for token, _ in b] for b in out] == [line.split() for line in lines]
    assert out == alone and entity_tags(alone) >= 20


def test_evaluation_batches_are_cut_before_an_example_that_would_pad_them_past_the_budget():
    lengths = [10] * 20
    ordinary = [list(range(i, min(i + 8, 20))) for i in range(0, 20, 8)]
    sampler = BucketBatchSampler(lengths, 8, shuffle=False, bucket=False)
    assert list(sampler) == ordinary and len(sampler) == 3  # ordinary lengths: the batches as they always were
    assert list(batches_in_order(range(20), 8, lengths.__getitem__)) == ordinary
    lengths[5] = 3000  # 8 x 512 positions allowed: 6 x 3000 are not
    expected = [[0, 1, 2, 3, 4], [5], [6, 7], list(range(8, 16)), [16, 17, 18, 19]]
    sampler = BucketBatchSampler(lengths, 8, shuffle=False, bucket=False)
    assert list(sampler) == expected and len(sampler) == len(expected)  # Lightning stops after len() batches
    assert list(batches_in_order(range(20), 8, lengths.__getitem__)) == expected
    # training batches are never cut: the number of steps an epoch stays what it was
    training = BucketBatchSampler(lengths, 8, shuffle=True, seed=1)
    assert len(training) == 3 and sorted(len(b) for b in training) == [4, 8, 8]


def test_a_token_of_50000_characters_reads_its_first_characters_only(trained_tagger, tmp_path):
    blob = base64.b64encode(random.Random(1).randbytes(37_500)).decode()  # 50,000 characters, as in a web page
    words = TOY_TEST[3].split()
    with_blob, with_prefix = [" ".join([*words[:2], token, *words[2:]]) for token in (blob, blob[:MAX_WORD_CHARS])]
    out = blocks(predict_file(trained_tagger["best"], tmp_path, "in.txt", [TOY_TEST[0], with_blob, TOY_TEST[1],
                                                                            with_prefix], *TOKENIZED))
    assert [[token for token, _ in b] for b in out] == [TOY_TEST[0].split(), with_blob.split(), TOY_TEST[1].split(),
                                                        with_prefix.split()]
    assert out[1][2][0] == blob  # given back whole
    # both unknown words whose first characters are the same: the model reads the same thing
    model = load_model(trained_tagger["best"])
    assert torch.equal(emissions(model, [with_blob.split()]), emissions(model, [with_prefix.split()]))
    assert [tag for _, tag in out[1]] == [tag for _, tag in out[3]]
    # the sentences beside it are tagged as they are alone
    alone = model.predict([TOY_TEST[0], TOY_TEST[1]], batch_size=1)
    assert [out[0], out[2]] == [list(zip(r.tokens, r.tags)) for r in alone] and entity_tags([out[0], out[2]]) >= 2


ODD_LINES = [
    "Zero\u200bwidth joiners \u2060 and \u200b alone",  # zero-width characters are not whitespace: tokens
    "Cafe\u0301 combining e\u0301\u0301\u0301 marks",
    "emoji \U0001F44D\U0001F3FD and \U0001F468\u200d\U0001F469\u200d\U0001F467 family \U0001F1EB\U0001F1F7",
    "NBSP\u00a0splits here and a thin\u2009space too",  # Python's whitespace: token separators
    "RTL \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u202eoverride\u202c",
    "control \x07bell \x1bescape and separators a\x1cb c\x1dd e\x1ef",
    "vertical\x0btab form\x0cfeed line\u2028separator next\x85line",
    "ideographic\u3000space \u6771\u4eac \u30bf\u30ef\u30fc \U0001D518\U0001D52B\U0001D526",
    "\u00ad soft hyphen and a \ufeff byte-order mark inside",
    "\u200b\u200b\u200b",  # a sentence of one token made of nothing visible
]


def test_unicode_oddities_come_back_token_for_token_as_the_python_api_tags_them(trained_tagger, tmp_path):
    out = blocks(predict_file(trained_tagger["best"], tmp_path, "odd.txt", ODD_LINES, *TOKENIZED))
    assert [[token for token, _ in b] for b in out] == [line.split() for line in ODD_LINES]
    model = load_model(trained_tagger["best"])
    assert [[tag for _, tag in b] for b in out] == [r.tags for r in model.predict(ODD_LINES)]
    # characters never seen in training are the unknown character, in the API as in the command
    assert torch.equal(emissions(model, [["\U0001F44D"]]), emissions(model, [["\u2603"]]))
    assert not torch.equal(emissions(model, [["\U0001F44D"]]), emissions(model, [["a"]]))


def test_many_ordinary_sentences_get_the_tags_the_api_gives_each_one_alone(trained_tagger, tmp_path):
    lines = TOY_TEST * 25  # 1,000 sentences: many batches, each padded
    out = blocks(predict_file(trained_tagger["best"], tmp_path, "many.txt", lines, *TOKENIZED))
    model = load_model(trained_tagger["best"])
    alone = [model.predict([line], batch_size=1)[0] for line in TOY_TEST]
    assert [list(b) for b in out] == [list(zip(r.tokens, r.tags)) for r in alone] * 25
    assert entity_tags(out) >= 25 * 40


def test_batches_hold_the_ids_of_each_token_at_its_place(trained_tagger):
    """The padded tensors, checked position by position against the vocabulary."""
    vocab = load_model(trained_tagger["best"]).vocab
    sentences = [Sentence(line.split(), None) for line in TOY_TEST[:7]]
    sentences += [Sentence(["", "x" * 100, "\u200b", "Paris"]), Sentence(ODD_LINES[2].split())]
    batch = collate_tagging([encode_sentence(s, vocab) for s in sentences])
    T = max(len(s.tokens) for s in sentences)
    assert batch.words.shape == batch.casing.shape == batch.mask.shape == (len(sentences), T)
    assert batch.chars.shape == (len(sentences), T, MAX_WORD_CHARS) and batch.tags is None
    for b, s in enumerate(sentences):
        assert batch.lengths[b] == len(s.tokens) and batch.mask[b].tolist() == [t < len(s.tokens) for t in range(T)]
        assert batch.words[b].tolist() == [vocab.words.id(t) for t in s.tokens] + [0] * (T - len(s.tokens))
        for t, token in enumerate(s.tokens):
            ids = [vocab.chars.id(c) for c in token[:MAX_WORD_CHARS]]
            assert batch.chars[b, t].tolist() == ids + [0] * (MAX_WORD_CHARS - len(ids))
        assert not batch.chars[b, len(s.tokens):].any() and not batch.casing[b, len(s.tokens):].any()
    assert batch.tokens == [s.tokens for s in sentences]


@pytest.mark.parametrize("part", [partial(char_encoders.CharCNN, filters=6, widths=(2, 3)),
                                  partial(char_encoders.CharLSTM, hidden=5),
                                  partial(char_encoders.CharCNNandLSTM, filters=6, widths=(2, 3), hidden=5)],
                         ids=["cnn", "lstm", "both"])
def test_char_encoders_give_the_same_word_vectors_when_a_huge_batch_goes_in_slices(part, monkeypatch):
    torch.manual_seed(0)
    encoder = part(40, dim=8)
    encoder.eval()
    lengths = torch.randint(1, 13, (700,))
    chars = torch.randint(2, 40, (700, 12)).masked_fill(torch.arange(12)[None, :] >= lengths[:, None], 0)
    with torch.no_grad():
        whole = encoder(chars, lengths)
        monkeypatch.setattr(char_encoders, "MAX_CHAR_POSITIONS", 12 * 64)  # slices of 64 words
        sliced = encoder(chars, lengths)
    assert sliced.shape == whole.shape == (700, encoder.output_dim)
    torch.testing.assert_close(sliced, whole, rtol=1e-5, atol=1e-6)


def test_a_long_sentence_of_long_words_tags_the_same_in_slices(trained_tagger, monkeypatch):
    model = load_model(trained_tagger["best"])
    rng = random.Random(2)
    words = [rng.choice(TOY_TEST).split()[0] * rng.randint(1, 12) for _ in range(2000)]  # up to 64 characters read
    whole = emissions(model, [words])
    monkeypatch.setattr(char_encoders, "MAX_CHAR_POSITIONS", 64 * 100)
    torch.testing.assert_close(emissions(model, [words]), whole, rtol=1e-5, atol=1e-5)


def test_a_very_long_line_is_classified_without_changing_the_lines_beside_it(classifier, tmp_path):
    rng = random.Random(3)
    long_line = " ".join(rng.choice(REVIEWS).split()[rng.randrange(4)] for _ in range(20_000))
    lines = REVIEWS[:4] + [long_line] + REVIEWS[4:20]
    out = predict_file(classifier, tmp_path, "all.txt", lines, "--data.eval_batch_size", "8").splitlines()
    assert len(out) == len(lines) and [line.split("\t", 1)[1] for line in out] == lines
    alone = load_model(classifier).predict(REVIEWS[:20], batch_size=1)
    assert out[:4] + out[5:] == [f"{r.label}\t{r.text}" for r in alone]


def test_the_python_api_gives_a_very_long_input_a_batch_of_its_own(trained_tagger, classifier, monkeypatch):
    # load_model(...).predict batches a list itself, sorted by length and within the same padding budget as
    # textlab predict; results come back in input order
    from textlab.models import classifier as classifier_module
    from textlab.models import tagger as tagger_module

    rng = random.Random(4)
    sizes = []
    for module, collate, ckpt, texts in ((tagger_module, "collate_tagging", trained_tagger["best"], TOY_TEST),
                                         (classifier_module, "collate_classification", classifier, REVIEWS)):
        real = getattr(module, collate)
        monkeypatch.setattr(module, collate, lambda items, real=real: sizes.append(len(items)) or real(items))
        long_text = " ".join(rng.choice(texts).split()[0] for _ in range(3000))  # 8 x 3000 > 8 x 512 positions
        inputs = texts[:5] + [long_text] + texts[5:12]
        sizes.clear()
        model = load_model(ckpt)
        results = model.predict(inputs, batch_size=8)
        assert sizes == [8, 4, 1]  # sorted by length: the twelve short ones in two batches, then the long one alone
        assert [r.tokens if hasattr(r, "tokens") else r.text.split() for r in results] == [t.split() for t in inputs]
