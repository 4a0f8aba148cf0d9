"""The accuracy gate on synthetic logits (no model): structured problems, what is waivable, the
trimmed-vocabulary mode (issue 7, defect 4: waivability was decided by searching messages for
"NaN" or "shape", and "trimmed" was passed as a fake precision)."""
from __future__ import annotations

import numpy as np
import pytest

from edgetext.errors import AccuracyGateError
from edgetext_converters.gate import GateConfig, Problem, check, compare, problems

RNG = np.random.default_rng(0)
REF = RNG.normal(0, 2, (200, 3))
LABELS = REF.argmax(-1)


def kinds(found: list[Problem]) -> list[str]:
    return [p.kind for p in found]


def test_exact_copy_passes_every_precision():
    m = compare(REF, REF.copy(), LABELS)
    for precision in ("fp32", "fp16", "int8"):
        assert problems(m, precision, GateConfig()) == []
        assert check("t", m, precision, GateConfig()) == []
    assert m["top1_agreement"] == 1.0 and m["accuracy_drop_points"] == 0.0


def test_nan_and_shape_are_never_waivable():
    bad = REF.copy()
    bad[3, 1] = np.nan
    m = compare(REF, bad)
    assert kinds(problems(m, "int8", GateConfig())) == ["non_finite"]
    with pytest.raises(AccuracyGateError, match="1 NaN/Inf logits") as e:
        check("onnx-x86", m, "int8", GateConfig(allow_accuracy_drop=True))
    assert "--allow-accuracy-drop" not in str(e.value)  # waiving would not help: not offered
    shape = compare(REF, REF[:, :2])
    assert kinds(problems(shape, "fp32", GateConfig())) == ["shape"]
    with pytest.raises(AccuracyGateError, match="output shape"):
        check("lite-x86", shape, "fp32", GateConfig(allow_accuracy_drop=True))


def test_waivable_problems_are_refused_unless_waived():
    scaled = REF * 7.0  # argmax survives, logits are garbage
    m = compare(REF, scaled, LABELS)
    found = problems(m, "int8", GateConfig())
    assert kinds(found) == ["logit_spread"] and all(p.waivable for p in found)
    with pytest.raises(AccuracyGateError, match=r"onnx-x86 \(int8\).*--allow-accuracy-drop"):
        check("onnx-x86", m, "int8", GateConfig())
    waived = check("onnx-x86", m, "int8", GateConfig(allow_accuracy_drop=True))
    assert waived == found and "garbage output" in str(waived[0])


def test_fp32_tolerance_agreement_and_accuracy_drop():
    out = REF.copy()
    out[:40] = out[:40, ::-1]  # 40 texts flip (mostly) and drift far beyond fp32 tolerance
    m = compare(REF, out, LABELS)
    found = kinds(problems(m, "fp32", GateConfig()))
    assert found == ["fp32_tolerance", "agreement", "accuracy_drop"]
    assert kinds(problems(m, "fp32", GateConfig(min_agreement=0.0, max_accuracy_drop=100.0))) == ["fp32_tolerance"]
    tiny = compare(REF, REF + 5e-4)
    assert problems(tiny, "fp32", GateConfig()) == []


def test_waivability_is_the_kind_not_the_wording():
    """A waivable problem whose message says "NaN" or "shape" stays waivable, and a hard one is hard
    whatever its message says (the old gate searched the messages)."""
    assert Problem("agreement", "shape of the NaN curve").waivable
    assert not Problem("non_finite", "something odd").waivable
    assert not Problem("shape", "").waivable


def test_trimmed_vocabulary_is_a_mode_not_a_precision():
    """Trimming changes uncovered texts' logits: distance rules off, agreement and accuracy still on."""
    moved = REF + RNG.normal(0, 0.05, REF.shape) * 40  # far beyond fp32 tolerance and the logit spread rule
    m = compare(REF, moved, LABELS)
    assert "fp32_tolerance" in kinds(problems(m, "fp32", GateConfig(min_agreement=0, max_accuracy_drop=100)))
    relaxed = problems(m, "fp32", GateConfig(min_agreement=0, max_accuracy_drop=100), trimmed_vocab=True)
    assert relaxed == []
    strict = kinds(problems(m, "fp32", GateConfig(), trimmed_vocab=True))
    assert strict and set(strict) <= {"agreement", "accuracy_drop"}
    with pytest.raises(AccuracyGateError, match=r"\(fp32, trimmed vocabulary\)"):
        check("the model after passes", m, "fp32", GateConfig(), trimmed_vocab=True)
    with pytest.raises(ValueError, match="unknown precision 'trimmed'"):
        problems(m, "trimmed", GateConfig())


