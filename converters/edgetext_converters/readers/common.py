"""What the readers share: the registry entry type, tokenizer and vocabulary checks, labels from
configs, and the PaddleNLP parameter layout the weights-form readers produce.

The tokenizer always comes from the tokenizer-assets API (``TokenizerAssets.from_folder``, the
runtime's reading of a tokenizer folder), never from a reader's own parsing.

May import: numpy, edgetext.errors, ..description, ..tokenizer_assets.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgetext.errors import ConversionError

from ..description import ModelDescription
from ..tokenizer_assets import TokenizerAssets


@dataclass(frozen=True)
class Reader:
    """A registry entry: ``matches(path)`` is cheap (file names only); ``read(path)`` does the work."""

    kind: str  # ModelDescription.source_kind
    matches: Callable[[Path], bool]
    read: Callable[[Path], ModelDescription]


def apply_labels(desc: ModelDescription, labels: list[str] | None) -> ModelDescription:
    """Replace the source's labels by ``labels`` (checked: one per model output, non-empty, unique)."""
    if labels is not None:
        labels = [str(x).strip() for x in labels]
        if any(not x for x in labels) or len(set(labels)) != len(labels):
            raise ConversionError(f"labels must be non-empty and unique, got {labels}")
        if len(labels) != desc.num_labels:
            raise ConversionError(f"{len(labels)} labels given ({', '.join(labels)}) but the model has "
                                  f"{desc.num_labels} outputs")
        desc.labels = labels
    return desc


def tokenizer(folder: Path, what: str) -> TokenizerAssets:
    try:
        return TokenizerAssets.from_folder(folder)
    except ConversionError as e:
        raise ConversionError(f"{what}: {e}") from None


def check_vocab(tok: TokenizerAssets, rows: int, where: str) -> list[str]:
    """The vocabulary must address exactly the embedding rows (rows padded to a multiple of 8 are allowed).
    Returns the notes to record."""
    n = tok.vocab_size
    if n == rows:
        return []
    if n < rows and rows % 8 == 0 and rows - n < 128:
        return [f"the word embedding has {rows} rows for {n} vocabulary tokens (padding rows kept)"]
    raise ConversionError(f"{where}: the vocabulary has {n} tokens but the word embedding has {rows} rows: "
                          "wrong vocab.txt for this model?")


def labels_from_config(cfg: dict[str, Any] | None, n: int, notes: list[str]) -> list[str]:
    """id2label / label2id of a config when they name all ``n`` outputs, else LABEL_0.. (noted)."""
    if cfg:
        id2label = cfg.get("id2label")
        if isinstance(id2label, dict) and len(id2label) == n:
            names = [id2label.get(str(i), id2label.get(i)) for i in range(n)]
            if all(x is not None for x in names):
                return [str(x) for x in names]
            notes.append(f"id2label keys are not 0..{n - 1}: ignored")
        label2id = cfg.get("label2id")
        if isinstance(label2id, dict) and len(label2id) == n:
            try:
                inv = {int(v): k for k, v in label2id.items()}
            except (TypeError, ValueError):
                inv = {}
            if sorted(inv) == list(range(n)):
                return [inv[i] for i in range(n)]
            notes.append(f"label2id values are not 0..{n - 1}: ignored")
    return [f"LABEL_{i}" for i in range(n)]


def file_size(*paths: Path) -> int:
    return sum(p.stat().st_size for p in paths if p.is_file())


def expected_shapes(cfg: Any) -> dict[str, tuple[int, ...]]:
    """PaddleNLP parameter name -> shape for an ErnieConfig (what lowering expects)."""
    p, h, i = cfg.model_type, cfg.hidden_size, cfg.intermediate_size
    shapes: dict[str, tuple[int, ...]] = {
        f"{p}.embeddings.word_embeddings.weight": (cfg.vocab_size, h),
        f"{p}.embeddings.position_embeddings.weight": (cfg.max_position_embeddings, h),
        f"{p}.embeddings.layer_norm.weight": (h,),
        f"{p}.embeddings.layer_norm.bias": (h,),
        f"{p}.pooler.dense.weight": (h, h),
        f"{p}.pooler.dense.bias": (h,),
        "classifier.weight": (h, cfg.num_labels),
        "classifier.bias": (cfg.num_labels,),
    }
    if cfg.type_vocab_size > 0:
        shapes[f"{p}.embeddings.token_type_embeddings.weight"] = (cfg.type_vocab_size, h)
    if cfg.use_task_id:
        shapes[f"{p}.embeddings.task_type_embeddings.weight"] = (cfg.task_type_vocab_size, h)
    for n in range(cfg.num_hidden_layers):
        L = f"{p}.encoder.layers.{n}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes[L + f"self_attn.{proj}.weight"] = (h, h)
            shapes[L + f"self_attn.{proj}.bias"] = (h,)
        shapes[L + "linear1.weight"] = (h, i)
        shapes[L + "linear1.bias"] = (i,)
        shapes[L + "linear2.weight"] = (i, h)
        shapes[L + "linear2.bias"] = (h,)
        for norm in ("norm1", "norm2"):
            shapes[L + f"{norm}.weight"] = (h,)
            shapes[L + f"{norm}.bias"] = (h,)
    return shapes


def check_weights(weights: dict[str, np.ndarray], cfg: Any, where: str) -> None:
    """Every expected parameter present, of the config's shape, finite floating point; no extra layers."""
    want = expected_shapes(cfg)
    missing = [k for k in want if k not in weights]
    if missing:
        more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        raise ConversionError(f"{where}: missing parameters {', '.join(missing[:6])}{more}")
    for k, shape in want.items():
        got = tuple(weights[k].shape)
        if got != shape:
            raise ConversionError(f"{where}: parameter {k} has shape {list(got)}, the config implies {list(shape)}")
        if not np.issubdtype(weights[k].dtype, np.floating):
            raise ConversionError(f"{where}: parameter {k} has dtype {weights[k].dtype}, expected floating point")
        if not np.all(np.isfinite(weights[k])):
            raise ConversionError(f"{where}: parameter {k} contains NaN or Inf")
    extra = sorted(set(weights) - set(want))
    layer_extra = [k for k in extra if ".encoder.layers." in k]
    if layer_extra:
        raise ConversionError(f"{where}: parameters for more layers than num_hidden_layers="
                              f"{cfg.num_hidden_layers}: {', '.join(layer_extra[:3])}")
