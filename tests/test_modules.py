"""The nn building blocks: shapes, masking, and the CRF against pytorch-crf's own decoder."""

import pytest
import torch
import torchcrf

from textlab.modules.char_encoders import build_char_encoder
from textlab.modules.crf import CRFDecoder, SoftmaxDecoder, allowed_transitions, viterbi_decode
from textlab.modules.dropout import VariationalDropout
from textlab.modules.embedders import TokenEmbedder, TrainedWordVectors, WordEmbedder
from textlab.modules.encoders import RNNEncoder
from textlab.modules.initialisation import ma_hovy_init_
from textlab.modules.language_model import BOUNDARY, OTHER, NeighbourWordLoss

KINDS = ["cnn", "lstm", "both", "cnn_lstm"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("widths", [(3,), (2, 3, 4)])
def test_char_encoder_shape_and_pads_never_change_a_word(kind, widths):
    torch.manual_seed(0)
    enc = build_char_encoder(kind, num_chars=20, char_dim=8, filters=5, widths=widths, hidden=4).eval()
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
    plain = build_char_encoder(kind, num_chars=20, char_dim=8, filters=5, hidden=4)
    dropped = build_char_encoder(kind, num_chars=20, char_dim=8, filters=5, hidden=4, dropout=0.5)
    dropped.load_state_dict(plain.state_dict())  # dropout has no weights: same encoder, same state
    words, lengths = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]]), torch.tensor([4, 2])
    assert torch.equal(dropped.eval()(words, lengths), plain.eval()(words, lengths))
    assert not torch.equal(dropped.train()(words, lengths), plain.train()(words, lengths))


def test_char_cnn_max_ignores_pad_positions_even_when_features_are_negative():
    torch.manual_seed(0)
    enc = build_char_encoder("cnn", num_chars=10, char_dim=4, filters=3, widths=(3,))
    with torch.no_grad():
        for conv in enc.convs:
            conv.bias.fill_(-100.0)  # every real position is very negative; a pad position would be 0 * w - 100
            conv.weight.fill_(-1.0)
        enc.embedding.weight.abs_()
    out = enc(torch.tensor([[1, 2, 0, 0, 0]]), torch.tensor([2]))
    assert (out < -100).all()  # no pad position (whose value would be -100 exactly) won the max


def test_none_encoder_and_unknown_kind():
    assert build_char_encoder("none", 10) is None
    with pytest.raises(ValueError, match="unknown char encoder"):
        build_char_encoder("transformer", 10)


def test_token_embedder_zero_char_vector_for_padding_words():
    torch.manual_seed(0)
    words = WordEmbedder(10, 6)
    emb = TokenEmbedder(words, build_char_encoder("cnn", 12, 4, 5), num_casings=8, casing_dim=3)
    assert emb.output_dim == 6 + 5 + 3
    w = torch.tensor([[2, 3, 4], [5, 0, 0]])
    chars = torch.zeros(2, 3, 4, dtype=torch.long)
    chars[0, :, :2] = 2
    chars[1, 0, :3] = 3
    mask = w != 0
    out = emb(w, chars, torch.ones_like(w), mask)
    assert out.shape == (2, 3, 14)
    assert torch.equal(out[1, 1:, 6:11], torch.zeros(2, 5))  # padding words get no char features


def test_trained_word_vectors_start_at_zero_and_give_words_never_seen_in_training_zeros():
    # ids 0..3: padding, <unk> and two training words; 4..6 came from the pretrained file only
    words = WordEmbedder(7, 3, num_trainable=4)
    trained = TrainedWordVectors(words.num_embeddings, 2)
    emb = TokenEmbedder(words, None, trained_words=trained)
    assert emb.output_dim == 5 and trained.weight.shape == (4, 2)
    ids = torch.tensor([[2, 3, 5, 6, 0]])
    out = emb(ids, torch.zeros(1, 5, 1, dtype=torch.long), torch.ones_like(ids), ids != 0)
    assert torch.equal(out[..., :3], words(ids)) and torch.equal(out[..., 3:], torch.zeros(1, 5, 2))
    torch.optim.SGD(trained.parameters(), lr=1.0).zero_grad()
    (out[..., 3:] * torch.arange(1.0, 6.0)[None, :, None]).sum().backward()
    assert trained.weight.grad[:, 0].tolist() == [0.0, 0.0, 1.0, 2.0]  # neither padding nor the ids past them
    assert torch.equal(trained(torch.tensor([4, 5, 6])), torch.zeros(3, 2))


