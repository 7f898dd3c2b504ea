"""Concurrent requests batched into one model call: a worker thread that owns the model.

Why by hand: the libraries that batch requests for a model (LitServe, Ray Serve, NVIDIA Triton) each bring
their own server, process model and configuration; textlab serves with FastAPI and uvicorn, and what it
needs of batching is this one queue and thread. A request's items travel together (a request of 200
sentences stays one job), jobs are grouped by ``key`` (what the model is asked: the input kind, whether
confidences are wanted), and each group is one ``run(key, items)`` call.

The worker takes the first waiting job, then whatever else is already queued; if that is less than
``max_batch_size`` items it waits up to ``max_wait_ms`` for more, but only while the server has requests in
progress that are not in the batch yet (``in_progress``): never once the batch is full or every request has
joined it, so a request alone never waits. While the model runs, new requests queue up, so under load
batches fill without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Sequence

log = logging.getLogger("textlab")


@dataclass
class _Job:
    key: Hashable
    items: Sequence[Any]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


class MicroBatcher:
    def __init__(self, run: Callable[[Hashable, list], list], max_batch_size: int, max_wait_ms: float,
                 in_progress: Callable[[], int] | None = None) -> None:
        """
        Args:
            run: ``run(key, items)`` -> one result per item, in order; called in the worker thread only.
            max_batch_size: items after which the worker stops collecting jobs for a call.
            max_wait_ms: how long the worker waits for more jobs once it has one.
            in_progress: how many requests the server is handling (one job each, or none yet); None: unknown,
                the worker always waits.
        """
        self.run = run
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.in_progress = in_progress
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="textlab-batcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the jobs queued so far, then end the worker."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    async def submit(self, key: Hashable, items: Sequence[Any]) -> list:
        """The results of ``items``, computed in a batch with whatever other requests are waiting."""
        if not items:
            return []
        if self._thread is None:
            raise RuntimeError("the batcher is not running: start() it first")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Job(key, items, future, loop))
        return await future

    # -- the worker thread ---------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            jobs, stopping = self._collect()
            if jobs:
                self._process(jobs)
            if stopping:
                return

    def _collect(self) -> tuple[list[_Job], bool]:
        """The next batch's jobs, and whether ``stop()`` was called meanwhile."""
        first = self._queue.get()
        if first is None:
            return [], True
        jobs, size = [first], len(first.items)
        deadline = time.monotonic() + self.max_wait
        while size < self.max_batch_size:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                if self.in_progress is not None and self.in_progress() <= len(jobs):
                    break  # no other request on its way
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    job = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if job is None:
                return jobs, True
            jobs.append(job)
            size += len(job.items)
        return jobs, False

    def _process(self, jobs: list[_Job]) -> None:
        groups: dict[Hashable, list[_Job]] = {}
        for job in jobs:
            groups.setdefault(job.key, []).append(job)
        for key, group in groups.items():
            items = [item for job in group for item in job.items]
            log.debug("batch: %d items from %d requests, %s", len(items), len(group), key)
            try:
                results = self.run(key, items)
                if len(results) != len(items):
                    raise RuntimeError(f"{len(results)} results for {len(items)} items")
            except Exception as error:  # the requests fail, the server goes on
                log.exception("prediction failed for a batch of %d items from %d requests", len(items), len(group))
                for job in group:
                    _hand_over(job, None, error)
                continue
            start = 0
            for job in group:
                end = start + len(job.items)
                _hand_over(job, results[start:end], None)
                start = end


def _hand_over(job: _Job, result: list | None, error: BaseException | None) -> None:
    """Settle the job's future on its event loop's thread (futures are not thread-safe)."""
    try:
        job.loop.call_soon_threadsafe(_settle, job.future, result, error)
    except RuntimeError:  # its event loop has closed: no one is waiting for the answer any more
        pass


def _settle(future: asyncio.Future, result: list | None, error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (its client went away)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
