"""The one in-memory model description that every reader produces and every pass transforms.

A :class:`ModelDescription` is in *weights form* (an :class:`ErnieConfig` plus a
``{PaddleNLP name: ndarray}`` dict: PaddleNLP checkpoints and Hugging Face folders), in
*graph form* (a Paddle inference program plus its parameters: Paddle inference models, and
every weights-form model once lowered), and, inside one target's pipeline, also carries the
:class:`Artifact` its writer produced (and quantization replaced). All forms carry the
tokenizer assets and the labels.

May import: numpy, edgetext.errors, .tokenizer_assets.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .tokenizer_assets import Encoder, TokenizerAssets, load_json_object  # noqa: F401  (re-exported)

@dataclass
class GraphModel:
    """A Paddle inference program (legacy .pdmodel bytes) and its parameters."""

    program_bytes: bytes
    params: dict[str, np.ndarray]
    feed_names: list[str]
    fetch_names: list[str]
    feed_dtypes: dict[str, str] = field(default_factory=dict)  # name -> "int64" | "int32"
    # PaddleNLP state-dict name -> program parameter name, when lowered from weights form (else empty):
    # lets a writer read the current (trimmed) arrays by their meaning (onnx_graph)
    state_names: dict[str, str] = field(default_factory=dict)

    def copy(self) -> "GraphModel":
        """Same program, own parameter dict and name lists (arrays shared: passes replace, never mutate)."""
        return GraphModel(program_bytes=self.program_bytes, params=dict(self.params),
                          feed_names=list(self.feed_names), fetch_names=list(self.fetch_names),
                          feed_dtypes=dict(self.feed_dtypes), state_names=dict(self.state_names))


@dataclass
class Artifact:
    """A model file written for one target, and what running it on the evaluation texts measured."""

    path: Path
    precision: str
    quantization: dict | None = None  # what was done to reach ``precision`` (None: fp32 as exported)
    logits: np.ndarray | None = None  # [texts, labels] on the evaluation set, when it ran here
    metrics: dict | None = None  # gate.compare() of those logits


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
    notes: list[str] = field(default_factory=list)  # shared by every target's copy (see for_target)
    artifact: Artifact | None = None  # target form: the file of the target being built
    task: str = "text-classification"  # | "text-embedding" (readers.apply_task)
    #: text-embedding: {"pooling", "normalize", "dim"} (the manifest's ``embedding``); a reader may put the
    #: settings it found in the source (sentence-transformers files) here before apply_task decides
    embedding: dict[str, Any] | None = None
    has_head: bool = True  # the source has a classifier head (a headless encoder can only embed)
    #: what the source's config says the head is (HF / PaddleNLP ``problem_type``), e.g.
    #: "multi_label_classification"; None when it does not say (Paddle inference models never do)
    problem_type: str | None = None
    multi_label: bool = False  # independent labels, a sigmoid each (readers.apply_multi_label decides)

    @property
    def is_embedding(self) -> bool:
        return self.task == "text-embedding"

    @property
    def form(self) -> str:
        return "target" if self.artifact is not None else "graph" if self.graph is not None else "weights"

    @property
    def reference_name(self) -> str:
        """What targets are gated against (runners.reference_runner): the numpy forward pass of the
        untouched Hugging Face tensors when a reader kept them, else Paddle Inference on the lowered graph."""
        return "numpy-bert" if self.hf_weights is not None else "paddle-inference"

    def for_target(self) -> "ModelDescription":
        """A shallow copy for one target's pipeline: its passes may replace the graph or the artifact
        without touching the model the other targets start from; ``notes`` stays shared."""
        return replace(self, artifact=None)
