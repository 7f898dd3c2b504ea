"""A request that says it is over the body limit (its Content-Length) is answered 413 before its body is read.

Starlette's own limit (FastAPI's ``max_body_size``, which the app sets too) counts the bytes of a chunked body
as they are read, and that answer goes through the app's handlers. For a Content-Length over the limit,
though, it replaces whatever the app answers with a plain-text "Content Too Large", where every other error of
this API is JSON ``{"detail": "<one line>"}``. So this wrapper, outside the app, answers those first.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


def body_limit_line(size: str, limit: int) -> str:
    return f"body: {size}, the limit is {limit} (--max_body_bytes)"


class DeclaredBodyLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = Headers(scope=scope).get("content-length", "")
            if length.isdigit() and int(length) > self.max_body_bytes:
                answer = JSONResponse({"detail": body_limit_line(f"{length} bytes", self.max_body_bytes)},
                                      status_code=413)
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
