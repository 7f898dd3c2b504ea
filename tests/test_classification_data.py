"""Classification data: the toy set, the readers and their error lines, the splits and k-fold folds."""

import json
from collections import Counter

import pytest
import torch

from textlab.data import (
    ClassFiles, ClassificationDataModule, ClassificationHub, ClassificationWords, LabelledFiles, Splits,
    ToyClassificationDataModule,
)
from textlab.data.classification_batch import collate_classification, encode_example, tokenize
from textlab.data.classification_readers import read_delimited, read_jsonl, read_lines
from textlab.data.splits import kfold_split, stratified_split
from textlab.data.toy_classification import LABELS, generate_toy_classification
from textlab.data.vocab import ClassificationVocab
from textlab.errors import DataFormatError, TextlabError

# -- the toy set ---------------------------------------------------------------------------------


def test_toy_set_is_deterministic_and_has_three_balanced_classes():
    a = generate_toy_classification(seed=3, num_train=600, num_val=50, num_test=70)
    assert a == generate_toy_classification(seed=3, num_train=600, num_val=50, num_test=70)
    assert a != generate_toy_classification(seed=4, num_train=600, num_val=50, num_test=70)
    assert [len(a[s]) for s in ("train", "val", "test")] == [600, 50, 70]
    counts = Counter(label for _, label in a["train"])
    assert set(counts) == set(LABELS) and min(counts.values()) > 150


def test_toy_set_word_order_matters():
    """The same bag of words occurs with different labels ("sturdy , not flimsy" vs "flimsy , not sturdy")."""
    data = generate_toy_classification(num_train=3000)["train"]
    labels_of_bag: dict[tuple, set] = {}
    for text, label in data:
        labels_of_bag.setdefault(tuple(sorted(text.split())), set()).add(label)
    assert sum(len(labels) > 1 for labels in labels_of_bag.values()) >= 3
    negated = [label for text, label in data if " not good at all" in text]
    assert negated and set(negated) == {"negative"}


# -- readers -------------------------------------------------------------------------------------


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def test_csv_with_custom_columns_quoted_newlines_and_line_numbers(tmp_path):
    path = write(tmp_path / "a.csv", 'id,review,stars\n1,"great, really",5\n2,"two\nlines",1\n\n3,ok,3\n')
    examples = read_delimited(path, ",", "review", "stars")
    assert [(e.text, e.label, e.line) for e in examples] == [
        ("great, really", "5", 2), ("two\nlines", "1", 3), ("ok", "3", 6)]


@pytest.mark.parametrize("content, line, message", [
    ("text,stars\nfine,1\n", 1, "no column 'label' (columns: text, stars); pass --data.files.text_column / --data.files.label_column"),
    ("text,label\nfine,pos\n  ,neg\n", 3, "empty text in 'text'"),
    ("text,label\nfine,pos\nno label,\n", 3, "empty label in 'label'"),
    ("text,label\nfine,pos\n\"a\nb\",pos,extra\n", 3, "expected 2 fields, found 3"),
])
def test_csv_errors_name_file_and_line(tmp_path, content, line, message):
    path = write(tmp_path / "bad.csv", content)
    with pytest.raises(DataFormatError) as e:
        read_delimited(path, ",", "text", "label")
    assert str(e.value) == f"{path}:{line}: {message}"


def test_tsv_without_header_names_columns_by_index_and_ignores_quotes(tmp_path):
    path = write(tmp_path / "a.tsv", 'pos\tsay "hi" to all\nneg\tbad\n')
    examples = read_delimited(path, "\t", "1", "0", header=False)
    assert [(e.text, e.label) for e in examples] == [('say "hi" to all', "pos"), ("bad", "neg")]


def test_jsonl_reader_and_its_errors(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"text": "fine", "label": 1}\n\n{"text": "bad", "label": "0"}\n')
    assert [(e.text, e.label, e.line) for e in read_jsonl(path, "text", "label")] == [("fine", "1", 1), ("bad", "0", 3)]
    for content, message in [
        ('{"text": "a", "label": 1}\n{"txt": "b", "label": 1}\n', "no field 'text' (fields: txt, label)"),
        ('{"text": "a", "label": 1}\n{"text": "b", "label": 1\n', "invalid JSON"),
        ('{"text": "a", "label": 1}\n{"text": "", "label": 1}\n', "empty text in 'text'"),
        ('{"text": "a", "label": 1}\n{"text": 5, "label": 1}\n', "'text' must be a string"),
        ('{"text": "a", "label": 1}\n5\n', "expected a JSON object a line"),
    ]:
        bad = write(tmp_path / "bad.jsonl", content)
        with pytest.raises(DataFormatError, match=f"^{bad}:2: ") as e:
            read_jsonl(bad, "text", "label")
        assert message in str(e.value)


