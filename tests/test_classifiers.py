"""The classifier blocks and the TextClassifier: masking, short inputs, the EmbeddingBag offsets path."""

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn

from textlab.data import ToyClassificationDataModule
from textlab.data.classification_batch import ClassificationVocab, collate_classification, encode_example
from textlab.errors import TextlabError
from textlab.models import TextClassifier
from textlab.models.classifier import format_confusion
from textlab.predict import Classification
from textlab.modules.classifiers import (
    NGRAM_PRIME,
    BagEncoder,
    ChannelEmbedder,
    LinearNgramBag,
    PooledRNN,
    TextCNN,
    hash_ngrams,
    masked_pool,
)
from textlab.modules.mixup import Mixup

VOCAB = {"words": ["<pad>", "<unk>", "good", "bad", "not", "movie", "very"], "labels": ["neg", "pos"], "label_counts": [3, 1]}


def padded(batch_lengths, dim=6, seed=0, pad_value=0.0):
    g = torch.Generator().manual_seed(seed)
    T = max(batch_lengths)
    x = torch.randn(len(batch_lengths), T, dim, generator=g)
    lengths = torch.tensor(batch_lengths)
    mask = torch.arange(T)[None, :] < lengths[:, None]
    return x.masked_fill(~mask[:, :, None], pad_value), mask, lengths


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
    rnn = PooledRNN(6, 5, layers, bidirectional, cell, pooling).eval()
    x, _, lengths = padded([2, 7, 4], pad_value=0.0)
    x_noisy, _, _ = padded([2, 7, 4], pad_value=123.0)  # the same texts, garbage in the pads
    out = rnn(x, lengths)  # (3, dirs * H)
    assert out.shape == (3, rnn.output_dim) and rnn.output_dim == 5 * (2 if bidirectional else 1)
    assert torch.allclose(out, rnn(x_noisy, lengths), atol=1e-6)
    for b, n in enumerate(lengths.tolist()):  # each text alone, unpadded
        assert torch.allclose(out[b], rnn(x[b : b + 1, :n], lengths[b : b + 1])[0], atol=1e-5)


def test_last_pooling_is_the_forward_state_at_the_last_real_token_and_the_backward_state_at_the_first():
    torch.manual_seed(0)
    rnn = PooledRNN(6, 4, 1, True, "lstm", "last").eval()
    x, _, lengths = padded([3, 5])
    out = rnn(x, lengths)
    full, _ = rnn.rnn(x[:1, :3])  # (1, 3, 8) the unpadded first text
    assert torch.allclose(out[0, :4], full[0, 2, :4], atol=1e-6)  # forward after token 3
    assert torch.allclose(out[0, 4:], full[0, 0, 4:], atol=1e-6)  # backward after token 1


# -- TextCNN -------------------------------------------------------------------------------------------


def test_textcnn_takes_inputs_shorter_than_the_widest_filter():
    torch.manual_seed(0)
    cnn = TextCNN(6, filters=4, widths=(3, 4, 5)).eval()
    x, mask, _ = padded([1, 2, 9])
    out = cnn(x, mask)
    assert out.shape == (3, 12) and torch.isfinite(out).all()
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


def test_multichannel_applies_each_filter_to_both_channels_and_adds():
    torch.manual_seed(0)
    embedder = ChannelEmbedder(7, 6, "multichannel")
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
    assert not ChannelEmbedder(5, 4, "static").words.weight.requires_grad
    assert ChannelEmbedder(5, 4, "non-static").words.weight.requires_grad


@pytest.mark.parametrize("mode", ["static", "non-static", "multichannel"])
def test_extra_word_dims_are_concatenated_and_always_trained(mode):
    torch.manual_seed(0)
    embedder = ChannelEmbedder(7, 4, mode, extra_dim=3)
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
    model = TextClassifier(VOCAB, encoder="cnn", word_dim=4, extra_word_dim=6, filters=2, widths=(1, 2))
    assert model.encoder.convs[0].in_channels == 10
    with pytest.raises(TextlabError, match="extra_word_dim"):
        TextClassifier(VOCAB, encoder="bag", word_dim=4, extra_word_dim=6)


