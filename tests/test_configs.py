"""The shipped configs, each alone or stacked on its base as its header says, through the real entry point.

`textlab fit --config ... --print_config` refuses an option that no part reads (jsonargparse knows each
part's arguments), so a config cannot carry a setting that silently does nothing; the parts are then built
from the parsed settings, so a config cannot carry a value its part refuses either. A variant holds only
what differs from its base, and every file in configs/ must be named in RUNS below.
"""

import importlib
import logging
from functools import partial

import jsonargparse
import pytest
import yaml

from conftest import ROOT
from textlab.cli import main
from textlab.data import ToyClassificationDataModule, ToyNERDataModule
from textlab.models import SequenceTagger, TextClassifier

CONFIGS = ROOT / "configs"
# every way the shipped configs are run: a complete config alone, or a variant stacked on its base
RUNS = [
    ("ner_bilstm_crf",), ("ner_bilstm_crf", "ner_char_lstm"), ("ner_bilstm_crf", "ner_char_both"), ("ner_toy",),
    ("cls_textcnn",), ("cls_textcnn", "cls_lstm"), ("cls_textcnn", "cls_bag"), ("cls_textcnn_mr",),
]
VARIANTS = [run for run in RUNS if len(run) == 2]


def ids(run: tuple[str, ...]) -> str:
    return "+".join(run)


def read(name: str) -> dict:
    return yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())


@pytest.fixture(autouse=True)
def _own_log_handler(monkeypatch, tmp_path):
    # main() gives the "textlab" logger a handler on the current stderr: one per test, gone after it
    monkeypatch.setattr(logging.getLogger("textlab"), "handlers", [])
    monkeypatch.chdir(tmp_path)


def textlab_fit(configs, *options, capsys) -> tuple[int, str, str]:
    """`textlab fit --config C1 [--config C2] OPTIONS --print_config` in-process: exit status, stdout, stderr."""
    args = ["fit", *(x for c in configs for x in ("--config", str(c))), *map(str, options), "--print_config"]
    try:
        main(args)
        code = 0
    except SystemExit as exit:
        code = exit.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def leaves(tree, path=()):
    """(path, value) of every leaf of a YAML tree; a class_path starts a new part (see repeats)."""
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            yield from leaves(value, (*path, key))
    else:
        yield path, tree


def at(tree, path):
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return KeyError
        tree = tree[key]
    return tree


def test_every_config_file_is_covered():
    # a new config in configs/ must be added to RUNS (alone, or stacked on its base), or this test fails
    shipped = {p.stem for p in CONFIGS.iterdir() if p.suffix in (".yaml", ".yml")}
    assert shipped == {name for run in RUNS for name in run}
    assert all(p.suffix == ".yaml" for p in CONFIGS.iterdir() if p.stem in shipped)


@pytest.mark.parametrize("run", RUNS, ids=ids)
def test_every_shipped_config_parses_through_the_entry_point(run, capsys):
    code, out, err = textlab_fit([CONFIGS / f"{name}.yaml" for name in run], capsys=capsys)
    assert code == 0 and "textlab: error" not in err, err
    printed = yaml.safe_load(out)
    assert printed["model"]["class_path"] in ("textlab.models.SequenceTagger", "textlab.models.TextClassifier")
    assert printed["data"]["class_path"].startswith("textlab.data.")
    if len(run) == 2:  # the variant's every setting survives the stacking
        for path, value in leaves(read(run[1])):
            assert at(printed, path) == value, (path, value)


def build(value):
    """A part as the CLI hands it to the model: its class with its init_args bound, the sizes left to the model."""
    if isinstance(value, dict) and "class_path" in value:
        module, name = value["class_path"].rsplit(".", 1)
        cls = getattr(importlib.import_module(module), name)
        return partial(cls, **{k: build(v) for k, v in (value.get("init_args") or {}).items()})
    if isinstance(value, str) and value.startswith("textlab.modules."):
        return build({"class_path": value})
    return value


@pytest.fixture(scope="module")
def vocabs():
    return {"textlab.models.SequenceTagger": ToyNERDataModule(num_train=40, num_val=8, num_test=8).vocab,
            "textlab.models.TextClassifier": ToyClassificationDataModule(num_train=60, num_val=12, num_test=12).vocab}