@pytest.mark.parametrize("content", [
    '[\n  {"text": "a", "label": 1},\n  {"text": "b", "label": 0}\n]\n',  # pretty-printed
    '[{"text": "a", "label": 1}, {"text": "b", "label": 0}]\n',  # on one line
])
def test_a_json_array_file_is_refused_as_not_json_lines(tmp_path, content):
    path = write(tmp_path / "reviews.json", content)
    dm = ClassificationDataModule(files=LabelledFiles(train_file=path))
    with pytest.raises(DataFormatError) as e:
        dm.vocab
    assert str(e.value) == f"{path}:1: expected JSON Lines (one JSON object a line), found a JSON array"


def test_csv_and_tsv_fields_longer_than_the_csv_modules_default_limit(tmp_path):
    long_text = "word " * 40_000  # 200,000 characters; the csv module's default limit is 131,072
    for name, sep in (("long.csv", ","), ("long.tsv", "\t")):
        path = write(tmp_path / name, f"text{sep}label\n{long_text}{sep}pos\nshort{sep}neg\n")
        examples = read_delimited(path, sep, "text", "label")
        assert [(len(e.text), e.label) for e in examples] == [(len(long_text), "pos"), (5, "neg")]


@pytest.mark.parametrize("name, content", [("train.jsonl", ""), ("train.csv", "text,label\n")])
def test_an_empty_training_file_is_named(tmp_path, name, content):
    path = write(tmp_path / name, content)
    with pytest.raises(DataFormatError) as e:
        ClassificationDataModule(files=LabelledFiles(train_file=path)).vocab
    assert str(e.value) == f"{path}: no examples: the file holds no labelled text"


def test_an_empty_class_file_is_named(tmp_path):
    write(tmp_path / "r.pos", "good\n")
    write(tmp_path / "r.neg", "")
    dm = ClassificationDataModule(class_files=ClassFiles(data_dir=str(tmp_path), files={"pos": "r.pos", "neg": "r.neg"}))
    with pytest.raises(DataFormatError) as e:
        dm.vocab
    assert str(e.value) == (f"{tmp_path / 'r.neg'}: no texts: expected one text a line (class 'neg' of "
                            "--data.class_files.files)")


def test_undecodable_bytes_name_the_line_and_suggest_an_encoding(tmp_path):
    path = write(tmp_path / "rt-polarity.pos", b"fine\nle caf\xe9 est bon\n")
    with pytest.raises(DataFormatError, match=r"rt-polarity.pos:2: cannot decode byte 0xe9 at column 7 as utf-8; "
                                              r"pass --data.files.encoding \(e.g. latin-1\)"):
        read_lines(path, "pos")
    assert read_lines(path, "pos", encoding="latin-1")[1].text == "le café est bon"



def test_line_file_with_classic_mac_line_breaks(tmp_path):
    path = write(tmp_path / "pos.txt", b"a fine film\rsharp and funny\r")
    assert [(e.text, e.line) for e in read_lines(path, "pos")] == [("a fine film", 1), ("sharp and funny", 2)]

def test_one_file_per_class_and_empty_lines(tmp_path):
    write(tmp_path / "x.pos", "good\ngreat\n")
    write(tmp_path / "x.neg", "bad\n\nworse\n")
    dm = ClassificationDataModule(class_files=ClassFiles(data_dir=str(tmp_path), files={"pos": "x.pos", "neg": "x.neg"}))
    with pytest.raises(DataFormatError, match=r"x.neg:2: empty line"):
        dm.vocab


def test_missing_class_file_is_a_one_line_error(tmp_path):
    dm = ClassificationDataModule(class_files=ClassFiles(data_dir=str(tmp_path / "mr"), files={"pos": "rt-polarity.pos"}))
    with pytest.raises(TextlabError, match=r"rt-polarity.pos: no such file \(class 'pos' of --data.class_files.files"):
        dm.vocab


def test_unknown_label_at_test_time_names_file_and_line(tmp_path):
    train = write(tmp_path / "train.csv", "text,label\n" + "".join(f"t{i},{'ab'[i % 2]}\n" for i in range(20)))
    test = write(tmp_path / "test.csv", "text,label\nx,a\ny,c\n")
    dm = ClassificationDataModule(files=LabelledFiles(train_file=train, test_file=test))
    with pytest.raises(DataFormatError, match=rf"^{test}:3: label 'c' never occurs in the training data \(labels: a, b\)$"):
        dm.setup("test")


