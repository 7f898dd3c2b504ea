"""The nn building blocks: shapes, masking, and the CRF against pytorch-crf's own decoder."""

import pytest
import torch
import torchcrf

from textlab.modules.char_encoders import CharCNN, CharCNNandLSTM, CharLSTM, _convolve
from textlab.modules.crf import CRFDecoder, SoftmaxDecoder, allowed_transitions, viterbi_decode
from textlab.modules.crf_loss import crf_negative_log_likelihood
from textlab.modules.dropout import Dropout, VariationalDropout
from textlab.modules.embedders import TokenEmbedder, WordEmbeddings
from textlab.modules.encoders import RNNEncoder

KINDS = {"cnn": CharCNN, "lstm": CharLSTM, "both": CharCNNandLSTM}


def build_char_encoder(kind, num_chars, dim=30, filters=30, widths=(3,), hidden=25, dropout=0.0):
    """The chars part ``kind`` with the options it takes, as a config would build it."""
    if kind == "lstm":
        return CharLSTM(num_chars, dim=dim, hidden=hidden, dropout=dropout)
    if kind == "cnn":
        return CharCNN(num_chars, dim=dim, filters=filters, widths=widths, dropout=dropout)
    return CharCNNandLSTM(num_chars, dim=dim, filters=filters, widths=widths, hidden=hidden, dropout=dropout)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("widths", [(3,), (2, 3, 4)])
def test_char_encoder_shape_and_pads_never_change_a_word(kind, widths):
    torch.manual_seed(0)
    enc = build_char_encoder(kind, num_chars=20, dim=8, filters=5, widths=widths, hidden=4).eval()
    word = torch.tensor([[3, 4, 5]])
    alone = enc(word, torch.tensor([3]))
    assert alone.shape == (1, enc.output_dim)
    # the same word in a batch with a longer word: padded with 0s, lengths say 3
    batch = torch.tensor([[3, 4, 5, 0, 0, 0, 0], [6, 7, 8, 9, 10, 11, 12]])
    together = enc(batch, torch.tensor([3, 7]))
    assert together.shape == (2, enc.output_dim)
    assert torch.allclose(together[0], alone[0], atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_char_dropout_acts_in_training_only(kind):
    torch.manual_seed(0)
    plain = build_char_encoder(kind, num_chars=20, dim=8, filters=5, hidden=4)
    dropped = build_char_encoder(kind, num_chars=20, dim=8, filters=5, hidden=4, dropout=0.5)
    dropped.load_state_dict(plain.state_dict())  # dropout has no weights: same encoder, same state
    words, lengths = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]]), torch.tensor([4, 2])
    assert torch.equal(dropped.eval()(words, lengths), plain.eval()(words, lengths))
    assert not torch.equal(dropped.train()(words, lengths), plain.train()(words, lengths))


