"""The backend interface: load a model, run role -> array feeds, describe yourself.

The predictor owns tokenization, batching, dtype casting and post-processing, so
every backend receives identical inputs: a dict keyed by input *role*
(``input_ids``, ``token_type_ids``, ``attention_mask``) of 2-D arrays [B, L]
already cast to the dtypes the manifest declares. It returns float32 logits [B, C].

May import: numpy, edgetext.errors, edgetext.manifest.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import BackendError
from ..manifest import ModelSpec


def model_bytes(model: bytes | bytearray | str) -> bytes:
    """The model as bytes: a backend parses what it was handed (bundles hand verified bytes), never a
    path an engine would resolve on its own (and read files beside it)."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    path = str(model)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise BackendError(f"cannot read {path}: {e.strerror or e}") from None


def float32_logits(out, file: str) -> np.ndarray:
    """An engine's output as float32 logits; integer outputs are refused, not cast (BackendError)."""
    out = np.asarray(out)
    if out.dtype.kind != "f":
        raise BackendError(f"{file} returned {out.dtype} values, not floating-point logits: refused")
    return out.astype(np.float32, copy=False)


@runtime_checkable
class Backend(Protocol):
    name: str  # a key of catalog.BACKENDS
    # optional: sequence lengths the predictor pads batches to a multiple of (engines that re-plan per shape)
    # pad_multiple: int

    def __init__(self, model: bytes | str, spec: ModelSpec, threads: int | None, device: str) -> None:
        """`model` is the model file's bytes (bundles hand verified bytes) or a path."""

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """role -> array [B, L]  ->  logits [B, C] float32. Must be safe to call from several threads."""

    def describe(self) -> dict:
        """Engine, version, providers/places, threads and how they were set."""
