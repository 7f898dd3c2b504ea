"""Streaming prediction: ``textlab predict`` reads its input as it tags it (a file, or stdin with
``--data.predict_file -``), writes each batch as it comes (a file, or stdout), keeps the input order over many
batches, DataLoader workers and processes, and shows its speed on a terminal.

What must hold: the output is what the Python API gives for the same text (``tag_text``, ``predict``), and two
processes write byte for byte what one writes.
"""

import io
import json
import os
import struct
import subprocess
import sys
import threading

import pytest
from torch.utils.data import DataLoader

from conftest import ROOT, load_script, run_textlab
from textlab import load_model
from textlab.callbacks import throughput
from textlab.cli import main
from textlab.data.predict_stream import PredictionBatches, ReadFailed, batches_in_order, input_batch
from textlab.data.prediction_batches import length_sorted_batches
from textlab.data.text_files import LineSource, decoded_lines
from textlab.data.toy_classification import generate_toy_classification
from textlab.data.toy_ner import generate_toy_ner, write_conll
from textlab.errors import DataFormatError, TextlabError
from textlab.predict import merge_parts

DDP = ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"]
REVIEWS = [text for text, _ in generate_toy_classification(seed=5, num_train=10, num_val=10, num_test=30)["test"]]


def toy_document(paragraphs: int, seed: int = 3) -> str:
    """Plain text: paragraphs of 1 to 4 toy sentences, several on a line, a blank line between paragraphs."""
    sentences = [" ".join(s.tokens) for s in generate_toy_ner(seed=seed, num_train=4 * paragraphs, num_val=0,
                                                                num_test=0)["train"]]
    return "\n\n".join(" ".join(sentences[4 * p : 4 * p + 1 + p % 4]) for p in range(paragraphs)) + "\n"


