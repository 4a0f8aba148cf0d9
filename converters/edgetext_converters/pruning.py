"""Width pruning of a weights-form ERNIE/BERT classifier: what ``--prune`` asks for, which heads and FFN
neurons each layer keeps, and the sliced weights and config (issue 8).

The arithmetic lives here, free of Paddle: :func:`parse_spec` reads ``heads=0.25,ffn=0.5`` or
``latency=0.5``; :func:`plan` turns importance scores into the kept indices of every layer (the same count in
every layer, the most important ones kept, FFN widths rounded to a SIMD-friendly multiple);
:func:`slice_weights` cuts the PaddleNLP-named arrays and returns the narrower :class:`ErnieConfig`.
Importance and distillation (Paddle dygraph) are ``distill.py``; the pass is ``passes/pruning.py``.

May import: numpy, edgetext.errors, .paddle_ernie (ErnieConfig only, for its copy()).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgetext.errors import ConversionError

#: FFN widths are kept at a multiple of this (int8 GEMM kernels work in blocks of 16 or 32 columns)
FFN_MULTIPLE = 16


@dataclass(frozen=True)
class PruneSpec:
    """Fractions to *remove* from every layer (0 keeps everything); ``latency`` when the user asked for a
    share of the encoder's compute instead (then heads and ffn are derived from it by :func:`from_latency`)."""

    heads: float = 0.0
    ffn: float = 0.0
    latency: float | None = None

    def describe(self) -> str:
        told = f"latency={self.latency:g} -> " if self.latency is not None else ""
        return f"{told}heads={self.heads:g},ffn={self.ffn:g}"


