"""The classifier parts and the TextClassifier: masking, short inputs, the EmbeddingBag offsets path, and the
n-gram logistic regression (the ``ensemble`` part) fitted alone before the network trains."""

from functools import partial

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn

from textlab.data import ToyClassificationDataModule
from textlab.data.classification_batch import ClassificationVocab, collate_classification, encode_example
from textlab.errors import TextlabError
from textlab.models import TextClassifier
from textlab.models.classifier import format_confusion
from textlab.modules import NgramBag, NgramLogisticRegression, PooledRNN, TextCNN, WordChannels
from textlab.modules.ngram_bags import NGRAM_PRIME, hash_ngrams
from textlab.modules.text_encoders import masked_pool
from textlab.results import Classification

VOCAB = {"words": ["<pad>", "<unk>", "good", "bad", "not", "movie", "very"], "labels": ["neg", "pos"], "label_counts": [3, 1]}
# small parts, as a config chooses them (the model gives each the sizes the vocabulary knows)
WORDS = partial(WordChannels, dim=8)
CNN = partial(TextCNN, filters=4)
RNN = partial(PooledRNN, hidden_size=4)


def padded(batch_lengths, dim=6, seed=0, pad_value=0.0):
    g = torch.Generator().manual_seed(seed)
    T = max(batch_lengths)
    x = torch.randn(len(batch_lengths), T, dim, generator=g)
    lengths = torch.tensor(batch_lengths)
    mask = torch.arange(T)[None, :] < lengths[:, None]
    return x.masked_fill(~mask[:, :, None], pad_value), mask, lengths


def trainer(tmp_path, **options):
    settings = dict(max_epochs=1, default_root_dir=tmp_path, enable_progress_bar=False, logger=False,
                    enable_model_summary=False)
    return Trainer(**{**settings, **options})


# -- pooling and the RNN ---------------------------------------------------------------------------


def test_masked_pool_never_lets_pads_into_a_max_or_a_mean():
    h = torch.tensor([[[1.0], [3.0], [1e9]], [[-5.0], [-1e9], [1e9]]])  # (B=2, T=3, F=1), pads huge
    mask = torch.tensor([[True, True, False], [True, False, False]])
    assert masked_pool(h, mask, "max").flatten().tolist() == [3.0, -5.0]
    assert masked_pool(h, mask, "mean").flatten().tolist() == [2.0, -5.0]


@pytest.mark.parametrize("pooling", ["max", "mean", "last"])
@pytest.mark.parametrize("cell, bidirectional, layers", [("lstm", True, 1), ("gru", False, 2), ("lstm", False, 2)])
def test_pooled_rnn_output_does_not_depend_on_padding(pooling, cell, bidirectional, layers):
    torch.manual_seed(0)
    rnn = PooledRNN(6, hidden_size=5, num_layers=layers, bidirectional=bidirectional, cell=cell, pooling=pooling).eval()
    x, mask, lengths = padded([2, 7, 4], pad_value=0.0)
    x_noisy, _, _ = padded([2, 7, 4], pad_value=123.0)  # the same texts, garbage in the pads
    out = rnn(x, mask)  # (3, dirs * H)
    assert out.shape == (3, rnn.output_dim) and rnn.output_dim == 5 * (2 if bidirectional else 1)
    assert torch.allclose(out, rnn(x_noisy, mask), atol=1e-6)
    for b, n in enumerate(lengths.tolist()):  # each text alone, unpadded
        assert torch.allclose(out[b], rnn(x[b : b + 1, :n], mask[b : b + 1, :n])[0], atol=1e-5)


def test_last_pooling_is_the_forward_state_at_the_last_real_token_and_the_backward_state_at_the_first():
    torch.manual_seed(0)
    rnn = PooledRNN(6, hidden_size=4, num_layers=1, bidirectional=True, cell="lstm", pooling="last").eval()
    x, mask, _ = padded([3, 5])
    out = rnn(x, mask)
    full, _ = rnn.rnn(x[:1, :3])  # (1, 3, 8) the unpadded first text
    assert torch.allclose(out[0, :4], full[0, 2, :4], atol=1e-6)  # forward after token 3
    assert torch.allclose(out[0, 4:], full[0, 0, 4:], atol=1e-6)  # backward after token 1


# -- TextCNN -------------------------------------------------------------------------------------------


