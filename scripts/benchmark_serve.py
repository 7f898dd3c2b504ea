"""How fast `textlab serve` answers, one sentence a request, against the Python API tagging the same sentences.

    python scripts/benchmark_serve.py --ckpt CKPT --data ../shared/data/conll2003/test.txt
        [--requests 2000] [--seconds 30] [--concurrency 1 8 32] [--threads N] [--serve-args "--max_wait_ms 5"]

1. Reads the sentences of --data: CoNLL (each sentence rebuilt by joining its tokens with spaces) or plain
   text, one sentence a line.
2. Starts `textlab serve --ckpt_path CKPT` on a free port of 127.0.0.1 in a subprocess, and warms it up.
3. For each concurrency N, N client threads, each with its own keep-alive connection, send one sentence a
   request (``{"text": ...}``) until --requests have been sent or --seconds have passed; the latency of a
   request is from sending it to reading its whole answer.
4. Stops the server, then tags the same sentences in this process with ``model.tag_texts(sentences,
   batch_size=256)``, the Python API's batched speed, so that the two never compete for the cores.

Prints the machine, the threads and the versions, then a table: concurrency, requests, requests/s, p50 and
p99 latency (ms), and requests/s as a share of the Python API's sentences/s. The clients run on the same
machine as the server and take some of its cores.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.metadata
import itertools
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_name import cpu_name  # noqa: E402

from textlab import load_model  # noqa: E402
from textlab.data.conll import SNIFF_LINES, iter_conll, looks_like_conll  # noqa: E402


def read_sentences(path: str | os.PathLike) -> list[str]:
    """The sentences of a CoNLL file (tokens joined by spaces) or of a plain-text file (its non-blank lines)."""
    with open(path, encoding="utf-8") as f:
        head = list(itertools.islice(f, SNIFF_LINES))
    if looks_like_conll(head):
        return [" ".join(s.tokens) for s in iter_conll(path, require_tags=False) if s.tokens]
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`textlab serve` in a subprocess, its output in a temporary file (shown if it fails)."""

    def __init__(self, ckpt: str, options: list[str]) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile("w+", prefix="textlab-serve-", suffix=".log")
        command = [sys.executable, "-m", "textlab", "serve", "--ckpt_path", ckpt, "--port", str(self.port),
                   "--log_level", "warning", *options]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_until_healthy()

    def _wait_until_healthy(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"textlab serve ended with {self.process.returncode}:\n{self.output()}")
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                if ask(connection, "GET", "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
            finally:
                connection.close()
        self.stop()
        raise SystemExit(f"textlab serve did not answer within {timeout:.0f} s:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def ask(connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
        ) -> tuple[int, bytes]:
    connection.request(method, path, body, {"Content-Type": "application/json"} if body else {})
    answer = connection.getresponse()
    return answer.status, answer.read()


def load(port: int, sentences: list[str], concurrency: int, requests: int, seconds: float) -> dict:
    """``concurrency`` clients sending one sentence a request, ``requests`` in all or for ``seconds``."""
    bodies = [json.dumps({"text": s}).encode() for s in sentences]
    numbers = itertools.count()  # shared by the clients: next() on it is atomic
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    failures: list[str] = []
    start = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def client(k: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start.wait()
        try:
            while (i := next(numbers)) < requests and time.perf_counter() < deadline[0]:
                sent = time.perf_counter()
                status, answer = ask(connection, "POST", "/predict", bodies[i % len(bodies)])
                latencies[k].append(time.perf_counter() - sent)
                if status != 200:
                    failures.append(f"{status}: {answer[:200]!r}")
                    return
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    if failures:
        raise SystemExit(f"the server refused a request: {failures[0]}")
    done = sorted(latency for per_client in latencies for latency in per_client)
    return {"concurrency": concurrency, "requests": len(done), "requests_per_s": len(done) / wall,
            "p50_ms": 1000 * percentile(done, 0.50), "p99_ms": 1000 * percentile(done, 0.99)}


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values, by the nearest rank."""
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


def python_api_speed(ckpt: str, sentences: list[str]) -> float:
    """Sentences per second of ``model.tag_texts(sentences, batch_size=256)``, after a warm-up call."""
    model = load_model(ckpt)
    model.tag_texts(sentences[:256], batch_size=256)
    began = time.perf_counter()
    model.tag_texts(sentences, batch_size=256)
    return len(sentences) / (time.perf_counter() - began)


def versions() -> str:
    packages = ("textlab", "torch", "fastapi", "uvicorn")
    found = []
    for name in packages:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} ?")
    return ", ".join([f"Python {platform.python_version()}", *found])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="a tagger checkpoint")
    parser.add_argument("--data", required=True, help="CoNLL, or plain text one sentence a line")
    parser.add_argument("--requests", type=int, default=2000, help="at most this many requests per concurrency")
    parser.add_argument("--seconds", type=float, default=30, help="at most this long per concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32], help="client threads, in turn")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads, for the server and the Python API (default: torch's choice)")
    parser.add_argument("--serve-args", default="", help='more `textlab serve` options, e.g. "--max_wait_ms 5"')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sentences = read_sentences(args.data)
    if not sentences:
        raise SystemExit(f"{args.data}: no sentences")
    options = shlex.split(args.serve_args) + (["--threads", str(args.threads)] if args.threads else [])

    server = ServerProcess(args.ckpt, options)
    try:
        warm_up = min(len(sentences), 50)
        load(server.port, sentences, 1, warm_up, args.seconds)
        load(server.port, sentences, max(args.concurrency), warm_up, args.seconds)
        rows = [load(server.port, sentences, n, args.requests, args.seconds) for n in args.concurrency]
    finally:
        server.stop()
    # the sentences the requests sent (the file's first ones, repeated if it has fewer)
    sent = max(row["requests"] for row in rows)
    api = python_api_speed(args.ckpt, [sentences[i % len(sentences)] for i in range(max(sent, 1))])

    print(f"{args.ckpt} on {args.data} ({len(sentences)} sentences, one a request)")
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; torch threads: {args.threads or torch.get_num_threads()}")
    print(f"{versions()}; textlab serve {' '.join(options) or '(default options)'}\n")
    print("| concurrency | requests | requests/s | p50 ms | p99 ms | of the Python API's sentences/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        row["ratio"] = row["requests_per_s"] / api
        print(f"| {row['concurrency']} | {row['requests']} | {row['requests_per_s']:.1f} | {row['p50_ms']:.2f} | "
              f"{row['p99_ms']:.2f} | {row['ratio']:.2f} |")
    print(f"\nPython API, model.tag_texts(..., batch_size=256) over the {sent} sentences sent: {api:.1f} sentences/s")
    return {"rows": rows, "api_sentences_per_s": api}


if __name__ == "__main__":
    main()