@pytest.mark.parametrize("encoder", ["cnn", "rnn"])
def test_embedding_dropout_drops_token_vectors_in_training_only(encoder):
    model = TextClassifier(VOCAB, encoder=encoder, word_dim=8, filters=4, hidden_size=4, embedding_dropout=0.5)
    seen = []
    model.encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    batch = collate_classification([encode_example("good movie not bad", "pos", model.vocab)] * 50)
    torch.manual_seed(0)
    model.train()(batch)
    model.eval()(batch)
    vectors = model.embedder(batch.words)
    dropped = seen[0] == 0
    assert 0.4 < dropped.float().mean() < 0.6  # about half the numbers, each kept one scaled by 2
    assert torch.allclose(seen[0][~dropped], 2 * vectors[~dropped])
    assert torch.equal(seen[1], vectors)
    with pytest.raises(TextlabError, match="embedding_dropout"):
        TextClassifier(VOCAB, encoder="bag", word_dim=4, embedding_dropout=0.5)


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
    bag = BagEncoder(num_words=7, dim=5, ngrams=ngrams, buckets=50, mode=mode)
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


# -- the LightningModule ---------------------------------------------------------------------------


def batch_of(texts, labels=None, vocab=VOCAB):
    vocab = ClassificationVocab.from_dict(vocab)
    labels = labels or [None] * len(texts)
    return collate_classification([encode_example(t, lab, vocab) for t, lab in zip(texts, labels)])


@pytest.mark.parametrize("options", [
    {"encoder": "cnn"}, {"encoder": "cnn", "widths": [2, 7]},
    {"encoder": "rnn", "pooling": "mean", "cell": "gru"}, {"encoder": "rnn", "pooling": "last", "bidirectional": False},
    {"encoder": "bag", "ngrams": 2, "buckets": 30}, {"encoder": "bag", "bag_mode": "sum"},
    {"encoder": "cnn", "linear_ngrams": 3, "buckets": 30}, {"encoder": "rnn", "linear_ngrams": 1},
])
def test_every_encoder_gives_one_row_of_logits_per_text_however_short(options):
    model = TextClassifier(VOCAB, word_dim=8, filters=4, hidden_size=4, **options).eval()
    logits = model(batch_of(["good", "not good at all", ""]))
    assert logits.shape == (3, 2) and torch.isfinite(logits).all()


def test_linear_ngrams_add_one_class_score_per_word_and_ngram_to_the_network():
    torch.manual_seed(0)
    model = TextClassifier(VOCAB, word_dim=8, filters=4, linear_ngrams=2, buckets=30).eval()
    texts = ["good movie", "not good at all", "bad"]
    batch = batch_of(texts)
    network = model.output(model.encoder(model.embedder(batch.words), batch.mask))  # (B, K) without the bag
    assert torch.allclose(model(batch), network)  # the bag starts from zeros
    with torch.no_grad():
        model.linear_bag.weight.normal_()
        model.linear_bag.scale.uniform_(-2, 2)
    scores = model(batch) - network  # (B, K)
    weight = model.linear_bag.weight * model.linear_bag.scale  # (7 words + 30 buckets, K)
    for b, n in enumerate(batch.lengths.tolist()):
        ids = reference_ngram_ids(batch.words[b, :n].tolist(), 2, 7, 30)
        assert len(ids) == 2 * n - 1  # the words and their bigrams, summed
        assert torch.allclose(scores[b], weight[ids].sum(0), atol=1e-5)
        # the same text alone: padding changes nothing
        assert torch.allclose(model(batch_of([texts[b]]))[0], model(batch)[b], atol=1e-5)


