"""The HTTP API: ``POST /predict``, ``GET /health``, ``GET /info``, and a one-line answer for every bad request.

Every answer that is not a result is ``{"detail": "<one line>"}``: 400 a body that is not JSON, 413 a body,
text or request over a limit, 415 a body not sent as JSON, 422 a body that is JSON but not a request (the
field named), 500 a model that failed on the request (the server goes on serving).
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

import textlab
from textlab.serve.batcher import MicroBatcher
from textlab.serve.body_limit import DeclaredBodyLimit, body_limit_line
from textlab.serve.in_progress import RequestsInProgress
from textlab.serve.predictor import Predictor
from textlab.serve.request_body import PredictRequest, TooLarge, check_limits, describe
from textlab.serve.settings import ServeSettings

log = logging.getLogger("textlab")


def create_app(predictor: Predictor, settings: ServeSettings) -> ASGIApp:
    """The app serving ``predictor``'s model, for uvicorn; its batching worker runs while the app does (its
    lifespan)."""
    # served: the app as uvicorn runs it (at the end), counting the requests in progress for the batcher
    batcher = MicroBatcher(predictor.run, settings.max_batch_size, settings.max_wait_ms,
                           in_progress=lambda: served.count)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        try:
            yield
        finally:
            batcher.stop()

    # max_body_size: Starlette's limit, which counts a chunked body's bytes as they are read (the Content-Length
    # is checked by DeclaredBodyLimit, below)
    app = FastAPI(title="textlab", version=textlab.__version__, lifespan=lifespan,
                  max_body_size=settings.max_body_bytes)
    info = {
        **predictor.info(),
        "textlab_version": textlab.__version__,
        "checkpoint": os.path.abspath(settings.ckpt_path),
        "batching": {"max_batch_size": settings.max_batch_size, "max_wait_ms": settings.max_wait_ms,
                     "threads": torch.get_num_threads()},
        "limits": {"max_body_bytes": settings.max_body_bytes, "max_text_chars": settings.max_text_chars,
                   "max_texts": settings.max_texts},
    }

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/info")
    async def model_info() -> dict[str, Any]:
        return info

    @app.post("/predict", responses=ERRORS)
    async def predict(request: PredictRequest) -> JSONResponse:
        """One result per text (`text`, `texts`) or sentence (`tokens`): the records `textlab predict
        --output_format jsonl` writes."""
        kind, items, names = request.inputs()
        check_limits(kind, items, names, settings)
        try:
            results = await batcher.submit((kind, request.confidences), items)
        except Exception as error:  # logged with its traceback by the batcher
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "no message"
            return _detail(500, f"the model failed on this request ({type(error).__name__}: {reason})")
        # a JSONResponse as it is: FastAPI would otherwise walk the records with jsonable_encoder first
        return JSONResponse({"results": predictor.records(kind, results, request.confidences)})

    @app.exception_handler(RequestValidationError)
    async def unreadable_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return _detail(*describe(list(error.errors())))

    @app.exception_handler(TooLarge)
    async def too_large(request: Request, error: TooLarge) -> JSONResponse:
        return _detail(413, str(error))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        if error.status_code != 413:  # 404, 405: FastAPI's own answers
            return await http_exception_handler(request, error)
        # only the body limit answers 413 through an HTTPException: a chunked body, counted while it was read
        return _detail(413, body_limit_line(f"more than {settings.max_body_bytes} bytes", settings.max_body_bytes))

    served = RequestsInProgress(DeclaredBodyLimit(app, settings.max_body_bytes))
    return served


class Detail(BaseModel):
    """What is wrong, in one line."""

    detail: str


# the error answers, for the OpenAPI description (/docs)
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Detail, "description": "The body is not JSON"},
    413: {"model": Detail, "description": "The body, a text or the number of texts is over a limit"},
    415: {"model": Detail, "description": "The body is not sent as JSON"},
    422: {"model": Detail, "description": "The JSON is not a request: a field missing, unknown or of the wrong type"},
    500: {"model": Detail, "description": "The model failed on the request"},
}


def _detail(status: int, line: str) -> JSONResponse:
    return JSONResponse({"detail": line}, status_code=status)
