"""``textlab serve --ckpt_path CKPT [--host H] [--port P] ...``: the model behind HTTP, with uvicorn.

Everything that can be wrong with the settings (a checkpoint that is missing or unreadable, a port in use,
an address that cannot be listened on) is found before the server starts and ends in one line (exit 2).
"""

from __future__ import annotations

import errno
import logging
import socket

import torch
import uvicorn

from textlab.checkpoint import check_checkpoint_path
from textlab.command_settings import parse_settings
from textlab.errors import TextlabError
from textlab.predict import load_model
from textlab.serve.api import create_app
from textlab.serve.predictor import Predictor
from textlab.serve.settings import ServeSettings

log = logging.getLogger("textlab")


def main(argv: list[str] | None = None) -> None:
    settings = parse_settings(ServeSettings, "textlab serve", argv)
    logging.getLogger("textlab").setLevel(settings.log_level.upper())
    check_checkpoint_path(settings.ckpt_path)
    listener = listening_socket(settings.host, settings.port)
    try:
        # The worker thread that runs the model inherits it. By default the model leaves one core to the event loop,
        # which parses, validates and answers every request: on 2 cores, 1 model thread gave p50 8.7 ms and 378
        # requests/s at concurrency 32, 2 threads 13.2 ms and 197 (scripts/benchmark_serve.py, the CoNLL model).
        torch.set_num_threads(settings.threads or max(1, torch.get_num_threads() - 1))
        model = load_model(settings.ckpt_path)
        predictor = Predictor(model, settings.max_batch_size)
        server = uvicorn.Server(uvicorn.Config(create_app(predictor, settings), log_level=settings.log_level))
        host, port = listener.getsockname()[:2]
        log.info("serving %s (%s, %s) on %s", settings.ckpt_path, type(model).__name__, predictor.task,
                 _url(host, port))
        try:
            server.run(sockets=[listener])
        except KeyboardInterrupt:  # Ctrl-C, after uvicorn shut down gracefully: stopping a server is no error
            pass
    finally:
        listener.close()


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for uvicorn to listen on, or one line saying why there cannot be one."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as e:
        raise TextlabError(f"--host {host}: unknown host ({e.strerror})") from None
    listener = socket.socket(family, kind, proto)
    # as uvicorn does: a restarted server may take the port while the last one's connections close (TIME_WAIT)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as e:
        listener.close()
        if e.errno == errno.EADDRINUSE:
            raise TextlabError(f"--port {port}: {_url(host, port)} is in use (another server?); stop it or "
                               "choose another --port") from None
        raise TextlabError(f"--host {host} --port {port}: cannot listen there ({e.strerror})") from None
    return listener


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
