"""The tagger's decoding as an ONNX graph: emissions (B, T, K) and lengths (B,) -> tag ids (B, T), exactly what
``TagDecoder.decode`` gives in PyTorch: constrained Viterbi (a CRF) or argmax (a softmax), then, when the model
drops unlikely entities (``min_entity_probability``), each decoded entity's probability and the entities below it
made ``O``.

Every loop over time is an ONNX Scan, vectorised over the batch as in ``textlab.modules.crf.viterbi_decode``,
with the same operations in the same order, so float32 scores match PyTorch's bit for bit when the emissions do
(ties then fall to the first index, as torch.max and ONNX ArgMax both choose).

The entity probabilities (``Lattice.window_probability``): the forward (alpha) and backward (beta) sums (with
``tag_lattice._log_matmul``'s log-space matrix product, as in PyTorch), then one
scan over time in which a decoded entity's window score restarts at its first tag and is closed (times the
rest of the sentence, by beta) at its last. Decoded entities never overlap, so one scan serves them all. Which
positions start and end an entity follows seqeval's chunker (``chunk_rules``) on the decoded path, as
``extract_spans`` reads it: at the first token any tag but ``O`` starts one, after the last any tag but ``O``
ends one.
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
    if isinstance(decoder, CRFDecoder):
        path = _viterbi(b, emissions, positions, lengths, b.const(c["transitions"][None], "transitions"),
                        b.const(c["start"], "start"), b.const(c["end"], "end"))
    else:
        path = b.op("Where", mask, b.op("ArgMax", emissions, axis=2, keepdims=0), b.const(0, "zero", np.int64))
    if decoder.min_entity_probability > 0:
        path = _drop_unlikely_entities(b, emissions, lengths, positions, mask, path, c,
                                       threshold_float32(decoder.min_entity_probability), decoder.tags.index("O"))
    return path


def _time_major(b: GraphBuilder, x: str) -> str:
    return b.op("Transpose", x, perm=[1, 0, 2])  # (B, T, K) -> (T, B, K)


def _steps(b: GraphBuilder, positions: str, lengths: str, shift: int = 0) -> str:
    """(T, B) bool: position t + shift lies inside the sentence."""
    shifted = b.op("Add", positions, b.const(shift, "shift", np.int64)) if shift else positions
    return b.op("Less", b.unsqueeze(shifted, 1), b.unsqueeze(lengths, 0))


def _moving(b: GraphBuilder, positions: str, lengths: str) -> str:
    """(T, B, 1) bool: position t lies inside the sentence and is not its first. The forward loops run over every
    step, step 0 included, and keep their state there: onnxruntime's Scan fails on a sequence of no steps (a batch
    of one-token sentences) and the state is what step 0 computes, once, before the loop."""
    later = b.unsqueeze(b.op("Greater", positions, b.const(0, "zero", np.int64)), 1)  # (T, 1)
    return b.unsqueeze(b.op("And", _steps(b, positions, lengths), later), 2)


# Each Scan step costs onnxruntime a fixed overhead per node of its body, whatever the batch: the bodies below hold
# only what depends on the state carried from step to step; the rest is computed for all steps at once around them.

def _viterbi(b: GraphBuilder, emissions: str, positions: str, lengths: str, transitions: str, start: str,
             end: str) -> str:
    """``viterbi_decode``: the best path of every sentence, (B, T) int64."""
    by_time = _time_major(b, emissions)  # (T, B, K)
    inside = _steps(b, positions, lengths)  # (T, B)
    initial = b.op("Add", start, b.op("Gather", by_time, b.const(0, "zero", np.int64), axis=0))  # (B, K)
    moving = _moving(b, positions, lengths)  # (T, B, 1)
    # forward: the best score of each tag at t, and the tag before it on that path
    loop = Loop(b, [("score", FLOAT)], [("emissions", FLOAT), ("inside", BOOL)])
    score, emission, real = loop.values
    candidate = b.op("Add", b.op("Add", b.unsqueeze(score, 2), transitions), b.unsqueeze(emission, 1))  # (B, K, K)
    best = b.op("ReduceMax", candidate, axes=[1], keepdims=0)  # (B, K)
    best_previous = b.op("ArgMax", candidate, axis=1, keepdims=0)  # (B, K); the first of equal ones, as torch.max
    score_out = b.op("Where", real, best, score)  # padding keeps the finished sentence's score
    final, history = loop.scan([initial], [by_time, moving], [score_out],
                               [(best_previous, INT64)])  # (T, B, K); step 0's pointers are never followed
    last = b.op("ArgMax", b.op("Add", final, end), axis=1, keepdims=0)  # (B,)
    # backward: follow the pointers from the last tag
    loop = Loop(b, [("current", INT64)], [("pointers", INT64), ("inside", BOOL)])
    current, pointers, real = loop.values
    tag = b.op("Where", real, current, b.const(0, "zero", np.int64))
    previous = b.squeeze(b.op("GatherElements", pointers, b.unsqueeze(current, 1), axis=1), 1)
    current_out = b.op("Where", real, previous, current)
    _, path = loop.scan([last], [history, inside], [current_out], [(tag, INT64)], reverse=True)
    return b.op("Transpose", path, perm=[1, 0], hint="path")  # (B, T)


def _log_matmul(b: GraphBuilder, scores: str, factors: str) -> str:
    """``tag_lattice._log_matmul``: log(exp(scores) @ factors), each row shifted by its maximum first."""
    top = b.op("Max", b.op("ReduceMax", scores, axes=[1], keepdims=1),
               b.const(np.finfo(np.float32).min, "lowest", np.float32))  # (B, 1); a row of -inf stays -inf
    return b.op("Add", b.op("Log", b.op("MatMul", b.op("Exp", b.op("Sub", scores, top)), factors)), top)


def _choose(b: GraphBuilder, condition: str, if_true: str, if_false: str) -> str:
    """Where(condition, if_true, if_false) for bool values, which ONNX Runtime's Where does not take."""
    return b.op("Or", b.op("And", condition, if_true), b.op("And", b.op("Not", condition), if_false))


