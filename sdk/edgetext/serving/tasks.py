"""What each text endpoint runs: a :class:`Task` = how a body is read, the batched engine call, the response.

    tasks, unsupported = build_tasks(classifier, config, observe)
    tasks["classify"].batcher.submit(req.items())   # -> (logits rows, BatchInfo)

classify: the engine call is ``TextClassifier.logits(texts, batch_size=engine_batch)`` over the whole batch (the
library sorts it by length and pads each run of `engine_batch` texts to its longest; a text-pair bundle's batch
is of (text, pair) rows, ``logits(texts, text_pairs=pairs, ...)``), then each request's rows go through the
library's post-processor (``ClassificationPostprocessor`` with the bundle's labels and, multi-label, thresholds):
exactly what ``TextClassifier.classify_batch(batch_texts, top_k, batch_size=engine_batch[, text_pairs=...])``
returns for the same batch. Single-label: the top_k (default 1) softmax categories. Multi-label: every label
whose sigmoid probability is >= its threshold, best first, at most top_k (default: all; possibly none), and the
response says ``"multi_label": true``.
embed (a text-embedding bundle): ``TextEmbedder.embed(texts, batch_size=engine_batch)``, each request's
rows as ``{"embeddings": [[...], ...], "dim": D}``. A bundle serves the endpoint of its manifest task
(``BUILDERS``); the other answers 404 with the reason from ``build_tasks``.

May import: the standard library, numpy, edgetext.errors, edgetext.postprocess and
edgetext.serving.batcher / config / payload.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..postprocess import ClassificationPostprocessor
from .batcher import BatchObserver, DynamicBatcher
from .config import ServeConfig
from .payload import TextsRequest, classify_request, embed_request

Parse = Callable[[dict, ServeConfig], TextsRequest]
Respond = Callable[[Any, TextsRequest], dict]


@dataclass
class Task:
    """One text endpoint (``POST /v1/<name>``)."""

    name: str
    parse: Parse
    batcher: DynamicBatcher
    respond: Respond


def _batcher(name: str, run: Callable[[list[str]], Any], config: ServeConfig,
             observe: Callable[[str], BatchObserver]) -> DynamicBatcher:
    return DynamicBatcher(run, max_batch=config.max_batch, max_wait_s=config.max_wait_ms / 1000.0,
                          workers=config.workers, max_queue=config.max_queue, on_batch=observe(name), name=name)


def classify_task(classifier, config: ServeConfig, observe: Callable[[str], BatchObserver]) -> Task:
    multi = bool(getattr(classifier, "multi_label", False))
    pairs = bool(getattr(classifier, "text_pairs", False))
    # the library's own post-processing, so a response equals classify_batch on the same engine batch
    post = ClassificationPostprocessor(classifier.labels, classifier.thresholds if multi else None)

    def parse(obj: dict, cfg: ServeConfig) -> TextsRequest:
        return classify_request(obj, cfg, pairs=pairs)

    def run(items: list):
        if pairs:
            return classifier.logits([t for t, _ in items], batch_size=config.engine_batch,
                                     text_pairs=[p for _, p in items])
        return classifier.logits(items, batch_size=config.engine_batch)

    def respond(logits, req: TextsRequest) -> dict:
        body: dict[str, Any] = {"results": [[c._asdict() for c in row] for row in post(logits, req.top_k)]}
        if multi:
            body["multi_label"] = True
        return body

    return Task("classify", parse, _batcher("classify", run, config, observe), respond)


def embed_task(embedder, config: ServeConfig, observe: Callable[[str], BatchObserver]) -> Task:
    def run(texts: list[str]):
        return embedder.embed(texts, batch_size=config.engine_batch)

    def respond(rows, req: TextsRequest) -> dict:
        return {"embeddings": rows.tolist(), "dim": int(rows.shape[1])}

    return Task("embed", embed_request, _batcher("embed", run, config, observe), respond)


# manifest task -> (the endpoint it serves, its Task builder); the other endpoints answer 404
BUILDERS = {"text-classification": ("classify", classify_task), "text-embedding": ("embed", embed_task)}
WHAT = {"classify": "classification", "embed": "embedding"}


def build_tasks(model, config: ServeConfig,
                observe: Callable[[str], BatchObserver]) -> tuple[dict[str, Task], dict[str, str]]:
    """The tasks this bundle serves (`model` is the TextClassifier or TextEmbedder of its task), and for
    each endpoint it does not serve, the reason (the 404's message)."""
    manifest = model.bundle.manifest
    name, build = BUILDERS[manifest.task]
    unsupported = {other: f"bundle {manifest.name!r} has task {manifest.task!r}, which does not support {what}: "
                          f"use POST /v1/{name}" for other, what in WHAT.items() if other != name}
    return {name: build(model, config, observe)}, unsupported