def test_format_from_extension_or_option(tmp_path):
    path = write(tmp_path / "train.data", "text,label\na,x\nb,y\n")
    with pytest.raises(TextlabError, match="cannot tell the format"):
        ClassificationDataModule(files=LabelledFiles(train_file=path)).vocab
    dm = ClassificationDataModule(files=LabelledFiles(train_file=path, format="csv"), splits=Splits(val_fraction=0, test_fraction=0))
    assert dm.vocab["labels"] == ["x", "y"]


# -- splits --------------------------------------------------------------------------------------


LABELS_100 = ["a"] * 50 + ["b"] * 30 + ["c"] * 20


def test_stratified_split_is_seeded_disjoint_covering_and_stratified():
    parts = stratified_split(LABELS_100, [0.8, 0.1, 0.1], seed=5)
    assert parts == stratified_split(LABELS_100, [0.8, 0.1, 0.1], seed=5)
    assert parts != stratified_split(LABELS_100, [0.8, 0.1, 0.1], seed=6)
    assert sorted(i for p in parts for i in p) == list(range(100))
    assert [Counter(LABELS_100[i] for i in p) for p in parts[1:]] == [Counter(a=5, b=3, c=2)] * 2


@pytest.mark.parametrize("k", [2, 3, 10])
def test_kfold_folds_are_disjoint_covering_and_stratified(k):
    folds = kfold_split(LABELS_100, k, seed=1)
    assert len(folds) == k
    assert sorted(i for f in folds for i in f) == list(range(100))  # disjoint and covering
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    for label in "abc":
        per_fold = [sum(LABELS_100[i] == label for i in f) for f in folds]
        assert max(per_fold) - min(per_fold) <= 1
    with pytest.raises(ValueError, match="k-fold cross-validation needs at least 2 folds"):
        kfold_split(LABELS_100, 1)