def test_naive_bayes_scale_is_wang_and_mannings_log_count_ratio_per_class():
    bag = LinearNgramBag(num_words=7, num_classes=2, ngrams=1, buckets=0)
    texts = [[2, 2, 5], [2, 4], [3, 5]]  # good good movie (pos), good not (pos), bad movie (neg)
    flat = torch.tensor([i for t in texts for i in t])
    bag.fit_naive_bayes([(flat, torch.tensor([0, 3, 5]), torch.tensor([1, 1, 0]))], alpha=1.0)
    pos = torch.tensor([0, 0, 2, 0, 1, 1, 0]) + 1.0  # texts containing each word; 'good' twice in one text counts once
    neg = torch.tensor([0, 0, 0, 1, 0, 1, 0]) + 1.0
    r = (pos / pos.sum()).log() - (neg / neg.sum()).log()
    assert torch.allclose(bag.scale[:, 1], r) and torch.allclose(bag.scale[:, 0], -r)
    assert bag.scale[3, 1] < 0 < bag.scale[2, 1]  # 'bad' speaks against pos, 'good' for it


def test_naive_bayes_weighting_is_counted_from_the_training_texts_and_saved(tmp_path):
    dm = ToyClassificationDataModule(num_train=64, num_val=16, num_test=16, batch_size=16)
    model = TextClassifier(dm.vocab, word_dim=8, filters=4, linear_ngrams=2, buckets=50, linear_weighting="naive_bayes")
    trainer = Trainer(max_epochs=1, default_root_dir=tmp_path, enable_progress_bar=False, logger=False,
                      enable_model_summary=False)
    trainer.fit(model, datamodule=dm)
    scale = model.linear_bag.scale
    assert not torch.equal(scale, torch.ones_like(scale)) and torch.isfinite(scale).all()
    ckpt = next(tmp_path.rglob("*.ckpt"))
    assert torch.equal(torch.load(ckpt, weights_only=False)["state_dict"]["linear_bag.scale"], scale)  # written just now


@pytest.mark.parametrize("options, message", [
    ({"encoder": "bag", "linear_ngrams": 2}, "for the bag encoder use ngrams"),
    ({"linear_weighting": "naive_bayes"}, "set linear_ngrams too"),
    ({"linear_ngrams": -1}, "linear_ngrams must be 0 .none. or an n-gram length >= 1, got -1"),
])
def test_linear_ngrams_errors(options, message):
    with pytest.raises(TextlabError, match=message):
        TextClassifier(VOCAB, word_dim=4, **options)


def test_loss_options_label_smoothing_and_balanced_class_weights():
    model = TextClassifier(VOCAB, word_dim=8, filters=4, class_weights="balanced", label_smoothing=0.1)
    assert model.class_weight.tolist() == pytest.approx([4 / 6, 4 / 2])  # 3 neg, 1 pos: N / (K * n_k)
    logits, labels = torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 1])
    expected = nn.functional.cross_entropy(logits, labels, weight=model.class_weight, label_smoothing=0.1)
    assert torch.allclose(model.loss(logits, labels), expected)
    with pytest.raises(TextlabError, match="class_weights has 3 entries for 2 labels"):
        TextClassifier(VOCAB, class_weights=[1.0, 2.0, 3.0])


@pytest.mark.parametrize("weights", [[0.0, 0.0], [-1.0, 1.0], [0.0, 1.0], [float("nan"), 1.0]])
def test_class_weights_of_zero_or_less_are_refused(weights):
    with pytest.raises(TextlabError) as e:
        TextClassifier(VOCAB, word_dim=4, filters=2, class_weights=weights)
    assert str(e.value) == f"class_weights must all be > 0, got {weights} for the labels neg, pos"


@pytest.mark.parametrize("norm", [0.0, -3.0])
def test_output_max_norm_must_be_positive(norm):
    with pytest.raises(TextlabError, match=rf"^output_max_norm must be > 0 \(null: no limit\), not {norm}$"):
        TextClassifier(VOCAB, word_dim=4, filters=2, output_max_norm=norm)


@pytest.mark.parametrize("options, message", [
    ({"embedding_mode": "static"}, "needs pretrained vectors"),
    ({"embeddings": "v.txt"}, "'rand' starts from random vectors"),
    ({"encoder": "rnn", "embedding_mode": "multichannel", "embeddings": "v.txt"}, "cnn encoder only"),
    ({"encoder": "bag", "embedding_mode": "static", "embeddings": "v.txt"}, "freeze the whole bag"),
])
def test_embedding_mode_errors(options, message):
    with pytest.raises(TextlabError, match=message):
        TextClassifier(VOCAB, **options)


@pytest.mark.parametrize("mode", ["static", "non-static", "multichannel"])
def test_pretrained_vectors_fill_the_rows_and_unknown_rows_match_their_scale(tmp_path, mode):
    vectors = tmp_path / "v.txt"
    vectors.write_text("good 1 2 3 4\nbad -1 -2 -3 -4\nmovie 4 4 4 4\n")
    model = TextClassifier(VOCAB, word_dim=4, filters=2, embeddings=str(vectors), embedding_mode=mode)
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
    model = TextClassifier(VOCAB, word_dim=4, filters=2, embeddings=str(vectors), embedding_mode="non-static",
                           normalize_embeddings=True)
    model.setup("fit")
    weight = model.embedder.words.weight
    assert weight[2].tolist() == pytest.approx([0.6, 0, 0, 0.8]) and weight[5].tolist() == [0.5] * 4
    assert 0 < weight[4].abs().max() <= 1  # 'not': random, on the normalised vectors' scale


def test_sparse_bag_trains_with_a_sparse_and_a_dense_optimiser(tmp_path):
    dm = ToyClassificationDataModule(num_train=64, num_val=16, num_test=16, batch_size=16)
    model = TextClassifier(dm.vocab, encoder="bag", word_dim=8, ngrams=2, buckets=100, sparse=True, dropout=0.0,
                           sparse_optimizer=lambda p: torch.optim.SparseAdam(p, lr=0.1),
                           lr_scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 1, gamma=0.5))
    assert not model.automatic_optimization
    assert [type(c["optimizer"]).__name__ for c in model.configure_optimizers()] == ["Adam", "SparseAdam"]
    bag_before = model.encoder.bag.weight.detach().clone()
    out_before = model.output.weight.detach().clone()
    trainer = Trainer(max_epochs=2, default_root_dir=tmp_path, enable_progress_bar=False, logger=False,
                      enable_checkpointing=False, enable_model_summary=False)
    trainer.fit(model, datamodule=dm)
    assert not torch.equal(model.encoder.bag.weight, bag_before) and not torch.equal(model.output.weight, out_before)
    assert [c.scheduler.get_last_lr()[0] for c in trainer.lr_scheduler_configs] == pytest.approx([2.5e-4, 0.025])
    assert model.encoder.bag.weight.grad is None or model.encoder.bag.weight.grad.is_sparse


def test_output_max_norm_caps_the_output_rows(tmp_path):
    dm = ToyClassificationDataModule(num_train=64, num_val=16, num_test=16, batch_size=16)
    model = TextClassifier(dm.vocab, word_dim=8, filters=4, output_max_norm=0.5,
                           optimizer=lambda p: torch.optim.SGD(p, lr=5.0))
    Trainer(fast_dev_run=2, logger=False, enable_progress_bar=False, enable_model_summary=False).fit(model, datamodule=dm)
    assert model.output.weight.norm(dim=1).max() <= 0.5 + 1e-5


def test_predict_api_returns_labels_and_probabilities():
    model = TextClassifier(VOCAB, word_dim=8, filters=4)
    results = model.predict(["good movie", "", "not good"])
    assert len(results) == 3 and all(isinstance(r, Classification) for r in results)
    for r in results:
        assert set(r.probabilities) == {"neg", "pos"} and abs(sum(r.probabilities.values()) - 1) < 1e-5
        assert r.label == max(r.probabilities, key=r.probabilities.get)
    assert results[0].to_text() == f"{results[0].label}\tgood movie\n"
    assert Classification("pos", {}, "two\nlines").to_text() == "pos\ttwo lines\n"
    assert model.training  # left as it was


