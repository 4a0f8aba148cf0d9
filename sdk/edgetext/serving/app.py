"""The HTTP JSON API on aiohttp: routes, JSON errors with the library's messages, metrics.

    state = ServerState(config, model); state.start()     # a TextClassifier or TextEmbedder
    app = create_app(state)            # run it with aiohttp (edgetext.serving.server does)

    POST /v1/classify   {"texts": [...], "top_k": k} or {"text": "..."} (+ "text_pairs" / "text_pair": a text-pair
                        bundle) -> {"results": [[{"label", "score", "index"}, ...] per text], "batch": {...}}
                        (a multi-label bundle: each text's labels at/above their thresholds, and "multi_label": true)
    POST /v1/embed      {"texts": [...]} or {"text": "..."} -> {"embeddings": [[...] per text], "dim": D, "batch"}
                        (a text-embedding bundle; the endpoint of the other task answers 404)
    GET  /healthz       {"status": "ok", bundle, model, ...}; 503 while shutting down
    GET  /metrics       Prometheus text: requests by endpoint and status, latency, batch sizes, queue depth

Errors are ``{"error": {"type": <EdgeTextError subclass>, "status": N, "message": ...}}``: 400 malformed
body, 404/405 unknown route or method, 413 a size limit, 422 unusable values (the library's
InputTypeError / InvalidInputError), 503 + Retry-After when the queue is full or the server is
stopping, 500 anything else. ``batch`` names the engine call a response came from (id, texts,
requests, this request's offset in it), so it can be reproduced with ``classify_batch``.

May import: the standard library, aiohttp, edgetext.errors and edgetext.serving.*.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from aiohttp import web

from ..errors import EdgeTextError, InputTypeError, InvalidInputError
from .batcher import QueueFullError, ShuttingDownError
from .config import ServeConfig
from .metrics import CONTENT_TYPE, Registry
from .payload import MalformedRequestError, PayloadTooLargeError, parse_json
from .tasks import Task, build_tasks

log = logging.getLogger(__name__)


class UnsupportedTaskError(EdgeTextError):
    """The bundle's task has no such endpoint (HTTP 404)."""


# the first matching class gives the status (subclasses before their bases)
STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (MalformedRequestError, 400), (PayloadTooLargeError, 413), (UnsupportedTaskError, 404),
    (InputTypeError, 422), (InvalidInputError, 422), (QueueFullError, 503), (ShuttingDownError, 503),
    (EdgeTextError, 500),
)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def status_of(error: BaseException) -> int:
    return next((status for cls, status in STATUS if isinstance(error, cls)), 500)


class ServerState:
    """A model's tasks, their batchers and the server's metrics: what the handlers share."""

    def __init__(self, config: ServeConfig, model: Any):
        self.config = config
        self.model = model
        self.shutting_down = False
        reg = self.metrics = Registry()
        self.requests = reg.counter("edgetext_requests_total", "HTTP requests by endpoint and status code",
                                    ("endpoint", "status"))
        self.latency = reg.histogram("edgetext_request_duration_seconds", "time from request to response",
                                     LATENCY_BUCKETS, ("endpoint",))
        self.in_flight = reg.gauge("edgetext_requests_in_flight", "requests being handled now")
        self.batch_texts = reg.histogram("edgetext_batch_texts", "texts per engine call", BATCH_BUCKETS, ("task",))
        self.batch_requests = reg.histogram("edgetext_batch_requests", "requests per engine call", BATCH_BUCKETS,
                                            ("task",))
        self.engine_seconds = reg.histogram("edgetext_engine_duration_seconds", "seconds per engine call",
                                            LATENCY_BUCKETS, ("task",))
        self.tasks, self.unsupported = build_tasks(model, config, self._observer)
        reg.gauge("edgetext_queue_texts", "texts accepted and waiting for an engine call",
                  lambda: sum(t.batcher.pending for t in self.tasks.values()))
        reg.gauge("edgetext_queue_capacity_texts", "the queue's bound (--max-queue), per task",
                  lambda: config.max_queue)
        reg.gauge("edgetext_engine_texts_in_flight", "texts in engine calls now",
                  lambda: sum(t.batcher.running for t in self.tasks.values()))

    def _observer(self, task: str):
        def observe(texts: int, requests: int, seconds: float) -> None:
            self.batch_texts.observe(texts, task=task)
            self.batch_requests.observe(requests, task=task)
            self.engine_seconds.observe(seconds, task=task)
        return observe

    def start(self) -> None:
        for task in self.tasks.values():
            task.batcher.start()

    def begin_shutdown(self) -> None:
        """New work gets 503; accepted work runs at once."""
        self.shutting_down = True
        for task in self.tasks.values():
            task.batcher.begin_shutdown()

    def close(self, timeout: float | None = None) -> bool:
        """Stop the workers after the queues drain; False if one was still busy after `timeout`."""
        self.begin_shutdown()
        return all([task.batcher.close(timeout) for task in self.tasks.values()])

    def health(self) -> dict:
        d = self.model.describe()
        health = {"status": "shutting_down" if self.shutting_down else "ok", "bundle": d["name"],
                  "task": self.model.bundle.manifest.task, "backend": d["backend"], "model": d["model"],
                  "precision": d["precision"], "endpoints": sorted(self.tasks)}
        for key in ("labels", "multi_label", "thresholds", "text_pairs", "embedding"):
            if key in d:
                health[key] = d[key]
        return health