def class_files(tmp_path, n=60):
    write(tmp_path / "r.pos", "".join(f"good movie {i}\n" for i in range(n)))
    write(tmp_path / "r.neg", "".join(f"bad movie {i}\n" for i in range(n // 2)))
    return {"pos": "r.pos", "neg": "r.neg"}


def test_datamodule_kfold_test_sets_partition_the_data(tmp_path):
    files = class_files(tmp_path)
    seen = []
    for fold in range(5):
        dm = ClassificationDataModule(class_files=ClassFiles(files, str(tmp_path)),
                                      splits=Splits(num_folds=5, fold=fold, val_fraction=0.2))
        split = {s: {(e.where, e.line) for e in dm.examples(s)} for s in ("train", "val", "test")}
        assert not (split["train"] & split["val"]) and not (split["train"] & split["test"]) and not (split["val"] & split["test"])
        assert len(split["train"] | split["val"] | split["test"]) == 90
        assert Counter(e.label for e in dm.examples("test")) == Counter(pos=12, neg=6)
        assert len(split["val"]) == 15  # 20% of each label of the 72 others: 9.6 -> 10 pos, 4.8 -> 5 neg
        seen.append(split["test"])
    assert len(set().union(*seen)) == 90 and sum(map(len, seen)) == 90
    with pytest.raises(TextlabError, match="--data.splits.fold 5 is not a fold of --data.splits.num_folds 5"):
        Splits(num_folds=5, fold=5)
    with pytest.raises(TextlabError, match="--data.splits.num_folds 1: cross-validation needs at least 2 folds"):
        Splits(num_folds=1, fold=0)
    with pytest.raises(TextlabError, match="--data.splits.num_folds 100 needs at least 100 texts; the data has 90"):
        ClassificationDataModule(class_files=ClassFiles(files, str(tmp_path)), splits=Splits(num_folds=100)).examples("train")


def test_fold_without_num_folds_and_max_tokens_below_one_are_refused(tmp_path):
    with pytest.raises(TextlabError, match=r"^--data.splits.fold 7 picks a fold of a k-fold cross-validation: "
                                           r"give --data.splits.num_folds too$"):
        Splits(fold=7)
    assert Splits(fold=0).fold == 0  # what a saved config.yaml holds
    for bad in (0, -1):
        with pytest.raises(TextlabError, match=rf"^--data.words.max_tokens {bad}: keep at least 1 token a text"):
            ClassificationWords(max_tokens=bad)


def test_training_data_with_a_single_label_names_its_source(tmp_path):
    train = write(tmp_path / "train.csv", "text,label\n" + "".join(f"good {i},pos\n" for i in range(20)))
    with pytest.raises(TextlabError) as e:
        ClassificationDataModule(files=LabelledFiles(train_file=train)).vocab
    assert str(e.value) == f"{train}: the training data holds a single label ('pos'); a classifier needs at least two"


def test_a_fold_whose_training_part_lost_a_rare_label_says_so(tmp_path):
    write(tmp_path / "r.pos", "".join(f"good movie {i}\n" for i in range(20)))
    write(tmp_path / "r.neg", "bad movie\n")
    files = {"pos": "r.pos", "neg": "r.neg"}
    folds = [ClassificationDataModule(class_files=ClassFiles(files, str(tmp_path)), splits=Splits(num_folds=5, fold=f))
             for f in range(5)]
    lost = [dm for dm in folds if all(e.label == "pos" for e in dm.examples("train"))]
    assert len(lost) == 1  # the fold whose test part holds the one negative text
    with pytest.raises(TextlabError) as e:
        lost[0].vocab
    assert str(e.value) == (f"fold {lost[0].splits.fold} of --data.splits.num_folds 5: its training part holds a single label "
                            "('pos'); a classifier needs at least two (the whole data: neg 1, pos 20)")


def test_one_file_is_split_into_train_val_test_and_a_test_file_only_into_train_val(tmp_path):
    rows = "".join(f"text {i},{'xy'[i % 2]}\n" for i in range(200))
    train = write(tmp_path / "train.csv", "text,label\n" + rows)
    splits = Splits(val_fraction=0.1, test_fraction=0.2, split_seed=3)
    dm = ClassificationDataModule(files=LabelledFiles(train_file=train), splits=splits)
    sizes = [len(dm.examples(s)) for s in ("train", "val", "test")]
    assert sizes == [140, 20, 40]
    again = ClassificationDataModule(files=LabelledFiles(train_file=train), splits=splits)
    assert dm.examples("test") == again.examples("test")
    assert dm.has_split("test")
    test = write(tmp_path / "test.csv", "text,label\nnew,x\n")
    dm = ClassificationDataModule(files=LabelledFiles(train_file=train, test_file=test), splits=Splits(val_fraction=0.1))
    assert [len(dm.examples(s)) for s in ("train", "val", "test")] == [180, 20, 1]


def test_train_with_dev_adds_the_validation_examples_to_training_given_or_split_off(tmp_path):
    for name, n in [("train.jsonl", 30), ("valid.jsonl", 4), ("test.jsonl", 5)]:
        write(tmp_path / name, "".join(json.dumps({"text": f"{name} {i}", "label": i % 3}) + "\n" for i in range(n)))
    dm = ClassificationDataModule(files=LabelledFiles(data_dir=str(tmp_path)), splits=Splits(train_with_dev=True))
    assert [len(dm.examples(s)) for s in ("train", "val", "test")] == [34, 4, 5]
    assert dm.examples("train")[30:] == dm.examples("val") and "valid.jsonl" in dm.vocab["words"]
    assert dm.vocab["label_counts"] == [12, 11, 11]
    # k-fold: the validation part carved out of the other folds goes back into training; the test fold stays out
    files = class_files(tmp_path)
    folds = ClassificationDataModule(class_files=ClassFiles(files, str(tmp_path)),
                                     splits=Splits(num_folds=5, val_fraction=0.2, train_with_dev=True))
    assert len(folds.examples("train")) == 72 and len(folds.examples("val")) == 15
    assert not {(e.where, e.line) for e in folds.examples("train")} & {(e.where, e.line) for e in folds.examples("test")}
    alone = ClassificationDataModule(
        files=LabelledFiles(train_file=str(tmp_path / "train.jsonl"), test_file=str(tmp_path / "test.jsonl")),
        splits=Splits(val_fraction=0.0, train_with_dev=True))
    with pytest.raises(TextlabError, match="train_with_dev: no validation data"):
        alone.examples("train")


def test_data_dir_with_train_valid_test_files(tmp_path):
    for name, n in [("train.jsonl", 30), ("valid.jsonl", 4), ("test.jsonl", 5)]:
        write(tmp_path / name, "".join(json.dumps({"sentence": f"s {i}", "y": i % 3}) + "\n" for i in range(n)))
    dm = ClassificationDataModule(files=LabelledFiles(data_dir=str(tmp_path), text_column="sentence", label_column="y"))
    assert [len(dm.examples(s)) for s in ("train", "val", "test")] == [30, 4, 5]
    assert dm.vocab["labels"] == ["0", "1", "2"] and dm.vocab["label_counts"] == [10, 10, 10]


def test_local_hugging_face_dataset_with_class_label_names(tmp_path):
    import datasets

    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["neg", "pos"])})
    ds = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"sentence": ["good", "bad", "fine", "awful"], "label": [1, 0, 1, 0]}, features=features),
        "test": datasets.Dataset.from_dict({"sentence": ["great"], "label": [1]}, features=features),
    })
    ds.save_to_disk(str(tmp_path / "sst"))
    dm = ClassificationDataModule(hub=ClassificationHub(str(tmp_path / "sst"), text_column="sentence"),
                                  splits=Splits(val_fraction=0.5))
    assert dm.vocab["labels"] == ["neg", "pos"]
    assert [(e.text, e.label, e.where) for e in dm.examples("test")] == [("great", "pos", f"{tmp_path / 'sst'}[test]")]
    assert len(dm.examples("val")) == 2
    with pytest.raises(TextlabError, match="no column 'text'"):
        ClassificationDataModule(hub=ClassificationHub(str(tmp_path / "sst"))).vocab