def test_textcnn_takes_inputs_shorter_than_the_widest_filter():
    torch.manual_seed(0)
    cnn = TextCNN(6, filters=4, widths=(3, 4, 5)).eval()
    x, mask, _ = padded([1, 2, 9])
    out = cnn(x, mask)
    assert out.shape == (3, 12) and cnn.output_dim == 12 and torch.isfinite(out).all()
    for b, n in enumerate([1, 2, 9]):  # alone, unpadded: the same vector
        assert torch.allclose(out[b], cnn(x[b : b + 1, :n], mask[b : b + 1, :n])[0], atol=1e-6)
    x_noisy, _, _ = padded([1, 2, 9], pad_value=50.0)
    assert torch.allclose(out, cnn(x_noisy, mask), atol=1e-6)  # pad vectors never reach a window


def test_textcnn_one_token_equals_the_filters_centre_taps_by_hand():
    """A one-token text: each window holds the token at one tap and zeros elsewhere."""
    torch.manual_seed(0)
    cnn = TextCNN(3, filters=2, widths=(2,))
    x = torch.randn(1, 1, 3)
    conv = cnn.convs[0]
    by_hand = torch.stack([conv.weight[:, :, k] @ x[0, 0] + conv.bias for k in range(2)]).max(dim=0).values
    assert torch.allclose(cnn(x, torch.ones(1, 1, dtype=torch.bool))[0], by_hand.relu(), atol=1e-6)


# -- the word vectors (WordChannels, Kim's four modes) ---------------------------------------------------


def test_multichannel_applies_each_filter_to_both_channels_and_adds():
    torch.manual_seed(0)
    embedder = WordChannels(7, dim=6, pretrained="v.txt", mode="multichannel")
    with torch.no_grad():
        embedder.words.weight.add_(torch.randn(7, 6))  # the fine-tuned copy has moved away
        embedder.words.weight[0].zero_()
    assert not embedder.static.weight.requires_grad and embedder.words.weight.requires_grad
    cnn = TextCNN(6, filters=3, widths=(2, 3))
    words = torch.tensor([[2, 3, 4], [5, 0, 0]])
    mask = words != 0
    out = cnn(embedder(words), mask)
    # by hand: each conv on each channel separately, the two results added (one bias), then masked max
    channels = [embedder.words(words), embedder.static(words)]
    pooled = []
    for conv, w in zip(cnn.convs, cnn.widths):
        h = sum(nn.functional.conv1d(c.transpose(1, 2), conv.weight, padding=w - 1) for c in channels)
        h = h + conv.bias[None, :, None]
        valid = torch.arange(3 + w - 1)[None, :] < (mask.sum(1) + w - 1)[:, None]
        pooled.append(h.masked_fill(~valid[:, None, :], float("-inf")).max(dim=2).values)
    assert torch.allclose(out, torch.cat(pooled, dim=1).relu(), atol=1e-5)


def test_static_embeddings_are_frozen():
    assert not WordChannels(5, dim=4, pretrained="v.txt", mode="static").words.weight.requires_grad
    assert WordChannels(5, dim=4, pretrained="v.txt", mode="non-static").words.weight.requires_grad
    assert WordChannels(5, dim=4, mode="rand").words.weight.requires_grad


@pytest.mark.parametrize("mode", ["static", "non-static", "multichannel"])
def test_extra_word_dims_are_concatenated_and_always_trained(mode):
    torch.manual_seed(0)
    embedder = WordChannels(7, dim=4, pretrained="v.txt", mode=mode, extra_dim=3)
    assert embedder.output_dim == 7 and embedder.extra.weight.requires_grad
    words = torch.tensor([[2, 3, 0]])
    out = embedder(words)
    assert out.shape == (1, 3, 7)
    pretrained = embedder.words(words) + (embedder.static(words) if mode == "multichannel" else 0)
    assert torch.equal(out[..., :4], pretrained) and torch.equal(out[..., 4:], embedder.extra(words))
    assert torch.equal(out[0, 2], torch.zeros(7))  # <pad> stays a zero vector in both parts
    assert not embedder.extra.weight.any()  # starts at zero: an untrained word is its pretrained vector
    out.sum().backward()
    assert embedder.extra.weight.grad[2].abs().sum() > 0  # trained even where the pretrained part is frozen
    assert (embedder.words.weight.grad is None) == (mode == "static")


def test_extra_word_dims_widen_the_text_cnn_input():
    model = TextClassifier(VOCAB, embedder=partial(WordChannels, dim=4, extra_dim=6),
                           encoder=partial(TextCNN, filters=2, widths=(1, 2)))
    assert model.embedder.output_dim == 10 and model.encoder.convs[0].in_channels == 10
    assert model.output.in_features == 4


