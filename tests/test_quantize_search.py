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


def _ffn_model(act: str = "gelu") -> "onnx.ModelProto":
    """ids -> Gather -> MatMul "ffn1" + bias -> act -> MatMul "ffn2" -> ReduceMean -> MatMul "head": the FFN's
    neuron 0 is 60x the others after the activation (W1's column 0 scaled up) and W2's row 0 divides it back."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    F = 4 * H
    centroids = rng.normal(0, 3, (C, H))
    e = (centroids[np.arange(V) * C // V] + rng.normal(0, 1, (V, H))).astype(np.float32)
    w1 = rng.normal(0, 1 / np.sqrt(H), (H, F)).astype(np.float32)
    b1 = rng.normal(0, 0.1, F).astype(np.float32)
    w1[:, 0] *= 60.0
    b1[0] = 5.0
    w2 = rng.normal(0, 1 / np.sqrt(F), (F, H)).astype(np.float32)
    w2[0, :] /= 60.0
    c = rng.normal(0, 3.0, (H, C)).astype(np.float32)
    consts = {"E": e, "W1": w1, "b1": b1, "W2": w2, "C": c, "axes": np.array([1], dtype=np.int64),
              "sqrt2": np.array(np.sqrt(2.0), np.float32), "one": np.array(1.0, np.float32),
              "half": np.array(0.5, np.float32)}
    nodes = [helper.make_node("Gather", ["E", "input_ids"], ["emb"], name="embed", axis=0),
             helper.make_node("MatMul", ["emb", "W1"], ["h_mm"], name="ffn1"),
             helper.make_node("Add", ["h_mm", "b1"], ["h"], name="ffn1.bias")]
    if act == "gelu":
        nodes += [helper.make_node("Div", ["h", "sqrt2"], ["h_div"], name="act.div"),
                  helper.make_node("Erf", ["h_div"], ["h_erf"], name="act.erf"),
                  helper.make_node("Add", ["h_erf", "one"], ["h_erf1"], name="act.erf1"),
                  helper.make_node("Mul", ["h", "h_erf1"], ["h_xe"], name="act.xe"),
                  helper.make_node("Mul", ["h_xe", "half"], ["a"], name="act")]
    else:  # sigmoid(0) = 0.5: zeroing a neuron's pre-activation does not zero it
        nodes += [helper.make_node("Sigmoid", ["h"], ["a"], name="act")]
    nodes += [helper.make_node("MatMul", ["a", "W2"], ["f"], name="ffn2"),
              helper.make_node("ReduceMean", ["f", "axes"], ["pooled"], name="pool", keepdims=0),
              helper.make_node("MatMul", ["pooled", "C"], ["logits"], name="head")]
    g = helper.make_graph(nodes, "ffn", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "l"])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", C])],
                          [numpy_helper.from_array(v, k) for k, v in consts.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    return m


def _run(model, batches) -> list[np.ndarray]:
    import onnxruntime as ort

    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [s.run(None, b)[0] for b in batches]


def test_ffn_outlier_neurons_are_split_at_their_source_exactly():
    from edgetext_converters import outliers

    fp32 = _ffn_model()
    dec = outliers.decompose(fp32, _batches(1))
    assert dec.record["neuron_split"] == 1
    for ref, got in zip(_run(fp32, _batches(2)), _run(dec.model, _batches(2))):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    nodes = {n.name: n for n in dec.model.graph.node}
    # no mask pass over the activation: ffn2 reads the zeroed copy's activation, whose neuron 0 is off
    assert "a.outlier.mask_mul" not in nodes and nodes["ffn2"].input[0] == "a.outlier.zeroed"
    zeroed = {i.name: numpy_helper.to_array(i) for i in dec.model.graph.initializer}
    assert not zeroed["W1.outlier.zeroed"][:, 0].any() and zeroed["b1.outlier.zeroed"][0] == 0.0
    # the thin FFN: 4 neurons (max(4, 128 / 64)), neuron 0 first, with W1's column and W2's row
    w = {i.name: numpy_helper.to_array(i) for i in fp32.graph.initializer}
    assert zeroed["ffn2.outlier.neurons_w1"].shape == (H, 4) and zeroed["ffn2.outlier.weight"].shape == (4, H)
    np.testing.assert_array_equal(zeroed["ffn2.outlier.neurons_w1"][:, 0], w["W1"][:, 0])
    np.testing.assert_array_equal(zeroed["ffn2.outlier.weight"][0], w["W2"][0])
    assert set(dec.fp32_nodes) >= {"ffn2.outlier.neurons_mm", "ffn2.outlier.mm"}
    assert outliers.neuron_pairs(fp32, dec.model) == {"ffn2": "ffn1"}


def test_activation_that_does_not_map_zero_to_zero_falls_back_to_the_mask_split():
    from edgetext_converters import outliers

    fp32 = _ffn_model("sigmoid")
    dec = outliers.decompose(fp32, _batches(1))
    assert dec.record["neuron_split"] == 0
    assert "a.outlier.mask_mul" in {n.name for n in dec.model.graph.node}
    for ref, got in zip(_run(fp32, _batches(2)), _run(dec.model, _batches(2))):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_mix_with_the_neuron_split_ffn_is_exact_and_drops_the_replaced_input_matmul(tmp_path):
    from edgetext_converters import outliers

    fp32 = _ffn_model()
    onnx.save(fp32, str(tmp_path / "fp32.onnx"))
    dec = outliers.decompose(fp32, _batches(1))
    # in fp32 (no quantization), ffn2 taken from the split graph brings its zeroed ffn1 along
    mixed = recipes.mix_models(fp32, {"ol": dec.model}, {"ffn2": "ol"})
    names = [n.name for n in mixed.graph.node]
    assert "ffn1.outlier.zeroed" in names and "ffn1" not in names  # the original ffn1 is dead and dropped
    assert "W1" not in {i.name for i in mixed.graph.initializer}
    for ref, got in zip(_run(fp32, _batches(2)), _run(mixed, _batches(2))):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    # quantized: the variant ORT's dynamic int8 makes of it keeps the thin FFN fp32 and accepts the mix
    rec = recipes.quantize_dynamic_outliers(tmp_path / "fp32.onnx", tmp_path / "ol.onnx", False, _batches(1))
    assert rec["outlier_channels"]["neuron_split"] == 1
    ol = onnx.load(str(tmp_path / "ol.onnx"))
    ops = {n.name: n.op_type for n in ol.graph.node}
    assert ops["ffn2.outlier.neurons_mm"] == "MatMul" and ops["ffn2.outlier.mm"] == "MatMul"
    mixed = recipes.mix_models(fp32, {"ol": ol}, {"ffn2": "ol", "ffn1": "ol"})
    assert _gate_on(mixed, fp32, _batches(2)) == []
