"""Vocabularies, batches, the bucketed sampler and the tagging data module's sources."""

import pytest

from textlab.data import ConllFiles, TaggingDataModule, TaggingHub, Words
from textlab.data.bucket_sampler import BucketBatchSampler
from textlab.data.sentence import Sentence
from textlab.data.tagging_batch import collate_tagging, encode_sentence
from textlab.data.vectors import load_vectors, vectors_for_vocab
from textlab.data.vocab import PAD, UNK, TaggingVocab, Vocab, WordVocab
from textlab.errors import DataFormatError, TextlabError

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER
"""


def test_word_vocab_min_freq_and_lookup_chain():
    v = WordVocab.from_tokens([["The", "the", "the", "Paris", "1999"]], min_freq=1, digits=True)
    assert v.itos[:2] == [PAD, UNK]
    assert v.id("the") == v.stoi["the"] and v.id("THE") == v.stoi["the"]  # exact, then lower-cased
    assert v.id("2024") == v.stoi["0000"]  # digits normalised
    assert v.id("Lyon") == 1
    rare = WordVocab.from_tokens([["a", "a", "b"]], min_freq=2)
    assert "b" not in rare and "a" in rare
    lower = WordVocab.from_tokens([["Paris"]], lowercase=True)
    assert "paris" in lower and lower.id("PARIS") == lower.stoi["paris"]


def test_vocab_round_trips_as_plain_lists():
    words = WordVocab.from_tokens([["a", "b"]], lowercase=True)
    vocab = TaggingVocab(words, Vocab.build({"a": 1}), Vocab(["O", "B-X"], specials=False), "BIOES", 3)
    plain = vocab.to_dict()
    assert all(isinstance(v, (list, str, bool, int)) for v in plain.values())
    again = TaggingVocab.from_dict(plain)
    assert again.words.itos == words.itos and again.words.lowercase and again.tag_scheme == "BIOES"
    assert again.trainable_words == 3
    with pytest.raises(TextlabError, match="invalid vocabulary"):
        TaggingVocab.from_dict({"words": []})


def test_extend_keeps_existing_ids():
    v = WordVocab.from_tokens([["b", "a"]])
    bigger = v.extend(["c", "a", "d"])
    assert bigger.itos[: len(v)] == v.itos and bigger.itos[len(v) :] == ["c", "d"]


def test_collate_pads_and_masks():
    vocab = TaggingVocab(
        WordVocab.from_tokens([["EU", "rejects"]]),
        Vocab.build({c: 1 for c in "EUrejcts"}),
        Vocab(["O", "S-ORG"], specials=False),
        "BIOES",
    )
    a = encode_sentence(Sentence(["EU", "rejects"], ["S-ORG", "O"]), vocab)
    b = encode_sentence(Sentence(["EU"], ["S-ORG"]), vocab)
    batch = collate_tagging([a, b])
    assert batch.words.shape == (2, 2) and batch.chars.shape == (2, 2, 7)
    assert batch.mask.tolist() == [[True, True], [True, False]]
    assert batch.lengths.tolist() == [2, 1] and batch.tags.tolist() == [[1, 0], [1, 0]]
    assert batch.words[1, 1] == 0 and (batch.chars[1, 1] == 0).all()
    assert batch.tokens == [["EU", "rejects"], ["EU"]]


def test_token_cache_is_bounded_and_gives_the_ids_of_a_fresh_one(monkeypatch):
    import textlab.data.tagging_encoding as encoding

    words = WordVocab.from_tokens([["EU", "rejects", "the", "call"]])
    vocab = TaggingVocab(words, Vocab.build({c: 1 for c in "EUrejcts"}), Vocab(["O"], specials=False), "IOB2")
    sentences = [Sentence(["EU", "rejects", "the", "call", "EU", "x", "2024", "the"]), Sentence([]),
                 Sentence(["call", "rejects", "EU"])]
    fresh = [encode_sentence(s, vocab) for s in sentences]
    monkeypatch.setattr(encoding, "_TOKEN_CACHE_SIZE", 2)
    monkeypatch.setattr(encoding, "_token_caches", type(encoding._token_caches)())
    for _ in range(2):  # the second time round from what the bounded cache kept
        assert [encode_sentence(s, vocab) for s in sentences] == fresh
        cache, _ = encoding._token_cache(vocab.words, vocab.chars)
        assert len(cache) <= 2


def test_bucket_sampler_covers_everything_and_groups_lengths():
    lengths = [(i * 37) % 50 + 1 for i in range(1000)]
    sampler = BucketBatchSampler(lengths, batch_size=16, shuffle=True, seed=3, pool_factor=10)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 10  # a random batch of 16 would spread over ~45
    sampler.set_epoch(1)
    assert list(sampler) != batches  # reshuffled each epoch...
    sampler.set_epoch(0)
    assert list(sampler) == batches  # ...as a function of seed and epoch alone


def test_data_dir_layout_iob1_converted(tmp_path):
    (tmp_path / "train.txt").write_text(CONLL)
    (tmp_path / "valid.txt").write_text(CONLL)
    dm = TaggingDataModule(files=ConllFiles(data_dir=str(tmp_path)), tag_scheme="BIOES")
    train = dm.sentences("train")
    assert train[0].tags == ["S-ORG", "O", "S-MISC", "O", "O"]  # IOB1 in, BIOES out
    assert train[1].tags == ["B-PER", "E-PER"]
    assert dm.vocab["tags"][0] == "O" and "S-ORG" in dm.vocab["tags"]
    assert not dm.has_split("test")
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch.tags is not None and len(batch) == 2


def test_train_with_dev_trains_on_the_validation_sentences_too(tmp_path):
    (tmp_path / "train.txt").write_text(CONLL)
    (tmp_path / "valid.txt").write_text("Lisbon B-LOC\nsmiles O\n")
    dm = TaggingDataModule(files=ConllFiles(data_dir=str(tmp_path)), train_with_dev=True)
    without = TaggingDataModule(files=ConllFiles(data_dir=str(tmp_path)))
    train = dm.sentences("train")
    assert [s.tokens for s in train] == [s.tokens for s in without.sentences("train")] + [["Lisbon", "smiles"]]
    assert train[-1].tags == ["S-LOC", "O"]  # converted to the training scheme like the rest
    assert "Lisbon" in dm.vocab["words"] and "S-LOC" in dm.vocab["tags"]
    assert "Lisbon" not in without.vocab["words"] and "S-LOC" not in without.vocab["tags"]
    assert [s.tokens for s in dm.sentences("val")] == [["Lisbon", "smiles"]]  # validation is unchanged
    dm.setup("fit")
    assert len(dm.datasets["train"]) == len(train) and len(dm.datasets["val"]) == 1


def test_train_with_dev_without_validation_data_says_so(tmp_path):
    (tmp_path / "train.txt").write_text(CONLL)
    dm = TaggingDataModule(files=ConllFiles(data_dir=str(tmp_path)), train_with_dev=True)
    with pytest.raises(TextlabError, match=r"train_with_dev: no validation data .*--data.files.val_file"):
        dm.sentences("train")


def test_unseen_entity_type_names_the_token_and_its_line(tmp_path):
    (tmp_path / "train.txt").write_text(CONLL)
    (tmp_path / "test.txt").write_text("In O\nParis B-LOC\nyesterday O\n")
    dm = TaggingDataModule(files=ConllFiles(train_file=str(tmp_path / "train.txt"), test_file=str(tmp_path / "test.txt")))
    with pytest.raises(DataFormatError, match=r"test.txt:2: entity type 'LOC' \(token 'Paris'\) never occurs in the training data"):
        dm.setup("test")


@pytest.mark.parametrize("scheme", ["BIOES", "IOB2"])
def test_every_tag_of_the_scheme_for_a_training_type(tmp_path, scheme):
    # PER spans two tokens in training (B-PER E-PER under BIOES); a one-token PER (S-PER) and a
    # three-token one (I-PER) in the validation file are still PER.
    (tmp_path / "train.txt").write_text(CONLL)
    (tmp_path / "valid.txt").write_text("Peter B-PER\n\nPeter B-PER\nvan I-PER\nBlackburn I-PER\n")
    files = ConllFiles(train_file=str(tmp_path / "train.txt"), val_file=str(tmp_path / "valid.txt"))
    dm = TaggingDataModule(files=files, tag_scheme=scheme)
    prefixes = "BIES" if scheme == "BIOES" else "BI"
    assert dm.vocab["tags"] == ["O", *(f"{p}-{t}" for t in ("MISC", "ORG", "PER") for p in prefixes)]
    dm.setup("fit")
    val = [dm.vocab["tags"][i] for sentence in dm.datasets["val"] for i in sentence.tags]
    expected = {"BIOES": ["S-PER", "B-PER", "I-PER", "E-PER"], "IOB2": ["B-PER", "B-PER", "I-PER", "I-PER"]}[scheme]
    assert val == expected


def test_hugging_face_dataset_from_disk(tmp_path):
    import datasets

    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])),
        }
    )
    rows = {"tokens": [["John", "Smith", "lives", "in", "Paris"], ["Hi"]], "ner_tags": [[1, 2, 0, 0, 3], [0]]}
    split = datasets.Dataset.from_dict(rows, features=features)
    datasets.DatasetDict({"train": split, "validation": split, "test": split}).save_to_disk(str(tmp_path / "ds"))
    dm = TaggingDataModule(hub=TaggingHub(name=str(tmp_path / "ds")), tag_scheme="IOB2")
    assert dm.sentences("train")[0].tags == ["B-PER", "I-PER", "O", "O", "B-LOC"]
    assert dm.has_split("test")
    assert dm.vocab["tags"] == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def test_hugging_face_json_dataset_with_string_tags(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"words": ["Anna", "sings"], "labels": ["B-PER", "O"]}\n')
    dm = TaggingDataModule(hub=TaggingHub(name="json", tokens_column="words", tags_column="labels"))
    dm.hub.__dict__["dataset"] = __import__("datasets").load_dataset("json", data_files={"train": str(path)})
    assert dm.sentences("train")[0].tags == ["S-PER", "O"]


def test_no_data_says_both_ways(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    dm = TaggingDataModule(files=ConllFiles(data_dir=str(tmp_path / "nowhere")), hub=TaggingHub(name="conll2003"))
    with pytest.raises(TextlabError, match=r"no train.txt in .*nowhere.*data_dir.*Hugging Face dataset"):
        dm.vocab


def test_text_vectors_file_glove_and_word2vec(tmp_path):
    glove = tmp_path / "g.txt"
    glove.write_text("paris 1 2\nthe 3 4\n0000 5 6\n")
    w2v = tmp_path / "w.txt"
    w2v.write_text("3 2\nparis 1 2\nthe 3 4\n0000 5 6\n")
    for path in (glove, w2v):
        vectors = load_vectors(str(path))
        assert vectors.words == ["paris", "the", "0000"] and vectors.dim == 2
    vocab = WordVocab([PAD, UNK, "Paris", "1999", "Lyon"])
    matrix, found = vectors_for_vocab(vocab, load_vectors(str(glove)))
    assert found.tolist() == [False, False, True, True, False]
    assert matrix[2].tolist() == [1, 2] and matrix[3].tolist() == [5, 6]
    bad = tmp_path / "bad.txt"
    bad.write_text("a 1 2\nb 1\n")
    with pytest.raises(DataFormatError, match=r"bad.txt:2: expected 2 vector values \(as line 1 says\), found 1"):
        load_vectors(str(bad))


@pytest.mark.parametrize("content, message", [
    ("2 3\na 1 2\n", r"v.txt:2: expected 3 vector values \(as line 1 says\), found 2"),  # word2vec header
    ("a 1 2\nb 1 2 3\n", r"v.txt:2: expected 2 vector values \(as line 1 says\), found 3"),
    ("a 1 2\nb 1 nan\n", "v.txt:2: expected finite numbers, found nan"),
    ("a 1 2\nb inf 2\n", "v.txt:2: expected finite numbers, found inf"),
])
def test_text_vectors_file_errors(tmp_path, content, message):
    (tmp_path / "v.txt").write_text(content)
    with pytest.raises(DataFormatError, match=message):
        load_vectors(str(tmp_path / "v.txt"))


def test_text_vectors_file_tolerates_what_real_files_hold(tmp_path):
    # a byte-order mark before the header, tab separators, CRLF, a word with spaces (GloVe 840B), a trailing blank line
    (tmp_path / "v.txt").write_bytes("\ufeff3 2\nthe\t1\t2\r\n. . . 3 4\nu\u00a0s 5 6\n\n".encode())
    vectors = load_vectors(str(tmp_path / "v.txt"))
    assert vectors.words == ["the", ". . .", "u\u00a0s"] and vectors.vectors.tolist() == [[1, 2], [3, 4], [5, 6]]


def test_vectors_of_another_size_than_the_model_wants(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 2\n")
    with pytest.raises(TextlabError, match="have 2 dimensions, the word embedding 50: set the words part's dim to 2"):
        load_vectors(str(tmp_path / "v.txt"), word_dim=50)


def test_packaged_glove():
    vectors = load_vectors("glove-6b-50d")
    assert vectors.dim == 50 and len(vectors.words) == 400_000 and vectors.words[:2] == ["the", ","]


@pytest.mark.parametrize("n", [100, 101, 7])
def test_bucket_sampler_shards_across_processes(n):
    lengths = [(i * 13) % 30 + 1 for i in range(n)]

    def shards(train, epoch=0):
        out = []
        for rank in range(2):
            s = BucketBatchSampler(lengths, 4, shuffle=train, seed=5, num_replicas=2, rank=rank, even_shards=train)
            s.set_epoch(epoch)
            batches = list(s)
            assert len(batches) == len(s)
            out.append([i for b in batches for i in b])
        return out

    # evaluation: disjoint, every example exactly once
    a, b = shards(train=False)
    assert sorted(a + b) == list(range(n)) and not set(a) & set(b)
    # training: same number of batches in every process, all examples covered, at most one repeated
    a, b = shards(train=True)
    assert len(a) == len(b) and set(a) | set(b) == set(range(n)) and len(a + b) - n <= 1
    assert shards(train=True, epoch=1) != [a, b]  # a new split every epoch