@pytest.mark.parametrize("embedder, encoder, error, message", [
    (partial(WordChannels, dim=4, mode="static"), CNN, ValueError, "mode 'static' needs pretrained vectors"),
    (partial(WordChannels, dim=4, pretrained="v.txt"), CNN, ValueError, "'rand' starts from random vectors"),
    (partial(WordChannels, dim=4, normalize=True), CNN, ValueError, "normalize scales the pretrained vectors"),
    (partial(WordChannels, dim=4, mode="multichannel", pretrained="v.txt"), RNN, TextlabError,
     "mode 'multichannel' is for the TextCNN encoder only"),
    (WORDS, NgramBag, TextlabError, "encoder NgramBag reads word ids itself: set embedder to null"),
    (None, CNN, TextlabError, "encoder TextCNN reads word vectors: set an embedder"),
    (None, RNN, TextlabError, "encoder PooledRNN reads word vectors: set an embedder"),
])
def test_parts_that_do_not_go_together_are_refused(embedder, encoder, error, message):
    with pytest.raises(error, match=message):
        TextClassifier(VOCAB, embedder=embedder, encoder=encoder)


@pytest.mark.parametrize("mode", ["static", "non-static", "multichannel"])
def test_pretrained_vectors_fill_the_rows_and_unknown_rows_match_their_scale(tmp_path, mode):
    vectors = tmp_path / "v.txt"
    vectors.write_text("good 1 2 3 4\nbad -1 -2 -3 -4\nmovie 4 4 4 4\n")
    model = TextClassifier(VOCAB, embedder=partial(WordChannels, dim=4, pretrained=str(vectors), mode=mode),
                           encoder=partial(TextCNN, filters=2))
    model.setup("fit")
    weight = model.embedder.words.weight
    assert weight[2].tolist() == [1, 2, 3, 4] and weight[5].tolist() == [4, 4, 4, 4]
    assert weight[0].abs().sum() == 0 and weight[4].abs().max() > 0.5  # 'not': random, on the vectors' scale
    assert weight.requires_grad == (mode != "static")
    if mode == "multichannel":
        assert torch.equal(model.embedder.static.weight, weight)


def test_normalize_embeddings_scales_the_pretrained_rows_and_the_random_ones_with_them(tmp_path):
    vectors = tmp_path / "v.txt"
    vectors.write_text("good 30 0 0 40\nbad 0 -20 0 0\nmovie 4 4 4 4\n")
    model = TextClassifier(VOCAB, embedder=partial(WordChannels, dim=4, pretrained=str(vectors), mode="non-static",
                                                   normalize=True), encoder=partial(TextCNN, filters=2))
    model.setup("fit")
    weight = model.embedder.words.weight
    assert weight[2].tolist() == pytest.approx([0.6, 0, 0, 0.8]) and weight[5].tolist() == [0.5] * 4
    assert 0 < weight[4].abs().max() <= 1  # 'not': random, on the normalised vectors' scale


def test_a_bag_starts_its_word_rows_from_pretrained_vectors(tmp_path):
    vectors = tmp_path / "v.txt"
    vectors.write_text("good 1 2 3 4\nbad -1 -2 -3 -4\n")
    model = TextClassifier(VOCAB, embedder=None, encoder=partial(NgramBag, dim=4, ngrams=2, buckets=10,
                                                                 pretrained=str(vectors)))
    model.setup("fit")
    weight = model.encoder.bag.weight
    assert weight[2].tolist() == [1, 2, 3, 4] and weight[3].tolist() == [-1, -2, -3, -4]
    assert weight.shape == (7 + 10, 4) and weight.requires_grad


# -- EmbeddingBag ------------------------------------------------------------------------------------


def reference_ngram_ids(text_ids, n_max, num_words, buckets):
    ids = list(text_ids)
    for n in range(2, n_max + 1):
        for s in range(len(text_ids) - n + 1):
            h = n
            for j in range(n):
                h = (h * NGRAM_PRIME + text_ids[s + j]) % buckets
            ids.append(num_words + h)
    return ids


