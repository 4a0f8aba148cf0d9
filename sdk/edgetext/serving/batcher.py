"""Dynamic batching: concurrent requests grouped into one engine call.

    batcher = DynamicBatcher(run, max_batch=32, max_wait_s=0.005, workers=1, max_queue=512)
    batcher.start()
    rows, info = await batcher.submit(texts)    # on the event loop; QueueFullError when full
    batcher.begin_shutdown(); batcher.close()  # finish what was accepted, then stop the workers

`run(texts) -> rows` is the engine call (e.g. softmax of ``TextClassifier.logits``): one row per
text, indexable by slices. `workers` threads take whole requests off a bounded queue: one worker at
a time gathers a batch, waiting at most `max_wait_s` after its first request for more, until the next
request would overflow `max_batch` texts (a request is never split; one larger than `max_batch`
runs alone). The queue is bounded in texts accepted but not yet in an engine call (`max_queue`):
beyond it `submit` raises QueueFullError at once, so overload costs a 503, not latency or memory.
A failing batch of several requests is re-run one request at a time, so one bad request fails
alone. Each result says which engine call it came from (:class:`BatchInfo`), so a caller can
reproduce it with the library on the same batch.

May import: the standard library and edgetext.errors.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import EdgeTextError

log = logging.getLogger(__name__)


class QueueFullError(EdgeTextError):
    """The batcher's queue holds max_queue texts already: retry later (HTTP 503)."""


class ShuttingDownError(EdgeTextError):
    """The server is shutting down and accepts no new work (HTTP 503)."""


@dataclass(frozen=True)
class BatchInfo:
    """The engine call a request's rows came from: its id, texts and requests, this request's offset."""

    id: int
    texts: int
    requests: int
    offset: int


@dataclass
class _Item:
    texts: list[Any]  # one engine row each: a text, or a (text, pair) tuple
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


BatchObserver = Callable[[int, int, float], None]  # (texts, requests, engine seconds)


def _resolve(future: asyncio.Future, value: Any, error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (client gone, shutdown timeout)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class DynamicBatcher:
    """See the module docstring. Thread-safe; `submit` must be called on a running event loop."""

    def __init__(self, run: Callable[[list[Any]], Sequence[Any]], *, max_batch: int, max_wait_s: float,
                 workers: int = 1, max_queue: int = 512, on_batch: BatchObserver | None = None,
                 name: str = "batcher"):
        self._run = run
        self.max_batch, self.max_wait_s, self.workers, self.max_queue = max_batch, max_wait_s, workers, max_queue
        self._on_batch = on_batch
        self.name = name
        self._cond = threading.Condition()
        self._queue: deque[_Item] = deque()
        self._pending = 0  # texts accepted, not yet in an engine call (queued or held by the gathering worker)
        self._running = 0  # texts in engine calls now
        self._gathering = False  # one worker at a time gathers a batch
        self._closing = False
        self._ids = itertools.count(1)
        self._threads: list[threading.Thread] = []

    # -- the event loop's side -------------------------------------------------------------------
    def submit(self, texts: Sequence[Any]) -> asyncio.Future:
        """A future of ``(rows, BatchInfo)`` for `texts`; QueueFullError / ShuttingDownError at once."""
        loop = asyncio.get_running_loop()
        item = _Item(list(texts), loop.create_future(), loop)
        with self._cond:
            if self._closing:
                raise ShuttingDownError("the server is shutting down: send the request to another instance")
            if self._pending + len(item.texts) > self.max_queue:
                raise QueueFullError(f"the queue is full ({self._pending} of {self.max_queue} texts waiting for the "
                                     f"engine; this request has {len(item.texts)}): retry later")
            self._queue.append(item)
            self._pending += len(item.texts)
            self._cond.notify_all()
        return item.future

    @property
    def pending(self) -> int:
        """Texts accepted and not yet in an engine call."""
        return self._pending

    @property
    def running(self) -> int:
        """Texts in engine calls now."""
        return self._running

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"edgetext-{self.name}-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def begin_shutdown(self) -> None:
        """Refuse new work; what was accepted runs at once (no more waiting for batch-mates)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()

    def close(self, timeout: float | None = None) -> bool:
        """begin_shutdown(), then wait for the workers to finish the queue; False if one is still busy."""
        self.begin_shutdown()
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    # -- the workers ------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            batch = self._gather()
            if batch is None:
                return
            self._execute(batch)

    def _gather(self) -> list[_Item] | None:
        with self._cond:
            while not self._closing and (self._gathering or not self._queue):
                self._cond.wait()
            if not self._queue:
                return None  # closing, nothing left
            self._gathering = True
            try:
                batch = [self._queue.popleft()]
                n = len(batch[0].texts)
                deadline = time.monotonic() + self.max_wait_s
                while n < self.max_batch:
                    if self._queue:
                        if n + len(self._queue[0].texts) > self.max_batch:
                            break
                        batch.append(self._queue.popleft())
                        n += len(batch[-1].texts)
                        continue
                    remaining = deadline - time.monotonic()
                    if self._closing or remaining <= 0:
                        break
                    self._cond.wait(remaining)
                self._pending -= n
                self._running += n
            finally:
                self._gathering = False
                self._cond.notify_all()
            return batch

    def _execute(self, batch: list[_Item]) -> None:
        n = sum(len(item.texts) for item in batch)
        try:
            try:
                self._call(batch)
            except EdgeTextError as e:
                if len(batch) == 1:
                    self._fail(batch, e)
                else:  # one bad request must not fail its batch-mates: each alone
                    log.info("%s: a batch of %d requests failed (%s); running them one by one", self.name,
                             len(batch), e)
                    for item in batch:
                        try:
                            self._call([item])
                        except EdgeTextError as e1:
                            self._fail([item], e1)
        except BaseException as e:  # noqa: BLE001 (a bug in the engine call: every request gets it, the worker lives)
            log.exception("%s: engine call failed", self.name)
            self._fail(batch, e)
        finally:
            with self._cond:
                self._running -= n

    def _call(self, batch: list[_Item]) -> None:
        texts = [t for item in batch for t in item.texts]
        t0 = time.perf_counter()
        rows = self._run(texts)
        seconds = time.perf_counter() - t0
        if len(rows) != len(texts):
            raise RuntimeError(f"{self.name}: the engine returned {len(rows)} rows for {len(texts)} texts")
        batch_id = next(self._ids)
        if self._on_batch is not None:
            self._on_batch(len(texts), len(batch), seconds)
        offset = 0
        for item in batch:
            k = len(item.texts)
            info = BatchInfo(batch_id, len(texts), len(batch), offset)
            self._deliver(item, (rows[offset:offset + k], info), None)
            offset += k

    def _fail(self, batch: list[_Item], error: BaseException) -> None:
        for item in batch:
            self._deliver(item, None, error)

    @staticmethod
    def _deliver(item: _Item, value: Any, error: BaseException | None) -> None:
        try:
            item.loop.call_soon_threadsafe(_resolve, item.future, value, error)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass
