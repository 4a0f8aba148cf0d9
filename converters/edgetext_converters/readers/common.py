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


TASKS = ("text-classification", "text-embedding")
POOLINGS = ("mean", "cls", "pooler")


def sentence_transformers_settings(folder: Path) -> dict[str, Any] | None:
    """Pooling and normalization of a sentence-transformers folder (modules.json + 1_Pooling/config.json),
    or None when the folder has none. Unreadable or unsupported settings are a ConversionError."""
    import json

    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return None
    try:
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
        kinds = [str(m.get("type", "")) for m in modules]
        pool = next(m for m in modules if str(m.get("type", "")).endswith("Pooling"))
        pcfg = json.loads((folder / str(pool.get("path", "1_Pooling")) / "config.json").read_text(encoding="utf-8"))
    except StopIteration:
        return None
    except (OSError, ValueError, TypeError, AttributeError) as e:
        raise ConversionError(f"{modules_file}: cannot read the sentence-transformers pooling settings: {e}") from None
    modes = [k for k in ("mean_tokens", "cls_token") if pcfg.get(f"pooling_mode_{k}")]
    others = [k for k, v in pcfg.items() if k.startswith("pooling_mode_") and v and k[13:] not in modes]
    if len(modes) != 1 or others:
        raise ConversionError(f"{folder}: sentence-transformers pooling {sorted(k for k, v in pcfg.items() if v is True)}"
                              " is not supported (one of mean_tokens, cls_token)")
    return {"pooling": "mean" if modes[0] == "mean_tokens" else "cls",
            "normalize": any(k.endswith("Normalize") for k in kinds)}


MULTI_LABEL_PROBLEM = "multi_label_classification"  # HF's (and PaddleNLP's PretrainedConfig's) problem_type


def apply_multi_label(desc: ModelDescription, multi_label: bool | None) -> ModelDescription:
    """Decide whether the classifier's labels are independent (a sigmoid each): ``multi_label`` True / False
    (``--multi-label``) beats the source; None takes the source's ``problem_type`` (Hugging Face configs say
    ``multi_label_classification``; PaddleNLP checkpoints and inference models usually say nothing, so they need
    the flag). Embedding models are never multi-label."""
    declared = desc.problem_type == MULTI_LABEL_PROBLEM
    decided = declared if multi_label is None else bool(multi_label)
    if decided and desc.is_embedding:
        raise ConversionError("--multi-label is for classifiers, not embedding models")
    if decided and desc.num_labels < 1:
        raise ConversionError(f"{desc.source_path}: a multi-label classifier needs a head with labels")
    if multi_label is False and declared:
        desc.notes.append(f"the source says problem_type {MULTI_LABEL_PROBLEM!r}; converted as single-label "
                          "(softmax) as asked")
    desc.multi_label = decided
    return desc


def apply_task(desc: ModelDescription, task: str | None, pooling: str | None, normalize: bool | None
               ) -> ModelDescription:
    """Decide what the bundle does: ``task`` None keeps what the source is (a classifier, or an embedding model
    when the reader found sentence-transformers pooling settings); ``text-embedding`` pools the encoder's
    output (``pooling``/``normalize`` None: the source's settings, else mean and True)."""
    hint = desc.embedding
    if task is None:
        task = "text-embedding" if hint is not None and not desc.has_head else "text-classification"
    if task not in TASKS:
        raise ConversionError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    if task == "text-classification":
        if pooling is not None or normalize is not None:
            raise ConversionError(f"{desc.source_path} is converted as a classifier: --pooling/--normalize are "
                                  "settings of --task embedding")
        if not desc.has_head:
            raise ConversionError(f"{desc.source_path}: no classifier head (classifier.weight/bias): this is a bare "
                                  "encoder (e.g. a sentence embedding model); convert it with --task embedding, or "
                                  "attach a sequence-classification head first")
        desc.task, desc.embedding = task, None
        return desc
    if desc.config is None:
        raise ConversionError(f"{desc.source_path}: --task embedding needs a weights-form source (a Hugging Face or "
                              "PaddleNLP folder), not an exported inference graph")
    pooling = pooling or (hint or {}).get("pooling") or "mean"
    if pooling not in POOLINGS:
        raise ConversionError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
    if normalize is None:
        normalize = bool((hint or {}).get("normalize", True))
    desc.task = task
    desc.embedding = {"pooling": pooling, "normalize": bool(normalize), "dim": int(desc.config.hidden_size)}
    desc.labels, desc.num_labels = [], 0
    return desc


def expected_shapes(cfg: Any, head: bool = True) -> dict[str, tuple[int, ...]]:
    """PaddleNLP parameter name -> shape for an ErnieConfig (what lowering expects; ``head``: the classifier)."""
    p, h = cfg.model_type, cfg.hidden_size
    shapes: dict[str, tuple[int, ...]] = {
        f"{p}.embeddings.word_embeddings.weight": (cfg.vocab_size, h),
        f"{p}.embeddings.position_embeddings.weight": (cfg.max_position_embeddings, h),
        f"{p}.embeddings.layer_norm.weight": (h,),
        f"{p}.embeddings.layer_norm.bias": (h,),
        f"{p}.pooler.dense.weight": (h, h),
        f"{p}.pooler.dense.bias": (h,),
    }
    if head:
        shapes["classifier.weight"] = (h, cfg.num_labels)
        shapes["classifier.bias"] = (cfg.num_labels,)
    if cfg.type_vocab_size > 0:
        shapes[f"{p}.embeddings.token_type_embeddings.weight"] = (cfg.type_vocab_size, h)
    if cfg.use_task_id:
        shapes[f"{p}.embeddings.task_type_embeddings.weight"] = (cfg.task_type_vocab_size, h)
    for n in range(cfg.num_hidden_layers):
        L = f"{p}.encoder.layers.{n}."
        a = cfg.heads_in(n) * cfg.head_dim  # narrower than h once heads are pruned
        i = cfg.ffn_in(n)
        for proj in ("q_proj", "k_proj", "v_proj"):
            shapes[L + f"self_attn.{proj}.weight"] = (h, a)
            shapes[L + f"self_attn.{proj}.bias"] = (a,)
        shapes[L + "self_attn.out_proj.weight"] = (a, h)
        shapes[L + "self_attn.out_proj.bias"] = (h,)
        shapes[L + "linear1.weight"] = (h, i)
        shapes[L + "linear1.bias"] = (i,)
        shapes[L + "linear2.weight"] = (i, h)
        shapes[L + "linear2.bias"] = (h,)
        for norm in ("norm1", "norm2"):
            shapes[L + f"{norm}.weight"] = (h,)
            shapes[L + f"{norm}.bias"] = (h,)
    return shapes


def check_weights(weights: dict[str, np.ndarray], cfg: Any, where: str, head: bool = True) -> None:
    """Every expected parameter present, of the config's shape, finite floating point; no extra layers."""
    want = expected_shapes(cfg, head)
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