def test_frozen_copy_gives_each_word_its_starting_vector_beside_the_fine_tuned_one():
    import numpy as np

    # ids 0..3: padding, <unk> and two training words (the <unk> has no pretrained vector); 4..5 pretrained only
    words = WordEmbedder(6, 2, num_trainable=4, frozen_copy=True)
    matrix = np.arange(12, dtype=np.float32).reshape(6, 2)
    words.load_pretrained(matrix, np.array([False, False, True, True, True, True]))
    unk = words.weight[1].detach().clone()
    emb = TokenEmbedder(words, None)
    assert emb.output_dim == 4
    ids = torch.tensor([[2, 3, 4, 1, 0]])
    optimizer = torch.optim.SGD(words.parameters(), lr=1.0)
    (emb(ids, torch.zeros(1, 5, 1, dtype=torch.long), torch.ones_like(ids), ids != 0) ** 2).sum().backward()
    optimizer.step()
    out = words(ids)[0]
    assert torch.equal(out[:, 2:], torch.stack([torch.tensor([4.0, 5.0]), torch.tensor([6.0, 7.0]),
                                                 torch.tensor([8.0, 9.0]), unk, torch.zeros(2)]))
    assert not torch.equal(out[0, :2], out[0, 2:]) and not torch.equal(out[1, :2], out[1, 2:])  # trained
    assert torch.equal(out[2, :2], out[2, 2:])  # a pretrained-only word: its one fixed vector, twice
    assert torch.equal(out[4], torch.zeros(4))  # padding
    assert [name for name, _ in words.named_buffers()] == ["pretrained_only", "initial"]
    assert "initial" not in dict(WordEmbedder(6, 2, num_trainable=4).named_buffers())  # old checkpoints load


def test_pretrained_swap_gives_training_words_their_loaded_vector_in_training_only():
    import numpy as np

    # ids 0..3: padding, <unk> and two training words (the <unk> has no pretrained vector); 4..5 pretrained only
    words = WordEmbedder(6, 2, num_trainable=4, pretrained_swap=1.0)
    matrix = np.arange(12, dtype=np.float32).reshape(6, 2)
    words.load_pretrained(matrix, np.array([False, False, True, True, True, True]))
    with torch.no_grad():
        words.weight[1:] += 100.0  # as if fine-tuned far from where they started
    tuned = words.weight.detach().clone()
    ids = torch.tensor([[2, 3, 4, 1, 0]])
    out = words(ids)[0]
    assert torch.equal(out[0], torch.tensor([4.0, 5.0])) and torch.equal(out[1], torch.tensor([6.0, 7.0]))
    assert torch.equal(out[2], torch.tensor([8.0, 9.0]))  # pretrained only: its one fixed vector anyway
    assert torch.equal(out[3], tuned[1])  # <unk> had no pretrained vector: never swapped
    out.sum().backward()
    assert words.weight.grad[2:4].abs().sum() == 0  # a swapped occurrence trains nothing of its word
    words.eval()
    assert torch.equal(words(ids)[0, :2], tuned[2:4])  # evaluation always reads the fine-tuned vectors

    half = WordEmbedder(4, 2, pretrained_swap=0.5)
    half.load_pretrained(np.zeros((4, 2), dtype=np.float32), np.array([False, False, True, True]))
    with torch.no_grad():
        half.weight[2:] = 1.0
    torch.manual_seed(0)
    swapped = (half(torch.full((1, 4000), 2))[0, :, 0] == 0).float().mean().item()
    assert 0.45 < swapped < 0.55


