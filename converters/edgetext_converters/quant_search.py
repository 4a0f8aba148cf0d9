"""The int8 search: the smallest departure from full int8 that passes the gate on the calibration texts.

1. every full-int8 recipe (``bases``: dynamic per-channel / per-tensor, static QDQ with each calibration
   method) is scored on all calibration texts against the fp32 graph; the best one is the base;
2. if it fails the gate's rules there (with a safety margin: ``search_gate``) (no labels: agreement and logit spread), each node the base
   changed is quantized alone into the fp32 graph and its logit error (mean squared, vs the fp32 graph,
   on ``ranking_batches`` batches) is its sensitivity;
3. with an ``outliers`` variant (dynamic int8 after ``outliers.decompose``: each MatMul's largest input
   channels split into a thin fp32 MatMul), the most sensitive nodes are taken from it instead, the smallest
   passing prefix found as below: almost full-int8 speed (all-MiniLM-L6-v2 on tweets: 6 such nodes cost ~5%
   of int8 throughput where keeping them fp32 cost ~30%);
4. otherwise nodes are kept in higher precision (``hi``: fp16-stored weights with fp32 compute for MatMul/Gemm,
   the others taken from the ``outliers`` variant when there is one, else from the base;
   fp32 for embedding Gathers) in order of sensitivity per extra byte, and the smallest such prefix that
   passes is found by doubling then bisection (``max_trials`` mixes at most, each one ORT session and a
   pass over the calibration texts); then up to ``extra_trials`` kept nodes, most bytes per unit of
   sensitivity first, are dropped again where the mix still passes without them (the prefix is greedy).

Embedding models (``task="text-embedding"``) are scored by the gate's cosine rule instead of top-1 agreement
(``gate.compare_embeddings``; ranked by mean cosine, the margin applied to ``1 - min_cosine``); the sensitivity
stays the mean squared output difference.

Held-out evaluation texts are never seen here: the pass gates the chosen mix on them afterwards.

May import: numpy, onnx, onnxruntime, .gate, .onnx_graph, .quantize, .evaluation (types).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from . import onnx_graph
from . import quantize as recipes
from .gate import GateConfig, compare, headline, problems
from .io_names import feed_role
from .outliers import neuron_pairs, split_nodes

if TYPE_CHECKING:
    import onnx

    from .evaluation import Batch

log = logging.getLogger(__name__)
KEPT_AS = {"hi": "fp16-weights", "fp32": "fp32", "ol": "int8+fp32-outlier-channels"}
#: The search aims at half the gate's disagreement budget on the calibration texts: their agreement is an
#: estimate (512 texts: +-0.4 points at 0.99), and a mix that passes them exactly at the gate fails held-out
#: texts about half the time (fine-tuned MiniLM on tweets: passed on calibration, 0.985 on the test split).
CALIB_MARGIN = 0.5


def _speed(recipe: str) -> int:
    """Lower is faster under ONNX Runtime: dynamic recipes before static QDQ ones."""
    return {"dynamic-per-channel": 0, "dynamic-per-tensor": 1}.get(recipe.split(" +")[0], 2)


def search_gate(gate: GateConfig) -> GateConfig:
    """The stricter gate the search applies to the calibration texts (see CALIB_MARGIN)."""
    return dataclasses.replace(gate, min_agreement=1.0 - (1.0 - gate.min_agreement) * CALIB_MARGIN,
                               min_cosine=1.0 - (1.0 - gate.min_cosine) * CALIB_MARGIN)


@dataclass
class Trial:
    """One candidate scored on the calibration texts."""

    name: str
    metrics: dict
    size_bytes: int
    kept: tuple[str, ...] = ()
    passed: bool = False

    def row(self) -> dict:
        m = self.metrics
        extra = {f"calib_{k}": m[k] for k in ("label_decision_agreement", "label_set_agreement") if k in m}
        return {"name": self.name, "calib_top1_agreement": m.get("top1_agreement"), **extra,
                "calib_mean_cosine": m.get("mean_cosine"),
                "calib_max_abs_logit_diff": m.get("max_abs_logit_diff"),
                "calib_mean_sq_logit_diff": m.get("mean_sq_logit_diff"), "size_mb": round(self.size_bytes / 1e6, 3),
                "kept": len(self.kept), "passes_on_calib": self.passed}


@dataclass
class SearchResult:
    model: "onnx.ModelProto"
    base: str
    kept: list[dict]  # node, kept_as, sensitivity (mse), params, extra_bytes
    sensitivity: dict[str, float]  # every node the base changed (empty when the base passed)
    trials: list[Trial]
    chosen: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    outlier_split: list[str] = field(default_factory=list)  # nodes taken from the ``outliers`` variant


class CalibScorer:
    """Logits of ONNX models (bytes) on the calibration batches, against the fp32 graph's."""

    def __init__(self, fp32: "onnx.ModelProto", batches: list["Batch"], ranking_batches: int,
                 task: str = "text-classification"):
        self.batches, self.rank_n = batches, max(1, min(ranking_batches, len(batches)))
        self.task = task
        self.ref = self.logits(fp32.SerializeToString())
        self.ref_rank = self.logits(fp32.SerializeToString(), self.batches[:self.rank_n])

    def logits(self, model: bytes, batches: list["Batch"] | None = None) -> np.ndarray:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = 1, 1, 3
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        outs = [sess.run(None, {n: b[feed_role(n)].astype(np.int64) for n in names})[0]
                for b in (self.batches if batches is None else batches)]
        return np.concatenate(outs).astype(np.float64)

    def metrics(self, model: bytes) -> dict:
        out = self.logits(model)
        m = compare(self.ref, out, task=self.task)
        m["mean_sq_logit_diff"] = float(((out - self.ref) ** 2).mean())
        return m

    def rank_error(self, model: bytes) -> float:
        return float(((self.logits(model, self.batches[:self.rank_n]) - self.ref_rank) ** 2).mean())


