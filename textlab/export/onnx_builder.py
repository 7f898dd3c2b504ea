"""A small helper for writing ONNX graphs node by node (``onnx.helper`` does the protobuf; this only names
the values and keeps the constants): the decoding graph is written with it, in ONNX's own Scan loops, because
an exporter would unroll PyTorch's Python loop over time into a graph of one fixed sentence length."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # Scan 16, ScatterElements with reduction 16; ReduceMax still takes its axes as an attribute


class GraphBuilder:
    """Collects nodes and constants; every value it names starts with ``prefix`` (unique beside another graph)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{self.prefix}{hint}_{self._count}"

    def const(self, value, hint: str = "const", dtype=None) -> str:
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, outputs: int = 1, hint: str | None = None, **attributes):
        names = [self.name(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=names[0], **attributes))
        return names[0] if outputs == 1 else names

    # the few compound steps the decoding uses more than once

    def unsqueeze(self, x: str, axis: int) -> str:
        return self.op("Unsqueeze", x, self.const([axis], "axis", np.int64))

    def squeeze(self, x: str, axis: int) -> str:
        return self.op("Squeeze", x, self.const([axis], "axis", np.int64))

    def logsumexp(self, x: str, axis: int) -> str:
        """log(sum(exp(x))) over ``axis`` (dropped), as torch.logsumexp computes it: the maximum taken out first,
        and an all ``-inf`` row giving ``-inf``, not NaN."""
        top = self.op("ReduceMax", x, axes=[axis], keepdims=1)
        # the lowest float32 in place of -inf: exp(-inf - lowest) is 0 and log(0) + lowest is -inf, as with 0
        top = self.op("Max", top, self.const(np.finfo(np.float32).min, "lowest", np.float32))
        total = self.op("ReduceSum", self.op("Exp", self.op("Sub", x, top)), self.const([axis], "axis", np.int64),
                        keepdims=1)
        return self.squeeze(self.op("Add", self.op("Log", total), top), axis)


def value_info(name: str, elem_type: int, shape: list | None = None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


FLOAT, INT64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


class Loop:
    """The body of a Scan: ``state`` values carried from step to step, then the ``inputs`` of one time step,
    each given as (hint, element type); its nodes are written with the same builder (names stay unique)."""

    def __init__(self, builder: GraphBuilder, state: list[tuple[str, int]], inputs: list[tuple[str, int]]) -> None:
        self.builder = builder
        self.outer_nodes = builder.nodes
        builder.nodes = []  # the body's nodes are collected apart from the enclosing graph's
        self.state_in = [value_info(builder.name(hint), kind) for hint, kind in state]
        self.step_in = [value_info(builder.name(hint), kind) for hint, kind in inputs]
        self.state_kinds = [kind for _, kind in state]

    @property
    def values(self) -> list[str]:
        return [v.name for v in self.state_in + self.step_in]

    def scan(self, initial: list[str], sequences: list[str], state_out: list[str], step_out: list[tuple[str, int]],
             reverse: bool | list[bool] = False) -> list[str]:
        """Close the body (its new state values, then the per-step outputs) and add the Scan to the enclosing
        graph over ``sequences`` (time first); returns the final states, then the stacked per-step outputs.
        ``reverse``: for all sequences at once, or one for each sequence and then one for each per-step output
        (a Scan may walk some sequences forwards and others backwards in the same steps)."""
        b = self.builder
        # a body's outputs are values its nodes made, each once; Identity copies any other (a body input, an outer
        # value, an output already), and only those: each Identity costs its Scan a node run a step
        outputs, made = [], {name for node in b.nodes for name in node.output}
        for v in state_out + [name for name, _ in step_out]:
            outputs.append(v if v in made and v not in outputs else b.op("Identity", v, hint="out"))
        kinds = self.state_kinds + [kind for _, kind in step_out]
        body = helper.make_graph(b.nodes, b.name("body"), self.state_in + self.step_in,
                                 [value_info(n, k) for n, k in zip(outputs, kinds)])
        b.nodes = self.outer_nodes
        if isinstance(reverse, bool):
            reverse = [reverse] * (len(sequences) + len(step_out))
        directions = [int(r) for r in reverse]
        results = b.op("Scan", *initial, *sequences, outputs=len(outputs), hint="scan", body=body,
                       num_scan_inputs=len(sequences), scan_input_directions=directions[:len(sequences)],
                       scan_output_directions=directions[len(sequences):])
        return [results] if isinstance(results, str) else results