def test_word_embedder_loads_found_rows_only():
    import numpy as np

    emb = WordEmbedder(4, 3)
    before = emb.weight.detach().clone()
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    found = np.array([False, False, True, False])
    emb.load_pretrained(matrix, found)
    assert torch.equal(emb.weight[2], torch.tensor([6.0, 7.0, 8.0]))
    assert torch.equal(emb.weight[3], before[3])
    with pytest.raises(ValueError, match="set word_dim to 5"):
        emb.load_pretrained(np.zeros((4, 5), dtype=np.float32), found)


def test_pretrained_only_rows_are_fixed_and_training_matches_one_dense_table():
    """Words 0..3 came from training, 4..6 only from the pretrained file: the split table must train
    exactly like one dense table under SGD with momentum and clipping, and never move rows 4..6."""
    import numpy as np

    matrix = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    found = np.array([False, False, True, True, True, True, False])
    split = WordEmbedder(7, 3, num_trainable=4)
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


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_dropout_drops_hidden_to_hidden_weights_only(cell):
    torch.manual_seed(0)
    enc = RNNEncoder(4, hidden_size=50, num_layers=2, cell=cell, recurrent_dropout=0.5)
    x, lengths = torch.randn(2, 5, 4), torch.tensor([5, 3])
    undropped = RNNEncoder(4, hidden_size=50, num_layers=2, cell=cell)
    undropped.load_state_dict(enc.state_dict())
    reference = undropped(x, lengths)
    dropped = enc(x, lengths)
    assert not torch.allclose(dropped, reference)
    assert enc.rnn.weight_hh_l0.grad is None
    dropped[0, :, :].sum().backward()  # only sentence 0: five real steps in each direction
    for name in ("weight_hh_l0", "weight_hh_l1_reverse"):
        grad = getattr(enc.rnn, name).grad
        zeros = (grad == 0).float().mean()
        assert 0.35 < zeros < 0.65  # the entries dropped in this batch get no gradient
    assert (enc.rnn.weight_ih_l0.grad != 0).float().mean() > 0.95  # input weights are never dropped
    # evaluation uses every weight, unscaled; padding stays out of it
    assert torch.allclose(enc.eval()(x, lengths), undropped.eval()(x, lengths))
    assert torch.equal(dropped[1, 3:], torch.zeros(2, 100))


def test_recurrent_dropout_leaves_each_direction_first_step_alone():
    torch.manual_seed(0)
    enc = RNNEncoder(4, hidden_size=6, recurrent_dropout=0.5)
    undropped = RNNEncoder(4, hidden_size=6)
    undropped.load_state_dict(enc.state_dict())
    x, lengths = torch.randn(1, 4, 4), torch.tensor([4])
    dropped, reference = enc(x, lengths), undropped(x, lengths)
    assert torch.allclose(dropped[0, 0, :6], reference[0, 0, :6])  # forward direction, position 0
    assert torch.allclose(dropped[0, 3, 6:], reference[0, 3, 6:])  # backward direction, last position
    assert not torch.allclose(dropped[0, 1:, :6], reference[0, 1:, :6])


def test_recurrent_dropout_must_be_a_probability():
    with pytest.raises(ValueError, match="recurrent_dropout must be in"):
        RNNEncoder(4, recurrent_dropout=1.0)


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
    for path in dec.decode(emissions, mask).tolist():
        assert start[path[0]]
        assert all(allowed[a, b] for a, b in zip(path, path[1:]))
    unconstrained = CRFDecoder(IOB2, "IOB2", constrained=False).decode(emissions, mask)
    assert (unconstrained[:, 0] == 2).any()  # without constraints the push wins somewhere