def _passes(m: dict, gate: GateConfig) -> bool:
    return not problems(m, "int8", gate)


def _params(model: "onnx.ModelProto") -> dict[str, tuple[int, bool]]:
    """node -> (weight elements, whether fp16-stored weights apply) for MatMul/Gemm/Gather with a 2-D table."""
    inits = {i.name: i for i in model.graph.initializer}
    out = {}
    for n in model.graph.node:
        idx = 0 if n.op_type == "Gather" else 1 if n.op_type in ("MatMul", "Gemm") else -1
        w = inits.get(n.input[idx]) if idx >= 0 and len(n.input) > idx else None
        out[n.name] = (int(np.prod(w.dims)) if w is not None else 0, n.op_type != "Gather" and w is not None)
    return out


def search(fp32: "onnx.ModelProto", bases: dict[str, "onnx.ModelProto"], calib: list["Batch"], gate: GateConfig,
           *, outliers: "Callable[[], onnx.ModelProto | None] | None" = None, ranking_batches: int = 4,
           max_trials: int = 14,
           extra_trials: int = 6, time_budget_s: float = 900.0, task: str = "text-classification") -> SearchResult:
    """See the module docstring. ``bases``: name -> full-int8 model (insertion order breaks ties);
    ``outliers``: makes the best base's recipe applied after outlier-channel decomposition (step 3), called only
    when the search gets there (it costs a calibration pass and a quantization); None from it: no such variant."""
    t0 = time.perf_counter()
    gate = search_gate(gate)
    scorer = CalibScorer(fp32, calib, ranking_batches, task)
    trials = []
    for name, model in bases.items():
        data = model.SerializeToString()
        m = scorer.metrics(data)
        trials.append(Trial(name, m, len(data), passed=_passes(m, gate)))
        log.info("int8 search: %s calib score %.4f mse %.4g", name, headline(m), m["mean_sq_logit_diff"])
    # of the recipes that pass, the fastest: ONNX Runtime runs static QDQ no faster than dynamic int8 at batch 32
    # and ~1.3x slower at batch 1 (bench/e2e.py, this host); then the most accurate
    best = max(trials, key=lambda t: (t.passed, -_speed(t.name) if t.passed else 0, headline(t.metrics),
                                      -t.metrics["mean_sq_logit_diff"]))
    if best.passed:
        return SearchResult(bases[best.name], best.name, [], {}, trials, best.name, time.perf_counter() - t0)
    hi = recipes.weights_fp16(fp32)
    hi_nodes = set(recipes.changed_nodes(fp32, hi))

    # structural first: the [CLS]-row MatMuls kept (one row per text: no speed lost), fastest recipe first
    cls_path = onnx_graph.cls_path_nodes(fp32)
    for name in sorted(bases, key=_speed) if cls_path else ():
        changed = recipes.changed_nodes(fp32, bases[name])
        keep = [n for n in cls_path if n in changed and n in hi_nodes]
        model = recipes.mix_models(fp32, {"q": bases[name], "hi": hi},
                                   {n: "hi" if n in keep else "q" for n in changed})
        data = model.SerializeToString()
        m = scorer.metrics(data)
        t = Trial(f"{name} + [CLS] path kept", m, len(data), tuple(keep), _passes(m, gate))
        trials.append(t)
        log.info("int8 search: %s: calib score %.4f", t.name, headline(m))
        if t.passed:
            params = _params(fp32)
            cls_kept: list[dict] = [{"node": n, "kept_as": KEPT_AS["hi"], "sensitivity_mse": None,
                                     "why": "[CLS]-row path", "params": params.get(n, (0, False))[0],
                                     "extra_bytes": params.get(n, (0, False))[0]} for n in keep]
            return SearchResult(model, name, cls_kept, {}, trials, t.name, time.perf_counter() - t0)

    base = bases[best.name]
    nodes = recipes.changed_nodes(fp32, base)
    sens = {n: scorer.rank_error(recipes.mix_models(fp32, {"q": base}, {n: "q"}).SerializeToString()) for n in nodes}
    params = _params(fp32)
    notes: list[str] = []
    split_variant = outliers() if outliers is not None else None
    # FFN output MatMul -> its input MatMul, for the pairs the split variant split by neurons (one unit in a mix)
    pairs = {} if split_variant is None else neuron_pairs(fp32, split_variant)
    if split_variant is not None:
        # first: the sensitive nodes as int8 with their outlier input channels split off in fp32 (outliers.py),
        # nearly full-int8 speed; most sensitive first (the extra bytes are a few weight rows)
        # (the [CLS]-row MatMuls too: fp16-stored they would cost 1 byte per weight, ~1.6 MB on MiniLM-L6)
        split = set(split_nodes(split_variant))
        by_sens = sorted((n for n in nodes if n in split), key=lambda n: -sens[n])

        def with_outliers(kept: set[str]) -> "onnx.ModelProto":
            return recipes.mix_models(fp32, {"q": base, "ol": split_variant},
                                      {n: "ol" if n in kept else "q" for n in nodes})

        found = _smallest_prefix(by_sens, with_outliers, scorer, gate, trials, f"{best.name} + {{k}} outlier-split",
                                 max_trials, t0, time_budget_s)
        if found is not None:
            chosen, keep = found
            kept = [{"node": n, "kept_as": KEPT_AS["ol"], "sensitivity_mse": sens[n],
                     "params": params.get(n, (0, False))[0], "extra_bytes": 0} for n in keep]
            # an FFN output MatMul split by neurons brings its FFN input MatMul's split copy along
            split_record = sorted(set(keep) | {pairs[n] for n in keep if n in pairs})
            return SearchResult(with_outliers(set(keep)), best.name, kept, sens, trials, chosen.name,
                                time.perf_counter() - t0, notes, split_record)
        notes.append("splitting outlier channels off the sensitive nodes did not pass on the calibration texts: "
                     "every node split, the most sensitive kept in higher precision on top")
    # nodes not kept come from the outlier-split variant when there is one (all split: closer to the gate)
    variants = {"q": base if split_variant is None else split_variant, "hi": hi}
    # keeping an FFN input MatMul whose output MatMul is split by neurons keeps both (else the split's own
    # int8 copy of the input MatMul would replace the kept one)
    partner = {f: s for s, f in pairs.items()}

    def with_partners(kept: set[str]) -> set[str]:
        return kept | {partner[n] for n in kept if n in partner}
    # extra bytes of keeping a node: fp16-stored weights 1 byte/weight more than int8, fp32 tables 3
    cost = {n: params.get(n, (0, False))[0] * (1 if n in hi_nodes else 3) for n in nodes}
    order = sorted(nodes, key=lambda n: -sens[n] / max(cost[n], 1))

    def mixed_set(kept: set[str]) -> "onnx.ModelProto":
        # kept MatMul/Gemm: fp16-stored weights; kept Gathers: absent from the choice, i.e. the fp32 graph's
        kept = with_partners(kept)
        return recipes.mix_models(fp32, variants, {n: "hi" if n in kept else "q" for n in nodes
                                                   if n not in kept or n in hi_nodes})

    t_hi = time.perf_counter()
    found = _smallest_prefix(order, mixed_set, scorer, gate, trials, f"{best.name} + {{k}} kept", max_trials,
                             t_hi, time_budget_s)
    if found is None:
        tried = [t for t in trials if t.name.endswith(" kept")]
        chosen = max(tried, key=lambda t: (headline(t.metrics), -t.metrics["mean_sq_logit_diff"]))
        keep = list(chosen.kept)
        notes.append(f"no mix of the {len(tried)} tried passed on the calibration texts; the best is kept")
    else:
        chosen, keep = found
        # then drop what the prefix did not need, most bytes per unit of sensitivity first (bounded too)
        for n in sorted(keep, key=lambda n: sens[n] / max(cost[n], 1))[:extra_trials]:
            if cost[n] == 0 or time.perf_counter() - t_hi > time_budget_s:
                continue
            rest = [x for x in keep if x != n]
            data = mixed_set(set(rest)).SerializeToString()
            m = scorer.metrics(data)
            t = Trial(f"{best.name} + {len(rest)} kept (without {n})", m, len(data), tuple(rest), _passes(m, gate))
            trials.append(t)
            if t.passed:
                chosen, keep = t, rest
    model = mixed_set(set(keep))
    keep = [n for n in nodes if n in with_partners(set(keep))]
    kept = [{"node": n, "kept_as": KEPT_AS["hi" if n in hi_nodes else "fp32"], "sensitivity_mse": sens[n],
             "params": params.get(n, (0, False))[0], "extra_bytes": cost[n]} for n in keep]
    split_rest = [] if split_variant is None else sorted(set(split_nodes(split_variant)) - set(keep))
    return SearchResult(model, best.name, kept, sens, trials, chosen.name, time.perf_counter() - t0,
                        notes, split_rest)


