"""``--int8``: dynamic quantisation of the exported network by onnxruntime's quantisation tools.

Weights become int8 (each activation is quantised on the fly, per batch); the operators quantised are the
matrix products, the LSTMs and the look-up tables (Gather of a float table: the word table is most of a model's
size, and a tagger's character CNN is exported as tables too, ``textlab.export.tagger_network``). Not the
convolutions (a TextCNN's): onnxruntime's ConvInteger, with the quantisation of its input around it, ran 3x slower
than the float Conv (measured on the character CNN, when it was exported as one), and their weights are a few
kilobytes. The decoding graph stays float32: its scores decide between paths whose scores may differ in the last
bits, and it holds no weights worth shrinking.
"""

from __future__ import annotations

import logging

import onnx

QUANTISED = ["MatMul", "Gemm", "LSTM", "Gather"]


def quantize_int8(model: onnx.ModelProto, path: str, keep_float: str = "decode/") -> None:
    """Write ``model`` to ``path`` with int8 weights, except in the nodes whose names start with ``keep_float``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    excluded = [node.name for node in model.graph.node if node.name.startswith(keep_float)]
    # It advises, on the root logger, a pre-processing step meant for static (calibrated) quantisation. Its call
    # (logging.warning) also gives the root logger a handler when it has none, even with logging disabled, and
    # every later message of textlab's own was then printed a second time through it: that handler goes too.
    root = logging.getLogger()
    handlers = list(root.handlers)
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(model, path, op_types_to_quantize=QUANTISED, nodes_to_exclude=excluded,
                         weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