def test_hash_ngrams_never_cross_texts_and_match_a_reference():
    texts = [[2, 3, 4, 5], [6], [3, 2]]
    flat = torch.tensor([i for t in texts for i in t])
    offsets = torch.tensor([0, 4, 5])
    ids, new_offsets = hash_ngrams(flat, offsets, 3, 10, 97)
    expected = [reference_ngram_ids(t, 3, 10, 97) for t in texts]
    assert new_offsets.tolist() == [0, len(expected[0]), len(expected[0]) + len(expected[1])]
    assert ids.tolist() == [i for e in expected for i in e]
    assert len(expected[0]) == 4 + 3 + 2 and len(expected[1]) == 1


@pytest.mark.parametrize("mode", ["mean", "sum"])
@pytest.mark.parametrize("ngrams", [1, 3])
def test_bag_offsets_path_equals_a_padded_reference(mode, ngrams):
    torch.manual_seed(0)
    bag = NgramBag(7, dim=5, ngrams=ngrams, buckets=50, mode=mode)
    vocab = ClassificationVocab.from_dict(VOCAB)
    texts = ["good movie", "not good", "very very bad movie not good", "bad"]
    batch = collate_classification([encode_example(t, None, vocab) for t in texts])
    out = bag(batch.flat, batch.offsets)  # (B, 5), no pads anywhere
    # the reference: padded ids of words and n-grams, an nn.Embedding with the same weights, masked pooling
    rows = [reference_ngram_ids(batch.words[b, :n].tolist(), ngrams, 7, 50) for b, n in enumerate(batch.lengths.tolist())]
    T = max(map(len, rows))
    ids = torch.tensor([r + [0] * (T - len(r)) for r in rows])
    mask = torch.tensor([[True] * len(r) + [False] * (T - len(r)) for r in rows])
    embedding = nn.Embedding.from_pretrained(bag.bag.weight.detach())
    vectors = embedding(ids) * mask[:, :, None]  # (B, T, 5)
    reference = vectors.sum(1) / (mask.sum(1, keepdim=True) if mode == "mean" else 1)
    assert torch.allclose(out, reference, atol=1e-6)
    assert bag.bag.weight.shape[0] == 7 + (50 if ngrams > 1 else 0)  # no n-gram rows for words alone


@pytest.mark.parametrize("part, options, message", [
    (NgramBag, {"ngrams": 0}, "ngrams must be >= 1"),
    (NgramBag, {"ngrams": 2, "buckets": 0}, "hashed n-grams need buckets >= 1, got 0"),
    (NgramBag, {"normalize": True}, "normalize scales the pretrained vectors"),
    (partial(NgramLogisticRegression, num_classes=2), {"ngrams": 0}, "ngrams must be >= 1"),
    (partial(NgramLogisticRegression, num_classes=2), {"ngrams": 3, "buckets": 0}, "hashed n-grams need buckets >= 1"),
    (partial(NgramLogisticRegression, num_classes=2), {"l2": 0.0}, r"l2 must be > 0 \(the logistic"),
    (partial(NgramLogisticRegression, num_classes=2), {"l2": float("inf")}, r"l2 must be > 0 \(the logistic"),
])
def test_ngram_part_settings_are_checked(part, options, message):
    with pytest.raises(ValueError, match=message):
        part(7, **options)


# -- the LightningModule ---------------------------------------------------------------------------


def batch_of(texts, labels=None, vocab=VOCAB):
    vocab = ClassificationVocab.from_dict(vocab)
    labels = labels or [None] * len(texts)
    return collate_classification([encode_example(t, lab, vocab) for t, lab in zip(texts, labels)])


@pytest.mark.parametrize("parts", [
    {"encoder": CNN}, {"encoder": partial(TextCNN, filters=4, widths=[2, 7])},
    {"encoder": partial(RNN, pooling="mean", cell="gru")}, {"encoder": partial(RNN, pooling="last", bidirectional=False)},
    {"embedder": None, "encoder": partial(NgramBag, dim=8, ngrams=2, buckets=30)},
    {"embedder": None, "encoder": partial(NgramBag, dim=8, mode="sum")},
    {"encoder": CNN, "ensemble": partial(NgramLogisticRegression, ngrams=3, buckets=30)},
    {"encoder": RNN, "ensemble": partial(NgramLogisticRegression, ngrams=1)},
])
def test_every_encoder_gives_one_row_of_log_probabilities_per_text_however_short(parts):
    model = TextClassifier(VOCAB, **{"embedder": WORDS, **parts}).eval()
    log_probabilities = model(batch_of(["good", "not good at all", ""]))
    assert log_probabilities.shape == (3, 2) and torch.isfinite(log_probabilities).all()
    assert torch.allclose(log_probabilities.exp().sum(-1), torch.ones(3), atol=1e-6)
    assert model.network_logits(batch_of(["good"])).shape == (1, 2)


