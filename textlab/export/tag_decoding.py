"""The tagger's decoding as an ONNX graph: emissions (B, T, K) and lengths (B,) -> tag ids (B, T), exactly what
``TagDecoder.decode`` gives in PyTorch: constrained Viterbi (a CRF) or argmax (a softmax), then, when the model
drops unlikely entities (``min_entity_probability``), each decoded entity's probability and the entities below it
made ``O``.

Every loop over time is an ONNX Scan, vectorised over the batch as in ``textlab.modules.crf.viterbi_decode``.
Viterbi takes the same sums in the same order, so float32 scores match PyTorch's bit for bit when the emissions
do (ties then fall to the first index, as torch.max and ONNX ArgMax both choose).

The entity probabilities (``Lattice.window_probability``): the forward (alpha) and backward (beta) sums, then one
scan over time in which a decoded entity's window score restarts at its first tag and is closed (times the
rest of the sentence, by beta) at its last. Decoded entities never overlap, so one scan serves them all. Which
positions start and end an entity follows seqeval's chunker (``chunk_rules``) on the decoded path, as
``extract_spans`` reads it: at the first token any tag but ``O`` starts one, after the last any tag but ``O``
ends one. Each log-sum over the previous tag is a matrix product here, log(exp(x - max) @ exp(transitions)) +
max, where PyTorch multiplies and sums over a (B, K, K) product (``tag_lattice._log_sum_product``, whose order
does not depend on the threads): the same sums, rounded differently (in the last bits
of float32), so only an entity whose probability lies that close to ``min_entity_probability`` could be kept by
one and dropped by the other (on the CoNLL-2003 test set none is: scripts/benchmark_export.py).
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import helper

from textlab.export.onnx_builder import BOOL, FLOAT, INT64, OPSET, GraphBuilder, Loop, value_info
from textlab.metrics.span_f1 import chunk_rules
from textlab.modules.crf import CRFDecoder, SoftmaxDecoder, TagDecoder
from textlab.errors import TextlabError

NEG_INF = float("-inf")


def decoding_constants(decoder: TagDecoder) -> dict[str, np.ndarray]:
    """The decoder's lattice (forbidden transitions at -inf) and the chunker's rules, as arrays."""
    if not isinstance(decoder, (CRFDecoder, SoftmaxDecoder)):
        raise TextlabError(f"ONNX export: the decoder {type(decoder).__name__} cannot be exported (textlab exports "
                           "CRFDecoder and SoftmaxDecoder)")
    K = len(decoder.tags)
    with torch.no_grad():
        transitions, start, end = (t.float().cpu().numpy() for t in decoder.lattice(torch.zeros(1, 1, K)))
    starts, ends, types = chunk_rules(decoder.tags)
    same_type = np.array([[a is not None and a == b for b in types] for a in types])  # (K, K): tag j may join tag i's entity
    return {"transitions": transitions, "start": start, "end": end, "starts": starts.numpy(), "ends": ends.numpy(),
            "same_type": same_type, "entity": np.array([t is not None for t in types])}


def threshold_float32(p: float) -> np.float32:
    """The least float32 >= ``p``: PyTorch compares a float32 probability with the Python float ``p``, and
    ``x < p`` equals ``x < threshold_float32(p)`` for every float32 ``x``."""
    t = np.float32(p)
    return t if float(t) >= p else np.nextafter(t, np.float32(np.inf))


def add_decoding(b: GraphBuilder, emissions: str, lengths: str, decoder: TagDecoder) -> str:
    """Append the decoding of ``emissions`` (B, T, K) float32 and ``lengths`` (B,) int64 to ``b``; returns the
    name of the tag ids (B, T) int64 (0 past each sentence's end)."""
    c = decoding_constants(decoder)
    T = b.op("Gather", b.op("Shape", emissions), b.const(1, "one", np.int64))
    positions = b.op("Range", b.const(0, "zero", np.int64), T, b.const(1, "one", np.int64))  # (T,)
    mask = b.op("Less", b.unsqueeze(positions, 0), b.unsqueeze(lengths, 1), hint="mask")  # (B, T)
    lattice = _Lattice(b, emissions, positions, lengths, c)
    filtering = decoder.min_entity_probability > 0
    if isinstance(decoder, CRFDecoder):
        path = _viterbi(b, lattice, with_sums=filtering)
    else:
        path = b.op("Where", mask, b.op("ArgMax", emissions, axis=2, keepdims=0), b.const(0, "zero", np.int64))
        if filtering:
            _forward_scan(b, lattice, viterbi=False, sums=True)
    if filtering:
        path = _drop_unlikely_entities(b, lattice, mask, path, c, threshold_float32(decoder.min_entity_probability),
                                       decoder.tags.index("O"))
    return path


def _time_major(b: GraphBuilder, x: str) -> str:
    return b.op("Transpose", x, perm=[1, 0, 2])  # (B, T, K) -> (T, B, K)


def _steps(b: GraphBuilder, positions: str, lengths: str, shift: int = 0) -> str:
    """(T, B) bool: position t + shift lies inside the sentence."""
    shifted = b.op("Add", positions, b.const(shift, "shift", np.int64)) if shift else positions
    return b.op("Less", b.unsqueeze(shifted, 1), b.unsqueeze(lengths, 0))


class _Lattice:
    """The values the decoding steps share, time first, and (once ``_forward_scan`` ran) the forward and backward
    sums ``alphas`` and ``betas`` (T, B, K) and ``log_z`` (B,)."""

    def __init__(self, b: GraphBuilder, emissions: str, positions: str, lengths: str, c: dict[str, np.ndarray]):
        self.emissions, self.positions = emissions, positions
        self.transitions = c["transitions"]
        self.start, self.end = b.const(c["start"], "start"), b.const(c["end"], "end")
        self.by_time = _time_major(b, emissions)  # (T, B, K)
        self.inside = _steps(b, positions, lengths)  # (T, B)
        self.has_next = _steps(b, positions, lengths, shift=1)  # (T, B)
        # (T, B, 1): inside the sentence and not its first position. The forward loops run over every step, step 0
        # included, and keep their state there: onnxruntime's Scan fails on a sequence of no steps (a batch of
        # one-token sentences), and the state is what step 0 computes, once, before the loop.
        later = b.unsqueeze(b.op("Greater", positions, b.const(0, "zero", np.int64)), 1)  # (T, 1)
        self.moving = b.unsqueeze(b.op("And", self.inside, later), 2)
        self.first_scores = b.op("Add", self.start, b.op("Gather", self.by_time, b.const(0, "zero", np.int64),
                                                         axis=0))  # (B, K): step 0
        last_position = b.op("Sub", b.op("Gather", b.op("Shape", emissions), b.const(1, "one", np.int64)),
                             b.const(1, "one", np.int64))
        # as Lattice's at(): position t + 1, clamped to the batch
        self.next_t = b.op("Min", b.op("Add", positions, b.const(1, "one", np.int64)), last_position)
        self.emissions_next = b.op("Gather", self.by_time, self.next_t, axis=0)  # (T, B, K)
        self.alphas = self.betas = self.log_z = None


# Each Scan step costs onnxruntime a fixed overhead per node of its body, whatever the batch: the bodies below hold
# only what depends on the state carried from step to step, and one Scan carries every loop that can share its
# steps (Viterbi's forward pass, the forward sums, and the backward sums walking the same steps from the end); the
# rest is computed for all steps at once around them. At batch 256 a node's own work counts as much: onnxruntime
# broadcasts a (B, 1, K) + (1, K, K) sum in spans of K values, 60 us a step, and the same sum as (B, K * K) + (K * K)
# takes half that.

def _reversed_in_time(b: GraphBuilder, x: str) -> str:
    last = np.iinfo(np.int64).min
    return b.op("Slice", x, b.const([-1], "from", np.int64), b.const([last], "to", np.int64),
                b.const([0], "axis", np.int64), b.const([-1], "step", np.int64))


def _forward_scan(b: GraphBuilder, lattice: _Lattice, viterbi: bool, sums: bool) -> tuple[str, str] | None:
    """One Scan over time: Viterbi's forward pass (when ``viterbi``: its final scores (B, K) and back-pointers
    (T, B, K) are returned) and, when ``sums``, alpha forwards and beta backwards (``tag_lattice._forward`` and
    ``_backward``), kept on ``lattice``.

    The two sums are one state (2, B, K), alpha then beta, so that each node of their step runs once for both:
    beta's inputs are reversed in time before the Scan and its outputs after it. A step of either is
    log(exp(state + before - max) @ factors) + max + after, or the state kept where it does not move: alpha at
    step 0 (``moving``), beta where the sentence has no next position, which are its last steps walking back from
    the end, so that keeping the state there keeps its initial end scores, as ``_backward`` starts."""
    L = lattice
    K = L.transitions.shape[0]
    state, inputs, initial, sequences = [], [("emissions", FLOAT), ("moving", BOOL)], [], [L.by_time, L.moving]
    if viterbi:
        state.append(("score", FLOAT))
        initial.append(L.first_scores)
    if sums:
        state.append(("sums", FLOAT))
        beta_initial = b.op("Expand", L.end, b.op("Shape", L.first_scores))
        initial.append(b.op("Concat", b.unsqueeze(L.first_scores, 0), b.unsqueeze(beta_initial, 0), axis=0))
        zeros = b.op("ConstantOfShape", b.op("Shape", L.by_time), value=helper.make_tensor("zero", FLOAT, [1], [0.0]))
        both = lambda alpha, beta: b.op("Concat", b.unsqueeze(alpha, 1), b.unsqueeze(beta, 1), axis=1)  # (T, 2, ...)
        inputs += [("before", FLOAT), ("after", FLOAT), ("sums_moving", BOOL)]
        sequences += [both(zeros, _reversed_in_time(b, L.emissions_next)), both(L.by_time, zeros),
                      both(L.moving, _reversed_in_time(b, b.unsqueeze(L.has_next, 2)))]
    loop = Loop(b, state, inputs)
    values = iter(loop.values)
    score = next(values) if viterbi else None
    sums_in = next(values) if sums else None
    emission, real = next(values), next(values)
    state_out, step_out = [], []
    if viterbi:
        # candidate[b, j, i]: the best path ending in tag i, then tag j: the maximum over the last axis, and the
        # emission added after it (as viterbi_decode: the same sums, the same first index among equal ones), summed
        # as (B, K * K): each row's scores repeated K times, plus the transitions flattened alike
        repeated = b.op("Tile", score, b.const([1, K], "repeats", np.int64))  # (B, K * K)
        transitions_to = b.const(L.transitions.T.reshape(1, -1).copy(), "transitions_to")
        candidate = b.op("Reshape", b.op("Add", repeated, transitions_to), b.const([-1, K, K], "shape", np.int64))
        best = b.op("Add", b.op("ReduceMax", candidate, axes=[2], keepdims=0), emission)  # (B, K)
        state_out.append(b.op("Where", real, best, score))  # padding keeps the finished sentence's score
        step_out.append((b.op("ArgMax", candidate, axis=2, keepdims=0), INT64))  # step 0's are never followed
    if sums:
        before, after, moving = next(values), next(values), next(values)
        factors = np.stack([L.transitions, L.transitions.T])
        step = b.op("Add", _log_matmul(b, b.op("Add", sums_in, before), _exp(b, factors, "allowed")), after)
        sums_out = b.op("Where", moving, step, sums_in)
        state_out.append(sums_out)
        step_out.append((sums_out, FLOAT))
    results = loop.scan(initial, sequences, state_out, step_out)
    finals, stacked = results[:len(state_out)], results[len(state_out):]
    if sums:
        pick = lambda x, i, axis: b.op("Gather", x, b.const(i, "which", np.int64), axis=axis)
        L.alphas, L.betas = pick(stacked[-1], 0, 1), _reversed_in_time(b, pick(stacked[-1], 1, 1))  # (T, B, K)
        L.log_z = b.logsumexp(b.op("Add", pick(finals[-1], 0, 0), L.end), 1)  # (B,)
    if viterbi:
        return finals[0], stacked[0]
    return None


def _viterbi(b: GraphBuilder, lattice: _Lattice, with_sums: bool) -> str:
    """``viterbi_decode``: the best path of every sentence, (B, T) int64 (and the lattice's sums, if asked, from
    the same Scan)."""
    final, history = _forward_scan(b, lattice, viterbi=True, sums=with_sums)
    last = b.op("ArgMax", b.op("Add", final, lattice.end), axis=1, keepdims=0)  # (B,)
    # backward: follow the pointers from the last tag, each step's (B, K) flattened, so that one Gather at
    # row * K + tag reads them; padding keeps the tag, and is made 0 after the Scan
    K = lattice.transitions.shape[0]
    B = b.op("Gather", b.op("Shape", history), b.const(1, "one", np.int64))
    rows = b.op("Mul", b.op("Range", b.const(0, "zero", np.int64), B, b.const(1, "one", np.int64)),
                b.const(K, "K", np.int64))  # (B,): each row's first index, read from inside the body
    flat = b.op("Reshape", history, b.const([0, -1], "shape", np.int64))  # (T, B * K)
    loop = Loop(b, [("current", INT64)], [("pointers", INT64), ("inside", BOOL)])
    current, pointers, real = loop.values
    previous = b.op("Gather", pointers, b.op("Add", rows, current))
    current_out = b.op("Where", real, previous, current)
    _, path = loop.scan([last], [flat, lattice.inside], [current_out], [(current, INT64)], reverse=True)
    return b.op("Where", b.op("Transpose", lattice.inside, perm=[1, 0]), b.op("Transpose", path, perm=[1, 0]),
                b.const(0, "zero", np.int64), hint="path")  # (B, T)


def _log_matmul(b: GraphBuilder, scores: str, factors: str) -> str:
    """log(exp(scores) @ factors) over the last axis of ``scores``, each row shifted by its maximum first: the
    log-sum over the previous tag as one MatMul (a (B, K) x (K, K) product a step, not a (B, K, K) sum)."""
    top = b.op("Max", b.op("ReduceMax", scores, axes=[-1], keepdims=1),
               b.const(np.finfo(np.float32).min, "lowest", np.float32))  # a row of -inf stays -inf
    return b.op("Add", b.op("Log", b.op("MatMul", b.op("Exp", b.op("Sub", scores, top)), factors)), top)


def _choose(b: GraphBuilder, condition: str, if_true: str, if_false: str) -> str:
    """Where(condition, if_true, if_false) for bool values, which ONNX Runtime's Where does not take."""
    return b.op("Or", b.op("And", condition, if_true), b.op("And", b.op("Not", condition), if_false))


def _exp(b: GraphBuilder, transitions: np.ndarray, hint: str, allowed: np.ndarray | bool = True) -> str:
    """exp(transitions) where ``allowed`` (K, K), else 0, as a constant, rounded as PyTorch rounds it (a
    forbidden step, -inf, is 0 either way)."""
    return b.const(np.where(allowed, torch.from_numpy(transitions).exp().numpy(), 0).astype(np.float32), hint)


def _drop_unlikely_entities(b: GraphBuilder, lattice: _Lattice, mask: str, path: str, c: dict[str, np.ndarray],
                            threshold: np.float32, outside: int) -> str:
    """``tag_confidences(..., min_entity_probability)``'s paths: the entities of ``path`` less probable than the
    threshold made ``O``."""
    L = lattice
    K = c["transitions"].shape[0]
    transitions = c["transitions"]
    neg_inf = b.const(NEG_INF, "neg_inf", np.float32)
    emissions, positions = L.emissions, L.positions
    first = b.op("Equal", positions, b.const(0, "zero", np.int64))  # (T,)
    previous_t = b.op("Max", b.op("Sub", positions, b.const(1, "one", np.int64)), b.const(0, "zero", np.int64))

    # the entities of the path, by seqeval's rules
    flat_index = b.op("Add", b.op("Mul", b.op("Pad", path, b.const([0, 1, 0, -1], "pads", np.int64)),
                                  b.const(K, "K", np.int64)), path)  # previous * K + tag
    is_entity = b.op("Gather", b.const(c["entity"], "entity"), path)  # (B, T)
    starts = _choose(b, first, is_entity, b.op("Gather", b.const(c["starts"].reshape(-1), "starts"), flat_index))
    starts = b.op("And", starts, mask, hint="entity_start")  # (B, T)
    next_tags = b.op("Pad", path, b.const([0, 0, 0, 1], "pads", np.int64))
    next_tags = b.op("Slice", next_tags, b.const([1], "from", np.int64), b.const([np.iinfo(np.int64).max], "to", np.int64),
                     b.const([1], "axis", np.int64))  # (B, T): the tag after each (0 past the end)
    ends_pair = b.op("Gather", b.const(c["ends"].reshape(-1), "ends"),
                     b.op("Add", b.op("Mul", path, b.const(K, "K", np.int64)), next_tags))
    has_next_bt = b.op("Transpose", L.has_next, perm=[1, 0])  # (B, T)
    ends = b.op("And", _choose(b, has_next_bt, ends_pair, is_entity), mask, hint="entity_end")  # (B, T)

    # one scan: each entity's window score from its first tag to its last (Lattice.window_probability); entering
    # the window and leaving it read no state, so they are computed for every position at once around the scan,
    # each log-sum over a tag as a MatMul with the allowed steps' exp(transitions)
    enter = _exp(b, transitions, "enter", c["starts"])
    inner = _exp(b, transitions, "inner", ~c["starts"] & ~c["ends"])
    leave = _exp(b, transitions, "leave", c["ends"])
    alpha_before = b.op("Gather", L.alphas, previous_t, axis=0)  # (T, B, K): alpha at t - 1
    entering = _log_matmul(b, alpha_before, enter)  # (T, B, K)
    first_step = b.op("Reshape", first, b.const([-1, 1, 1], "shape", np.int64))  # (T, 1, 1)
    entered = b.op("Add", b.op("Where", first_step, L.start, entering), L.by_time)  # (T, B, K): a window's first score
    allowed = b.op("Transpose", b.op("Gather", b.const(c["same_type"], "same_type"), path), perm=[1, 0, 2])  # (T, B, K)
    starts_by_time = b.unsqueeze(b.op("Transpose", starts, perm=[1, 0]), 2)  # (T, B, 1)
    initial = b.op("Gather", L.by_time, b.const(0, "zero", np.int64), axis=0)  # any (B, K): step 0 overwrites it
    # a tag of another type than the entity's scores -inf: added to the emissions and the first scores here, so that
    # the step adds it with the emission (x + (e + 0) is x + e, and x + (e - inf) is -inf, as the Where it replaces)
    off_type = b.op("Where", allowed, b.const(0.0, "zero", np.float32), neg_inf)  # (T, B, K)
    sequences = [b.op("Add", L.by_time, off_type), b.op("Add", entered, off_type), starts_by_time]
    loop = Loop(b, [("window", FLOAT)], [("emissions", FLOAT), ("entered", FLOAT), ("starts", BOOL)])
    window, emission, entered_here, starting = loop.values
    continuing = b.op("Add", _log_matmul(b, window, inner), emission)
    score = b.op("Where", starting, entered_here, continuing)  # (B, K)
    _, scores = loop.scan([initial], sequences, [score], [(score, FLOAT)])
    following = b.op("Add", L.emissions_next, b.op("Gather", L.betas, L.next_t, axis=0))  # (T, B, K)
    leaving = b.logsumexp(b.op("Add", _log_matmul(b, scores, leave), following), 2)  # (T, B)
    ending = b.logsumexp(b.op("Add", scores, L.end), 2)
    totals = b.op("Where", L.has_next, leaving, ending)  # (T, B)
    probability = b.op("Min", b.op("Exp", b.op("Sub", b.op("Transpose", totals, perm=[1, 0]), b.unsqueeze(L.log_z, 1))),
                       b.const(1.0, "one", np.float32))  # (B, T): an entity's, at its last position

    # each position reads its entity's probability (entity n of a sentence: after its n-th start)
    entity = b.op("Sub", b.op("CumSum", b.op("Cast", starts, to=INT64), b.const(1, "axis", np.int64)),
                  b.const(1, "one", np.int64))  # (B, T)
    T = b.op("Gather", b.op("Shape", emissions), b.const([1], "one", np.int64))  # (1,)
    by_entity = b.op("ConstantOfShape", b.op("Concat", b.op("Gather", b.op("Shape", emissions),
                                                            b.const([0], "zero", np.int64)),
                                             b.op("Add", T, b.const([1], "one", np.int64)), axis=0),
                     value=helper.make_tensor("zero", FLOAT, [1], [0.0]))  # (B, T + 1); column T: not an entity's end
    by_entity = b.op("ScatterElements", by_entity, b.op("Where", ends, entity, b.op("Squeeze", T)),
                     b.op("Where", ends, probability, b.const(0.0, "zero", np.float32)), axis=1, reduction="add")
    probability = b.op("GatherElements", by_entity, b.op("Max", entity, b.const(0, "zero", np.int64)), axis=1)
    drop = b.op("And", b.op("And", is_entity, mask), b.op("Less", probability, b.const(threshold, "threshold", np.float32)))
    return b.op("Where", drop, b.const(outside, "O", np.int64), path, hint="tags")


def decoding_model(decoder: TagDecoder) -> onnx.ModelProto:
    """The decoding alone, inputs ``emissions`` (B, T, K) float32 and ``lengths`` (B,) int64, output ``tags``."""
    b = GraphBuilder("decode/")
    tags = add_decoding(b, "emissions", "lengths", decoder)
    b.nodes.append(helper.make_node("Identity", [tags], ["tags"]))
    graph = helper.make_graph(b.nodes, "textlab_decoding",
                              [value_info("emissions", FLOAT, ["B", "T", len(decoder.tags)]),
                               value_info("lengths", INT64, ["B"])],
                              [value_info("tags", INT64, ["B", "T"])], b.initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