def records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def run_with_stdin(*args, stdin: str, cwd) -> subprocess.CompletedProcess:
    """``textlab ARGS`` in a subprocess as a user runs it, ``stdin`` piped in."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "textlab", *map(str, args)], input=stdin, cwd=cwd, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs in this process write nothing into the checkout


def predict_in_process(capsys, monkeypatch, args, stdin: bytes | None = None) -> tuple[str, str]:
    """``textlab predict ARGS`` through ``textlab.cli.main`` in this process (stdin from ``stdin``): (stdout, stderr)."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    capsys.readouterr()
    main(["predict", *map(str, args)])
    return capsys.readouterr()


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A TextCNN classifier fitted by `textlab fit --config configs/cls_textcnn.yaml` (tiny settings)."""
    run_dir = tmp_path_factory.mktemp("cls")
    run_textlab("fit", "--config", ROOT / "configs" / "cls_textcnn.yaml", "--data.num_train", "300", "--data.num_val",
                "50", "--data.num_test", "50", "--trainer.max_epochs", "1", "--test_after_fit", "false",
                "--trainer.default_root_dir", run_dir, cwd=run_dir)
    return next(run_dir.rglob("last.ckpt"))


# -- the command, as a user runs it ------------------------------------------------------------------------


def test_a_tagger_reads_stdin_and_writes_stdout_what_tag_text_gives(trained_tagger, tmp_path):
    # more than one block of plain text (16,384 characters): numbers and offsets go on across blocks
    document = toy_document(400)
    assert len(document) > 3 * 2**14
    proc = run_with_stdin("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "-",
                          "--output_format", "jsonl", stdin=document, cwd=tmp_path)
    assert "<stdin>: read as plain text" in proc.stderr
    tagged = load_model(trained_tagger["best"]).tag_text(document)
    assert records(proc.stdout) == [sentence.to_dict() for sentence in tagged.sentences]
    out = records(proc.stdout)
    assert out[-1]["paragraph"] == 399 and out[-1]["sentence"] == len(out) - 1 > 800
    assert sum(len(r["entities"]) for r in out) > 100
    for record in out:  # character offsets into what was sent
        assert all(document[e["start_char"] : e["end_char"]] == e["text"] for e in record["entities"])


def test_batches_keep_the_input_order_with_two_workers(trained_tagger, tmp_path):
    document = toy_document(40, seed=4)
    (tmp_path / "doc.txt").write_text(document)
    # 2 sentences a batch: about 50 batches, taken in turn by the two workers
    run_textlab("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "doc.txt", "--output", "out.txt",
                "--data.eval_batch_size", "2", "--data.num_workers", "2", cwd=tmp_path)
    tagged = load_model(trained_tagger["best"]).tag_text(document)
    assert (tmp_path / "out.txt").read_text() == "".join(s.to_text() for s in tagged.sentences)
    assert len(tagged.sentences) > 90


def test_a_classifier_reads_stdin_and_writes_stdout_a_line_for_each_line(classifier, tmp_path):
    texts = REVIEWS[:12] + [""] + REVIEWS[12:]  # an empty line is answered too: output lines line up with input lines
    proc = run_with_stdin("predict", "--ckpt_path", classifier, "--data.predict_file", "-", "--data.eval_batch_size", "4",
                          stdin="".join(t + "\n" for t in texts), cwd=tmp_path)
    api = load_model(classifier).predict(texts)
    assert proc.stdout.splitlines() == [f"{r.label}\t{t}" for r, t in zip(api, texts)]
    assert len({r.label for r in api}) > 1  # not one label for everything


def test_json_lines_carry_their_ids_to_the_output(trained_tagger, classifier, tmp_path, capsys, monkeypatch):
    documents = [toy_document(2, seed=s) for s in (6, 7, 8)]
    lines = [json.dumps({"text": documents[0], "id": "a-1"}), "", json.dumps({"text": documents[1]}),
             json.dumps({"id": 3, "text": documents[2]})]
    stdin = "".join(line + "\n" for line in lines).encode()
    out, _ = predict_in_process(capsys, monkeypatch, ["--ckpt_path", trained_tagger["best"], "--data.predict_file", "-",
                                                      "--output_format", "jsonl"], stdin)
    tagged = load_model(trained_tagger["best"]).tag_texts(documents)
    ids = ["a-1", None, 3]
    assert records(out) == [({"id": ids[d]} if ids[d] is not None else {}) | sentence.to_dict()
                            for d, document in enumerate(tagged) for sentence in document.sentences]
    assert [list(r)[:2] for r in records(out)] == [["id", "document"] if ids[r["document"]] is not None
                                                   else ["document", "paragraph"] for r in records(out)]
    # a classifier: {"text": ..., "id": ...} a line, the id first in the output
    texts = REVIEWS[:3]
    stdin = "".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(texts)).encode()
    out, _ = predict_in_process(capsys, monkeypatch, ["--ckpt_path", classifier, "--data.predict_file", "-",
                                                      "--output_format", "jsonl"], stdin)
    api = load_model(classifier).predict(texts)
    assert out.splitlines() == [json.dumps({"id": i, "text": t, "label": r.label})
                                for i, (t, r) in enumerate(zip(texts, api))]


def test_stdin_is_guessed_from_its_first_lines_without_losing_them(trained_tagger, capsys, monkeypatch):
    # CoNLL longer than the lines looked at to guess the format: every token comes back once, in order
    sentences = generate_toy_ner(seed=9, num_train=60, num_val=0, num_test=0)["train"]
    conll = "".join("-DOCSTART- O\n\n" * (i == 0) + "".join(f"{t} O\n" for t in s.tokens) + "\n"
                    for i, s in enumerate(sentences))
    assert conll.count("\n") > 500
    out, err = predict_in_process(capsys, monkeypatch, ["--ckpt_path", trained_tagger["best"],
                                                        "--data.predict_file", "-"], conll.encode())
    assert "<stdin>: read as CoNLL" in err
    assert [line.split("\t")[0] for line in out.splitlines() if line] == [t for s in sentences for t in s.tokens]


def test_an_input_without_a_sentence_gives_an_empty_output(trained_tagger, classifier, tmp_path, capsys, monkeypatch):
    for ckpt in (trained_tagger["best"], classifier):
        out, _ = predict_in_process(capsys, monkeypatch, ["--ckpt_path", ckpt, "--data.predict_file", "-"], b"")
        assert out == ""
    (tmp_path / "blank.txt").write_text("\n  \n\n")
    predict_in_process(capsys, monkeypatch, ["--ckpt_path", trained_tagger["best"], "--data.predict_file",
                                             tmp_path / "blank.txt", "--output", tmp_path / "out.txt"])
    assert (tmp_path / "out.txt").read_text() == ""


def test_errors_on_stdin_name_it_and_the_line(trained_tagger, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"EU rejects it .\n\ncaf\xe9 .\n")))
    with pytest.raises(SystemExit) as exit:
        main(["predict", "--ckpt_path", str(trained_tagger["best"]), "--data.predict_file", "-"])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == ("textlab: error: <stdin>:3: cannot decode byte 0xe9 at column 4 as utf-8; "
                                            "pass --data.files.encoding (e.g. latin-1)")


def test_an_error_met_by_a_worker_is_one_line_in_its_place(trained_tagger, tmp_path):
    document = toy_document(30, seed=10)
    (tmp_path / "bad.txt").write_bytes(document.encode() + b"caf\xe9 .\n")
    line = document.count("\n") + 1
    proc = run_textlab("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "bad.txt",
                       "--output", "out.txt", "--data.num_workers", "2", "--data.eval_batch_size", "2",
                       cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"textlab: error: bad.txt:{line}: cannot decode byte 0xe9")
    assert not list(tmp_path.glob("out.txt*"))


def test_stdin_with_several_processes_is_refused_in_one_line(trained_tagger, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"EU rejects it .\n")))
    with pytest.raises(SystemExit) as exit:
        main(["predict", "--ckpt_path", str(trained_tagger["best"]), "--data.predict_file", "-", *DDP])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "textlab: error: --data.predict_file -: standard input is read by one process, and this run starts 2 "
        "(--trainer.devices, --trainer.num_nodes); give a file, or one device")


@pytest.mark.parametrize("form", ["text", "conll"])
def test_two_processes_write_what_one_writes_byte_for_byte(trained_tagger, tmp_path, form):
    if form == "text":  # several paragraphs over several blocks: numbers and offsets must not depend on the process
        (tmp_path / "in.txt").write_text(toy_document(90, seed=11))
        options = ["--output_format", "jsonl"]
    else:
        write_conll(generate_toy_ner(seed=12, num_train=1, num_val=1, num_test=75)["test"], tmp_path / "in.txt")
        options = ["--confidences", "true"]
    # 4 sentences a batch: an odd number of batches, so the processes' shares differ
    common = ["predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "in.txt",
              "--data.eval_batch_size", "4", *options]
    run_textlab(*common, "--output", "one.out", cwd=tmp_path)
    proc = run_textlab(*common, "--output", "two.out", *DDP, cwd=tmp_path)
    one, two = (tmp_path / "one.out").read_bytes(), (tmp_path / "two.out").read_bytes()
    assert one == two and len(one.splitlines()) > 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "one.out", "two.out"]  # no parts left
    assert "read as" in proc.stderr and proc.stderr.count("read as") == 1  # said by the first process only


def test_two_processes_write_to_stdout_what_one_writes(trained_tagger, tmp_path):
    (tmp_path / "in.txt").write_text(toy_document(12, seed=13))
    common = ["predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "in.txt",
              "--data.eval_batch_size", "2"]
    one = run_textlab(*common, cwd=tmp_path).stdout
    two = run_textlab(*common, *DDP, cwd=tmp_path).stdout
    assert one == two and one.count("\n\n") > 20


# -- the throughput line -----------------------------------------------------------------------------------


def as_terminal(monkeypatch, *streams) -> None:
    """``streams`` (pytest's capture of them, as the test runs) say they are a terminal, and the throughput line is
    rewritten after every batch."""
    for stream in streams:
        monkeypatch.setattr(stream, "isatty", lambda: True)
    monkeypatch.setattr(throughput, "REWRITE_INTERVAL", 0.0)


def test_on_a_terminal_a_line_counts_the_sentences_and_ends_with_the_rate(trained_tagger, tmp_path, capsys,
                                                                          monkeypatch):
    as_terminal(monkeypatch, sys.stderr)
    document = toy_document(4, seed=14)
    n = len(load_model(trained_tagger["best"]).tag_text(document).sentences)
    (tmp_path / "in.txt").write_text(document)
    _, err = predict_in_process(capsys, monkeypatch, ["--ckpt_path", trained_tagger["best"], "--data.predict_file",
                                                      tmp_path / "in.txt", "--output", tmp_path / "out.txt",
                                                      "--data.eval_batch_size", "2"])
    progress = [part for part in err.split("\r") if part.startswith("textlab: ") and "sentences/s" in part]
    counts = [int(part.split()[1].replace(",", "")) for part in progress[:-1]]
    assert counts == list(range(2, n, 2)) + [n]  # rewritten in place after every batch (here)
    final = progress[-1]
    assert final.startswith(f"textlab: tagged {n} sentences in ") and final.rstrip().endswith(" sentences/s)")
    assert final.endswith("\n")
    assert all("\n" not in part.rstrip(" ") for part in progress[:-1])  # the line is rewritten, not repeated


def test_predictions_on_the_terminal_get_the_final_line_only(classifier, capsys, monkeypatch):
    as_terminal(monkeypatch, sys.stderr, sys.stdout)
    out, err = predict_in_process(capsys, monkeypatch, ["--ckpt_path", classifier, "--data.predict_file", "-",
                                                        "--data.eval_batch_size", "2"],
                                  "".join(t + "\n" for t in REVIEWS[:6]).encode())
    assert len(out.splitlines()) == 6
    assert err.count("texts/s") == 1 and "\rtextlab: classified 6 texts in " in err
    assert err.endswith(" texts/s)\n")


def test_no_throughput_line_when_stderr_is_not_a_terminal(trained_tagger, tmp_path, capsys, monkeypatch):
    (tmp_path / "in.txt").write_text(toy_document(2))
    _, err = predict_in_process(capsys, monkeypatch, ["--ckpt_path", trained_tagger["best"], "--data.predict_file",
                                                      tmp_path / "in.txt", "--output", tmp_path / "out.txt"])
    assert "sentences/s" not in err and "\r" not in err


# -- the parts ---------------------------------------------------------------------------------------------


def test_stream_batches_are_cut_in_order_within_the_padding_budget():
    lengths = [3, 5, 1, 4000, 2, 2, 7, 3, 3, 9000, 1]  # 4 x 512 positions a batch: 4000 and 9000 go alone
    assert list(batches_in_order(range(len(lengths)), 4, lengths.__getitem__)) == [
        [0, 1, 2], [3], [4, 5, 6, 7], [8], [9], [10]]
    assert list(batches_in_order([], 4, len)) == []


def test_sorted_batches_cut_a_long_tail_by_its_positions():
    # batch 4: 4 x 32 = 128 positions a batch; sorted, the short ones fill batches of 4, the tail is cut where
    # the next one would pad the batch past 128, and a longer one gets a batch of its own
    lengths = [30, 1, 60, 2, 40, 3, 200, 4, 31, 5]
    assert length_sorted_batches(lengths, 4) == [[1, 3, 5, 7], [9, 0, 8], [4, 2], [6]]
    assert sorted(i for batch in length_sorted_batches(lengths, 3) for i in batch) == list(range(10))
    assert length_sorted_batches([], 4) == []


@pytest.mark.parametrize("world, workers", [(1, 0), (1, 2), (2, 0), (3, 2)])
def test_processes_and_workers_each_get_their_batches_in_input_order(world, workers):
    expected = [list(range(i, min(i + 3, 23))) for i in range(0, 23, 3)]  # 8 batches of 3 (the last of 2)
    shares = []
    for rank in range(world):
        batches = PredictionBatches(lambda: range(23), lambda example: 1, list, 3, rank, world)
        shares.append(list(DataLoader(batches, batch_size=None, num_workers=workers)))
    # what each process predicts: its batches, in order, and the writer's count tells each one's place
    placed = {input_batch(i, rank, world): batch for rank, share in enumerate(shares) for i, batch in enumerate(share)}
    assert [placed[k] for k in range(len(placed))] == expected
    assert [len(share) for share in shares] == [len(range(rank, 8, world)) for rank in range(world)]


def test_an_error_in_a_worker_comes_as_a_batch_in_its_place():
    def examples():
        yield from range(7)
        raise TextlabError("in.txt:8: bad line")

    got = list(DataLoader(PredictionBatches(examples, lambda e: 1, list, 2), batch_size=None, num_workers=2))
    # each worker reads the whole input: both meet the error after the last whole batch and send it in their turn
    assert got[:3] == [[0, 1], [2, 3], [4, 5]] and got[3:] == [ReadFailed("in.txt:8: bad line")] * 2
    with pytest.raises(TextlabError, match="bad line"):  # in the main process, the error itself
        list(PredictionBatches(examples, lambda e: 1, list, 2))


def test_parts_are_merged_in_input_order_and_must_fit_together(tmp_path):
    frame = struct.Struct("<QQ")

    def part(name, batches):
        with open(tmp_path / name, "wb") as f:
            for k, text in batches:
                f.write(frame.pack(k, len(text.encode())) + text.encode())
        return str(tmp_path / name)

    parts = [part("p0", [(0, "a\n"), (2, "c\u00e9\n"), (4, "e\n")]), part("p1", [(1, "b\n"), (3, "")])]
    written = []
    merge_parts(parts, written.append)
    assert written == ["a\n", "b\n", "c\u00e9\n", "", "e\n"]
    with pytest.raises(RuntimeError, match="batch 3 where batch 1 of the input belongs"):
        merge_parts([parts[0], part("p2", [(3, "x")])], written.append)
    with pytest.raises(RuntimeError, match="batches after the last batch"):
        merge_parts([part("p3", [(0, "a")]), part("p4", [])] + [part("p5", [(2, "c")])], written.append)


def test_stdin_is_read_once_and_keeps_the_lines_looked_at(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"one\ntwo\r\nthree")))
    source = LineSource("-", "utf-8")
    assert source.name == "<stdin>" and source.head(2) == ["one\n", "two\r\n"] and source.head(1) == ["one\n"]
    assert list(source.lines()) == [(1, "one\n"), (2, "two\r\n"), (3, "three")]
    with pytest.raises(RuntimeError, match="once"):
        source.lines()


def test_lines_of_a_pipe_come_through_as_they_arrive():
    read_end, write_end = os.pipe()
    reader, writer = os.fdopen(read_end, "rb"), os.fdopen(write_end, "wb")
    got = []
    lines = decoded_lines(reader, "utf-8")
    thread = threading.Thread(target=lambda: got.append(next(lines)), daemon=True)
    try:
        writer.write(b"first line\n")
        writer.flush()
        thread.start()
        thread.join(timeout=10)  # the writer stays open: a reader waiting for a full buffer would wait here
        assert got == [(1, "first line\n")]
        writer.write(b"second\rline\n")
        writer.close()
        assert list(lines) == [(2, "second\rline\n")]  # a stray CR in a LF stream stays inside its line
    finally:
        reader.close()
        if not writer.closed:
            writer.close()


def test_streams_are_read_as_files_are(tmp_path):
    stream = io.BytesIO(b"a\rb\r\rc")  # classic Mac OS line breaks
    stream.name = "<stdin>"
    assert list(decoded_lines(stream, "utf-8")) == [(1, "a\r"), (2, "b\r"), (3, "\r"), (4, "c")]
    bad = io.BytesIO(b"fine\ncaf\xe9\n")
    bad.name = "<stdin>"
    with pytest.raises(DataFormatError, match=r"^<stdin>:2: cannot decode byte 0xe9 at column 4 as utf-8"):
        list(decoded_lines(bad, "utf-8"))
    long_line = b"x" * (3 * 2**16) + b"\ny\n"  # a first line longer than what is looked at to tell LF from CR
    assert [len(t) for _, t in decoded_lines(io.BytesIO(long_line), "utf-8")] == [3 * 2**16 + 1, 2]


# -- the memory benchmark ----------------------------------------------------------------------------------


def test_memory_benchmark_prints_a_row_per_input_size(trained_tagger, tmp_path, capsys):
    results = load_script("benchmark_predict_memory").main(
        ["--ckpt", str(trained_tagger["best"]), "--sizes-mb", "0.01", "0.03", "--work-dir", str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["input", "MB", "sentences", "peak", "RSS", "MB", "wall", "s", "sentences/s"]
    assert len(results) == 2 and len(out) == 4 and out[3].startswith("peak RSS ")
    assert 0.01 <= results[0]["input_mb"] < results[1]["input_mb"] < 0.04
    assert results[0]["sentences"] > 50 and all(r["peak_rss_mb"] > 50 for r in results)


def test_a_reader_that_stops_early_ends_the_run_quietly(trained_tagger, tmp_path):
    # `textlab predict ... | head -1`: the pipe closes while predictions are still being written
    proc = subprocess.Popen(
        [sys.executable, "-m", "textlab", "predict", "--ckpt_path", str(trained_tagger["best"]),
         "--data.predict_file", "-", "--data.eval_batch_size", "2"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    feeder = threading.Thread(target=lambda: (proc.stdin.write(toy_document(300).encode()), proc.stdin.close()))
    feeder.start()
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    feeder.join()
    assert proc.wait(timeout=300) == 141, stderr  # 128 + SIGPIPE, as a shell pipeline's writer ends
    assert first.strip() and "Traceback" not in stderr and "error" not in stderr, stderr