def test_the_ensemble_scores_each_word_and_ngram_and_is_averaged_with_the_network_in_probability():
    torch.manual_seed(0)
    model = TextClassifier(VOCAB, embedder=WORDS, encoder=CNN,
                           ensemble=partial(NgramLogisticRegression, ngrams=2, buckets=30)).eval()
    texts = ["good movie", "not good at all", "bad"]
    batch = batch_of(texts)
    with torch.no_grad():
        model.ensemble.weight.normal_()
        model.ensemble.scale.uniform_(-2, 2)
        model.ensemble.bias.copy_(torch.tensor([0.3, -0.1]))
    weight = model.ensemble.weight * model.ensemble.scale  # (7 words + 30 buckets, K)
    scores = model.ensemble(batch.flat, batch.offsets)  # (B, K)
    for b, n in enumerate(batch.lengths.tolist()):
        ids = reference_ngram_ids(batch.words[b, :n].tolist(), 2, 7, 30)
        assert len(ids) == 2 * n - 1  # the words and their bigrams, summed
        assert torch.allclose(scores[b], weight[ids].sum(0) + model.ensemble.bias, atol=1e-5)
    mean = (model.network_logits(batch).softmax(-1) + scores.softmax(-1)) / 2
    assert torch.allclose(model(batch).exp(), mean, atol=1e-6)
    for b, text in enumerate(texts):  # the same text alone: padding changes nothing
        assert torch.allclose(model(batch_of([text]))[0], model(batch)[b], atol=1e-5)


def test_naive_bayes_scale_is_wang_and_mannings_log_count_ratio_per_class():
    bag = NgramLogisticRegression(7, 2, ngrams=1, buckets=0)
    texts = [[2, 2, 5], [2, 4], [3, 5]]  # good good movie (pos), good not (pos), bad movie (neg)
    flat = torch.tensor([i for t in texts for i in t])
    bag.fit_naive_bayes([(flat, torch.tensor([0, 3, 5]), torch.tensor([1, 1, 0]))], alpha=1.0)
    pos = torch.tensor([0, 0, 2, 0, 1, 1, 0]) + 1.0  # texts containing each word; 'good' twice in one text counts once
    neg = torch.tensor([0, 0, 0, 1, 0, 1, 0]) + 1.0
    r = (pos / pos.sum()).log() - (neg / neg.sum()).log()
    assert torch.allclose(bag.scale[:, 1], r) and torch.allclose(bag.scale[:, 0], -r)
    assert bag.scale[3, 1] < 0 < bag.scale[2, 1]  # 'bad' speaks against pos, 'good' for it


def test_balanced_class_weights_are_inverse_training_frequencies_and_weigh_the_loss():
    model = TextClassifier(VOCAB, embedder=WORDS, encoder=CNN, class_weights="balanced", dropout=0.0).eval()
    assert model.class_weight.tolist() == pytest.approx([4 / 6, 4 / 2])  # 3 neg, 1 pos: N / (K * n_k)
    batch = batch_of(["good movie", "bad", "not good"], labels=["pos", "neg", "neg"])
    model.log = lambda *args, **kwargs: None  # no trainer to log to
    expected = nn.functional.cross_entropy(model.network_logits(batch), batch.labels, weight=model.class_weight)
    assert torch.allclose(model.training_step(batch, 0), expected)
    unweighted = nn.functional.cross_entropy(model.network_logits(batch), batch.labels)
    assert not torch.allclose(expected, unweighted)
    with pytest.raises(TextlabError, match="class_weights has 3 entries for 2 labels"):
        TextClassifier(VOCAB, embedder=WORDS, encoder=CNN, class_weights=[1.0, 2.0, 3.0])


@pytest.mark.parametrize("weights", [[0.0, 0.0], [-1.0, 1.0], [0.0, 1.0], [float("nan"), 1.0]])
def test_class_weights_of_zero_or_less_are_refused(weights):
    with pytest.raises(TextlabError) as e:
        TextClassifier(VOCAB, embedder=WORDS, encoder=CNN, class_weights=weights)
    assert str(e.value) == f"class_weights must all be > 0, got {weights} for the labels neg, pos"


@pytest.mark.parametrize("norm", [0.0, -3.0])
def test_output_max_norm_must_be_positive(norm):
    with pytest.raises(TextlabError, match=rf"^output_max_norm must be > 0 \(null: no limit\), not {norm}$"):
        TextClassifier(VOCAB, embedder=WORDS, encoder=CNN, output_max_norm=norm)