def save_glue_like(path, test_labels):
    """A local Hugging Face dataset as GLUE ships them: ClassLabel labels, -1 where a split is unlabelled."""
    import datasets

    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["neg", "pos"])})
    texts = ["good", "bad", "fine", "awful", "great", "dull"]
    datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"sentence": texts, "label": [1, 0, 1, 0, 1, 0]}, features=features),
        "validation": datasets.Dataset.from_dict({"sentence": ["nice", "poor"], "label": [1, 0]}, features=features),
        "test": datasets.Dataset.from_dict({"sentence": ["superb", "boring", "okay"][: len(test_labels)],
                                            "label": test_labels}, features=features),
    }).save_to_disk(str(path))
    return str(path)


def test_an_unlabelled_hugging_face_test_split_is_left_out_with_a_log_line(tmp_path, caplog):
    glue = save_glue_like(tmp_path / "glue", [-1, -1, -1])
    dm = ClassificationDataModule(hub=ClassificationHub(glue, text_column="sentence"))
    with caplog.at_level("INFO", logger="textlab"):
        assert dm.vocab["labels"] == ["neg", "pos"]
    assert [len(dm.examples(s)) for s in ("train", "val", "test")] == [6, 2, 0] and not dm.has_split("test")
    assert f"{glue}[test]: every label is -1 (unlabelled): not used for the test" in caplog.messages


def test_a_hugging_face_split_mixing_labels_and_minus_one_names_the_row(tmp_path):
    glue = save_glue_like(tmp_path / "glue", [1, -1, 0])
    with pytest.raises(DataFormatError) as e:
        ClassificationDataModule(hub=ClassificationHub(glue, text_column="sentence")).vocab
    assert str(e.value) == (f"{glue}[test]:2: label -1 (unlabelled) in a split with labels: label every row or none "
                            "(an unlabelled split is left out)")


# -- vocabulary, encoding, batches ---------------------------------------------------------------


def test_vocab_is_a_plain_dict_and_a_checkpoint_vocab_wins(tmp_path):
    dm = ToyClassificationDataModule(num_train=200, num_val=20, num_test=20, words=ClassificationWords(lowercase=True))
    vocab = dm.vocab
    assert json.loads(json.dumps(vocab)) == vocab
    assert vocab["labels"] == list(LABELS) and vocab["words"][:2] == ["<pad>", "<unk>"] and vocab["lowercase"]
    ckpt = tmp_path / "model.ckpt"
    torch.save({"hyper_parameters": {"vocab": {**vocab, "words": ["<pad>", "<unk>", "good"]}}}, ckpt)
    dm = ToyClassificationDataModule(num_train=200, num_val=20, num_test=20, vocab_from=str(ckpt))
    assert dm.vocab["words"] == ["<pad>", "<unk>", "good"]
    dm.setup("test")
    assert all(set(e.words) <= {1, 2} for e in dm.datasets["test"])  # only the checkpoint's words are known
    assert any(2 in e.words for e in dm.datasets["test"])  # and "good" is one of them, not <unk>


