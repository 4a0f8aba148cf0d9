"""The settings of one ``edgetext serve`` process, checked once at start-up.

Request limits (texts per request, characters per text, body bytes), the batcher's shape
(max_batch, max_wait_ms, workers, queue capacity) and the engine's (threads, backend) live in one
frozen :class:`ServeConfig`; a bad value is an InvalidInputError that names the option.

May import: the standard library, edgetext.errors and edgetext.limits.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from ..errors import InvalidInputError
from ..limits import check_threads, cpu_count

log = logging.getLogger(__name__)

DEFAULT_MAX_TEXTS = 256
MAX_WAIT_MS_LIMIT = 60_000  # a batch never waits longer than a minute for more texts


@dataclass(frozen=True)
class ServeConfig:
    """One serving process. Defaults suit a small device: one engine caller, batches of 32."""

    bundle: str
    host: str = "127.0.0.1"
    port: int = 8080
    max_batch: int = 32  # texts per engine call (requests are never split across calls)
    engine_batch: int = 8  # texts per backend run inside an engine call (sorted by length, padded per run)
    max_wait_ms: float = 5.0  # how long a worker waits for more texts once it holds one
    workers: int = 1  # engine calls running at once (threads sharing one classifier)
    threads: int | None = None  # the classifier's threads (tokenizer + engine intra-op), per call
    backend: str = "auto"
    device: str = "cpu"
    model: str | None = None
    max_queue: int = 512  # texts accepted but not yet in an engine call; more: 503 + Retry-After
    max_texts: int = 0  # texts per request (0: min(256, max_queue))
    max_text_chars: int = 8192  # characters per text (the model reads at most max_length tokens of it)
    max_body_bytes: int = 1 << 20  # bytes of one request body
    shutdown_timeout: float = 30.0  # seconds SIGTERM waits for requests in flight
    retry_after_s: int = 1  # the Retry-After of a 503

    def __post_init__(self) -> None:
        if self.max_texts == 0:
            object.__setattr__(self, "max_texts", min(DEFAULT_MAX_TEXTS, self.max_queue))
        for name in ("max_batch", "engine_batch", "workers", "max_queue", "max_texts", "max_text_chars", "max_body_bytes",
                     "retry_after_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"--{name.replace('_', '-')} must be an integer >= 1, got {value!r}")
        if not 0 <= self.port <= 65535:
            raise InvalidInputError(f"--port must be 0..65535 (0: a free port), got {self.port}")
        if not 0 <= self.max_wait_ms <= MAX_WAIT_MS_LIMIT:
            raise InvalidInputError(f"--max-wait-ms must be 0..{MAX_WAIT_MS_LIMIT}, got {self.max_wait_ms}")
        if self.shutdown_timeout < 0:
            raise InvalidInputError(f"--shutdown-timeout must be >= 0, got {self.shutdown_timeout}")
        if self.max_texts > self.max_queue:
            raise InvalidInputError(f"--max-texts ({self.max_texts}) is more than --max-queue ({self.max_queue}): "
                                    "such a request could never be queued")
        check_threads(self.threads, "--threads")

    def oversubscribed(self) -> str | None:
        """A warning when workers x threads exceeds the usable CPUs (docs/architecture.md, Concurrency)."""
        busy = self.workers * (self.threads or 1)
        if busy > cpu_count():
            return (f"--workers {self.workers} x --threads {self.threads or 1} = {busy} busy threads on "
                    f"{cpu_count()} CPUs: calls will fight for cores; keep workers x threads <= CPUs")
        return None
