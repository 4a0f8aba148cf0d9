"""The backend interface: load a model, run role -> array feeds, describe yourself.

The predictor owns tokenization, batching, dtype casting and post-processing, so
every backend receives identical inputs: a dict keyed by input *role*
(``input_ids``, ``token_type_ids``, ``attention_mask``) of 2-D arrays [B, L]
already cast to the dtypes the manifest declares. It returns float32 logits [B, C].

May import: numpy, edgetext.manifest.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..manifest import ModelSpec


@runtime_checkable
class Backend(Protocol):
    name: str  # a key of catalog.BACKENDS

    def __init__(self, model: bytes | str, spec: ModelSpec, threads: int | None, device: str) -> None:
        """`model` is the model file's bytes (bundles hand verified bytes) or a path."""

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """role -> array [B, L]  ->  logits [B, C] float32. Must be safe to call from several threads."""

    def describe(self) -> dict:
        """Engine, version, providers/places, threads and how they were set."""
