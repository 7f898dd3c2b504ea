"""How many HTTP requests the server has begun and not yet answered: the batcher waits for more requests to join
a batch only while some are on their way (alone, a request never waits)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class RequestsInProgress:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # changed on the event loop's thread only; the batcher's thread only reads it
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.count -= 1
