"""textlab bounds oneDNN's and ideep's primitive caches before a model runs (textlab/onednn_cache.py: a long
prediction run's memory grew with its input), and leaves a size the user set alone."""

import os

import pytest

from textlab.cli import main
from textlab.onednn_cache import IDEEP_CAPACITY, ONEDNN_CAPACITY, ONEDNN_TRAINING_CAPACITY
from textlab.predict import load_model

ONEDNN = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY")
VARIABLES = (*ONEDNN, "LRU_CACHE_CAPACITY")


@pytest.fixture
def unset(monkeypatch):
    """None of the variables set; all restored after the test (set first, so that monkeypatch undoes what main sets)."""
    for name in VARIABLES:
        monkeypatch.setenv(name, "0")
        monkeypatch.delenv(name)


def test_textlab_command_bounds_the_cache(unset):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == str(ONEDNN_CAPACITY)
    assert os.environ["LRU_CACHE_CAPACITY"] == str(IDEEP_CAPACITY)
    assert "DNNL_PRIMITIVE_CACHE_CAPACITY" not in os.environ


@pytest.mark.parametrize("name", ONEDNN)
def test_a_size_the_user_set_is_kept(unset, monkeypatch, name):
    monkeypatch.setenv(name, "512")
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert os.environ[name] == "512"
    assert [n for n in ONEDNN if n in os.environ] == [name]  # not overruled by the other name
    assert os.environ["LRU_CACHE_CAPACITY"] == str(IDEEP_CAPACITY)  # each cache on its own


def test_load_model_bounds_the_cache(unset, trained_tagger):
    load_model(trained_tagger["last"])
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == str(ONEDNN_CAPACITY)
    assert os.environ["LRU_CACHE_CAPACITY"] == str(IDEEP_CAPACITY)


def test_training_keeps_onednn_s_default_cache(unset):
    # it runs the BiLSTM forward and backward in training, a primitive for each batch shape (see onednn_cache.py)
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == str(ONEDNN_TRAINING_CAPACITY) == "1024"
    assert os.environ["LRU_CACHE_CAPACITY"] == str(IDEEP_CAPACITY)
