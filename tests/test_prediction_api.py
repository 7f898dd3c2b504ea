"""The Python prediction API is safe from several threads, and `textlab predict` reads its checkpoint once."""

import threading
from functools import partial
from pathlib import Path

import pytest
import torch

from textlab.models import SequenceTagger
from textlab.modules import CharCNN, RNNEncoder, WordEmbeddings

DATA = Path(__file__).parent / "data"
VOCAB = {"words": ["<pad>", "<unk>", "John", "lives", "in", "Paris", "."],
         "chars": ["<pad>", "<unk>", *sorted(set("JohnlivesParis."))],
         "tags": ["O", "B-PER", "E-PER", "S-LOC", "S-PER", "I-PER", "B-LOC", "E-LOC", "I-LOC"], "tag_scheme": "BIOES"}
SENTENCES = [("John lives in Paris . " * n).split() for n in range(1, 9)]


def tiny_tagger() -> SequenceTagger:
    torch.manual_seed(0)
    model = SequenceTagger(VOCAB, words=partial(WordEmbeddings, dim=8), chars=partial(CharCNN, dim=4, filters=4),
                           encoder=partial(RNNEncoder, hidden_size=8))
    with torch.no_grad():  # a CRF that prefers entities, so that the tags and spans say something
        model.projection.bias.copy_(torch.linspace(-1, 1, len(VOCAB["tags"])))
    return model.eval()


def test_predict_from_several_threads_gives_the_sequential_results():
    model = tiny_tagger()
    expected = model.predict(SENTENCES, batch_size=3, confidences=True)
    assert any(r.spans for r in expected)
    results, errors = {}, []

    def run(i: int) -> None:
        try:
            results[i] = model.predict(SENTENCES, batch_size=3, confidences=bool(i % 2))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, got in results.items():
        assert [r.tags for r in got] == [r.tags for r in expected]
        assert [r.spans for r in got] == ([r.spans for r in expected] if i % 2 else
                                          [[s.__class__(s.label, s.start, s.end, s.text) for s in r.spans]
                                           for r in expected])
    assert not model.training


def test_predict_refuses_a_model_in_training_mode_and_leaves_it_so():
    model = tiny_tagger().train()
    with pytest.raises(RuntimeError, match="eval mode"):
        model.predict(SENTENCES[:1])
    assert model.training


def test_textlab_predict_loads_the_checkpoint_once(tmp_path, monkeypatch, capsys):
    from textlab.cli import main

    loads = []
    real_load = torch.load

    def counting_load(*args, **kwargs):
        loads.append(args[0] if args else kwargs.get("f"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", counting_load)
    text = tmp_path / "in.txt"
    text.write_text("John lives in Paris .\n")
    main(["predict", "--ckpt_path", str(DATA / "legacy_tagger.ckpt"), "--data.predict_file", str(text)])
    assert "John\t" in capsys.readouterr().out
    assert len(loads) == 1, f"the checkpoint was read {len(loads)} times"
