"""--data.files.cache_dir: the corpus is encoded once into memory-mapped Arrow files that processes share."""

import torch

from textlab.data import ConllFiles, TaggingDataModule, Words
from textlab.data.toy_ner import generate_toy_ner, write_conll


def _files(tmp_path):
    toy = generate_toy_ner(seed=3, num_train=200, num_val=40, num_test=40)
    for split, name in [("train", "train.txt"), ("val", "valid.txt"), ("test", "test.txt")]:
        write_conll(toy[split], tmp_path / name)
    return tmp_path


def _batches(dm, split="train"):
    dm.setup("fit" if split != "test" else "test")
    loader = {"train": dm.train_dataloader, "val": dm.val_dataloader, "test": dm.test_dataloader}[split]()
    return list(loader)


def test_cached_corpus_gives_the_same_vocabulary_and_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("PL_GLOBAL_SEED", "4")
    data_dir = _files(tmp_path)
    plain = TaggingDataModule(files=ConllFiles(data_dir=str(data_dir)), batch_size=8)
    cached = TaggingDataModule(files=ConllFiles(data_dir=str(data_dir), cache_dir=str(tmp_path / "cache")), batch_size=8)
    assert cached.vocab == plain.vocab
    for split in ("train", "val"):
        for a, b in zip(_batches(plain, split), _batches(cached, split), strict=True):
            for field in ("words", "chars", "casing", "mask", "lengths", "tags"):
                assert torch.equal(getattr(a, field), getattr(b, field)), field
            assert a.tokens == b.tokens
    store = next(p for p in (tmp_path / "cache").iterdir() if p.is_dir())
    assert sorted(p.name for p in store.iterdir()) == [
        "train.arrow", "val.arrow", "vocab.json"
    ]


def test_second_process_reuses_the_cache_instead_of_rebuilding(tmp_path, monkeypatch):
    data_dir = _files(tmp_path)
    first = TaggingDataModule(files=ConllFiles(data_dir=str(data_dir), cache_dir=str(tmp_path / "cache")))
    first.setup("fit")

    def no_rebuild(*args, **kwargs):
        raise AssertionError("rebuilt")

    monkeypatch.setattr(TaggingDataModule, "_build_vocab", no_rebuild)
    monkeypatch.setattr(TaggingDataModule, "_encoded", no_rebuild)
    second = TaggingDataModule(files=ConllFiles(data_dir=str(data_dir), cache_dir=str(tmp_path / "cache")))
    assert second.vocab == first.vocab
    second.setup("fit")
    assert len(second.datasets["train"]) == 200


def test_changed_file_or_options_build_a_new_cache(tmp_path):
    data_dir = _files(tmp_path)
    cache = tmp_path / "cache"
    TaggingDataModule(files=ConllFiles(data_dir=str(data_dir), cache_dir=str(cache))).vocab
    TaggingDataModule(files=ConllFiles(data_dir=str(data_dir), cache_dir=str(cache)), words=Words(lowercase=True)).vocab
    with open(data_dir / "train.txt", "a") as f:
        f.write("\nZyx B-PER\n")
    TaggingDataModule(files=ConllFiles(data_dir=str(data_dir), cache_dir=str(cache))).vocab
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 3


def test_a_checkpoint_overwritten_in_place_builds_a_new_cache(tmp_path):
    # `textlab test --ckpt_path C --data.files.cache_dir D`: C's vocabularies encode the corpus, so C is part of the key
    data_dir = _files(tmp_path)
    cache = tmp_path / "cache"
    ckpt = tmp_path / "model.ckpt"
    vocab = TaggingDataModule(files=ConllFiles(data_dir=str(data_dir))).vocab
    torch.save({"hyper_parameters": {"vocab": vocab}}, ckpt)
    TaggingDataModule(files=ConllFiles(data_dir=str(data_dir), cache_dir=str(cache)), vocab_from=str(ckpt)).setup("test")
    smaller = TaggingDataModule(files=ConllFiles(data_dir=str(data_dir)), words=Words(min_word_freq=2)).vocab
    torch.save({"hyper_parameters": {"vocab": smaller}}, ckpt)  # another model, same path
    dm = TaggingDataModule(files=ConllFiles(data_dir=str(data_dir), cache_dir=str(cache)), vocab_from=str(ckpt))
    dm.setup("test")
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 2
    assert max(i for s in dm.datasets["test"] for i in s["words"]) < len(smaller["words"])
