"""The ``edgetext serve`` process: load the model, listen, shut down gracefully.

    serve(ServeConfig("reviews-zh.etb", port=8080, max_batch=32, max_wait_ms=5))   # returns the exit status

One process, one verified ``TextClassifier`` (or ``TextEmbedder``, for a text-embedding bundle) shared by
``workers`` batcher threads, one aiohttp event loop. When it listens it prints one line to stdout,
``edgetext serve: listening on http://HOST:PORT (...)`` (with ``port=0`` the port the OS chose).
SIGTERM or SIGINT: /healthz turns 503, new requests get 503, the listening socket closes, accepted
requests run at once (no more waiting for batch-mates) and are answered, then the process exits 0
(1 if requests were still running after ``shutdown_timeout``).

May import: the standard library, aiohttp, edgetext.errors, edgetext.bundle, edgetext.predictor,
edgetext.embedder and edgetext.serving.*.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time

from aiohttp import web

from ..bundle import Bundle
from ..embedder import TextEmbedder
from ..errors import InvalidInputError
from ..predictor import TextClassifier
from .app import ServerState, create_app
from .config import ServeConfig

log = logging.getLogger(__name__)

READY = "edgetext serve: listening on"


MODELS: dict[str, type[TextClassifier] | type[TextEmbedder]] = {
    "text-classification": TextClassifier, "text-embedding": TextEmbedder}

Model = TextClassifier | TextEmbedder


def load_model(config: ServeConfig) -> Model:
    """The TextClassifier or TextEmbedder of the bundle's task, verified as the library loads it."""
    with Bundle.open(config.bundle) as b:
        task = b.manifest.task
    cls = MODELS.get(task)
    if cls is None:
        raise InvalidInputError(f"{config.bundle}: task {task!r} is not served (edgetext serve serves "
                                f"{', '.join(MODELS)})")
    return cls(config.bundle, backend=config.backend, device=config.device, threads=config.threads,
               model=config.model)


def serve(config: ServeConfig, model: Model | None = None) -> int:
    """Run the server until SIGTERM/SIGINT; the exit status (0: every accepted request was answered)."""
    warning = config.oversubscribed()
    if warning:
        log.warning("%s", warning)
    loaded = model if model is not None else load_model(config)
    try:
        return asyncio.run(_run(config, loaded))
    finally:
        if model is None:
            loaded.close()


def _ready_line(url: str, config: ServeConfig, clf: Model) -> str:
    d = clf.describe()
    return (f"{READY} {url} (bundle {d['name']}, {d['backend']} {d['precision']} {d['model']}; max-batch "
            f"{config.max_batch} (runs of {config.engine_batch}), max-wait {config.max_wait_ms:g} ms, workers {config.workers}, threads "
            f"{config.threads or 'default'}, queue {config.max_queue} texts)")


async def _run(config: ServeConfig, clf: Model) -> int:
    state = ServerState(config, clf)
    state.start()
    runner = web.AppRunner(create_app(state), handle_signals=False, access_log=None,
                           shutdown_timeout=config.shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
        await site.start()
        host, port = runner.addresses[0][:2]
        host = f"[{host}]" if ":" in host else host
        print(_ready_line(f"http://{host}:{port}", config, clf), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        pending = sum(t.batcher.pending + t.batcher.running for t in state.tasks.values())
        print(f"edgetext serve: shutting down ({pending} texts accepted and not yet answered)", file=sys.stderr,
              flush=True)
        state.begin_shutdown()
    finally:
        t0 = time.monotonic()
        await runner.cleanup()  # stops listening, waits for the handlers in flight (shutdown_timeout)
        left = max(0.0, config.shutdown_timeout - (time.monotonic() - t0))
        clean = await asyncio.get_running_loop().run_in_executor(None, state.close, left)
    if not clean:
        log.error("engine calls were still running %.0f s after shutdown began", config.shutdown_timeout)
        return 1
    return 0
