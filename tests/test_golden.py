"""Golden vectors record what a device will see: each model's expectation from one text per run."""
from __future__ import annotations

import numpy as np

from edgetext_converters.evaluation import EvalSet
from edgetext_converters.golden import N_GOLDEN, golden_vectors

LABELS = ["negative", "positive"]


def _eval_set(n: int = 40) -> EvalSet:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(n, 2)).astype(np.float32) * 3
    ev = EvalSet(texts=[f"text {i}" for i in range(n)], targets=None, source="synthetic")
    ev.new_ids = [[101] + [1000 + i] * (1 + i % 7) + [102] for i in range(n)]
    ev.ref_logits = ref
    return ev


def test_expectations_come_from_single_runs_and_overturned_picks_are_replaced():
    ev = _eval_set()
    batched = ev.ref_logits + 0.01  # agrees everywhere when batched
    base = golden_vectors(ev, {"m.onnx": batched}, LABELS)
    flipped_text = base[0]["text"]
    flipped = ev.texts.index(flipped_text)
    calls = []

    def single(rows):
        calls.append(len(rows))
        out = []
        for r in rows:
            i = ev.new_ids.index(list(r))
            lg = ev.ref_logits[i] + 0.5  # single runs differ from batched ones
            if i == flipped:
                lg = lg[::-1].copy()  # and overturn one pick's label
            out.append(lg)
        return out

    gold = golden_vectors(ev, {"m.onnx": batched}, LABELS, {"m.onnx": single})
    texts = [g["text"] for g in gold]
    assert len(gold) == N_GOLDEN and flipped_text not in texts
    assert len(calls) == 1 and calls[0] > N_GOLDEN  # one call per model, spares included
    for g in gold:
        i = ev.texts.index(g["text"])
        assert g["per_model"]["m.onnx"]["logits"] == [float(x) for x in ev.ref_logits[i] + 0.5]
        assert g["per_model"]["m.onnx"]["label"] == g["label"]


def test_without_single_runs_the_batched_logits_are_kept():
    ev = _eval_set()
    batched = ev.ref_logits - 0.25
    gold = golden_vectors(ev, {"m.nb": batched}, LABELS)
    for g in gold:
        i = ev.texts.index(g["text"])
        assert g["per_model"]["m.nb"]["logits"] == [float(x) for x in batched[i]]
