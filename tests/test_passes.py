"""The pass machinery (one signature, one loop, records) and the quantize pass and recipes on a tiny
ONNX classifier built here with onnx.helper (no Paddle in this process)."""
from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from edgetext.preprocess import length_buckets  # noqa: E402
from edgetext_converters import passes, writers  # noqa: E402
from edgetext_converters.description import Artifact, ModelDescription  # noqa: E402
from edgetext_converters.evaluation import EvalSet  # noqa: E402
from edgetext_converters.options import ConvertOptions  # noqa: E402
from edgetext_converters.targets import TARGETS  # noqa: E402
from edgetext_converters.tokenizer_assets import TokenizerAssets  # noqa: E402

VOCAB, HIDDEN, LABELS = 200, 16, 3


def _desc() -> ModelDescription:
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(VOCAB - 5)]
    return ModelDescription(source_kind="hf-bert", source_path="mem", tokenizer=TokenizerAssets(tokens=tokens),
                            labels=["a", "b", "c"], num_labels=LABELS)


# ----------------------------------------------------------------------------- the loop and the records
def test_run_passes_records_in_order_with_results():
    def first(desc, ctx):
        ctx.record("first", "first: did something", result={"n": 1}, n=1)
        return desc

    def quiet(desc, ctx):
        ctx.record("quiet", None, skipped="nothing to do")
        return desc

    def second(desc, ctx):
        assert ctx.result("first") == {"n": 1}  # what an earlier pass found, without threading it by hand
        ctx.record("second", "second: and more")
        return desc

    ctx = passes.PassContext()
    desc = _desc()
    assert passes.run_passes(desc, ctx, (first, quiet, second)) is desc
    assert [r.name for r in ctx.records] == ["first", "quiet", "second"]
    assert ctx.summaries() == ["first: did something", "second: and more"]
    assert ctx.records[1].details == {"skipped": "nothing to do"} and ctx.result("missing") is None
    assert all(r.seconds >= 0 and r.target is None for r in ctx.records)


def test_target_passes_record_their_target_and_precision():
    ctx = passes.PassContext(ConvertOptions(targets="onnx-x86,onnx-cuda"))
    seen = []

    def probe(desc, ctx):
        seen.append((ctx.target.name, ctx.precision))
        ctx.record("probe")
        return desc

    for name in ctx.options.targets:
        ctx.target = TARGETS[name]
        passes.run_passes(_desc(), ctx, (probe,))
    assert seen == [("onnx-x86", "int8"), ("onnx-cuda", "fp16")]
    assert [r.target for r in ctx.records] == ["onnx-x86", "onnx-cuda"]


def test_writers_offer_the_same_functions():
    for kind, w in writers.WRITERS.items():
        for name in ("export", "why_not_run", "runner", "io", "measured_with", "report_metrics", "engine_version"):
            assert callable(getattr(w, name)), (kind, name)
        assert w.ENGINE in ("onnxruntime", "paddlelite", "openvino")
    assert {t.writer for t in TARGETS.values()} <= set(writers.WRITERS)
    assert writers.WRITERS["onnx"].why_not_run(TARGETS["onnx-arm64"]) is None  # ORT's CPU provider runs any ONNX


