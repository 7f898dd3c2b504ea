"""scripts/benchmark_speed.py on a toy CoNLL folder with tiny budgets (no timing is checked), and its plain-PyTorch
reference, scripts/speed_reference.py."""

import random
import shlex

import torch

from conftest import load_script
from textlab.data.toy_ner import generate_toy_ner, write_conll

TRAINING_ROWS = [("plain PyTorch reference", 32), ("textlab, Trainer.fit", 10), ("textlab, Trainer.fit", 32),
                 ("textlab's model, bare loop", 10), ("textlab's model, bare loop", 32)]


def toy_conll(tmp_path):
    """The toy NER set in the CoNLL-2003 layout, and GloVe-format vectors for some of its words and for others."""
    toy = generate_toy_ner(seed=5, num_train=120, num_val=10, num_test=30)
    data = tmp_path / "conll"
    data.mkdir()
    for split, name in [("train", "train.txt"), ("val", "valid.txt"), ("test", "test.txt")]:
        write_conll(toy[split], data / name)
    words = sorted({t for s in toy["train"] for t in s.tokens})[:40] + [f"unseen{i}" for i in range(25)]
    rng = random.Random(0)
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("".join(f"{w} {' '.join(f'{rng.uniform(-1, 1):.3f}' for _ in range(50))}\n" for w in words))
    # the shipped recipe with these vectors instead of GloVe's 400k, and a small BiLSTM
    small = (f"--model.init_args.words.init_args.pretrained {vectors} --data.init_args.words.add_pretrained_words "
             f"{vectors} --model.init_args.encoder.init_args.hidden_size 16")
    return data, small


def test_the_tables_have_every_variant_against_the_reference(tmp_path, capsys):
    data, small = toy_conll(tmp_path)
    argv = ["--data-dir", str(data), "--textlab-args", small, "--threads", "1", "--repeats", "2",
            "--train-sentences", "30", "--warmup-sentences", "10", "--latency-sentences", "5", "--no-rss"]
    threads = torch.get_num_threads()
    try:
        result = load_script("benchmark_speed").main(argv)
    finally:
        torch.set_num_threads(threads)  # --threads sets this process's
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert shlex.split(lines[0])[2:] == argv  # the command printed runs again as given
    assert "torch threads: 1" in out and "lightning " in out and "pytorch-crf " in out and "onnxruntime" in out
    # the reference has the textlab model's vocabulary: the training words and the vectors' other words
    vocab = next(line for line in lines if line.startswith("word vocabulary:"))
    textlab_words = int(vocab.split("textlab ")[1].split()[0])
    assert f"reference {textlab_words} (all trained)" in vocab and "tags: textlab 17, reference 17" in vocab
    assert f"vectors: {data.parent / 'vectors.txt'}" in vocab

    assert "| variant | batch | sentences/s | × reference | peak RSS MB |" in out
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and line.count("|") == 6]
    training = [(r[0][2:], int(r[1])) for r in rows[1:6]]
    assert training == TRAINING_ROWS and rows[1][3] == "1.00"
    assert all(row["sentences_per_s"] > 0 for row in result["training"].values())
    assert all(row[4] == "— |" for row in rows[1:6])  # --no-rss
    assert set(result["overhead"]) == {10, 32}
    assert "Lightning's overhead (the bare loop's sentences/s over Trainer.fit's, less 1): batch 10 " in out

    assert "Tagging: 30 test sentences in file order, batch 256" in out
    tagging = result["tagging"]
    names = list(tagging)
    assert names[:3] == ["plain PyTorch reference, crf.decode",
                         "textlab model.predict, min_entity_probability 0.5 (the config's)",
                         "textlab model.predict, min_entity_probability 0"]
    # the ONNX rows are measured when textlab export and textlab.runtime are there, and said to be missing if not
    onnx = [name for name in [*tagging, *result["missing"]] if name.startswith("ONNX")]
    assert onnx == ["ONNX float32, textlab.runtime", "ONNX int8, textlab.runtime"]
    for name, row in tagging.items():
        assert row["sentences_per_s"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"]
        assert f"| {name} | {row['sentences_per_s']:.1f} | " in out
    for name, why in result["missing"].items():
        assert f"| {name} | ({why}) |" in out


def test_peak_training_memory_is_measured_in_a_process_of_its_own(tmp_path):
    bench = load_script("benchmark_speed")
    data, _ = toy_conll(tmp_path)
    setup = {"vectors": None, "sizes": {"hidden": 8}}
    mb = bench.peak_training_rss("reference", ["--data-dir", str(data), "--threads", "1", "--train-sentences", "20"],
                                 setup)
    assert 100 < mb < 2000  # torch alone takes more than 100 MB; a toy model far less than 2 GB


def test_the_reference_trains_and_tags_in_bioes_with_the_vocabulary_it_built(tmp_path):
    ref = load_script("speed_reference")
    assert ref.iob2_to_bioes(["B-PER", "I-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-ORG"]) == \
        ["B-PER", "I-PER", "E-PER", "O", "S-LOC", "S-LOC", "E-ORG"]
    (tmp_path / "train.txt").write_text("-DOCSTART- O\n\nEU B-ORG\nrejects O\n\nPeter B-PER\nBlackburn I-PER\n")
    (tmp_path / "vectors.txt").write_text("eu 1 2\npeter 3 4\ncall 5 6\n")
    model, sentences, vocab = ref.build(tmp_path, str(tmp_path / "vectors.txt"),
                                        {"word_dim": 2, "char_dim": 4, "filters": 3, "hidden": 5})
    assert sentences == [(["EU", "rejects"], ["S-ORG", "O"]), (["Peter", "Blackburn"], ["B-PER", "E-PER"])]
    assert list(vocab["words"])[:2] == ["<pad>", "<unk>"] and list(vocab["words"])[-3:] == ["eu", "peter", "call"]
    assert len(vocab["tags"]) == 9  # O and B, I, E, S of ORG and PER
    weights = model.word_embedding.weight
    assert weights[vocab["words"]["EU"]].tolist() == [1, 2] and weights[vocab["words"]["call"]].tolist() == [5, 6]
    words, chars, lengths, mask, tags = ref.make_batch(sentences[:1] + [(["a"], ["O"])], vocab)
    assert words.shape == mask.shape == tags.shape == (2, 2) and chars.shape == (2, 2, 7)
    assert mask.tolist() == [[True, True], [True, False]] and words[1, 1] == 0 and chars[1, 0, 1:].sum() == 0
    assert ref.train(model, sentences, vocab, 5, batch_size=2)[0] == 5
    tagged = ref.tag(model, [["EU", "unknown", "words"], ["Peter"]], vocab, batch_size=1)
    assert [len(t) for t in tagged] == [3, 1] and all(t in vocab["tags"] for s in tagged for t in s)