@pytest.mark.parametrize("run", RUNS, ids=ids)
def test_every_shipped_config_builds_its_parts_without_a_warning(run, vocabs, capsys, caplog):
    code, out, err = textlab_fit([CONFIGS / f"{name}.yaml" for name in run], capsys=capsys)
    assert code == 0, err
    printed = yaml.safe_load(out)
    model = {"textlab.models.SequenceTagger": SequenceTagger, "textlab.models.TextClassifier": TextClassifier}[
        printed["model"]["class_path"]]
    options = {k: build(v) for k, v in printed["model"]["init_args"].items() if k != "vocab"}
    model(vocabs[printed["model"]["class_path"]], **options)  # no pretrained vectors are read before fit
    # the data module from its block, its parts built as the CLI builds them; the data (MR, CoNLL) need not be here
    module, name = printed["data"]["class_path"].rsplit(".", 1)
    parser = jsonargparse.ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(getattr(importlib.import_module(module), name), "data")
    parser.instantiate(parser.parse_object({"data": printed["data"]["init_args"]}))
    assert [r.getMessage() for r in caplog.records if r.name == "textlab" and r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("base, variant", VARIANTS, ids=ids)
def test_a_variant_holds_only_what_differs_from_its_base(base, variant):
    text, delta, full = (CONFIGS / f"{variant}.yaml").read_text(), read(variant), read(base)
    # it says how it is run, and that is how RUNS runs it
    assert f"textlab fit --config configs/{base}.yaml --config configs/{variant}.yaml" in text
    assert "data" not in delta and "seed_everything" not in delta  # the base's data and seed
    assert "class_path" not in delta["model"]  # the base's model class; the variant changes its parts
    repeated = []
    for path, value in leaves(delta):
        if path[-1] == "class_path":
            continue
        # under a part whose class the variant changes, equal values are the new part's own, not repeats
        parts = [path[:i] for i in range(len(path)) if isinstance(at(delta, path[:i]), dict)
                 and "class_path" in at(delta, path[:i])]
        if any(at(delta, (*p, "class_path")) != at(full, (*p, "class_path")) for p in parts):
            continue
        if at(full, path) == value:
            repeated.append(".".join(path))
    assert repeated == [], f"{variant}.yaml repeats what {base}.yaml sets: {repeated}"


MISPLACED_CHARS = """model:
  init_args:
    chars:
      class_path: textlab.modules.CharLSTM
      init_args:
        hidden: 25
        filters: 30
"""


@pytest.mark.parametrize("run, yaml_text, options, names", [
    # a CharCNN option under a CharLSTM, in a config file: the error names the option and the part's settings
    (("ner_bilstm_crf",), MISPLACED_CHARS, [], "--model.init_args.chars.init_args.filters: not accepted"),
    # and on the command line, after the stacked variant switched the part
    (("ner_bilstm_crf", "ner_char_lstm"), None, ["--model.init_args.chars.init_args.filters", "3"],
     "--model.init_args.chars.init_args.filters: not accepted"),
    (("cls_textcnn",), None, ["--model.init_args.encoder.init_args.hidden_size", "64"],
     "--model.init_args.encoder.init_args.hidden_size: not accepted"),
    (("cls_textcnn", "cls_bag"), None, ["--model.init_args.encoder.init_args.widths", "[3]"],
     "--model.init_args.encoder.init_args.widths: not accepted"),
    # an option of the model's that is gone
    (("ner_toy",), "model:\n  init_args:\n    extra_word_dim: 50\n", [], "extra_word_dim"),
    (("cls_textcnn",), None, ["--model.init_args.label_smoothing", "0.1"], "label_smoothing"),
], ids=["CharCNN-option-under-CharLSTM-in-yaml", "CharCNN-option-under-stacked-CharLSTM", "rnn-option-under-TextCNN",
         "cnn-option-under-NgramBag", "removed-extra_word_dim", "removed-label_smoothing"])
def test_a_misplaced_option_is_refused_with_one_line(run, yaml_text, options, names, capsys, tmp_path):
    configs = [CONFIGS / f"{name}.yaml" for name in run]
    if yaml_text is not None:
        (tmp_path / "extra.yaml").write_text(yaml_text)
        configs.append(tmp_path / "extra.yaml")
    code, out, err = textlab_fit(configs, *options, capsys=capsys)
    assert code == 2 and out == "", out
    assert err.count("\n") == 1 and err.startswith("textlab: error: ") and "Traceback" not in err, err
    assert names in err, err
