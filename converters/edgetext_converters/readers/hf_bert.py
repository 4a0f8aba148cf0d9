"""Reader (c): a Hugging Face BERT-family folder: ``config.json`` + ``model.safetensors`` (``bert.`` or
unprefixed names; ``LayerNorm.gamma/beta`` too) + tokenizer files, a ``*ForSequenceClassification``
with its pooler, or a bare encoder (no classifier: a sentence-embedding model such as all-MiniLM-L6-v2;
``has_head`` False, sentence-transformers pooling settings in ``embedding`` when the folder has them,
``readers.apply_task`` decides). The description comes out in weights form (PaddleNLP names and layout) and keeps the
untouched HF tensors for the numpy reference (runners.NumpyBert).

May import: numpy, safetensors, edgetext.errors, ..description, ..tokenizer_assets, ..paddle_ernie, .common.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgetext.errors import ConversionError

from ..description import ModelDescription
from ..tokenizer_assets import load_json_object
from .common import (Reader, check_vocab, check_weights, file_size, labels_from_config,
                     sentence_transformers_settings, tokenizer)

HF_ARCHS = ("bert", "ernie")
HF_LINEAR_MAP = {
    "attention.self.query": "self_attn.q_proj",
    "attention.self.key": "self_attn.k_proj",
    "attention.self.value": "self_attn.v_proj",
    "attention.output.dense": "self_attn.out_proj",
    "intermediate.dense": "linear1",
    "output.dense": "linear2",
}
HF_NORM_MAP = {"attention.output.LayerNorm": "norm1", "output.LayerNorm": "norm2"}


def matches(p: Path) -> bool:
    return p.is_dir() and ((p / "model.safetensors").is_file() or any(p.glob("*.safetensors")))


def read(folder: Path) -> ModelDescription:
    from ..paddle_ernie import ErnieConfig

    cfg_file = folder / "config.json"
    if not cfg_file.is_file():
        raise ConversionError(f"{folder}: no config.json")
    hf_cfg = load_json_object(cfg_file)
    mt = str(hf_cfg.get("model_type", "")).lower()
    if mt not in HF_ARCHS:
        raise ConversionError(f"{cfg_file}: model_type {mt or '(none)'!r} is not supported; BERT-family "
                              f"encoders only ({', '.join(HF_ARCHS)})")
    if hf_cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ConversionError(f"{cfg_file}: position_embedding_type {hf_cfg['position_embedding_type']!r} is not "
                              "supported (absolute only)")
    act = hf_cfg.get("hidden_act", "gelu")
    if act not in ("gelu", "relu"):
        raise ConversionError(f"{cfg_file}: hidden_act {act!r} is not supported (gelu, relu)")
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "max_position_embeddings"):
        if not isinstance(hf_cfg.get(key), int) or hf_cfg[key] <= 0:
            raise ConversionError(f"{cfg_file}: {key} must be a positive integer, got {hf_cfg.get(key)!r}")
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ConversionError(f"{folder}: no model.safetensors")
    from safetensors.numpy import load_file

    hf: dict[str, np.ndarray] = {}
    for f in files:
        try:
            hf.update(load_file(str(f)))
        except Exception as e:  # noqa: BLE001  (safetensors raises several types on a bad file: one clear error)
            raise ConversionError(f"{f}: cannot read safetensors ({str(e).splitlines()[0][:200]})") from None
    hf = {k: (v.astype(np.float32) if v.dtype in (np.float16, np.float64) else v) for k, v in hf.items()}
    prefix = next((p for p in (f"{mt}.", "bert.", "") if f"{p}embeddings.word_embeddings.weight" in hf), None)
    if prefix is None:
        raise ConversionError(f"{folder}: no embeddings.word_embeddings.weight (with or without a '{mt}.' prefix): "
                              "not a BERT-family state dict")
    has_head = "classifier.weight" in hf and "classifier.bias" in hf
    notes: list[str] = []
    num_labels = 0
    if has_head:
        cw = hf["classifier.weight"]
        if cw.ndim != 2 or cw.shape[1] != hf_cfg["hidden_size"]:
            raise ConversionError(f"{folder}: classifier.weight has shape {list(cw.shape)}, expected "
                                  f"[num_labels, {hf_cfg['hidden_size']}]")
        num_labels = int(cw.shape[0])
    if f"{prefix}pooler.dense.weight" not in hf:
        if has_head:
            raise ConversionError(f"{folder}: no pooler ({prefix}pooler.dense.weight): BertForSequenceClassification "
                                  "classifies the pooled [CLS] state")
        h = int(hf_cfg["hidden_size"])  # a bare encoder without a pooler: zeros, never used by mean/cls pooling
        hf = {**hf, f"{prefix}pooler.dense.weight": np.zeros((h, h), np.float32),
              f"{prefix}pooler.dense.bias": np.zeros((h,), np.float32)}
        notes.append("no pooler in the source: zero weights (pooling 'pooler' is meaningless for it)")
    cfg = ErnieConfig(
        vocab_size=hf_cfg["vocab_size"], hidden_size=hf_cfg["hidden_size"],
        num_hidden_layers=hf_cfg["num_hidden_layers"], num_attention_heads=hf_cfg["num_attention_heads"],
        intermediate_size=hf_cfg["intermediate_size"], hidden_act=act,
        hidden_dropout_prob=float(hf_cfg.get("hidden_dropout_prob", 0.1)),
        attention_probs_dropout_prob=float(hf_cfg.get("attention_probs_dropout_prob", 0.1)),
        max_position_embeddings=hf_cfg["max_position_embeddings"],
        type_vocab_size=int(hf_cfg.get("type_vocab_size", 2)),
        task_type_vocab_size=int(hf_cfg.get("task_type_vocab_size", 3)),
        use_task_id=bool(hf_cfg.get("use_task_id", False)) and mt == "ernie",
        pad_token_id=int(hf_cfg.get("pad_token_id", 0) or 0),
        layer_norm_eps=float(hf_cfg.get("layer_norm_eps", 1e-12)),
        num_labels=num_labels, id2label=None, model_type="bert" if mt == "bert" else "ernie",
    )
    weights = hf_to_paddlenlp(hf, prefix, cfg, str(folder))
    check_weights(weights, cfg, str(folder), head=has_head)
    tok = tokenizer(folder, str(folder))
    notes += check_vocab(tok, cfg.vocab_size, str(folder))
    labels = labels_from_config(hf_cfg, num_labels, notes) if has_head else []
    ref_cfg = dict(hf_cfg)
    ref_cfg["use_task_id"] = cfg.use_task_id
    return ModelDescription(source_kind="hf-bert", source_path=str(folder), tokenizer=tok, labels=labels,
                            num_labels=num_labels, config=cfg, weights=weights, hf_weights=hf, hf_config=ref_cfg,
                            source_size=file_size(*files), notes=notes, has_head=has_head,
                            embedding=sentence_transformers_settings(folder),
                            problem_type=hf_cfg.get("problem_type") if isinstance(hf_cfg.get("problem_type"), str)
                            else None)


def hf_to_paddlenlp(hf: dict[str, np.ndarray], prefix: str, cfg: Any, where: str) -> dict[str, np.ndarray]:
    """HF BERT names/layout -> PaddleNLP names/layout (Linear weights transposed to [in, out])."""
    P = cfg.model_type

    def get(name: str) -> np.ndarray:
        for cand in (prefix + name, prefix + name.replace("LayerNorm.weight", "LayerNorm.gamma")
                     .replace("LayerNorm.bias", "LayerNorm.beta")):
            if cand in hf:
                return np.asarray(hf[cand], dtype=np.float32)
        raise ConversionError(f"{where}: missing parameter {prefix + name}")

    out: dict[str, np.ndarray] = {
        f"{P}.embeddings.word_embeddings.weight": get("embeddings.word_embeddings.weight"),
        f"{P}.embeddings.position_embeddings.weight": get("embeddings.position_embeddings.weight"),
        f"{P}.embeddings.layer_norm.weight": get("embeddings.LayerNorm.weight"),
        f"{P}.embeddings.layer_norm.bias": get("embeddings.LayerNorm.bias"),
        f"{P}.pooler.dense.weight": get("pooler.dense.weight").T.copy(),
        f"{P}.pooler.dense.bias": get("pooler.dense.bias"),
    }
    if "classifier.weight" in hf:
        out["classifier.weight"] = np.asarray(hf["classifier.weight"], dtype=np.float32).T.copy()
        out["classifier.bias"] = np.asarray(hf["classifier.bias"], dtype=np.float32)
    if cfg.type_vocab_size > 0:
        out[f"{P}.embeddings.token_type_embeddings.weight"] = get("embeddings.token_type_embeddings.weight")
    if cfg.use_task_id:
        out[f"{P}.embeddings.task_type_embeddings.weight"] = get("embeddings.task_type_embeddings.weight")
    for n in range(cfg.num_hidden_layers):
        src, dst = f"encoder.layer.{n}.", f"{P}.encoder.layers.{n}."
        for hf_name, pd_name in HF_LINEAR_MAP.items():
            out[dst + pd_name + ".weight"] = get(src + hf_name + ".weight").T.copy()
            out[dst + pd_name + ".bias"] = get(src + hf_name + ".bias")
        for hf_name, pd_name in HF_NORM_MAP.items():
            out[dst + pd_name + ".weight"] = get(src + hf_name + ".weight")
            out[dst + pd_name + ".bias"] = get(src + hf_name + ".bias")
    if any(k.startswith(f"{prefix}encoder.layer.{cfg.num_hidden_layers}.") for k in hf):
        raise ConversionError(f"{where}: the state dict has more layers than num_hidden_layers="
                              f"{cfg.num_hidden_layers}")
    return out


READER = Reader("hf-bert", matches, read)