def test_predict_api_refuses_a_single_string():
    model = TextClassifier(VOCAB, word_dim=8, filters=4)
    with pytest.raises(TypeError, match=r"predict takes a list of texts: model.predict\(\[text\]\)"):
        model.predict("good film")
    assert len(model.predict(["good film"])) == 1


def test_confusion_matrix_format():
    assert format_confusion([[5, 1], [0, 12]], ["neg", "pos"]).splitlines() == [
        "               neg      pos",
        "neg              5        1",
        "pos              0       12",
    ]


# -- the linear bag fitted alone (linear_training separate) ------------------------------------------


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
    bag = LinearNgramBag(num_words=9, num_classes=num_classes, ngrams=2, buckets=13, bias=True)
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
    probe = LinearNgramBag(9, num_classes, 2, 13, bias=True)
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
    loose = LinearNgramBag(9, num_classes, 2, 13, bias=True)
    loose.scale.copy_(bag.scale)
    assert loose.fit_logistic_regression([(flat, offsets, labels)], l2=0.01) >= accuracy
    with pytest.raises(ValueError, match="l2 must be > 0"):
        loose.fit_logistic_regression([(flat, offsets, labels)], l2=0.0)


def test_a_separate_bag_is_fitted_before_training_then_frozen_while_the_network_trains_alone(tmp_path):
    dm = ToyClassificationDataModule(num_train=120, num_val=30, num_test=30, batch_size=16)

    def fit(**options):
        torch.manual_seed(3)
        model = TextClassifier(dm.vocab, word_dim=8, filters=4, buckets=50, **options)
        trainer = Trainer(max_epochs=2, default_root_dir=tmp_path / str(len(options)), enable_progress_bar=False,
                          logger=False, enable_model_summary=False, enable_checkpointing=False)
        trainer.fit(model, datamodule=dm)
        return model

    alone = fit()
    both = fit(linear_ngrams=2, linear_training="separate", linear_weighting="naive_bayes")
    # the network saw the same batches and steps as without the bag: the bag takes no part in its loss
    network = {k: v for k, v in both.state_dict().items() if not k.startswith("linear_bag.")}
    assert network.keys() == alone.state_dict().keys()
    assert all(torch.equal(v, alone.state_dict()[k]) for k, v in network.items())
    # the bag is what a logistic regression fitted on the training texts alone gives, untouched by training
    refit = LinearNgramBag(len(dm.vocab["words"]), 3, 2, 50, bias=True)
    batches = list(both._training_batches())
    refit.fit_naive_bayes(batches)
    accuracy = refit.fit_logistic_regression(batches, l2=1.0)
    assert accuracy > 0.9 and not both.linear_bag.weight.requires_grad
    assert torch.equal(both.linear_bag.weight, refit.weight) and torch.equal(both.linear_bag.bias, refit.bias)
    # it predicts the mean of the two models' probabilities
    both.eval()
    batch = batch_of(["the kettle is not reliable at all .", "it is sturdy"], vocab=dm.vocab)
    mean = (both.network_logits(batch).softmax(-1) + both.linear_bag(batch.flat, batch.offsets).softmax(-1)) / 2
    assert torch.allclose(both(batch).softmax(-1), mean, atol=1e-6)
    assert torch.allclose(both(batch).exp().sum(-1), torch.ones(2), atol=1e-6)


@pytest.mark.parametrize("options, message", [
    ({"linear_training": "separate"}, "linear_training 'separate' trains the linear bag: set linear_ngrams too"),
    ({"linear_ngrams": 2, "linear_training": "separate", "linear_l2": 0.0}, "linear_l2 must be > 0"),
    ({"linear_ngrams": 2, "linear_training": "separate", "linear_l2": float("inf")}, "linear_l2 must be > 0"),
])
def test_linear_training_errors(options, message):
    with pytest.raises(TextlabError, match=message):
        TextClassifier(VOCAB, word_dim=4, **options)