def test_sparse_bag_trains_with_a_sparse_and_a_dense_optimiser(tmp_path):
    dm = ToyClassificationDataModule(num_train=64, num_val=16, num_test=16, batch_size=16)
    bag = partial(NgramBag, dim=8, ngrams=2, buckets=100, sparse_optimizer=lambda p: torch.optim.SparseAdam(p, lr=0.1))
    model = TextClassifier(dm.vocab, embedder=None, encoder=bag, dropout=0.0,
                           lr_scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 1, gamma=0.5))
    assert not model.automatic_optimization and model.encoder.bag.sparse
    assert [type(c["optimizer"]).__name__ for c in model.configure_optimizers()] == ["Adam", "SparseAdam"]
    bag_before = model.encoder.bag.weight.detach().clone()
    out_before = model.output.weight.detach().clone()
    fit = trainer(tmp_path, max_epochs=2, enable_checkpointing=False)
    fit.fit(model, datamodule=dm)
    assert not torch.equal(model.encoder.bag.weight, bag_before) and not torch.equal(model.output.weight, out_before)
    assert [c.scheduler.get_last_lr()[0] for c in fit.lr_scheduler_configs] == pytest.approx([2.5e-4, 0.025])
    assert model.encoder.bag.weight.grad is None or model.encoder.bag.weight.grad.is_sparse


def test_a_bag_without_a_sparse_optimizer_trains_dense_with_the_models_optimiser():
    model = TextClassifier(VOCAB, embedder=None, encoder=partial(NgramBag, dim=8))
    assert model.automatic_optimization and not model.encoder.bag.sparse
    optimizer = model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam)
    assert any(p is model.encoder.bag.weight for group in optimizer.param_groups for p in group["params"])


def test_output_max_norm_caps_the_output_rows(tmp_path):
    dm = ToyClassificationDataModule(num_train=64, num_val=16, num_test=16, batch_size=16)
    model = TextClassifier(dm.vocab, embedder=WORDS, encoder=CNN, output_max_norm=0.5,
                           optimizer=lambda p: torch.optim.SGD(p, lr=5.0))
    Trainer(fast_dev_run=2, logger=False, enable_progress_bar=False, enable_model_summary=False).fit(model, datamodule=dm)
    assert model.output.weight.norm(dim=1).max() <= 0.5 + 1e-5


def test_predict_api_returns_labels_and_probabilities():
    model = TextClassifier(VOCAB, embedder=WORDS, encoder=CNN).eval()
    results = model.predict(["good movie", "", "not good"])
    assert len(results) == 3 and all(isinstance(r, Classification) for r in results)
    for r in results:
        assert set(r.probabilities) == {"neg", "pos"} and abs(sum(r.probabilities.values()) - 1) < 1e-5
        assert r.label == max(r.probabilities, key=r.probabilities.get)
    assert results[0].to_text() == f"{results[0].label}\tgood movie\n"
    assert Classification("pos", {}, "two\nlines").to_text() == "pos\ttwo lines\n"
    assert not model.training  # left as it was
    # the same texts in other batches: the same probabilities
    again = model.predict(["not good", "good movie"], batch_size=1)
    assert again[0].probabilities == pytest.approx(results[2].probabilities, abs=1e-6)
    assert again[1].probabilities == pytest.approx(results[0].probabilities, abs=1e-6)


def test_predict_api_needs_eval_mode_and_refuses_a_single_string():
    model = TextClassifier(VOCAB, embedder=WORDS, encoder=CNN)
    with pytest.raises(RuntimeError, match=r"predict needs the model in eval mode: call model.eval\(\) first"):
        model.predict(["good film"])
    assert model.training  # the call switched nothing
    model.eval()
    with pytest.raises(TypeError, match=r"predict takes a list of texts, not a string: model.predict\(\[text\]\)"):
        model.predict("good film")
    assert len(model.predict(["good film"])) == 1


def test_confusion_matrix_format():
    assert format_confusion([[5, 1], [0, 12]], ["neg", "pos"]).splitlines() == [
        "               neg      pos",
        "neg              5        1",
        "pos              0       12",
    ]


# -- the ensemble: a logistic regression on n-grams, fitted alone before the network trains ------------


