"""The Lightning internals and wording textlab relies on (textlab/lightning_compat.py) are still there.

Each test fails when a Lightning upgrade renames, removes or rewords one of them, naming what changed,
rather than leaving a user with a traceback or a silently ignored setting.
"""

import inspect
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.demos.boring_classes import BoringModel

from textlab.lightning_compat import VAL_CHECK_INTERVAL, LightningInternals, early_stopping_metric


@pytest.mark.parametrize("name", ["_parse_ckpt_path", "_run_subcommand"])
def test_overridden_internals_still_exist(name):
    assert callable(getattr(LightningCLI, name, None)), f"LightningCLI.{name} is gone: update textlab/lightning_compat.py"
    ours = inspect.signature(getattr(LightningInternals, name))
    theirs = inspect.signature(getattr(LightningCLI, name))
    assert list(ours.parameters) == list(theirs.parameters), f"LightningCLI.{name} changed its signature"


@pytest.mark.parametrize("subcommand, option", [("fit", "--test_after_fit"), ("predict", "--output"),
                                                ("predict", "--confidences")])
def test_options_added_to_one_subcommand(subcommand, option, capsys):
    from textlab.cli import main

    with pytest.raises(SystemExit):
        main([subcommand, "--help"])
    assert option in capsys.readouterr().out


def test_early_stopping_wording_is_recognised():
    callback = EarlyStopping(monitor="val/f1x")
    with pytest.raises(RuntimeError) as raised:
        callback._validate_condition_metric({"val/f1": torch.tensor(0.5)})
    assert early_stopping_metric(raised.value) == ("val/f1x", "`val/f1`"), (
        f"EarlyStopping's wording changed: {raised.value}")


def test_val_check_interval_wording_is_recognised(tmp_path):
    # tests/test_errors.py checks the one line a user sees; this says which wording changed when it breaks
    trainer = Trainer(default_root_dir=tmp_path, val_check_interval=10_000, max_epochs=1, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    with pytest.raises(ValueError) as raised:
        trainer.fit(BoringModel())
    assert VAL_CHECK_INTERVAL in str(raised.value), f"Lightning's wording changed: {raised.value}"


def test_a_loaded_model_keeps_plain_hyperparameters(tmp_path):
    from functools import partial

    from textlab.lightning_compat import instantiate_from_hparams
    from textlab.models import SequenceTagger

    vocab = {"words": ["<pad>", "<unk>", "a"], "chars": ["<pad>", "<unk>", "a"], "tags": ["O", "S-X"],
             "tag_scheme": "BIOES"}
    hparams = {"_class_path": "textlab.models.SequenceTagger", "vocab": vocab,
               "words": {"class_path": "textlab.modules.WordEmbeddings", "init_args": {"dim": 4}}}
    model = instantiate_from_hparams(SequenceTagger, hparams)
    assert model.embedder.words.embedding_dim == 4
    assert model.hparams["words"] == hparams["words"], "the model's hyperparameters are no longer the plain config"
    assert not isinstance(model.hparams["words"], partial)


@pytest.mark.parametrize("option, key, expected", [
    ("--model.init_args.words.init_args.pretrained", ("model", "init_args", "words", "init_args", "pretrained"), None),
    ("--model.words.max_norm", ("model", "init_args", "words", "init_args", "max_norm"), None),
    ("--data.init_args.words.add_pretrained_words", ("data", "init_args", "words", "add_pretrained_words"), None),
])
def test_null_two_parts_down_is_none(option, key, expected, capsys):
    """jsonargparse would hand it on as the text "None" (textlab.lightning_compat._keep_nested_nulls)."""
    import yaml

    from textlab.cli import main

    config = str(Path(__file__).resolve().parents[1] / "configs" / "ner_bilstm_crf.yaml")
    with pytest.raises(SystemExit) as exited:
        main(["fit", "--config", config, option, "null", "--print_config"])
    assert exited.value.code in (0, None)
    value = yaml.safe_load(capsys.readouterr().out)
    for k in key:
        value = value[k]
    assert value is expected
