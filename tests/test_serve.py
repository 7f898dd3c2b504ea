"""`textlab serve`: the real server started as a user starts it, in a subprocess, asked over HTTP as a client asks.

One server per model for the module (the shared toy tagger, and a toy classifier trained here), with small
limits so that requests over them are small too. The answers are compared with what the Python API and
`textlab predict --output_format jsonl` give for the same input.
"""

import asyncio
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from conftest import ROOT, run_textlab
from textlab import load_model
from textlab.serve.api import create_app
from textlab.serve.batcher import MicroBatcher
from textlab.serve.command import listening_socket
from textlab.serve.predictor import Predictor
from textlab.serve.settings import ServeSettings

MAX_BODY, MAX_CHARS, MAX_TEXTS = 20_000, 2_000, 8
LIMITS = ["--max_body_bytes", MAX_BODY, "--max_text_chars", MAX_CHARS, "--max_texts", MAX_TEXTS]
# sentences the toy tagger finds entities in (names and organisations of the generated toy set)
TEXT = ("Sources close to Kelved Holdings said the plan was dropped. Kelveda Lihethez was appointed chief "
        "executive of PGD.\n\nIn 2012, G. Stulbrevova lost a lawsuit against Krahokski.")
NAMES = ["Kelveda Lihethez", "G. Stulbrevova", "Kelveda Munstekini", "Krahokski", "Anna Berg", "Peter Blackburn"]
ORGS = ["PGD", "Kelved Holdings", "the ministry"]


class Server:
    """A `textlab serve` process on a free port of 127.0.0.1, its output in a file."""

    def __init__(self, ckpt, folder, *options):
        self.log_path = folder / "server.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore"}
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "textlab", "serve", "--ckpt_path", str(ckpt), "--port", "0",
                 *map(str, options)], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.port = self._wait_until_serving()

    def _wait_until_serving(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"serving .* on http://127\.0\.0\.1:(\d+)", self.log())
            if found:
                port = int(found.group(1))
                with contextlib.suppress(OSError):
                    if request(port, "GET", "/health") == (200, {"status": "ok"}):
                        return port
            if self.process.poll() is not None:
                raise AssertionError(f"textlab serve ended with {self.process.returncode}:\n{self.log()}")
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"textlab serve did not answer within {timeout} s:\n{self.log()}")

    def log(self):
        return self.log_path.read_text()

    def post(self, body, headers=None):
        return request(self.port, "POST", "/predict", body, headers)

    def stop(self, sig=signal.SIGTERM):
        """Stop the server as a user or a supervisor does; uvicorn finishes the requests in flight first."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"textlab serve did not stop on {sig!r}:\n{self.log()}") from None


def request(port, method, path, body=None, headers=None, connection=None):
    """``(status, decoded JSON answer)``; ``body``: bytes as they are, anything else as JSON."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    try:
        conn.request(method, path, body, headers or {})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        if connection is None:
            conn.close()


@contextlib.contextmanager
def serving(server, stop_signal, exit_status):
    """``server`` healthy until the end, whatever it was asked (no request may take it down), then stopped by
    ``stop_signal`` with ``exit_status``."""
    try:
        yield server
        assert server.process.poll() is None, f"the server ended:\n{server.log()}"
        assert request(server.port, "GET", "/health") == (200, {"status": "ok"})
    finally:
        server.stop(stop_signal)
    assert server.process.returncode == exit_status, server.log()


@pytest.fixture(scope="module")
def tagger_server(trained_tagger, tmp_path_factory):
    # --max_wait_ms 50: requests on their way always have time to join a batch (a request alone never waits)
    server = Server(trained_tagger["best"], tmp_path_factory.mktemp("serve_tagger"), *LIMITS,
                    "--max_wait_ms", 50, "--max_batch_size", 16, "--log_level", "debug")
    # SIGTERM, from a supervisor (docker stop): the process ends by the signal once uvicorn has shut down
    with serving(server, signal.SIGTERM, -signal.SIGTERM):
        yield server


@pytest.fixture(scope="module")
def tagger(trained_tagger):
    return load_model(trained_tagger["best"])