# ----------------------------------------------------------------------------- a tiny ONNX classifier
@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    """input_ids -> Gather(embedding) -> mean over tokens -> MatMul + Add -> logits."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    emb = rng.normal(0, 1, (VOCAB, HIDDEN)).astype(np.float32)
    w = rng.normal(0, 1, (HIDDEN, LABELS)).astype(np.float32)
    b = rng.normal(0, 0.1, (LABELS,)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["emb", "input_ids"], ["x"], axis=0),
         helper.make_node("ReduceMean", ["x"], ["pooled"], axes=[1], keepdims=0),
         helper.make_node("MatMul", ["pooled", "w"], ["h"]),
         helper.make_node("Add", ["h", "b"], ["logits"])],
        "tiny", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", LABELS])],
        [numpy_helper.from_array(emb, "emb"), numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8  # what paddle2onnx writes; ONNX Runtime 1.23 reads up to IR 10
    path = tmp_path_factory.mktemp("tiny") / "model.fp32.onnx"
    onnx.save(model, str(path))
    return path


def _eval_set(fp32_path) -> EvalSet:
    rng = np.random.default_rng(1)
    ids = [[2, *rng.integers(5, VOCAB, int(n)).tolist(), 3] for n in rng.integers(1, 20, 40)]
    ev = EvalSet(texts=[f"t{i}" for i in range(len(ids))], targets=None, source="synthetic")
    ev.ref_ids = ev.new_ids = ids
    ev.order = length_buckets([len(x) for x in ids], 8)
    ev.ref_logits = ev.graph_logits = ev.run(writers.onnx.runner(None, fp32_path, "fp32"), "ref")
    return ev


@pytest.mark.parametrize("target, precision, method", [
    ("onnx-x86", "int8", "dynamic"), ("onnx-arm64", "int8", "dynamic"), ("onnx-cuda", "fp16", "cast-fp16"),
    ("onnx-x86", "fp32", None)])
def test_quantize_pass(tiny_onnx, tmp_path, target, precision, method):
    ctx = passes.PassContext(ConvertOptions(targets=target, precision=precision), work=tmp_path,
                             eval=_eval_set(tiny_onnx), target=TARGETS[target])
    desc = _desc()
    desc.artifact = Artifact(tiny_onnx, "fp32")
    out = passes.quantize(desc, ctx)
    art = out.artifact
    assert art.precision == precision and ctx.records[-1].name == "quantize" and ctx.summaries() == []
    if method is None:
        assert art.path == tiny_onnx and art.quantization is None
        return
    assert art.path != tiny_onnx and art.quantization["method"] == method
    if precision == "int8":
        assert art.quantization["reduce_range"] is TARGETS[target].options["reduce_range"]
        assert art.quantization["embeddings"] == "1 table(s) int8 row-wise"
        assert art.metrics["top1_agreement"] >= 0.9 and art.metrics["max_abs_logit_diff"] < 0.2
        assert "candidates" not in art.quantization  # one candidate without calibration texts


def test_rowwise_embeddings_keep_each_row_within_its_own_scale(tiny_onnx, tmp_path):
    import onnx
    from onnx import numpy_helper

    from edgetext_converters.quantize import quantize_embeddings_rowwise

    dst = tmp_path / "emb.onnx"
    assert quantize_embeddings_rowwise(tiny_onnx, dst) == 1
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(dst)).graph.initializer}
    orig = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(tiny_onnx)).graph.initializer}["emb"]
    q, scale = inits["emb_int8"], inits["emb_scale"]
    assert q.dtype == np.int8 and scale.shape == (VOCAB, 1)
    assert np.abs(q * scale - orig).max(axis=1).max() <= (scale[:, 0].max() / 2 + 1e-7)


def test_ort_quantizer_messages_go_to_our_logger_not_the_root(tiny_onnx, tmp_path, caplog):
    """ORT's quantizer warns with module-level logging.warning() (the root logger): those records are
    re-logged at DEBUG on edgetext_converters.quantize; the root logger's level and handlers stay."""
    from edgetext_converters.quantize import quantize_dynamic_int8

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    with caplog.at_level(logging.DEBUG, logger="edgetext_converters.quantize"):
        quantize_dynamic_int8(tiny_onnx, tmp_path / "q.onnx", reduce_range=False)
    assert root.level == level and root.handlers == handlers and not root.filters
    ours = [r for r in caplog.records if r.name == "edgetext_converters.quantize"]
    assert any("pre-processing" in r.getMessage() for r in ours) and all(r.levelno == logging.DEBUG for r in ours)
    assert not [r for r in caplog.records if r.name == "root" and r.levelno >= logging.WARNING]
    logging.getLogger("someone.else").warning("still shown")  # others' warnings are untouched
    assert caplog.records[-1].getMessage() == "still shown"