def test_graph_logits_decide_the_distance_rules():
    """With the fp32 graph's logits given, distances are measured against the graph (the reference may
    legitimately differ after trimming), agreement against the reference."""
    graph = REF + 0.5
    m = compare(REF, graph + 1e-4, LABELS, graph=graph)
    assert m["max_abs_logit_diff_vs_fp32_graph"] < 2e-4 and m["max_abs_logit_diff"] > 0.4
    assert problems(m, "fp32", GateConfig()) == []


def test_default_gate_is_one_text_in_a_hundred_and_half_a_point():
    """Issue 8: the default promise. 0.95 let a MiniLM int8 model through that labelled 1 text in 22
    differently from the user's framework."""
    from edgetext_converters import ConvertOptions
    from edgetext_converters.cli import build_parser, options_from_args

    cfg = GateConfig()
    assert (cfg.min_agreement, cfg.max_accuracy_drop) == (0.99, 0.5)
    assert ConvertOptions().gate == cfg
    args = build_parser().parse_args(["src", "--out", "o"])
    assert options_from_args(args, progress=False).gate == cfg
    relaxed = options_from_args(build_parser().parse_args(["src", "--out", "o", "--min-agreement", "0.9",
                                                           "--max-accuracy-drop", "2"]), progress=False).gate
    assert (relaxed.min_agreement, relaxed.max_accuracy_drop) == (0.9, 2.0)
    out = REF.copy()
    out[:3] = out[:3, ::-1]  # 3 of 200 texts flip: 0.985 < 0.99 (0.95 would have passed it)
    m = compare(REF, out, LABELS)
    assert "agreement" in kinds(problems(m, "int8", cfg))
    assert "agreement" not in kinds(problems(m, "int8", GateConfig(min_agreement=0.95)))


def test_limits_are_inclusive_despite_float_rounding():
    """1 text of 200 lost is exactly the 0.5-point limit (100 * (0.895 - 0.89) is 0.50000000000000x)."""
    m = {"shape_ok": True, "non_finite": 0, "max_abs_logit_diff": 0.0, "reference_max_abs_logit": 1.0,
         "reference_logit_std": 1.0, "top1_agreement": 1 - 2 / 200, "accuracy": 0.89, "reference_accuracy": 0.895,
         "accuracy_drop_points": 100 * (0.895 - 0.89)}
    assert problems(m, "fp32", GateConfig()) == []


def _flip(logits: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``logits`` with the top label of ``rows`` demoted below the runner-up."""
    out = logits.copy()
    for r in rows:
        top, second = np.argsort(-out[r])[:2]
        out[r, top], out[r, second] = out[r, second], out[r, top]
    return out


def test_pruned_mode_gates_against_the_reference_and_the_pruned_fp32_model():
    cfg = GateConfig()
    # a pruned fp32 graph: a different model, 3% of labels changed, logits far from the reference's
    pruned = _flip(REF + 0.3, np.arange(6))  # a shift of every logit changes no label
    m = compare(REF, pruned, LABELS)
    assert kinds(problems(m, "fp32", cfg)) == ["fp32_tolerance", "agreement", "accuracy_drop"]
    assert kinds(problems(m, "fp32", cfg, pruned=True)) == ["accuracy_drop"]  # 0.95 floor; accuracy decides
    assert kinds(problems(m, "fp32", GateConfig(max_accuracy_drop=5), pruned=True)) == []
    # its int8 file: held to the distance rules and 0.99 agreement against the pruned fp32 graph
    q_ok = pruned + RNG.normal(0, 1e-3, REF.shape)
    assert problems(compare(REF, q_ok, LABELS, graph=pruned), "int8", GateConfig(max_accuracy_drop=5),
                    pruned=True) == []
    q_bad = _flip(pruned, np.arange(10, 14))  # 4 more flips: 0.98 against the pruned model
    found = problems(compare(REF, q_bad, LABELS, graph=pruned), "int8", GateConfig(max_accuracy_drop=5),
                     pruned=True)
    assert kinds(found) == ["agreement"] and "pruned fp32 model" in found[0].message
    far = _flip(REF, np.arange(20))  # 0.90 against the reference: below the pruned floor too
    found = problems(compare(REF, far, LABELS), "fp32", GateConfig(max_accuracy_drop=100), pruned=True)
    assert kinds(found) == ["agreement"] and "unpruned reference" in found[0].message
    with pytest.raises(AccuracyGateError, match="fp32, pruned"):
        check("graph", m, "fp32", cfg, pruned=True)