@pytest.fixture(scope="module")
def trained_classifier(tmp_path_factory):
    """A toy bag-of-ngrams classifier, one epoch: what it predicts matters less than that it is served."""
    run_dir = tmp_path_factory.mktemp("serve_classifier")
    run_textlab("fit", "--config", ROOT / "configs" / "cls_textcnn.yaml", "--config", ROOT / "configs" / "cls_bag.yaml",
                "--data.num_train", "100", "--data.num_val", "20", "--data.num_test", "20", "--trainer.max_epochs", "1",
                "--test_after_fit", "false", "--trainer.default_root_dir", run_dir, cwd=run_dir)
    return next(run_dir.rglob("best-*.ckpt"))


@pytest.fixture(scope="module")
def classifier_server(trained_classifier, tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve_classifier_server")
    # the options from a YAML file, as --config serve.yaml
    (folder / "serve.yaml").write_text(f"ckpt_path: {trained_classifier}\nmax_texts: {MAX_TEXTS}\nthreads: 3\n")
    server = Server(trained_classifier, folder, "--config", folder / "serve.yaml")
    # Ctrl-C: stopping a server is no error
    with serving(server, signal.SIGINT, 0):
        yield server
    assert "error" not in server.log().lower()


def without_confidences(record):
    """A record as it is without confidences (the comparison of two runs' probabilities is approximate)."""
    if isinstance(record, dict):
        return {k: without_confidences(v) for k, v in record.items() if k not in ("confidence", "confidences")}
    if isinstance(record, list):
        return [without_confidences(v) for v in record]
    return record


# -- a tagger ------------------------------------------------------------------------------------------

def test_a_text_gives_its_entities_at_their_character_offsets(tagger_server, tagger):
    status, answer = tagger_server.post({"text": TEXT})
    assert status == 200 and len(answer["results"]) == 1
    document = answer["results"][0]
    assert document == tagger.tag_text(TEXT).to_dict()
    assert document["text"] == TEXT and len(document["sentences"]) == 3
    assert {e["label"] for e in document["entities"]} >= {"PER"}, "the toy tagger finds the names"
    sentence_entities = [e for s in document["sentences"] for e in s["entities"]]
    assert sentence_entities == document["entities"]
    for entity in document["entities"]:
        assert TEXT[entity["start_char"]:entity["end_char"]] == entity["text"]
        assert "confidence" not in entity
    for sentence in document["sentences"]:
        assert TEXT[sentence["start_char"]:sentence["end_char"]] == sentence["text"]
        assert [TEXT[s:e] for s, e in sentence["offsets"]] == sentence["tokens"]


def test_the_sentence_records_are_those_textlab_predict_writes(tagger_server, trained_tagger, tmp_path):
    (tmp_path / "in.txt").write_text(TEXT + "\n")
    proc = run_textlab("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", tmp_path / "in.txt",
                       "--data.predict_format", "text", "--output_format", "jsonl", cwd=tmp_path)
    written = [json.loads(line) for line in proc.stdout.splitlines()]
    status, answer = tagger_server.post({"text": TEXT + "\n"})
    assert status == 200 and written and answer["results"][0]["sentences"] == written


def test_texts_are_numbered_documents_each_as_its_own_text(tagger_server, tagger):
    texts = ["Kelveda Lihethez was appointed chief executive of PGD.", "", TEXT]
    status, answer = tagger_server.post({"texts": texts})
    assert status == 200
    assert answer["results"] == [document.to_dict() for document in tagger.tag_texts(texts)]
    assert answer["results"][1] == {"text": "", "entities": [], "sentences": []}
    assert {s["document"] for s in answer["results"][2]["sentences"]} == {2}
    # the same text alone is document 0, and otherwise the same
    _, alone = tagger_server.post({"text": texts[2]})
    for sentence in alone["results"][0]["sentences"]:
        assert sentence["document"] == 0
        sentence["document"] = 2
    assert alone["results"][0] == answer["results"][2]


def test_tokens_are_tagged_as_given(tagger_server, tagger):
    tokens = [["Kelveda", "Lihethez", "was", "appointed", "chief", "executive", "of", "PGD", "."], [],
              ["In", "2012", ",", "G.", "Stulbrevova", "lost", "."]]
    status, answer = tagger_server.post({"tokens": tokens})
    assert status == 200
    assert answer["results"] == [result.to_dict() for result in tagger.predict(tokens)]
    assert answer["results"][1] == {"tokens": [], "tags": [], "entities": []}
    assert any(result["entities"] for result in answer["results"])


def test_confidences_on_request(tagger_server, tagger):
    status, answer = tagger_server.post({"texts": [TEXT], "confidences": True})
    assert status == 200
    document = answer["results"][0]
    expected = tagger.tag_texts([TEXT], confidences=True)[0].to_dict(confidences=True)
    assert without_confidences(document) == without_confidences(expected)
    assert document["entities"]
    for entity, wanted in zip(document["entities"], expected["entities"]):
        assert 0 < entity["confidence"] <= 1 and entity["confidence"] == pytest.approx(wanted["confidence"], abs=1e-3)
    for sentence in document["sentences"]:
        assert len(sentence["confidences"]) == len(sentence["tokens"])
        assert all(0 < p <= 1 for p in sentence["confidences"])
    status, answer = tagger_server.post({"tokens": [["Kelveda", "Lihethez", "said", "."]], "confidences": True})
    assert status == 200 and len(answer["results"][0]["confidences"]) == 4


@pytest.mark.parametrize("body, results", [
    ({"texts": []}, []),
    ({"tokens": []}, []),
    ({"tokens": [[]]}, [{"tokens": [], "tags": [], "entities": []}]),
    ({"text": "  \n\n "}, [{"text": "  \n\n ", "entities": [], "sentences": []}]),
])
def test_empty_inputs_have_empty_results(tagger_server, body, results):
    assert tagger_server.post(body) == (200, {"results": results})


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(tagger_server, tagger):
    bodies, expected = [], []
    for i in range(48):
        text = f"{NAMES[i % len(NAMES)]} was appointed chief executive of {ORGS[i % len(ORGS)]} in {1990 + i} ."
        if i % 3 == 0:
            bodies.append({"text": text})
            expected.append([tagger.tag_text(text).to_dict()])
        elif i % 3 == 1:
            bodies.append({"tokens": [text.split(), text.split()[:3]]})
            expected.append([r.to_dict() for r in tagger.predict([text.split(), text.split()[:3]])])
        else:
            bodies.append({"texts": [text, "Nothing happened."], "confidences": True})
            expected.append([d.to_dict(True) for d in tagger.tag_texts([text, "Nothing happened."], confidences=True)])
    answers, errors = {}, []
    start = threading.Barrier(16)

    def client(k):
        connection = http.client.HTTPConnection("127.0.0.1", tagger_server.port, timeout=60)  # kept alive
        try:
            start.wait()
            for i in range(k, len(bodies), 16):
                answers[i] = request(tagger_server.port, "POST", "/predict", bodies[i], connection=connection)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for i, (status, answer) in sorted(answers.items()):
        assert status == 200
        assert without_confidences(answer["results"]) == without_confidences(expected[i]), bodies[i]
    batches = [(int(items), int(requests)) for items, requests in
               re.findall(r"batch: (\d+) items from (\d+) requests", tagger_server.log())]
    assert any(requests > 1 for _, requests in batches), "concurrent requests share model calls"


JSON = {"Content-Type": "application/json"}
BAD_REQUESTS = [
    pytest.param(b'{"text": "a",', JSON, 400,
                 "body is not JSON: Expecting property name enclosed in double quotes at character 13", id="not JSON"),
    pytest.param({"text": 5}, None, 422, "text: expected a string, got the number 5", id="text not a string"),
    pytest.param({"texts": ["a", "b", None]}, None, 422, "texts[2]: expected a string, got null", id="texts[2] null"),
    pytest.param({"texts": "a"}, None, 422, 'texts: expected an array, got the string "a"', id="texts a string"),
    pytest.param({"tokens": [["a", 3]]}, None, 422, "tokens[0][1]: expected a string, got the number 3",
                 id="a token not a string"),
    pytest.param({"text": "a", "texts": ["b"]}, None, 422,
                 "body: give exactly one of text, texts or tokens; got text and texts", id="text and texts"),
    pytest.param({"confidences": True}, None, 422, "body: give exactly one of text, texts or tokens; none was given",
                 id="no input"),
    pytest.param({"text": "a", "language": "en"}, None, 422,
                 'language: unknown field (expected "text", "texts" or "tokens", and "confidences")',
                 id="unknown field"),
    pytest.param({"text": "a", "confidences": "yes"}, None, 422,
                 'confidences: expected true or false, got the string "yes"', id="confidences not a boolean"),
    pytest.param([{"text": "a"}], None, 422, "body: expected a JSON object with one of", id="an array"),
    pytest.param(b"", JSON, 422, "body: missing; expected a JSON object", id="no body"),
    pytest.param(b'{"text": "a"}', {"Content-Type": "text/plain"}, 415,
                 "body: send it as JSON, with the header Content-Type: application/json", id="not sent as JSON"),
    pytest.param({"text": "a" * (MAX_CHARS + 1)}, None, 413,
                 f"text: {MAX_CHARS + 1} characters, the limit is {MAX_CHARS} (--max_text_chars)", id="text too long"),
    pytest.param({"texts": ["a", "b", "c", "d" * (MAX_CHARS + 5)]}, None, 413,
                 f"texts[3]: {MAX_CHARS + 5} characters, the limit is {MAX_CHARS} (--max_text_chars)",
                 id="texts[3] too long"),
    # a sentence of tokens counts as its tokens joined by spaces
    pytest.param({"tokens": [["a"], ["b" * 1000, "c" * 1000]]}, None, 413,
                 f"tokens[1]: 2001 characters, the limit is {MAX_CHARS} (--max_text_chars)", id="tokens[1] too long"),
    pytest.param({"texts": ["a"] * (MAX_TEXTS + 1)}, None, 413,
                 f"texts: {MAX_TEXTS + 1} texts, the limit is {MAX_TEXTS} (--max_texts)", id="too many texts"),
    pytest.param({"tokens": [["a"]] * (MAX_TEXTS + 2)}, None, 413,
                 f"tokens: {MAX_TEXTS + 2} sentences, the limit is {MAX_TEXTS} (--max_texts)", id="too many sentences"),
    pytest.param(json.dumps({"text": "a" * MAX_BODY}).encode(), JSON, 413,
                 f"body: {MAX_BODY + 12} bytes, the limit is {MAX_BODY} (--max_body_bytes)", id="body too large"),
    # without a Content-Length (chunked) the body's bytes are counted as they arrive
    pytest.param(iter([b'{"text": "', b"a" * MAX_BODY, b'"}']), JSON, 413,
                 f"body: more than {MAX_BODY} bytes, the limit is {MAX_BODY} (--max_body_bytes)",
                 id="chunked body too large"),
]


@pytest.mark.parametrize("body, headers, status, line", BAD_REQUESTS)
def test_a_bad_request_is_refused_with_one_line_naming_the_field(tagger_server, body, headers, status, line):
    conn = http.client.HTTPConnection("127.0.0.1", tagger_server.port, timeout=60)
    try:
        if not isinstance(body, (bytes, Iterator)):
            body, headers = json.dumps(body).encode(), JSON
        conn.request("POST", "/predict", body, headers)
        answer = conn.getresponse()
        detail = json.loads(answer.read())["detail"]
    finally:
        conn.close()
    assert answer.status == status
    assert detail.startswith(line) and "\n" not in detail


def test_info_describes_the_model_and_the_settings(tagger_server, tagger, trained_tagger):
    status, info = request(tagger_server.port, "GET", "/info")
    assert status == 200
    assert info["model"] == "SequenceTagger" and info["task"] == "tagger"
    assert info["labels"] == ["LOC", "MISC", "ORG", "PER"]
    assert info["tags"] == list(tagger.tags) and info["tag_scheme"] == "BIOES" and info["tokenizer"] == "syntok"
    assert info["checkpoint"] == os.path.abspath(trained_tagger["best"])
    assert info["textlab_version"] == __import__("textlab").__version__
    assert info["batching"]["max_batch_size"] == 16 and info["batching"]["max_wait_ms"] == 50
    assert info["limits"] == {"max_body_bytes": MAX_BODY, "max_text_chars": MAX_CHARS, "max_texts": MAX_TEXTS}


# -- a classifier --------------------------------------------------------------------------------------

def test_a_classifier_labels_texts_and_tokens(classifier_server, trained_classifier):
    classifier = load_model(trained_classifier)
    texts = ["i love this phone , it is very good .", "the kettle is not reliable at all .", ""]
    status, answer = classifier_server.post({"texts": texts})
    assert status == 200
    assert answer["results"] == [result.to_dict() for result in classifier.predict(texts)]
    assert set(answer["results"][0]) == {"text", "label"}
    # tokens: the sentence's tokens joined by spaces
    status, answer = classifier_server.post({"tokens": [texts[0].split()], "confidences": True})
    assert status == 200
    (result,) = answer["results"]
    assert result["text"] == texts[0] and result["label"] in classifier.labels
    assert result["confidence"] == max(result["probabilities"].values())
    assert sum(result["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    status, answer = classifier_server.post({"text": texts[1], "confidences": True})
    assert status == 200 and answer["results"][0]["label"] == classifier.predict([texts[1]])[0].label
    status, info = request(classifier_server.port, "GET", "/info")
    assert info["model"] == "TextClassifier" and info["task"] == "classifier"
    assert info["labels"] == list(classifier.labels) and "tags" not in info
    # from the --config file (3 threads: not a usual default, which is 1 under OMP_NUM_THREADS=1 or the cores)
    assert info["limits"]["max_texts"] == MAX_TEXTS and info["batching"]["threads"] == 3
    status, answer = classifier_server.post({"texts": ["x"] * (MAX_TEXTS + 1)})
    assert status == 413


# -- what ends before the server starts ---------------------------------------------------------------

def serve_in_process(args, capsys):
    """`textlab serve ARGS` in this process, for what ends before the server starts: (exit status, stderr)."""
    from textlab.cli import main

    with pytest.raises(SystemExit) as ended:
        main(["serve", *map(str, args)])
    return ended.value.code, capsys.readouterr().err


def test_a_missing_or_unreadable_checkpoint_is_one_line_before_serving(tmp_path, capsys):
    status, err = serve_in_process(["--ckpt_path", tmp_path / "missing.ckpt"], capsys)
    assert status == 2 and err == f"textlab: error: {tmp_path / 'missing.ckpt'}: no such checkpoint file\n"
    (tmp_path / "notes.ckpt").write_text("not a checkpoint\n")
    status, err = serve_in_process(["--ckpt_path", tmp_path / "notes.ckpt", "--port", 0], capsys)
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"textlab: error: {tmp_path / 'notes.ckpt'}: not a readable textlab checkpoint")


def test_a_port_in_use_is_one_line(trained_tagger, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, err = serve_in_process(["--ckpt_path", trained_tagger["best"], "--port", port], capsys)
    assert status == 2
    assert err == (f"textlab: error: --port {port}: http://127.0.0.1:{port} is in use (another server?); "
                   "stop it or choose another --port\n")


@pytest.mark.parametrize("options, line", [
    (["--max_texts", "0"], "--max_texts 0: must be at least 1\n"),
    (["--port", "70000"], "--port 70000: expected 0 to 65535 (0: any free port)\n"),
    (["--max_wait_ms", "-1"], "--max_wait_ms -1: must be 0 or more\n"),
    (["--host", "no-such-host.invalid", "--port", "0"], "--host no-such-host.invalid: unknown host"),
    (["--port", "eighty"], "--port: Expected a <class 'int'>. Got value: eighty (options: textlab serve --help)\n"),
])
def test_a_bad_option_is_one_line(options, line, trained_tagger, capsys):
    status, err = serve_in_process(["--ckpt_path", trained_tagger["best"], *options], capsys)
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"textlab: error: {line}")


def test_help_lists_the_options(capsys):
    from textlab.cli import main

    with pytest.raises(SystemExit) as ended:
        main(["serve", "--help"])
    assert ended.value.code == 0
    out = capsys.readouterr().out
    for option in ("--ckpt_path", "--host", "--port", "--max_batch_size", "--max_wait_ms", "--max_body_bytes",
                   "--max_text_chars", "--max_texts", "--threads", "--log_level", "--config"):
        assert option in out


# -- a model that fails, in this process --------------------------------------------------------------

class FailingPredictor(Predictor):
    """The tagger, failing on a batch with the text "BOOM" in it (as an out-of-memory error would)."""

    def run(self, key, items):
        if any("BOOM" in str(item) for item in items):
            raise RuntimeError("out of memory\n(and a second line)")
        return super().run(key, items)


@contextlib.contextmanager
def served_here(app):
    """``app`` served by uvicorn in a thread of this process, on a free port."""
    listener = listening_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield listener.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(30)
        listener.close()


def test_a_failing_model_answers_500_and_the_server_goes_on(tagger, trained_tagger):
    settings = ServeSettings(ckpt_path=str(trained_tagger["best"]), max_wait_ms=0)
    with served_here(create_app(FailingPredictor(tagger, 8), settings)) as port:
        status, answer = request(port, "POST", "/predict", {"texts": ["fine", "BOOM"]})
        assert status == 500
        assert answer == {"detail": "the model failed on this request (RuntimeError: out of memory)"}
        status, answer = request(port, "POST", "/predict", {"text": TEXT})
        assert status == 200 and answer["results"] == [tagger.tag_text(TEXT).to_dict()]
        assert request(port, "GET", "/health") == (200, {"status": "ok"})


# -- the batcher ---------------------------------------------------------------------------------------

class Calls:
    """A stand-in model: each item's result is (key, item); every call is recorded."""

    def __init__(self):
        self.calls = []

    def __call__(self, key, items):
        self.calls.append((key, list(items)))
        if "fail" in items:
            raise ValueError("cannot")
        return [(key, item) for item in items]


def run_batcher(batcher, jobs, timeout=30):
    """Submit ``jobs`` (key, items) at once and gather the results (or errors) in order."""
    async def gather():
        return await asyncio.wait_for(
            asyncio.gather(*(batcher.submit(key, items) for key, items in jobs), return_exceptions=True), timeout)

    batcher.start()
    try:
        return asyncio.run(gather())
    finally:
        batcher.stop()


def test_the_batcher_runs_waiting_requests_in_one_call_per_key_and_hands_each_its_part():
    model = Calls()
    # every request has time to join; the batch is full with all of them
    batcher = MicroBatcher(model, max_batch_size=7, max_wait_ms=60_000)
    jobs = [("a", [1, 2]), ("b", [3]), ("a", [4]), ("a", []), ("b", [5, 6, 7])]
    results = run_batcher(batcher, jobs)
    assert results == [[("a", 1), ("a", 2)], [("b", 3)], [("a", 4)], [], [("b", 5), ("b", 6), ("b", 7)]]
    assert model.calls == [("a", [1, 2, 4]), ("b", [3, 5, 6, 7])]


def test_the_batcher_waits_neither_when_the_batch_is_full_nor_when_no_other_request_is_in_progress():
    # a minute's wait would end the test by its timeout: a full batch, or a request alone, is run at once
    model = Calls()
    assert run_batcher(MicroBatcher(model, max_batch_size=2, max_wait_ms=60_000), [("a", [1, 2])]) == [
        [("a", 1), ("a", 2)]]
    lone = MicroBatcher(model, max_batch_size=64, max_wait_ms=60_000, in_progress=lambda: 1)
    assert run_batcher(lone, [("a", [3])]) == [[("a", 3)]]
    assert model.calls == [("a", [1, 2]), ("a", [3])]


def test_a_failing_batch_fails_its_requests_only_and_the_worker_goes_on():
    model = Calls()
    batcher = MicroBatcher(model, max_batch_size=4, max_wait_ms=60_000)
    # the first four requests fill a batch (two calls: one per key), the last one the next batch
    results = run_batcher(batcher, [("a", ["fail"]), ("b", [1]), ("a", [2]), ("b", [3]), ("a", [4, 5, 6, 7])])
    assert isinstance(results[0], ValueError) and isinstance(results[2], ValueError)
    assert results[1] == [("b", 1)] and results[3] == [("b", 3)]
    assert results[4] == [("a", 4), ("a", 5), ("a", 6), ("a", 7)]
    assert model.calls == [("a", ["fail", 2]), ("b", [1, 3]), ("a", [4, 5, 6, 7])]
