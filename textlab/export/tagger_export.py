"""A ``SequenceTagger`` -> one ONNX model: words, chars, casing, lengths in; tag ids out, decoded in the graph."""

from __future__ import annotations

import onnx
from onnx import helper

from textlab.data.sentence import Sentence
from textlab.export.onnx_builder import INT64, GraphBuilder, value_info
from textlab.export.onnx_export import append_graph, export_network
from textlab.export.tag_decoding import add_decoding
from textlab.export.tagger_network import TaggerNetwork, word_table

INPUTS = ["words", "chars", "casing", "lengths"]
OUTPUTS = ["tags"]
DYNAMIC_AXES = {"words": {0: "B", 1: "T"}, "chars": {0: "B", 1: "T", 2: "W"}, "casing": {0: "B", 1: "T"},
                "lengths": {0: "B"}, "emissions": {0: "B", 1: "T"}}


def tagger_onnx(tagger, rows: int) -> onnx.ModelProto:
    """The tagger (in eval mode) with its first ``rows`` word rows as an ONNX model (``INPUTS`` -> ``OUTPUTS``)."""
    network = TaggerNetwork(tagger, word_table(tagger.embedder.words)[:rows])
    # two sentences of different lengths, so that no size of the example looks like a constant to the tracer
    batch = tagger.collate([tagger.encode(Sentence(["Exported", "in", "2024", "."])), tagger.encode(Sentence(["Hi"]))])
    example = {"words": batch.words.clamp(max=rows - 1), "chars": batch.chars, "casing": batch.casing,
               "lengths": batch.lengths}
    model = export_network(network, example, "emissions", DYNAMIC_AXES)
    decoding = GraphBuilder("decode/")
    tags = add_decoding(decoding, "emissions", "lengths", tagger.decoder)
    decoding.nodes.append(helper.make_node("Identity", [tags], ["tags"], name="decode/tags"))
    append_graph(model, decoding, [value_info("tags", INT64, ["B", "T"])])
    return model