def parse_spec(text: str) -> PruneSpec:
    """``heads=F,ffn=F`` (fractions removed from each layer, each in [0, 1)) or ``latency=F`` (the share of the
    encoder's multiply-adds to keep, in (0, 1)). ConversionError names what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ConversionError("--prune needs heads=F,ffn=F or latency=F (e.g. --prune heads=0.25,ffn=0.5)")
    values: dict[str, float] = {}
    for part in text.split(","):
        key, sep, raw = part.partition("=")
        key = key.strip()
        if not sep or key not in ("heads", "ffn", "latency"):
            raise ConversionError(f"--prune: {part.strip()!r} is not heads=F, ffn=F or latency=F")
        if key in values:
            raise ConversionError(f"--prune: {key} is given twice")
        try:
            values[key] = float(raw)
        except ValueError:
            raise ConversionError(f"--prune: {key}={raw.strip()!r} is not a number") from None
        if not np.isfinite(values[key]):
            raise ConversionError(f"--prune: {key} must be finite")
    if "latency" in values:
        if len(values) > 1:
            raise ConversionError("--prune: latency=F chooses heads and ffn itself; give one or the other")
        if not 0 < values["latency"] < 1:
            raise ConversionError(f"--prune: latency={values['latency']:g} must be a share of compute in (0, 1)")
        return PruneSpec(latency=values["latency"])
    for key, v in values.items():
        if not 0 <= v < 1:
            raise ConversionError(f"--prune: {key}={v:g} must be a fraction to remove in [0, 1)")
    spec = PruneSpec(heads=values.get("heads", 0.0), ffn=values.get("ffn", 0.0))
    if spec.heads == 0 and spec.ffn == 0:
        raise ConversionError("--prune: heads=0 and ffn=0 remove nothing")
    return spec


def layer_macs(cfg: Any, heads: int, ffn: int, seq: int) -> float:
    """Multiply-adds per token of one encoder layer with ``heads`` heads and ``ffn`` neurons at length ``seq``."""
    h, a = cfg.hidden_size, heads * cfg.head_dim
    return 4 * h * a + 2 * seq * a + 2 * h * ffn


def from_latency(cfg: Any, share: float, seq: int = 64) -> PruneSpec:
    """The one fraction removed from heads and FFN alike whose encoder multiply-adds come closest to ``share``
    of the unpruned ones (at ``seq`` tokens): a uniform cut keeps the head/FFN balance the model was trained with."""
    heads, width = cfg.heads_in(0), cfg.ffn_in(0)
    full = layer_macs(cfg, heads, width, seq)
    best, best_err = 0.0, float("inf")
    for k in range(1, heads + 1):  # head counts are the coarse grid
        frac = 1.0 - k / heads
        err = abs(layer_macs(cfg, k, kept_ffn(width, frac), seq) / full - share)
        if err < best_err:
            best, best_err = frac, err
    return PruneSpec(heads=best, ffn=best, latency=share)


def kept_heads(total: int, remove: float) -> int:
    return max(1, int(round(total * (1.0 - remove))))


def kept_ffn(total: int, remove: float) -> int:
    keep = int(round(total * (1.0 - remove)))
    if total >= FFN_MULTIPLE:
        keep = int(round(keep / FFN_MULTIPLE)) * FFN_MULTIPLE
    return int(min(total, max(FFN_MULTIPLE if total >= FFN_MULTIPLE else 1, keep)))


@dataclass
class PrunePlan:
    """The heads and FFN neurons every layer keeps (sorted indices into the unpruned layer)."""

    heads: list[list[int]]
    ffn: list[list[int]]

    def as_dict(self) -> dict:
        return {"heads_kept": [len(h) for h in self.heads], "ffn_kept": [len(f) for f in self.ffn],
                "head_indices": self.heads}


def plan(cfg: Any, spec: PruneSpec, head_scores: list[np.ndarray], ffn_scores: list[np.ndarray]) -> PrunePlan:
    """Keep the highest-scoring ``1 - spec.heads`` of each layer's heads and ``1 - spec.ffn`` of its neurons
    (ties: the lower index, so equal scores give a deterministic plan). An already pruned layer is cut
    by the same fractions of what it has."""
    layers = cfg.num_hidden_layers
    if len(head_scores) != layers or len(ffn_scores) != layers:
        raise ValueError(f"importance for {len(head_scores)}/{len(ffn_scores)} layers, the config has {layers}")
    heads, ffn = [], []
    for n in range(layers):
        hs = np.asarray(head_scores[n], dtype=np.float64)
        fs = np.asarray(ffn_scores[n], dtype=np.float64)
        if hs.shape != (cfg.heads_in(n),) or fs.shape != (cfg.ffn_in(n),):
            raise ValueError(f"layer {n}: importance shapes {hs.shape} / {fs.shape} do not fit the config")
        heads.append(_top(hs, kept_heads(hs.shape[0], spec.heads)))
        ffn.append(_top(fs, kept_ffn(fs.shape[0], spec.ffn)))
    return PrunePlan(heads, ffn)


def _top(scores: np.ndarray, k: int) -> list[int]:
    order = np.lexsort((np.arange(scores.shape[0]), -scores))  # by score descending, then index
    return sorted(int(i) for i in order[:k])


def slice_weights(weights: dict[str, np.ndarray], cfg: Any, keep: PrunePlan
                  ) -> tuple[dict[str, np.ndarray], Any]:
    """The arrays of the pruned model (Paddle Linear weights are [in, out]) and its config."""
    p, hd = cfg.model_type, cfg.head_dim
    out = dict(weights)
    for n in range(cfg.num_hidden_layers):
        A, L = f"{p}.encoder.layers.{n}.self_attn.", f"{p}.encoder.layers.{n}."
        cols = np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in keep.heads[n]])
        for proj in ("q_proj", "k_proj", "v_proj"):
            out[A + f"{proj}.weight"] = np.ascontiguousarray(weights[A + f"{proj}.weight"][:, cols])
            out[A + f"{proj}.bias"] = np.ascontiguousarray(weights[A + f"{proj}.bias"][cols])
        out[A + "out_proj.weight"] = np.ascontiguousarray(weights[A + "out_proj.weight"][cols, :])
        f = np.asarray(keep.ffn[n])
        out[L + "linear1.weight"] = np.ascontiguousarray(weights[L + "linear1.weight"][:, f])
        out[L + "linear1.bias"] = np.ascontiguousarray(weights[L + "linear1.bias"][f])
        out[L + "linear2.weight"] = np.ascontiguousarray(weights[L + "linear2.weight"][f, :])
    new_cfg = cfg.copy(layer_heads=[len(h) for h in keep.heads], layer_intermediate=[len(f) for f in keep.ffn])
    return out, new_cfg


def parameter_count(weights: dict[str, np.ndarray]) -> int:
    return int(sum(int(np.asarray(v).size) for v in weights.values()))