def test_constraints_are_a_decoding_choice_not_part_of_the_weights():
    """The masks are rebuilt from the tags, so trained weights decode either way; old state dicts still load."""
    torch.manual_seed(0)
    trained = CRFDecoder(IOB2, "IOB2", constrained=True)
    state = trained.state_dict()
    assert set(state) == {"crf.start_transitions", "crf.end_transitions", "crf.transitions"}
    emissions = torch.randn(20, 8, len(IOB2))
    emissions[:, :, 2] += 3
    mask = torch.ones(20, 8, dtype=torch.bool)
    free = CRFDecoder(IOB2, "IOB2", constrained=False)
    old_style = {**state, "allowed": trained.allowed, "allowed_start": trained.allowed_start,
                 "allowed_end": trained.allowed_end}
    free.load_state_dict(old_style)  # strict: the stored masks are dropped, not loaded
    assert free.allowed.all() and (free.decode(emissions, mask)[:, 0] == 2).any()
    again = CRFDecoder(IOB2, "IOB2", constrained=True)
    again.load_state_dict(old_style)
    assert torch.equal(again.decode(emissions, mask), trained.decode(emissions, mask))


@pytest.mark.parametrize("decoder", [CRFDecoder(IOB2, "IOB2"), SoftmaxDecoder()])
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
    decoded = decoder.decode(emissions, mask)
    assert decoded.shape == (4, 6) and (decoded[2, 4:] == 0).all()


def test_crf_loss_is_float32_under_bf16_autocast():
    dec = CRFDecoder(IOB2, "IOB2")
    emissions = torch.randn(2, 5, len(IOB2)).bfloat16()
    tags = torch.zeros(2, 5, dtype=torch.long)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = dec.loss(emissions, tags, torch.ones(2, 5, dtype=torch.bool))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_ma_hovy_init_scales_gates_and_sets_the_forget_bias():
    torch.manual_seed(0)
    chars = build_char_encoder("cnn", num_chars=40, char_dim=30, filters=30, widths=(3,), hidden=25)
    words = WordEmbedder(20, 8)
    embedder = TokenEmbedder(words, chars, num_casings=5, casing_dim=4)
    encoder = RNNEncoder(embedder.output_dim, hidden_size=50)
    model = torch.nn.ModuleDict(dict(embedder=embedder, encoder=encoder, projection=torch.nn.Linear(100, 9)))
    word_rows = words.weight.detach().clone()
    ma_hovy_init_(model)

    assert torch.equal(words.weight, word_rows)  # word vectors are the pretrained loader's business
    char_emb = chars.embedding.weight
    assert char_emb.abs().max() <= (3 / 30) ** 0.5 and char_emb.std() > 0.15  # PyTorch's N(0, 1) would be ~1
    assert not char_emb[0].any() and not embedder.casing.weight[0].any()  # pads stay zero vectors
    lstm = encoder.rnn
    for name in ("weight_ih_l0", "weight_hh_l0_reverse"):
        weight = getattr(lstm, name)
        for gate in weight.split(50):
            bound = (6 / (gate.size(0) + gate.size(1))) ** 0.5
            assert gate.abs().max() <= bound and gate.abs().max() > 0.9 * bound
    for name in ("bias_ih_l0", "bias_ih_l0_reverse"):
        bias = getattr(lstm, name)
        assert bias[50:100].eq(1).all() and not bias[:50].any() and not bias[100:].any()  # forget gate only
    assert not lstm.bias_hh_l0.any()
    conv = chars.convs[0]
    assert conv.weight.abs().max() <= (6 / (30 * 3 + 30 * 3)) ** 0.5 and not conv.bias.any()
    assert model.projection.weight.abs().max() <= (6 / 109) ** 0.5 and not model.projection.bias.any()