def test_pretrained_words_scope(tmp_path):
    vectors = write(tmp_path / "v.txt", "good 1 2\nmovie 3 4\nzebra 5 6\nbad 7 8\n")
    files = class_files(tmp_path, n=10)
    write(tmp_path / "test.pos", "")  # unused
    split = Splits(val_fraction=0.0, test_fraction=0.5)
    everything = ClassificationDataModule(class_files=ClassFiles(files, str(tmp_path)), splits=split,
                                          words=ClassificationWords(add_pretrained_words=vectors))
    assert "zebra" in everything.vocab["words"]
    in_data = ClassificationDataModule(class_files=ClassFiles(files, str(tmp_path)), splits=split,
                                       words=ClassificationWords(add_pretrained_words=vectors, pretrained_words_scope="data"))
    assert "zebra" not in in_data.vocab["words"] and "bad" in in_data.vocab["words"]


def test_tokenizers():
    assert tokenize("it's not  great!") == ["it's", "not", "great!"]
    assert tokenize("the film's plot isn't great!", "basic") == ["the", "film", "'s", "plot", "is", "n't", "great", "!"]


def test_batches_hold_the_padded_and_the_flat_layout():
    vocab = ClassificationVocab.from_dict({"words": ["<pad>", "<unk>", "a", "b"], "labels": ["x", "y"], "max_tokens": 3})
    encoded = [encode_example(t, lab, vocab) for t, lab in [("a b a b", "y"), ("b", "x"), ("", "x")]]
    assert [e.words for e in encoded] == [[2, 3, 2], [3], [1]]  # truncated; empty -> one <unk>
    batch = collate_classification(encoded)
    assert batch.words.tolist() == [[2, 3, 2], [3, 0, 0], [1, 0, 0]]
    assert batch.lengths.tolist() == [3, 1, 1] and batch.mask.sum().item() == 5
    assert batch.flat.tolist() == [2, 3, 2, 3, 1] and batch.offsets.tolist() == [0, 3, 4]
    assert batch.labels.tolist() == [1, 0, 0]
    assert collate_classification([encode_example("a", None, vocab)]).labels is None


def test_the_toy_module_takes_no_data_sources():
    with pytest.raises(TypeError, match="multiple values for keyword argument 'files'"):
        ToyClassificationDataModule(files=LabelledFiles(train_file="my.csv"))


def test_the_toy_module_refuses_split_fractions_it_would_ignore_and_keeps_folds():
    with pytest.raises(TextlabError, match=r"^--data.splits.val_fraction: the toy set's validation and test sets are "
                                           r"--data.num_val and --data.num_test texts"):
        ToyClassificationDataModule(splits=Splits(val_fraction=0.0))
    with pytest.raises(TextlabError, match=r"^--data.splits.test_fraction: "):
        ToyClassificationDataModule(splits=Splits(test_fraction=0.2, num_folds=3))
    splits = Splits(num_folds=3, fold=1, val_fraction=0.2)
    dm = ToyClassificationDataModule(num_train=90, num_val=10, num_test=10, splits=splits)
    assert [len(dm.examples(s)) for s in ("train", "val", "test")] == [48, 12, 30]


def test_predict_file_keeps_empty_lines_and_reads_csv_without_labels(tmp_path):
    def predicted_texts(dm):
        dm.setup("predict")
        return [text for batch in dm.predict_dataloader() for text in batch.texts]

    texts = write(tmp_path / "in.txt", "good\n\nbad\n")
    assert predicted_texts(ToyClassificationDataModule(num_train=100, num_val=10, num_test=10, predict_file=texts)) == [
        "good", "", "bad"]
    csv = write(tmp_path / "in.csv", "id,text\n1,good\n")
    dm = ToyClassificationDataModule(num_train=100, num_val=10, num_test=10, predict_file=csv, eval_batch_size=2)
    assert predicted_texts(dm) == ["good"]


def test_a_checkpoint_evaluates_a_test_file_without_training_data(tmp_path):
    ckpt = tmp_path / "model.ckpt"
    torch.save({"hyper_parameters": {"vocab": {"words": ["<pad>", "<unk>", "good"], "labels": ["neg", "pos"]}}}, ckpt)
    test = write(tmp_path / "test.jsonl", '{"text": "good", "label": "pos"}\n')
    dm = ClassificationDataModule(files=LabelledFiles(test_file=test), vocab_from=str(ckpt))
    dm.setup("test")
    assert [(e.words, e.label) for e in dm.datasets["test"]] == [([2], 1)]
    with pytest.raises(TextlabError, match="no training data given"):
        ClassificationDataModule(files=LabelledFiles(test_file=test)).vocab