def _json(body: dict, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=json.dumps(body, ensure_ascii=False).encode("utf-8"), status=status,
                        content_type="application/json", charset="utf-8", headers=headers)


def error_response(status: int, kind: str, message: str, headers: dict | None = None) -> web.Response:
    return _json({"error": {"type": kind, "status": status, "message": message}}, status, headers)


def _endpoint(request: web.Request) -> str:
    """The route's path (bounded label values), "other" for unknown paths."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "other"


async def _read_body(request: web.Request, config: ServeConfig) -> bytes:
    limit = config.max_body_bytes
    too_big = f"the request body is over {limit:,} bytes (--max-body-bytes): send fewer or shorter texts"
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLargeError(f"{too_big} (Content-Length {request.content_length:,})")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLargeError(too_big) from None


def create_app(state: ServerState) -> web.Application:
    config = state.config

    @web.middleware
    async def errors_and_metrics(request: web.Request, handler) -> web.StreamResponse:
        t0 = time.perf_counter()
        state.in_flight.add(1)
        try:
            response = await handler(request)
        except web.HTTPException as e:  # aiohttp's own: unknown route, wrong method
            response = error_response(e.status, e.reason.replace(" ", ""),
                                      f"{request.method} {request.path}: {e.reason}"
                                      + (f" (allowed: {', '.join(sorted(e.allowed_methods))})"  # type: ignore[attr-defined]
                                         if isinstance(e, web.HTTPMethodNotAllowed) else ""))
        except EdgeTextError as e:
            status = status_of(e)
            retry = {"Retry-After": str(config.retry_after_s)} if status == 503 else None
            response = error_response(status, type(e).__name__, str(e) or type(e).__name__, retry)
            if status >= 500 and status != 503:
                log.error("%s %s: %s", request.method, request.path, e)
        except Exception as e:  # noqa: BLE001 (a bug: a 500 with one line, the traceback in the log)
            log.exception("%s %s failed", request.method, request.path)
            response = error_response(500, "InternalError", f"internal error ({type(e).__name__}: {e})")
        finally:
            state.in_flight.add(-1)
        endpoint = _endpoint(request)
        state.requests.inc(endpoint=endpoint, status=str(response.status))
        state.latency.observe(time.perf_counter() - t0, endpoint=endpoint)
        return response

    def text_endpoint(name: str):
        async def handle(request: web.Request) -> web.Response:
            task: Task | None = state.tasks.get(name)
            if task is None:
                raise UnsupportedTaskError(state.unsupported.get(name, f"this server has no {name} endpoint"))
            if state.shutting_down:
                raise ShuttingDownError("the server is shutting down: send the request to another instance")
            req = task.parse(parse_json(await _read_body(request, config)), config)
            rows, info = await task.batcher.submit(req.items())
            body = task.respond(rows, req)
            body["batch"] = {"id": info.id, "texts": info.texts, "requests": info.requests, "offset": info.offset}
            return _json(body)
        return handle

    async def healthz(request: web.Request) -> web.Response:
        health = state.health()
        return _json(health, 503 if state.shutting_down else 200)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=state.metrics.render().encode("utf-8"), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application(middlewares=[errors_and_metrics], client_max_size=config.max_body_bytes)
    app.router.add_post("/v1/classify", text_endpoint("classify"))
    app.router.add_post("/v1/embed", text_endpoint("embed"))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app