def _drop_unlikely_entities(b: GraphBuilder, emissions: str, lengths: str, positions: str, mask: str, path: str,
                            c: dict[str, np.ndarray], threshold: np.float32, outside: int) -> str:
    """``tag_confidences(..., min_entity_probability)``'s paths: the entities of ``path`` less probable than the
    threshold made ``O``."""
    K = c["transitions"].shape[0]
    transitions = c["transitions"]
    start, end = b.const(c["start"], "start"), b.const(c["end"], "end")
    neg_inf = b.const(NEG_INF, "neg_inf", np.float32)
    by_time = _time_major(b, emissions)  # (T, B, K)
    inside = _steps(b, positions, lengths)  # (T, B)
    has_next = _steps(b, positions, lengths, shift=1)  # (T, B)
    first = b.op("Equal", positions, b.const(0, "zero", np.int64))  # (T,)
    last_position = b.op("Sub", b.op("Gather", b.op("Shape", emissions), b.const(1, "one", np.int64)),
                         b.const(1, "one", np.int64))
    previous_t = b.op("Max", b.op("Sub", positions, b.const(1, "one", np.int64)), b.const(0, "zero", np.int64))
    next_t = b.op("Min", b.op("Add", positions, b.const(1, "one", np.int64)), last_position)  # as Lattice's at(): clamped

    exp_transitions = torch.from_numpy(transitions).exp().numpy()  # as PyTorch rounds it; a forbidden step is 0
    moving = _moving(b, positions, lengths)  # (T, B, 1)
    # alpha (T, B, K), as tag_lattice._forward
    first_alpha = b.op("Add", start, b.op("Gather", by_time, b.const(0, "zero", np.int64), axis=0))  # (B, K)
    loop = Loop(b, [("alpha", FLOAT)], [("emissions", FLOAT), ("inside", BOOL)])
    alpha, emission, real = loop.values
    step = b.op("Add", _log_matmul(b, alpha, b.const(exp_transitions, "allowed")), emission)
    alpha_out = b.op("Where", real, step, alpha)
    final_alpha, alphas = loop.scan([first_alpha], [by_time, moving], [alpha_out],
                                    [(alpha_out, FLOAT)])
    log_z = b.logsumexp(b.op("Add", final_alpha, end), 1)  # (B,)

    # beta (T, B, K), as tag_lattice._backward: at t it reads position t + 1; at the last position the end scores
    last_beta = b.op("Expand", end, b.op("Shape", first_alpha))  # (B, K)
    emissions_next, has_next_3d = b.op("Gather", by_time, next_t, axis=0), b.unsqueeze(has_next, 2)  # (T, B, K|1)
    loop = Loop(b, [("beta", FLOAT)], [("emissions_next", FLOAT), ("has_next", BOOL)])
    beta, emission_next, real_next = loop.values
    step = _log_matmul(b, b.op("Add", emission_next, beta), b.const(exp_transitions.T.copy(), "allowed_after"))
    beta_out = b.op("Where", real_next, step, end)
    _, betas = loop.scan([last_beta], [emissions_next, has_next_3d], [beta_out], [(beta_out, FLOAT)],
                         reverse=True)

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
    has_next_bt = b.op("Transpose", has_next, perm=[1, 0])  # (B, T)
    ends = b.op("And", _choose(b, has_next_bt, ends_pair, is_entity), mask, hint="entity_end")  # (B, T)

    # one scan: each entity's window score from its first tag to its last (Lattice.window_probability); entering
    # the window and leaving it read no state, so they are computed for every position at once around the scan
    enter = b.const(np.where(c["starts"], transitions, NEG_INF)[None].astype(np.float32), "enter")
    inner = b.const(np.where(~c["starts"] & ~c["ends"], transitions, NEG_INF)[None].astype(np.float32), "inner")
    leave = b.const(np.where(c["ends"], transitions, NEG_INF)[None].astype(np.float32), "leave")
    alpha_before = b.op("Gather", alphas, previous_t, axis=0)  # (T, B, K): alpha at t - 1
    entering = b.logsumexp(b.op("Add", b.unsqueeze(alpha_before, 3), enter), 2)  # (T, B, K)
    first_step = b.op("Reshape", first, b.const([-1, 1, 1], "shape", np.int64))  # (T, 1, 1)
    entered = b.op("Add", b.op("Where", first_step, start, entering), by_time)  # (T, B, K): a window's first score
    allowed = b.op("Transpose", b.op("Gather", b.const(c["same_type"], "same_type"), path), perm=[1, 0, 2])  # (T, B, K)
    starts_by_time = b.unsqueeze(b.op("Transpose", starts, perm=[1, 0]), 2)  # (T, B, 1)
    initial = b.op("Gather", by_time, b.const(0, "zero", np.int64), axis=0)  # any (B, K): step 0 overwrites it
    loop = Loop(b, [("window", FLOAT)], [("emissions", FLOAT), ("entered", FLOAT), ("allowed", BOOL),
                                        ("starts", BOOL)])
    window, emission, entered_here, of_type, starting = loop.values
    continuing = b.op("Add", b.logsumexp(b.op("Add", b.unsqueeze(window, 2), inner), 1), emission)
    score = b.op("Where", of_type, b.op("Where", starting, entered_here, continuing), neg_inf)  # (B, K)
    _, scores = loop.scan([initial], [by_time, entered, allowed, starts_by_time], [score], [(score, FLOAT)])
    following = b.op("Add", emissions_next, b.op("Gather", betas, next_t, axis=0))  # (T, B, K)
    pairs = b.op("Add", b.op("Add", b.unsqueeze(scores, 3), leave), b.unsqueeze(following, 2))  # (T, B, K, K)
    leaving = b.logsumexp(b.op("Reshape", pairs, b.const([0, 0, -1], "shape", np.int64)), 2)
    ending = b.logsumexp(b.op("Add", scores, end), 2)
    totals = b.op("Where", has_next, leaving, ending)  # (T, B)
    probability = b.op("Min", b.op("Exp", b.op("Sub", b.op("Transpose", totals, perm=[1, 0]), b.unsqueeze(log_z, 1))),
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
