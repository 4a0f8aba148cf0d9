"""The one in-memory model description that every reader produces and every pass transforms.

A :class:`ModelDescription` is either in *weights form* (an :class:`ErnieConfig` plus a
``{PaddleNLP name: ndarray}`` dict: PaddleNLP checkpoints and Hugging Face folders) or in
*graph form* (a Paddle inference program plus its parameters: Paddle inference models, and
every weights-form model once lowered). Both carry the tokenizer assets and the labels.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edgetext.errors import ConversionError  # noqa: F401
from .tokenizer_assets import Encoder, TokenizerAssets, load_json_object  # noqa: F401  (re-exported)


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int) -> dict[str, np.ndarray]:
    n = max(1, max((len(s) for s in seqs), default=1))
    ids = np.full((len(seqs), n), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), n), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": mask}


@dataclass
class GraphModel:
    """A Paddle inference program (legacy .pdmodel bytes) and its parameters."""

    program_bytes: bytes
    params: dict[str, np.ndarray]
    feed_names: list[str]
    fetch_names: list[str]
    feed_dtypes: dict[str, str] = field(default_factory=dict)  # name -> "int64" | "int32"


@dataclass
class ModelDescription:
    """What a reader produced and what passes transform (see the module docstring)."""

    source_kind: str  # "paddle-inference" | "paddlenlp-checkpoint" | "hf-bert"
    source_path: str
    tokenizer: TokenizerAssets
    labels: list[str]
    num_labels: int
    config: Any = None  # ErnieConfig (weights form)
    weights: dict[str, np.ndarray] | None = None  # PaddleNLP names (weights form)
    graph: GraphModel | None = None  # graph form
    hf_weights: dict[str, np.ndarray] | None = None  # the untouched HF tensors (numpy reference)
    hf_config: dict[str, Any] | None = None
    source_size: int = 0  # bytes of the source's weights file(s)
    notes: list[str] = field(default_factory=list)
    passes: list[str] = field(default_factory=list)
    max_length: int | None = None

    @property
    def form(self) -> str:
        return "graph" if self.graph is not None else "weights"

    @property
    def reference_name(self) -> str:
        return {"paddle-inference": "paddle-inference", "paddlenlp-checkpoint": "paddle-inference",
                "hf-bert": "numpy-bert"}[self.source_kind]
