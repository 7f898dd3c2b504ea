"""What ``textlab serve`` is told: where to listen, how to batch, what to refuse. The options and their ``--help``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textlab.errors import TextlabError

LogLevel = Literal["critical", "error", "warning", "info", "debug"]


@dataclass(frozen=True)
class ServeSettings:
    """Serve a trained tagger or classifier over HTTP: POST /predict, GET /health, GET /info.

    Args:
        ckpt_path: The checkpoint to serve (a tagger's or a classifier's, as textlab fit writes it).
        host: The address to listen on: 127.0.0.1 for this machine only, 0.0.0.0 for every network
            interface (in a container, for instance).
        port: The TCP port to listen on (0: any free port, logged when the server starts).
        max_batch_size: At most this many texts or sentences in one model call; concurrent requests are
            batched together up to it.
        max_wait_ms: Once the model is free and a request is waiting, how long to wait for more requests
            to join its batch (0: never wait; run what is there). A request alone never waits.
        max_body_bytes: The largest request body accepted, in bytes (413 beyond).
        max_text_chars: The longest text, or pre-tokenised sentence with its tokens joined by spaces,
            accepted in a request, in characters (413 beyond).
        max_texts: The most texts or sentences accepted in one request (413 beyond).
        threads: torch's intra-op threads for the model (null: torch's own count less one, at least 1: the event
            loop that handles the requests needs a core of its own).
        log_level: What the server logs: info includes one line per request, warning only problems.
    """

    ckpt_path: str
    host: str = "127.0.0.1"
    port: int = 8080
    max_batch_size: int = 64
    # 5, not 2: larger batches under load (scripts/benchmark_serve.py, CoNLL model, 2 cores, medians of 5 to 7
    # noisy runs: 397 vs 315 requests/s at concurrency 8, 605 vs 548 at 32); a request alone never waits
    max_wait_ms: float = 5.0
    max_body_bytes: int = 1_000_000
    max_text_chars: int = 100_000
    max_texts: int = 256
    threads: int | None = None
    log_level: LogLevel = "info"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise TextlabError(f"--port {self.port}: expected 0 to 65535 (0: any free port)")
        for name in ("max_batch_size", "max_body_bytes", "max_text_chars", "max_texts"):
            if getattr(self, name) < 1:
                raise TextlabError(f"--{name} {getattr(self, name)}: must be at least 1")
        if self.max_wait_ms < 0:
            raise TextlabError(f"--max_wait_ms {self.max_wait_ms:g}: must be 0 or more")
        if self.threads is not None and self.threads < 1:
            raise TextlabError(f"--threads {self.threads}: must be at least 1 (null: all cores but one)")