def regularised_loss(bag, flat, offsets, labels, l2):
    scores = nn.functional.embedding_bag(flat, bag.weight * bag.scale, offsets, mode="sum") + bag.bias
    return nn.functional.cross_entropy(scores.double(), labels, reduction="sum") + 0.5 * l2 * bag.weight.double().pow(2).sum()


@pytest.mark.parametrize("num_classes, naive_bayes", [(2, False), (2, True), (3, False)])
def test_logistic_regression_fit_reaches_the_regularised_optimum_without_drawing_random_numbers(num_classes, naive_bayes):
    g = torch.Generator().manual_seed(num_classes)
    lengths = torch.randint(1, 6, (40,), generator=g)
    flat = torch.randint(2, 9, (int(lengths.sum()),), generator=g)
    offsets = torch.cumsum(lengths, 0) - lengths
    labels = torch.randint(0, num_classes, (40,), generator=g)
    bag = NgramLogisticRegression(9, num_classes, ngrams=2, buckets=13)
    if naive_bayes and num_classes == 2:
        bag.fit_naive_bayes([(flat, offsets, labels)])
    rng = torch.get_rng_state()
    # in two batches, as the model hands over its training texts
    half = int(offsets[20])
    accuracy = bag.fit_logistic_regression([(flat[:half], offsets[:20], labels[:20]),
                                            (flat[half:], offsets[20:] - half, labels[20:])], l2=0.5)
    assert torch.equal(torch.get_rng_state(), rng)
    # the features of the whole set at once: the weights must be the optimum of sklearn's objective on them
    ids, ids_offsets = bag.features(flat, offsets)
    weight, bias = bag.weight.detach().clone().requires_grad_(), bag.bias.detach().clone().requires_grad_()
    probe = NgramLogisticRegression(9, num_classes, ngrams=2, buckets=13)
    probe.scale.copy_(bag.scale)
    probe.weight, probe.bias = nn.Parameter(weight), nn.Parameter(bias)
    loss = regularised_loss(probe, ids, ids_offsets, labels, 0.5)
    loss.backward()
    # a gradient of zero where some feature occurs; rows no text holds stay at zero weight (the penalty's optimum)
    assert probe.weight.grad.abs().max() < 1e-3 and probe.bias.grad.abs().max() < 1e-3  # float32 weights
    assert bag.weight.abs().sum() > 0
    with torch.no_grad():
        scores = bag(flat, offsets)
    assert accuracy == pytest.approx((scores.argmax(1) == labels).double().mean().item())
    # a smaller penalty fits the training texts at least as well
    loose = NgramLogisticRegression(9, num_classes, ngrams=2, buckets=13)
    loose.scale.copy_(bag.scale)
    assert loose.fit_logistic_regression([(flat, offsets, labels)], l2=0.01) >= accuracy
    with pytest.raises(ValueError, match="l2 must be > 0"):
        loose.fit_logistic_regression([(flat, offsets, labels)], l2=0.0)


def test_fit_sets_naive_bayes_scale_only_when_asked_and_marks_the_part_fitted():
    flat, offsets, labels = torch.tensor([2, 5, 3, 5, 2]), torch.tensor([0, 2, 4]), torch.tensor([1, 0, 1])
    for naive_bayes in (True, False):
        part = NgramLogisticRegression(7, 2, ngrams=2, buckets=11, naive_bayes=naive_bayes)
        assert not part.fitted
        assert part.fit([(flat, offsets, labels)]) == 1.0  # three texts, separable
        assert bool(part.fitted) and part.weight.abs().sum() > 0
        assert torch.equal(part.scale, torch.ones_like(part.scale)) != naive_bayes


def training_batches(examples, vocab, size):
    vocab = ClassificationVocab.from_dict(vocab)
    batches = []
    for start in range(0, len(examples), size):
        batch = collate_classification([encode_example(e.text, e.label, vocab) for e in examples[start : start + size]])
        batches.append((batch.flat, batch.offsets, batch.labels))
    return batches


def test_fit_ensemble_gives_the_part_a_direct_fit_on_the_training_texts_gives():
    dm = ToyClassificationDataModule(num_train=120, num_val=30, num_test=30)
    model = TextClassifier(dm.vocab, embedder=WORDS, encoder=CNN,
                           ensemble=partial(NgramLogisticRegression, ngrams=2, buckets=50, l2=0.5))
    rng = torch.get_rng_state()
    model.fit_ensemble(dm.examples("train"))
    assert torch.equal(torch.get_rng_state(), rng)  # the network's training draws what it would without the ensemble
    direct = NgramLogisticRegression(len(dm.vocab["words"]), 3, ngrams=2, buckets=50, l2=0.5)
    # in other batches than fit_ensemble's: the fit sees all the texts at once
    accuracy = direct.fit(training_batches(dm.examples("train"), dm.vocab, size=32))
    assert accuracy > 0.9 and bool(model.ensemble.fitted)
    for name in ("weight", "bias", "scale"):
        assert torch.allclose(getattr(model.ensemble, name), getattr(direct, name), atol=1e-6), name
    assert not torch.equal(direct.scale, torch.ones_like(direct.scale))  # naive_bayes is the default