# -- mixup -------------------------------------------------------------------------------------------


def test_mixup_mixes_rows_with_their_partners_and_the_loss_with_their_labels():
    mix = Mixup("sentence", 0.3, torch.tensor([1, 0, 2]))
    x = torch.arange(6.0).view(3, 2)
    assert torch.allclose(mix(x), torch.tensor([[0.3 * 0 + 0.7 * 2, 0.3 * 1 + 0.7 * 3],
                                                [0.3 * 2 + 0.7 * 0, 0.3 * 3 + 0.7 * 1], [4.0, 5.0]]))
    logits, labels = torch.randn(3, 2), torch.tensor([0, 1, 1])
    expected = 0.3 * nn.functional.cross_entropy(logits, labels) + 0.7 * nn.functional.cross_entropy(
        logits, labels[[1, 0, 2]])
    assert torch.allclose(mix.loss(logits, labels), expected)
    torch.manual_seed(5)
    first = Mixup.draw("word", 0.4, 8, torch.device("cpu"))
    torch.manual_seed(5)
    again = Mixup.draw("word", 0.4, 8, torch.device("cpu"))
    assert 0 < first.lam < 1 and first.lam == again.lam and torch.equal(first.partner, again.partner)
    assert sorted(first.partner.tolist()) == list(range(8))


@pytest.mark.parametrize("encoder", ["cnn", "rnn"])
def test_word_mixup_runs_the_encoder_on_the_mixed_token_vectors_over_the_longer_text(encoder):
    torch.manual_seed(0)
    model = TextClassifier(VOCAB, encoder=encoder, word_dim=6, filters=3, hidden_size=3, mixup="word").eval()
    batch = batch_of(["good movie", "not very good bad movie"])
    mix = Mixup("word", 0.25, torch.tensor([1, 0]))
    x = model.embedder(batch.words)  # (2, 5, 6), the first text padded with zero vectors
    mixed = 0.25 * x + 0.75 * x[[1, 0]]
    mask = torch.ones(2, 5, dtype=torch.bool)  # each mixture runs over the longer text's 5 tokens
    h = model.encoder(mixed, mask) if encoder == "cnn" else model.encoder(mixed, torch.tensor([5, 5]))
    assert torch.allclose(model.network_logits(batch, mix), model.output(h), atol=1e-6)
    # a text mixed with itself is the text
    assert torch.allclose(model.network_logits(batch, Mixup("word", 0.25, torch.tensor([0, 1]))),
                          model.network_logits(batch), atol=1e-6)


def test_sentence_mixup_mixes_the_text_vectors_and_the_joint_bag_scores():
    torch.manual_seed(0)
    model = TextClassifier(VOCAB, word_dim=6, filters=3, linear_ngrams=1, mixup="sentence", dropout=0.0)
    with torch.no_grad():
        model.linear_bag.weight.normal_()
    batch = batch_of(["good movie", "not very good bad movie", "bad"], labels=["pos", "neg", "neg"])
    torch.manual_seed(1)
    loss = model._mixup_loss(batch)
    torch.manual_seed(1)
    mix = Mixup.draw("sentence", 1.0, 3, torch.device("cpu"))
    h = model.encoder(model.embedder(batch.words), batch.mask)
    bag = model.linear_bag(batch.flat, batch.offsets)
    logits = model.output(mix(h)) + mix(bag)
    assert torch.allclose(loss, mix.loss(logits, batch.labels))


@pytest.mark.parametrize("options, message", [
    ({"encoder": "bag", "mixup": "word"}, "mixup 'word' mixes token vectors before a cnn or rnn encoder"),
    ({"mixup": "sentence", "mixup_alpha": 0.0}, "mixup_alpha must be > 0"),
])
def test_mixup_errors(options, message):
    with pytest.raises(TextlabError, match=message):
        TextClassifier(VOCAB, word_dim=4, **options)