def test_ma_hovy_init_handles_a_gru():
    gru = RNNEncoder(10, hidden_size=6, cell="gru")
    ma_hovy_init_(gru)
    assert not gru.rnn.bias_ih_l0.any()  # no forget gate to open
    assert gru.rnn.weight_hh_l0.abs().max() <= (6 / 12) ** 0.5


def test_constrained_training_normalises_over_allowed_paths_only():
    """Against brute force over every tag path; tag 0 (I-PER) on the pads follows the real tags through
    forbidden transitions, which must neither count nor turn the loss into nan."""
    import itertools

    torch.manual_seed(0)
    tags_list = ["I-PER", "O", "B-PER", "B-LOC", "I-LOC"]
    dec = CRFDecoder(tags_list, "IOB2", constrained=True, constrained_training=True)
    allowed, start, end = allowed_transitions("IOB2", tags_list)
    K = len(tags_list)
    emissions = torch.randn(3, 4, K, requires_grad=True)
    gold = torch.tensor([[2, 0, 1, 3], [1, 3, 4, 0], [3, 1, 0, 0]])  # the last two: O then pads of tag 0
    lengths = [4, 3, 2]
    mask = torch.arange(4)[None, :] < torch.tensor(lengths)[:, None]
    loss = dec.loss(emissions, gold, mask)
    crf = dec.crf

    def score(e, path):
        s = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]] + sum(e[t, y] for t, y in enumerate(path))
        return s + sum(crf.transitions[a, b] for a, b in zip(path, path[1:]))

    expected = []
    for b, n in enumerate(lengths):
        paths = [p for p in itertools.product(range(K), repeat=n)
                 if start[p[0]] and end[p[-1]] and all(allowed[a, c] for a, c in zip(p, p[1:]))]
        log_z = torch.logsumexp(torch.stack([score(emissions[b], p) for p in paths]), dim=0)
        expected.append(log_z - score(emissions[b], gold[b, :n].tolist()))
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(torch.stack(expected).mean().item(), abs=1e-4)
    loss.backward()
    assert not crf.transitions.grad[~allowed].any()  # forbidden transitions are never trained
    assert crf.transitions.grad[allowed].abs().sum() > 0
    # the unconstrained loss normalises over more paths, so it is larger
    free = CRFDecoder(tags_list, "IOB2", constrained=True)
    free.load_state_dict(dec.state_dict())
    assert free.loss(emissions, gold, mask).item() > loss.item() + 1e-3


def test_constrained_training_needs_constrained_decoding():
    from textlab.errors import TextlabError

    with pytest.raises(TextlabError, match="constrained_training needs constrained_decoding"):
        CRFDecoder(IOB2, "IOB2", constrained=False, constrained_training=True)


def test_neighbour_word_loss_predicts_each_direction_s_neighbour_and_ignores_padding():
    torch.manual_seed(0)
    lm = NeighbourWordLoss(encoder_dim=6, num_words=5, hidden_dim=4)
    words = torch.tensor([[2, 7, 4, 0], [3, 1, 0, 0]])  # 7: not among the 5 predicted ids; 1: <unk>; 0: pad
    mask = words != 0
    states = torch.randn(2, 4, 6)
    expected = torch.tensor(0.0)
    for b, classes in enumerate([[2, OTHER, 4], [3, OTHER]]):
        following, preceding = classes[1:] + [BOUNDARY], [BOUNDARY] + classes[:-1]
        for t in range(len(classes)):
            expected += torch.nn.functional.cross_entropy(lm.next_word(states[b, t, :3]), torch.tensor(following[t]))
            expected += torch.nn.functional.cross_entropy(lm.previous_word(states[b, t, 3:]),
                                                          torch.tensor(preceding[t]))
    loss = lm(states, words, mask)
    assert torch.allclose(loss, expected / 2)  # summed over tokens, averaged over the 2 sentences
    # neither the states nor the ids at padded positions enter it
    assert torch.allclose(lm(states.masked_fill(~mask[..., None], 100.0), words.masked_fill(~mask, 3), mask), loss)
