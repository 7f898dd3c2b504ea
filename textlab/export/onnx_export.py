"""A network (``nn.Module``) -> an ONNX model with dynamic sizes, by torch.onnx's TorchScript exporter.

That exporter rather than the dynamo one (torch.export): the networks pack their sequences by length
(``pack_padded_sequence``), which the TorchScript exporter turns into ONNX LSTM/GRU's ``sequence_lens``
(padding then never reaches the backward direction), while torch.export cannot trace packing with
data-dependent lengths. The decoding, whose loops run over the sentence length, is written in ONNX directly
(``textlab.export.tag_decoding``) and joined to the network's graph here.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings

import onnx
import torch
from onnx import helper

from textlab.export.onnx_builder import OPSET, GraphBuilder


@contextlib.contextmanager
def _native_stderr_kept(log: list[str]):
    """The TorchScript exporter's C++ code prints warnings (shape inference it lacks for packed sequences) straight
    to file descriptor 2, past Python's warnings filter; they say nothing to a user of ``textlab export``. They
    are kept in ``log`` and shown only if the export fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            log.append(caught.read().decode(errors="replace"))


def export_network(network: torch.nn.Module, example: dict[str, torch.Tensor], output: str,
                   dynamic_axes: dict[str, dict[int, str]]) -> onnx.ModelProto:
    """``network(**example)`` as an ONNX model with inputs named as ``example`` (in its order), all of them kept
    even where the network ignores one (a tagger without casing), and one output named ``output``."""
    buffer, native = io.BytesIO(), []
    try:
        with warnings.catch_warnings(), _native_stderr_kept(native), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's own deprecation and tracer warnings
            torch.onnx.export(network.eval(), tuple(example.values()), buffer, dynamo=False, opset_version=OPSET,
                              input_names=list(example), output_names=[output], dynamic_axes=dynamic_axes)
    except Exception:
        sys.stderr.write("".join(native))
        raise
    model = onnx.load_from_string(buffer.getvalue())
    _keep_inputs(model.graph, example, dynamic_axes)
    return model


def _keep_inputs(graph: onnx.GraphProto, example: dict[str, torch.Tensor], dynamic_axes: dict) -> None:
    """The graph's inputs exactly ``example``'s names in order: the exporter drops an input the network never reads,
    and a runtime then would have to know which."""
    present = {value.name: value for value in graph.input}
    inputs = []
    for name, tensor in example.items():
        if name in present:
            inputs.append(present[name])
            continue
        shape = [dynamic_axes.get(name, {}).get(i, size) for i, size in enumerate(tensor.shape)]
        elem = helper.np_dtype_to_tensor_dtype(tensor.numpy().dtype)
        inputs.append(helper.make_tensor_value_info(name, elem, shape))
    del graph.input[:]
    graph.input.extend(inputs)


def append_graph(model: onnx.ModelProto, builder: GraphBuilder, outputs: list[onnx.ValueInfoProto]) -> None:
    """Add ``builder``'s nodes and constants after the model's own and make ``outputs`` the model's outputs."""
    model.graph.node.extend(builder.nodes)
    model.graph.initializer.extend(builder.initializers)
    del model.graph.output[:]
    model.graph.output.extend(outputs)
