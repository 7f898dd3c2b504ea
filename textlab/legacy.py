"""Checkpoints written before models were built from parts (flat options such as ``word_dim`` and
``char_encoder``): their hyperparameters and weight names in the parts' form, so they load as they are.

Options that changed what a model computes at prediction time and were removed (a frozen copy of the word
vectors, extra trained word dimensions in the tagger, the stacked char CNN-LSTM, a jointly trained linear
bag) cannot be converted: such a checkpoint is refused with one line. Options that acted in training only
(recurrent dropout, the language-model loss, mixup, ...) are dropped: the trained weights mean the same.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from textlab.errors import TextlabError

log = logging.getLogger("textlab")

_TAGGER = "textlab.models.tagger.SequenceTagger"
_CLASSIFIER = "textlab.models.classifier.TextClassifier"
_PARTS = "textlab.modules."


def is_legacy(hparams: dict[str, Any]) -> bool:
    return "word_dim" in hparams  # every flat model had it; no part-built model has it at the top


def upgrade_checkpoint(checkpoint: dict[str, Any], source: str) -> dict[str, Any]:
    """``checkpoint`` with its hyperparameters and state dict in the parts' form (in place), if it is old."""
    hparams = checkpoint.get("hyper_parameters") or {}
    if not is_legacy(hparams):
        return checkpoint
    class_path = hparams.get("_class_path", "")
    if class_path.endswith("SequenceTagger"):
        checkpoint["hyper_parameters"] = _tagger(hparams, source)
    elif class_path.endswith("TextClassifier"):
        checkpoint["hyper_parameters"] = _classifier(hparams, source)
        state = checkpoint.get("state_dict", {})
        for name in [n for n in state if n.startswith("linear_bag.")]:
            state["ensemble." + name.removeprefix("linear_bag.")] = state.pop(name)
        if any(n.startswith("ensemble.") for n in state):
            state["ensemble.fitted"] = torch.tensor(True)
    state = checkpoint.get("state_dict", {})
    for name in [n for n in state if n.startswith(("neighbour_words.", "embedder.words.initial",
                                                   "embedder.words.has_pretrained"))]:
        del state[name]  # the language-model head and the swap's buffers acted in training only
    log.info("%s: written before models were built from parts; converted on loading", source)
    return checkpoint


def _part(name: str, **init_args: Any) -> dict[str, Any]:
    return {"class_path": _PARTS + name, "init_args": init_args}


def _refuse(source: str, option: str, value: Any) -> None:
    raise TextlabError(f"{source}: trained with {option} {value}, an option textlab no longer has, which changes its "
                       "predictions: retrain it, or use textlab 0.1.0 (CHANGELOG.md lists the removed options)")


def _dropped(hparams: dict[str, Any], defaults: dict[str, Any]) -> None:
    for option, default in defaults.items():
        if option in hparams and hparams[option] != default:
            log.info("checkpoint option %s %s acted in training only and no longer exists (dropped)", option,
                     hparams[option])


def _common(hparams: dict[str, Any], kept: tuple[str, ...]) -> dict[str, Any]:
    out = {k: hparams[k] for k in ("_class_path", "_instantiator", "vocab", *kept) if k in hparams}
    for k in ("optimizer", "lr_scheduler"):
        if k in hparams:
            out[k] = hparams[k]
    return out


def _tagger(h: dict[str, Any], source: str) -> dict[str, Any]:
    for option, default in (("extra_word_dim", 0), ("frozen_word_copy", False)):
        if h.get(option, default) != default:
            _refuse(source, option, h[option])
    _dropped(h, {"scale_grad_by_freq": False, "pretrained_word_swap": 0.0, "recurrent_dropout": 0.0,
                 "language_model_weight": 0.0, "constrained_training": False, "init": "pytorch"})
    out = _common(h, ("casing_dim", "dropout", "variational_dropout", "word_dropout"))
    out["words"] = _part("WordEmbeddings", dim=h["word_dim"], pretrained=h.get("embeddings"),
                         normalize=h.get("normalize_embeddings", False), max_norm=h.get("max_norm"))
    kind = h.get("char_encoder", "cnn")
    cnn = dict(dim=h.get("char_dim", 30), filters=h.get("char_filters", 30), widths=list(h.get("char_widths", [3])))
    lstm = dict(dim=h.get("char_dim", 30), hidden=h.get("char_hidden", 25))
    dropout = h.get("char_dropout", 0.0)
    chars = {"cnn": lambda: _part("CharCNN", **cnn, dropout=dropout),
             "lstm": lambda: _part("CharLSTM", **lstm, dropout=dropout),
             "both": lambda: _part("CharCNNandLSTM", **cnn, hidden=lstm["hidden"], dropout=dropout),
             "none": lambda: None}
    if kind not in chars:
        _refuse(source, "char_encoder", kind)
    out["chars"] = chars[kind]()
    out["encoder"] = _part("RNNEncoder", hidden_size=h.get("hidden_size", 200), num_layers=h.get("num_layers", 1),
                           cell=h.get("encoder", "lstm"), dropout=h.get("dropout", 0.5))
    minimum = h.get("min_entity_probability", 0.0)
    out["decoder"] = (_part("CRFDecoder", constrained=h.get("constrained_decoding", True), min_entity_probability=minimum)
                      if h.get("decoder", "crf") == "crf" else _part("SoftmaxDecoder", min_entity_probability=minimum))
    return out


def _classifier(h: dict[str, Any], source: str) -> dict[str, Any]:
    if h.get("linear_ngrams", 0) and h.get("linear_training", "joint") == "joint":
        _refuse(source, "linear_training", "joint")
    _dropped(h, {"embedding_dropout": 0.0, "label_smoothing": 0.0, "mixup": "none"})
    out = _common(h, ("dropout", "class_weights", "output_max_norm"))
    pretrained, normalize = h.get("embeddings"), h.get("normalize_embeddings", False)
    encoder = h.get("encoder", "cnn")
    if encoder == "bag":
        out["embedder"] = None
        out["encoder"] = _part("NgramBag", dim=h["word_dim"], ngrams=h.get("ngrams", 1), buckets=h.get("buckets", 200_000),
                               mode=h.get("bag_mode", "mean"),
                               sparse_optimizer=h.get("sparse_optimizer") if h.get("sparse") else None,
                               pretrained=pretrained, normalize=normalize)
    else:
        out["embedder"] = _part("WordChannels", dim=h["word_dim"], pretrained=pretrained, normalize=normalize,
                                mode=h.get("embedding_mode", "rand"), extra_dim=h.get("extra_word_dim", 0))
        out["encoder"] = (_part("TextCNN", filters=h.get("filters", 100), widths=list(h.get("widths", [3, 4, 5])))
                          if encoder == "cnn" else
                          _part("PooledRNN", hidden_size=h.get("hidden_size", 128), num_layers=h.get("num_layers", 1),
                                bidirectional=h.get("bidirectional", True), cell=h.get("cell", "lstm"),
                                pooling=h.get("pooling", "max"), dropout=h.get("dropout", 0.5)))
    out["ensemble"] = (_part("NgramLogisticRegression", ngrams=h["linear_ngrams"], buckets=h.get("buckets", 200_000),
                             naive_bayes=h.get("linear_weighting") == "naive_bayes", l2=h.get("linear_l2", 1.0))
                       if h.get("linear_ngrams", 0) else None)
    return out