def test_char_cnn_max_ignores_pad_positions_even_when_features_are_negative():
    torch.manual_seed(0)
    enc = build_char_encoder("cnn", num_chars=10, dim=4, filters=3, widths=(3,))
    with torch.no_grad():
        for conv in enc.convs:
            conv.bias.fill_(-100.0)  # every real position is very negative; a pad position would be 0 * w - 100
            conv.weight.fill_(-1.0)
        enc.embedding.weight.abs_()
    out = enc(torch.tensor([[1, 2, 0, 0, 0]]), torch.tensor([2]))
    assert (out < -100).all()  # no pad position (whose value would be -100 exactly) won the max


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5])
def test_char_cnn_product_is_conv1d_in_values_and_gradients(width):
    # CharCNN computes its Conv1d as one matrix product of the character windows (speed on the CPU): the same
    # values and gradients as the module itself, the first L positions of an even width's L + 1
    torch.manual_seed(width)
    conv = torch.nn.Conv1d(6, 4, width, padding=width // 2)
    x = torch.randn(5, 7, 6, requires_grad=True)  # (N, L, C)
    product = _convolve(x, conv)
    product.pow(2).sum().backward()
    grads = [x.grad.clone(), conv.weight.grad.clone(), conv.bias.grad.clone()]
    x.grad = conv.weight.grad = conv.bias.grad = None
    expected = conv(x.transpose(1, 2))[:, :, :7].transpose(1, 2)
    expected.pow(2).sum().backward()
    torch.testing.assert_close(product, expected, rtol=1e-5, atol=1e-6)
    for got, want in zip(grads, [x.grad, conv.weight.grad, conv.bias.grad]):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_char_encoders_refuse_settings_that_would_train_nothing():
    with pytest.raises(ValueError, match="filters >= 1 and widths >= 1"):
        CharCNN(10, filters=0)
    with pytest.raises(ValueError, match="filters >= 1 and widths >= 1"):
        CharCNNandLSTM(10, widths=())
    with pytest.raises(ValueError, match="dropout 1.0 drops every character"):
        CharLSTM(10, dropout=1.0)


def test_token_embedder_zero_char_vector_for_padding_words():
    torch.manual_seed(0)
    words = WordEmbeddings(10, dim=6)
    emb = TokenEmbedder(words, CharCNN(12, dim=4, filters=5), num_casings=8, casing_dim=3)
    assert emb.output_dim == 6 + 5 + 3
    w = torch.tensor([[2, 3, 4], [5, 0, 0]])
    chars = torch.zeros(2, 3, 4, dtype=torch.long)
    chars[0, :, :2] = 2
    chars[1, 0, :3] = 3
    mask = w != 0
    out = emb(w, chars, torch.ones_like(w), mask)
    assert out.shape == (2, 3, 14)
    assert torch.equal(out[1, 1:, 6:11], torch.zeros(2, 5))  # padding words get no char features


def test_word_embedder_loads_found_rows_only():
    import numpy as np

    emb = WordEmbeddings(4, dim=3)
    before = emb.weight.detach().clone()
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    found = np.array([False, False, True, False])
    emb.load_pretrained(matrix, found)
    assert torch.equal(emb.weight[2], torch.tensor([6.0, 7.0, 8.0]))
    assert torch.equal(emb.weight[3], before[3])
    with pytest.raises(ValueError, match="set the words part's dim to 5"):
        emb.load_pretrained(np.zeros((4, 5), dtype=np.float32), found)


def test_pretrained_only_rows_are_fixed_and_training_matches_one_dense_table():
    """Words 0..3 came from training, 4..6 only from the pretrained file: the split table must train
    exactly like one dense table under SGD with momentum and clipping, and never move rows 4..6."""
    import numpy as np

    matrix = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    found = np.array([False, False, True, True, True, True, False])
    split = WordEmbeddings(7, 4, dim=3)
    split.load_pretrained(matrix, found)
    dense = torch.nn.Embedding(7, 3, padding_idx=0)
    with torch.no_grad():
        dense.weight.copy_(torch.cat([split.weight, split.pretrained_only]))
    assert [name for name, _ in split.named_parameters()] == ["weight"] and split.weight.shape == (4, 3)
    assert torch.equal(split.pretrained_only[-1], torch.zeros(3))  # the file lacked word 6
    train_ids = torch.tensor([[2, 3, 1, 0], [3, 1, 2, 2]])
    all_ids = torch.tensor([[0, 1, 2, 3, 4, 5, 6]])
    assert torch.equal(split(all_ids), dense(all_ids))
    opts = [torch.optim.SGD(m.parameters(), lr=0.5, momentum=0.9) for m in (split, dense)]
    for _ in range(3):
        for module, opt in zip((split, dense), opts):
            opt.zero_grad()
            (module(train_ids) ** 3).sum().backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
            opt.step()
    assert torch.allclose(split(all_ids), dense(all_ids), atol=1e-6)
    assert torch.equal(split(torch.tensor([4, 5])), torch.from_numpy(matrix[4:6]))  # never moved
    assert not torch.equal(split(torch.tensor([2])), torch.from_numpy(matrix[2:3]))  # fine-tuned
    # a checkpoint carries the fixed rows: predicting needs no pretrained file
    assert "pretrained_only" in split.state_dict()


def test_variational_dropout_uses_one_mask_per_sentence_at_every_position():
    torch.manual_seed(0)
    dropout = VariationalDropout(0.5)
    x = torch.randn(8, 6, 10)
    y = dropout(x)
    kept = y != 0  # (B, T, D)
    assert torch.equal(kept, kept[:, :1].expand_as(kept))  # the same features dropped at each position
    assert 0 < kept[:, 0].float().mean() < 1 and not torch.equal(kept[0, 0], kept[1, 0])  # per sentence
    assert torch.allclose(y[kept], 2 * x[kept])  # survivors scaled by 1 / (1 - p)
    assert torch.equal(dropout.eval()(x), x)


def test_rnn_encoder_ignores_padding():
    torch.manual_seed(0)
    enc = RNNEncoder(4, hidden_size=3, cell="gru").eval()
    x = torch.randn(1, 3, 4)
    alone = enc(x, torch.tensor([3]))
    padded = enc(torch.cat([x, torch.randn(1, 2, 4)], dim=1), torch.tensor([3]))
    assert padded.shape == (1, 5, 6)
    assert torch.allclose(alone, padded[:, :3], atol=1e-6)
    assert torch.equal(padded[:, 3:], torch.zeros(1, 2, 6))


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("training", [True, False])
def test_lstm_by_direction_equals_the_packed_lstm(layers, training):
    """On the CPU each direction runs on padded input (the backward one on reversed sentences), in training and
    in eval: the same outputs and gradients as nn.LSTM over packed sequences (what a GPU and the ONNX export run),
    and zeros on padding."""
    torch.manual_seed(0)
    enc = RNNEncoder(6, hidden_size=5, num_layers=layers, dropout=0.0).train(training)
    x = torch.randn(4, 7, 6, requires_grad=True)
    lengths = torch.tensor([7, 3, 5, 1])
    weights = torch.randn(4, 7, 10)  # a loss that weighs every output differently
    results = []
    for run in (enc, enc._packed):
        out = run(x, lengths)
        results.append((out, torch.autograd.grad((out * weights).sum(), [x, *enc.parameters()])))
    (by_direction, by_direction_grads), (packed, packed_grads) = results
    assert torch.allclose(by_direction, packed, atol=1e-6)
    for ours, theirs in zip(by_direction_grads, packed_grads):
        assert torch.allclose(ours, theirs, atol=1e-5)
    padding = torch.arange(7) >= lengths[:, None]
    assert torch.equal(by_direction[padding], torch.zeros(int(padding.sum()), 10))
    assert by_direction.abs().sum() > 0


def test_batched_viterbi_equals_pytorch_crf_decode():
    torch.manual_seed(0)
    crf = torchcrf.CRF(6, batch_first=True)
    for _ in range(30):
        B, T = 5, 9
        emissions = torch.randn(B, T, 6)
        lengths = torch.randint(1, T + 1, (B,))
        mask = torch.arange(T)[None] < lengths[:, None]
        ours = viterbi_decode(emissions, mask, crf.transitions, crf.start_transitions, crf.end_transitions)
        for b, ref in enumerate(crf.decode(emissions, mask)):
            assert ours[b, : lengths[b]].tolist() == ref
            assert (ours[b, lengths[b] :] == 0).all()


IOB2 = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
BIOES = ["O", "B-PER", "E-PER", "I-PER", "S-PER"]


def test_allowed_transitions_iob2():
    allowed, start, end = allowed_transitions("IOB2", IOB2)
    ok = {(a, b) for i, a in enumerate(IOB2) for j, b in enumerate(IOB2) if allowed[i, j]}
    assert ("O", "I-PER") not in ok and ("B-LOC", "I-PER") not in ok
    assert {("B-PER", "I-PER"), ("I-PER", "I-PER"), ("O", "B-PER"), ("I-LOC", "O")} <= ok
    assert start.tolist() == [True, True, False, True, False] and end.all()


def test_allowed_transitions_bioes():
    allowed, start, end = allowed_transitions("BIOES", BIOES)
    ok = {(a, b) for i, a in enumerate(BIOES) for j, b in enumerate(BIOES) if allowed[i, j]}
    assert ("B-PER", "O") not in ok and ("O", "E-PER") not in ok and ("S-PER", "I-PER") not in ok
    assert {("B-PER", "E-PER"), ("B-PER", "I-PER"), ("E-PER", "S-PER"), ("S-PER", "O")} <= ok
    assert start.tolist() == [True, True, False, False, True]
    assert end.tolist() == [True, False, True, False, True]


def test_constrained_crf_never_decodes_an_impossible_transition():
    torch.manual_seed(0)
    dec = CRFDecoder(IOB2, "IOB2", constrained=True)
    emissions = torch.randn(20, 8, len(IOB2))
    emissions[:, :, 2] += 3  # push hard towards I-LOC everywhere
    mask = torch.ones(20, 8, dtype=torch.bool)
    allowed, start, _ = allowed_transitions("IOB2", IOB2)
    for path in dec.decode(emissions, mask)[0].tolist():
        assert start[path[0]]
        assert all(allowed[a, b] for a, b in zip(path, path[1:]))
    unconstrained, _ = CRFDecoder(IOB2, "IOB2", constrained=False).decode(emissions, mask)
    assert (unconstrained[:, 0] == 2).any()  # without constraints the push wins somewhere


def test_constraints_are_a_decoding_choice_not_part_of_the_weights():
    """The masks are rebuilt from the tags, so trained weights decode either way."""
    torch.manual_seed(0)
    trained = CRFDecoder(IOB2, "IOB2", constrained=True)
    state = trained.state_dict()
    assert set(state) == {"crf.start_transitions", "crf.end_transitions", "crf.transitions"}
    emissions = torch.randn(20, 8, len(IOB2))
    emissions[:, :, 2] += 3
    mask = torch.ones(20, 8, dtype=torch.bool)
    free = CRFDecoder(IOB2, "IOB2", constrained=False)
    free.load_state_dict(state)
    assert free.allowed.all() and (free.decode(emissions, mask)[0][:, 0] == 2).any()
    again = CRFDecoder(IOB2, "IOB2", constrained=True)
    again.load_state_dict(free.state_dict())
    assert torch.equal(again.decode(emissions, mask)[0], trained.decode(emissions, mask)[0])


@pytest.mark.parametrize("decoder", [CRFDecoder(IOB2, "IOB2"), SoftmaxDecoder(IOB2, "IOB2")])
def test_decoders_learn_and_loss_is_a_mean(decoder):
    torch.manual_seed(0)
    emissions = torch.randn(4, 6, len(IOB2), requires_grad=True)
    tags = torch.randint(0, len(IOB2), (4, 6))
    tags[:, 0] = 0
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[2, 4:] = False
    loss = decoder.loss(emissions, tags, mask)
    loss.backward()
    assert loss.ndim == 0 and loss > 0 and emissions.grad.abs().sum() > 0
    # the loss of a batch repeated twice is the same: a mean, not a sum
    twice = decoder.loss(torch.cat([emissions, emissions]), torch.cat([tags, tags]), torch.cat([mask, mask]))
    assert torch.allclose(loss, twice)
    decoded, scored = decoder.decode(emissions, mask)
    assert decoded.shape == (4, 6) and (decoded[2, 4:] == 0).all()
    assert scored is None  # no confidences asked for and no entity threshold: nothing more computed


@pytest.mark.parametrize("decoder", [CRFDecoder, SoftmaxDecoder])
def test_min_entity_probability_drops_the_unlikely_entities_only(decoder):
    torch.manual_seed(0)
    emissions = torch.randn(6, 7, len(IOB2)) * 2
    mask = torch.ones(6, 7, dtype=torch.bool)
    mask[3, 5:] = False
    plain = decoder(IOB2, "IOB2")
    paths, _ = plain.decode(emissions, mask)
    _, scored = plain.decode(emissions, mask, confidences=True)
    pruned = decoder(IOB2, "IOB2", min_entity_probability=0.5)
    pruned.load_state_dict(plain.state_dict())
    kept, kept_scored = pruned.decode(emissions, mask)
    dropped = [(b, span) for b, (spans, ps) in enumerate(zip(scored.spans, scored.entities))
               for span, p in zip(spans, ps) if p < 0.5]
    assert dropped and len(dropped) < sum(map(len, scored.spans))  # the test sees both kinds
    expected = paths.clone()
    for b, (_, s, e) in dropped:
        expected[b, s : e + 1] = IOB2.index("O")
    assert torch.equal(kept, expected)
    assert kept_scored.spans == [[span for span, p in zip(spans, ps) if p >= 0.5]
                                 for spans, ps in zip(scored.spans, scored.entities)]
    with pytest.raises(ValueError, match="min_entity_probability must be in"):
        decoder(IOB2, "IOB2", min_entity_probability=1.5)


def test_crf_loss_is_float32_under_bf16_autocast():
    dec = CRFDecoder(IOB2, "IOB2")
    emissions = torch.randn(2, 5, len(IOB2)).bfloat16()
    tags = torch.zeros(2, 5, dtype=torch.long)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = dec.loss(emissions, tags, torch.ones(2, 5, dtype=torch.bool))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


@pytest.mark.parametrize("T", [1, 2, 9, 60])
def test_crf_loss_and_its_gradients_are_pytorch_crfs(T):
    # crf_loss.py computes pytorch-crf's likelihood by scaled sums in exp space and its gradient in closed form;
    # pytorch-crf, in float64, is the reference. Wide scores test the scaling; padding holds huge scores that
    # must change nothing.
    torch.manual_seed(T)
    B, K = 7, 9
    crf = torchcrf.CRF(K, batch_first=True).double()
    for parameter in crf.parameters():
        torch.nn.init.uniform_(parameter, -3, 3)
    lengths = torch.randint(1, T + 1, (B,))
    lengths[0] = T
    mask = torch.arange(T)[None, :] < lengths[:, None]
    tags = torch.randint(0, K, (B, T)) * mask
    emissions = (torch.randn(B, T, K, dtype=torch.float64) * 10).masked_fill(~mask[:, :, None], 1e4)
    emissions.requires_grad_(True)
    expected = -crf(emissions, tags, mask=mask, reduction="none")
    expected.sum().backward()
    expected_grads = [emissions.grad] + [p.grad for p in (crf.transitions, crf.start_transitions, crf.end_transitions)]
    float_crf = torchcrf.CRF(K, batch_first=True)
    float_crf.load_state_dict({name: value.float() for name, value in crf.state_dict().items()})
    float_params = (float_crf.transitions, float_crf.start_transitions, float_crf.end_transitions)

    def float32_grads(loss_function):  # its loss and gradients in float32
        float_crf.zero_grad(set_to_none=True)
        float_emissions = emissions.detach().float().requires_grad_(True)
        loss = loss_function(float_emissions)
        loss.sum().backward()
        return loss, [float_emissions.grad] + [p.grad for p in float_params]

    loss, grads = float32_grads(lambda e: crf_negative_log_likelihood(e, tags, mask, *float_params))
    pytorch_crf_loss, pytorch_crf_grads = float32_grads(lambda e: -float_crf(e, tags, mask=mask, reduction="none"))
    assert loss.dtype == torch.float32
    expected = expected.detach()
    assert (loss.double() - expected).abs().max() <= (pytorch_crf_loss.double() - expected).abs().max() + 1e-5
    for got, float32, want in zip(grads, pytorch_crf_grads, expected_grads):
        if want is None:  # T == 1: pytorch-crf's transitions get no gradient, and neither do these
            assert got is None and float32 is None and T == 1
        else:  # at least as close to float64 as pytorch-crf's own float32 gradient (1.6e-4 and 6.4e-4 off at T = 60)
            assert (got.double() - want).abs().max() <= (float32.double() - want).abs().max() + 1e-6


def test_dropout_keeps_each_value_with_probability_1_minus_p_and_its_gradient_is_the_mask():
    torch.manual_seed(0)
    dropout = Dropout(0.3)
    x = torch.ones(400, 50, requires_grad=True)
    y = dropout(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.01
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())
    assert not torch.equal(dropout(x), y)  # a new mask each call
    dropout.eval()
    assert torch.equal(dropout(x), x)


def test_distinct_rows_are_unique_rows_even_when_hashes_collide(monkeypatch):
    # the char encoder's eval path encodes each distinct word once, found by a hash of its row of character ids,
    # checked; real words must take the hash path, and a collision must fall back to unique over rows, not merge
    # two words
    from textlab.modules import embedders

    rows = torch.randint(0, 5, (400, 7), generator=torch.Generator().manual_seed(0))
    rows[::3] = rows[0]  # many repeats
    rows[1, :3], rows[2, :3] = torch.tensor([1, 2, 3]), torch.tensor([3, 2, 1])  # the same characters, reordered
    expected, _ = torch.unique(rows, dim=0, return_inverse=True)
    unique_rows = embedders._unique_rows
    for weights, fallback in ((embedders._ROW_HASH, None), (torch.zeros(256, dtype=torch.long), unique_rows)):
        monkeypatch.setattr(embedders, "_ROW_HASH", weights)
        monkeypatch.setattr(embedders, "_unique_rows", fallback)  # None: calling it fails the test
        distinct, inverse = embedders._distinct_rows(rows)
        assert torch.equal(distinct[inverse], rows)
        assert len(distinct) == len(expected) and len({tuple(r) for r in distinct.tolist()}) == len(distinct)