def _smallest_prefix(order: list[str], make, scorer: CalibScorer, gate: GateConfig, trials: list[Trial],
                     label: str, max_trials: int, t0: float, time_budget_s: float
                     ) -> tuple[Trial, list[str]] | None:
    """The smallest ``k`` whose mix ``make(set(order[:k]))`` passes, by doubling then bisection (module
    docstring), or None; every mix scored is appended to ``trials`` as ``label.format(k=k)``."""
    tried: dict[int, Trial] = {}

    def trial(k: int) -> Trial:
        if k not in tried:
            data = make(set(order[:k])).SerializeToString()
            m = scorer.metrics(data)
            tried[k] = Trial(label.format(k=k), m, len(data), tuple(order[:k]), _passes(m, gate))
            trials.append(tried[k])
            log.info("int8 search: %s: calib score %.4f", tried[k].name, headline(m))
        return tried[k]

    def out_of_budget() -> bool:
        return len(tried) >= max_trials or time.perf_counter() - t0 > time_budget_s

    lo, hi_k, k = 0, None, 1  # lo: largest k known to fail; hi_k: smallest known to pass
    while k < len(order) and not out_of_budget():
        if trial(k).passed:
            hi_k = k
            break
        lo, k = k, k * 2
    if hi_k is None and order and not out_of_budget() and trial(len(order)).passed:
        hi_k = len(order)
    while hi_k is not None and hi_k - lo > 1 and not out_of_budget():
        mid = (lo + hi_k) // 2
        if trial(mid).passed:
            hi_k = mid
        else:
            lo = mid
    return None if hi_k is None else (tried[hi_k], list(order[:hi_k]))