def test_a_model_with_an_unfitted_ensemble_refuses_to_train(tmp_path):
    dm = ToyClassificationDataModule(num_train=32, num_val=8, num_test=8, batch_size=16)
    model = TextClassifier(dm.vocab, embedder=WORDS, encoder=CNN, ensemble=partial(NgramLogisticRegression, ngrams=1))
    before = model.output.weight.detach().clone()
    with pytest.raises(TextlabError, match=r"the ensemble is fitted on the training texts before the network trains: "
                                           r"textlab fit does this; in Python call "
                                           r"model.fit_ensemble\(datamodule.examples\('train'\)\) first"):
        trainer(tmp_path, enable_checkpointing=False).fit(model, datamodule=dm)
    assert torch.equal(model.output.weight, before)  # not a step taken
    # fitted, it trains
    model.fit_ensemble(dm.examples("train"))
    trainer(tmp_path, enable_checkpointing=False).fit(model, datamodule=dm)
    assert not torch.equal(model.output.weight, before)


def test_the_ensemble_is_fitted_before_training_then_frozen_while_the_network_trains_alone(tmp_path):
    dm = ToyClassificationDataModule(num_train=120, num_val=30, num_test=30, batch_size=16)

    def fit(ensemble=None):
        torch.manual_seed(3)
        model = TextClassifier(dm.vocab, embedder=WORDS, encoder=CNN, ensemble=ensemble)
        if ensemble is not None:
            model.fit_ensemble(dm.examples("train"))
        trainer(tmp_path / str(ensemble is not None), max_epochs=2).fit(model, datamodule=dm)
        return model

    alone = fit()
    both = fit(partial(NgramLogisticRegression, ngrams=2, buckets=50))
    # the network saw the same batches and steps as without the ensemble: it takes no part in the loss
    network = {k: v for k, v in both.state_dict().items() if not k.startswith("ensemble.")}
    assert network.keys() == alone.state_dict().keys()
    assert all(torch.equal(v, alone.state_dict()[k]) for k, v in network.items())
    # the ensemble is what a logistic regression fitted on the training texts alone gives, untouched by training
    refit = NgramLogisticRegression(len(dm.vocab["words"]), 3, ngrams=2, buckets=50)
    refit.fit(training_batches(dm.examples("train"), dm.vocab, size=1000))
    assert not both.ensemble.weight.requires_grad and not both.ensemble.bias.requires_grad
    assert torch.equal(both.ensemble.weight, refit.weight) and torch.equal(both.ensemble.bias, refit.bias)
    # it predicts the mean of the two models' probabilities
    both.eval()
    batch = batch_of(["the kettle is not reliable at all .", "it is sturdy"], vocab=dm.vocab)
    mean = (both.network_logits(batch).softmax(-1) + both.ensemble(batch.flat, batch.offsets).softmax(-1)) / 2
    assert torch.allclose(both(batch).exp(), mean, atol=1e-6)
    assert torch.allclose(both(batch).exp().sum(-1), torch.ones(2), atol=1e-6)
    # the checkpoint holds the fitted part (its naive-Bayes scale too): loaded, it needs no refit
    ckpt = torch.load(next((tmp_path / "True").rglob("*.ckpt")), weights_only=False)["state_dict"]
    assert torch.equal(ckpt["ensemble.scale"], refit.scale) and not torch.equal(refit.scale, torch.ones_like(refit.scale))
    assert torch.equal(ckpt["ensemble.weight"], refit.weight) and bool(ckpt["ensemble.fitted"])
    loaded = TextClassifier(dm.vocab, embedder=WORDS, encoder=CNN, ensemble=partial(NgramLogisticRegression, ngrams=2,
                                                                                    buckets=50))
    loaded.load_state_dict(ckpt)
    assert bool(loaded.ensemble.fitted)
    assert torch.allclose(loaded.eval()(batch), both(batch), atol=1e-6)
