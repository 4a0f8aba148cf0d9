"""The int8 search (issue 8) on a small, deliberately fragile ONNX model built here (no Paddle, ~1 s):

    ids -> Gather(E) -> MatMul "benign" (A) -> MatMul "fragile" (B) -> ReduceMean -> MatMul "head" (C)

A gives one output channel weights 400x the others and B divides that channel back, so the fp32 model
is ordinary but B's *input* has an outlier channel: dynamic int8 quantizes it per tensor and crushes
every other channel. Full int8 is refused by the default gate; the search must keep exactly B in
higher precision and the mix must then pass on held-out batches."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402
pytest.importorskip("onnxruntime")

from edgetext_converters import quantize as recipes  # noqa: E402
from edgetext_converters.gate import GateConfig, compare, problems  # noqa: E402
from edgetext_converters.quant_search import CalibScorer, search  # noqa: E402

V, H, C = 100, 32, 3  # V < 128 rows: the embedding stays fp32 (quantize_embeddings_rowwise)


def _fragile_model(path) -> None:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    # texts are drawn from one of C token ranges (_batches), each range around its own centroid: clear
    # decisions, so full int8's flips come from the fragile layer and not from near-ties
    centroids = rng.normal(0, 3, (C, H))
    e = (centroids[np.arange(V) * C // V] + rng.normal(0, 1, (V, H))).astype(np.float32)
    a = rng.normal(0, 1 / np.sqrt(H), (H, H)).astype(np.float32)
    a[:, 0] *= 400.0  # the outlier channel of B's input
    b = rng.normal(0, 1 / np.sqrt(H), (H, H)).astype(np.float32)
    b[0, :] /= 400.0  # ... divided back: the fp32 function is ordinary
    c = rng.normal(0, 3.0, (H, C)).astype(np.float32)
    inits = [numpy_helper.from_array(x, n) for x, n in ((e, "E"), (a, "A"), (b, "B"), (c, "C"),
                                                         (np.array([1], dtype=np.int64), "axes"))]
    nodes = [helper.make_node("Gather", ["E", "input_ids"], ["emb"], name="embed", axis=0),
             helper.make_node("MatMul", ["emb", "A"], ["h1"], name="benign"),
             helper.make_node("MatMul", ["h1", "B"], ["h2"], name="fragile"),
             helper.make_node("ReduceMean", ["h2", "axes"], ["pooled"], name="pool", keepdims=0),
             helper.make_node("MatMul", ["pooled", "C"], ["logits"], name="head")]
    g = helper.make_graph(nodes, "fragile", [helper.make_tensor_value_info("input_ids", TensorProto.INT64,
                                                                             ["b", "l"])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", C])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    onnx.save(m, str(path))


def _batches(seed: int, n: int = 12) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    lo = rng.integers(0, C, (n, 16, 1)) * V // C  # one token range (class) per text
    return [{"input_ids": (lo[i] + rng.integers(0, V // C, (16, 12))).astype(np.int64)} for i in range(n)]


@pytest.fixture(scope="module")
def fragile(tmp_path_factory):
    d = tmp_path_factory.mktemp("fragile")
    _fragile_model(d / "fp32.onnx")
    recipes.quantize_dynamic_int8(d / "fp32.onnx", d / "dyn.onnx", reduce_range=False)
    return onnx.load(str(d / "fp32.onnx")), onnx.load(str(d / "dyn.onnx"))


def _gate_on(model, fp32, batches) -> list:
    s = CalibScorer(fp32, batches, 1)
    return problems(compare(s.ref, s.logits(model.SerializeToString())), "int8", GateConfig())


def test_full_int8_of_the_fragile_model_is_refused(fragile):
    fp32, dyn = fragile
    assert {"benign", "fragile", "head"} == set(recipes.changed_nodes(fp32, dyn))
    assert "agreement" in [p.kind for p in _gate_on(dyn, fp32, _batches(2))]


def test_search_keeps_exactly_the_fragile_layer_and_the_mix_passes(fragile):
    fp32, dyn = fragile
    res = search(fp32, {"dynamic-per-channel": dyn}, _batches(1), GateConfig())
    assert [k["node"] for k in res.kept] == ["fragile"]
    assert res.kept[0]["kept_as"] == "fp16-weights" and res.kept[0]["params"] == H * H
    # why: its sensitivity (logit error when quantized alone) dwarfs every other node's
    assert max(res.sensitivity, key=lambda n: res.sensitivity[n]) == "fragile"
    assert res.base == "dynamic-per-channel" and not res.trials[0].passed
    assert [t.passed for t in res.trials if t.name == res.chosen] == [True]
    # held-out batches (never seen by the search): the chosen mix is accepted by the default gate
    assert _gate_on(res.model, fp32, _batches(2)) == []
    ops = {n.name: n.op_type for n in res.model.graph.node}
    assert ops["fragile"] == "MatMul" and "MatMulInteger" in ops.values()  # the rest stays int8


def test_outlier_split_is_exact_in_fp32_and_finds_the_outlier_channel(fragile):
    from edgetext_converters import outliers

    fp32, _ = fragile
    dec = outliers.decompose(fp32, _batches(1))
    s = CalibScorer(fp32, _batches(2, 3), 1)
    assert np.abs(s.logits(dec.model.SerializeToString()) - s.ref).max() < 1e-4 * np.abs(s.ref).max()
    chans = {i.name: numpy_helper.to_array(i) for i in dec.model.graph.initializer if i.name.endswith(".channels")}
    assert 0 in chans["h1.outlier.channels"] and len(chans["h1.outlier.channels"]) == 4  # B's input: channel 0
    assert sorted(outliers.split_nodes(dec.model)) == ["benign", "fragile", "head"]
    assert dec.fp32_nodes == ["benign.outlier.mm", "fragile.outlier.mm", "head.outlier.mm"]


def test_search_splits_the_outlier_channel_off_the_fragile_layer_instead_of_keeping_it(fragile, tmp_path):
    fp32, dyn = fragile
    onnx.save(fp32, str(tmp_path / "fp32.onnx"))
    rec = recipes.quantize_dynamic_outliers(tmp_path / "fp32.onnx", tmp_path / "ol.onnx", False, _batches(1))
    assert rec["method"] == "dynamic+outliers" and rec["outlier_channels"]["matmuls"] == 3
    res = search(fp32, {"dynamic-per-channel": dyn}, _batches(1), GateConfig(),
                 outliers=lambda: onnx.load(str(tmp_path / "ol.onnx")))
    assert [(k["node"], k["kept_as"]) for k in res.kept] == [("fragile", "int8+fp32-outlier-channels")]
    assert _gate_on(res.model, fp32, _batches(2)) == []  # held-out batches pass the default gate
    ops = {n.name: n.op_type for n in res.model.graph.node}
    # the fragile layer is still int8 (its inlier product), beside a thin fp32 MatMul of 4 input rows
    assert "fragile" not in ops or ops["fragile"] != "MatMul"
    assert ops["fragile.outlier.mm"] == "MatMul" and ops["fragile.outlier.add"] == "Add"
    thin = {i.name: i for i in res.model.graph.initializer}["fragile.outlier.weight"]
    assert list(thin.dims) == [4, H]
    assert sum(op == "MatMulInteger" or op == "DynamicQuantizeMatMul" for op in ops.values()) >= 3


def _two_fragile_model(path) -> None:
    """The fragile model with one more layer, "wfragile", whose *weights* carry the outlier: row 1 is 1000x the
    others (its input channel divided back beforehand, so that channel is the smallest activation, not an
    outlier). Per-channel int8 of wfragile loses every other row; splitting input channels cannot help it."""
    from onnx import numpy_helper

    _fragile_model(path)
    m = onnx.load(str(path))
    rng = np.random.default_rng(1)
    d = np.ones(H, dtype=np.float32)
    d[1] = 1e-3
    w = rng.normal(0, 1 / np.sqrt(H), (H, H)).astype(np.float32)
    w[1, :] *= 1000.0
    m.graph.initializer.extend([numpy_helper.from_array(d, "D"), numpy_helper.from_array(w, "W")])
    nodes = list(m.graph.node)
    i = [n.name for n in nodes].index("fragile")
    nodes[i].output[0] = "h2a"
    nodes[i + 1:i + 1] = [onnx.helper.make_node("Mul", ["h2a", "D"], ["h2d"], name="shrink"),
                          onnx.helper.make_node("MatMul", ["h2d", "W"], ["h2"], name="wfragile")]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    onnx.save(m, str(path))


def test_what_splitting_cannot_fix_is_kept_on_top_of_the_split_variant(tmp_path):
    _two_fragile_model(tmp_path / "fp32.onnx")
    recipes.quantize_dynamic_int8(tmp_path / "fp32.onnx", tmp_path / "dyn.onnx", reduce_range=False)
    recipes.quantize_dynamic_outliers(tmp_path / "fp32.onnx", tmp_path / "ol.onnx", False, _batches(1))
    fp32, dyn, ol = (onnx.load(str(tmp_path / f"{n}.onnx")) for n in ("fp32", "dyn", "ol"))
    assert "agreement" in [p.kind for p in _gate_on(dyn, fp32, _batches(2))]
    res = search(fp32, {"dynamic-per-channel": dyn}, _batches(1), GateConfig(), outliers=lambda: ol)
    assert any("did not pass" in n for n in res.notes)  # splitting alone was tried first and failed
    kept = {k["node"]: k["kept_as"] for k in res.kept}
    assert kept.get("wfragile") == "fp16-weights" and "fragile" not in kept
    assert "fragile" in res.outlier_split  # ... the rest comes from the split variant
    assert _gate_on(res.model, fp32, _batches(2)) == []


def test_a_base_that_passes_is_taken_without_a_search(fragile):
    fp32, _ = fragile
    res = search(fp32, {"fp32-as-base": fp32}, _batches(1), GateConfig())
    assert res.kept == [] and res.sensitivity == {} and len(res.trials) == 1


def test_mix_models_takes_each_node_from_its_variant(fragile):
    fp32, dyn = fragile
    hi = recipes.weights_fp16(fp32)
    assert recipes.changed_nodes(fp32, hi) == ["benign", "fragile", "head"]
    mixed = recipes.mix_models(fp32, {"q": dyn, "hi": hi}, {"benign": "q", "fragile": "hi"})
    names = {i.name for i in mixed.graph.initializer}
    assert "B_fp16" in names and "B" not in names and "A" not in names and "C" in names  # head stays fp32
    s = CalibScorer(fp32, _batches(3, 2), 1)
    assert np.abs(s.logits(hi.SerializeToString()) - s.ref).max() < 1e-2 * max(1.0, np.abs(s.ref).max())
    assert np.isfinite(s.logits(mixed.SerializeToString())).all()


def test_static_calibration_methods_are_checked():
    with pytest.raises(ValueError, match="unknown calibration method"):
        recipes.quantize_static_int8("x.onnx", "y.onnx", False, [], method="kl")


def test_the_search_aims_at_half_the_gates_disagreement_budget_on_calibration_texts():
    from edgetext_converters.gate import GateConfig
    from edgetext_converters.quant_search import search_gate

    assert search_gate(GateConfig()).min_agreement == pytest.approx(0.995)
    assert search_gate(GateConfig(min_agreement=0.98)).min_agreement == pytest.approx(0.99)
    assert search_gate(GateConfig(max_accuracy_drop=0.3)).max_accuracy_drop == 0.3  # only agreement tightens
