"""What each text endpoint runs: a :class:`Task` = how a body is read, the batched engine call, the response.

    tasks, unsupported = build_tasks(classifier, config, observe)
    tasks["classify"].batcher.submit(texts)   # -> (probabilities rows, BatchInfo)

classify: the engine call is ``softmax(TextClassifier.logits(texts, batch_size=engine_batch))`` over the
whole batch (the library sorts it by length and pads each run of `engine_batch` texts to its longest),
then each request's rows become its top-k ``Category`` lists: exactly what
``TextClassifier.classify_batch(batch_texts, top_k, batch_size=engine_batch)`` returns for the same batch.
embed (a text-embedding bundle): ``TextEmbedder.embed(texts, batch_size=engine_batch)``, each request's
rows as ``{"embeddings": [[...], ...], "dim": D}``. A bundle serves the endpoint of its manifest task
(``BUILDERS``); the other answers 404 with the reason from ``build_tasks``.

May import: the standard library, numpy, edgetext.errors, edgetext.postprocess and
edgetext.serving.batcher / config / payload.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import InvalidInputError
from ..postprocess import softmax, top_k_categories
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
    if getattr(classifier, "multi_label", False):  # softmax + top-k below would rank independent labels as one choice
        raise InvalidInputError("edgetext serve does not serve multi-label bundles yet (its responses are softmax "
                                "top-k); use TextClassifier.classify_batch or edgetext classify")
    labels = tuple(classifier.labels)

    def run(texts: list[str]):
        return softmax(classifier.logits(texts, batch_size=config.engine_batch))

    def respond(probs, req: TextsRequest) -> dict:
        cats = top_k_categories(probs, labels, min(req.top_k, len(labels)))
        return {"results": [[c._asdict() for c in row] for row in cats]}

    return Task("classify", classify_request, _batcher("classify", run, config, observe), respond)


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
