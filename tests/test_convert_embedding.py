"""Converting a sentence-embedding model (issue 11): all-MiniLM-L6-v2 as it ships (no head) -> text-embedding
bundles, gated on cosine similarity to the numpy float64 reference forward of its safetensors.

The conversions run in child processes (tests/support/embedding_bundles.py, cached per converter source);
this process only reads their reports and bundles, and runs the reference (numpy) and the bundle (ONNX
Runtime) itself to check the recorded numbers independently.
"""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from edgetext.bundle import Bundle
from edgetext.errors import AccuracyGateError, ConversionError
from edgetext.preprocess import pad_rows

from support.convert_helpers import ASSETS, convert_cli
from support.embedding_bundles import N_EVAL, embedding_bundles

pytestmark = pytest.mark.skipif(not (ASSETS / "minilm" / "model.safetensors").is_file(),
                                reason="needs the real assets (make assets)")


@pytest.fixture(scope="module")
def converted() -> dict:
    return embedding_bundles()


def _target(report: dict) -> dict:
    return report["targets"]["onnx-x86"]


def test_default_conversion_is_int8_and_passes_the_cosine_gate(converted):
    rep = converted["int8"]["report"]
    row = _target(rep)
    assert rep["task"] == "text-embedding"
    assert rep["embedding"] == {"pooling": "mean", "normalize": True, "dim": 384}
    assert row["precision"] == "int8" and row["n_texts"] == N_EVAL
    assert row["mean_cosine"] >= 0.99 and 0 < row["min_cosine"] <= row["mean_cosine"]
    assert 0.0 <= row["retrieval_top1_agreement"] <= 1.0
    assert rep["graph_after_passes"]["mean_cosine"] >= 0.9999  # the fp32 Paddle graph, gated before any target
    print(f"\nint8: mean cosine {row['mean_cosine']:.6f}, min {row['min_cosine']:.4f}, retrieval top-1 "
          f"{row['retrieval_top1_agreement']:.3f}, {row['size_bytes'] / 1e6:.1f} MB")


def test_fp32_conversion_matches_the_float64_reference(converted):
    row = _target(converted["fp32"]["report"])
    assert row["precision"] == "fp32"
    assert row["mean_cosine"] >= 0.9999 and row["min_cosine"] >= 0.9999
    assert row["retrieval_top1_agreement"] >= 0.99
    print(f"\nfp32: mean cosine {row['mean_cosine']:.7f}, min {row['min_cosine']:.6f}, retrieval top-1 "
          f"{row['retrieval_top1_agreement']:.3f}, {row['size_bytes'] / 1e6:.1f} MB")


def test_the_manifest_records_task_settings_metrics_and_golden_embeddings(converted):
    with Bundle.open(converted["int8"]["bundle"]) as b:
        m = b.manifest
        assert m.raw["format_version"] == 2 and m.task == "text-embedding" and m.labels == ()
        assert m.embedding is not None and m.embedding.as_dict() == {"pooling": "mean", "normalize": True, "dim": 384}
        spec = m.models[0]
        assert spec.output.name == "embeddings" and spec.output.shape[-1] == 384
        acc = spec.accuracy or {}
        assert acc["reference"] == "numpy-bert" and acc["mean_cosine"] >= 0.99
        assert "retrieval_top1_agreement" in acc and "min_cosine" in acc
        assert len(m.golden) >= 4
        for g in m.golden:
            assert len(g["embedding"]) == 384 and "label" not in g
            assert abs(np.linalg.norm(g["embedding"]) - 1) < 1e-5
            own = g["per_model"][spec.file]["embedding"]
            assert float(np.dot(own, g["embedding"])) >= 0.97
        b.verify()


def test_recorded_cosines_hold_against_an_independent_reference_run(converted):
    """The numpy float64 forward pass of the untouched safetensors, run here, against the bundle run here."""
    from edgetext import TextEmbedder
    from edgetext_converters.gate import compare_embeddings
    from edgetext_converters.runners import NumpyBert
    from safetensors.numpy import load_file

    texts = open(converted["eval_file"], encoding="utf-8").read().splitlines()[:96]
    cfg = json.loads((ASSETS / "minilm" / "config.json").read_text())
    ref_model = NumpyBert(load_file(str(ASSETS / "minilm" / "model.safetensors")), cfg,
                          embedding={"pooling": "mean", "normalize": True})
    with TextEmbedder(converted["fp32"]["bundle"], threads=1) as emb:
        ids = emb.encode(texts)
        ref = np.concatenate([ref_model.embed(pad_rows(ids[i:i + 16], 0)) for i in range(0, len(ids), 16)])
        fp32 = emb.embed(texts)
    with TextEmbedder(converted["int8"]["bundle"], threads=1) as emb:
        int8 = emb.embed(texts)
    m32, m8 = compare_embeddings(ref, fp32), compare_embeddings(ref, int8)
    # int8 activations are scaled per batch, and these 96 texts batch differently from the gate's 240: the
    # gate's 0.99 holds there (recorded), here within half a point of cosine budget more
    assert m32["mean_cosine"] >= 0.9999 and m32["retrieval_top1_agreement"] >= 0.99, m32
    assert m8["mean_cosine"] >= 0.985, m8


def test_the_cli_table_shows_cosines_and_retrieval(converted, tmp_path):
    from edgetext_converters.report import format_table

    table = format_table(converted["int8"]["report"])
    assert "mean cos" in table and "retrieval top-1" in table and "dim 384, mean pooling" in table


def test_a_bare_encoder_without_task_still_says_what_to_do(tmp_path):
    proc = convert_cli(str(ASSETS / "minilm"), "--out", str(tmp_path / "x.etb"), "--targets", "onnx-x86")
    assert proc.returncode == 1
    assert "no classifier head" in proc.stderr and "--task embedding" in proc.stderr
    assert not (tmp_path / "x.etb").exists()


@pytest.mark.parametrize("args, match", [
    (["--task", "embedding", "--labels", "a,b"], "an embedding model has no labels"),
    (["--task", "embedding", "--trim-vocab", "{corpus}"], "--trim-vocab is not supported for embedding"),
    (["--task", "classification", "--pooling", "mean"], "settings of --task embedding"),
    (["--task", "embedding", "--pooling", "max"], "invalid choice"),
    (["--task", "embedding", "--min-cosine", "1.5"], "min_cosine must be within"),
])
def test_bad_embedding_options_are_refused(tmp_path, args, match):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("hello world\n")
    args = [a.replace("{corpus}", str(corpus)) for a in args]
    proc = convert_cli(str(ASSETS / "minilm"), "--out", str(tmp_path / "x.etb"), "--targets", "onnx-x86", *args)
    assert proc.returncode in (1, 2), proc.stderr
    assert match in proc.stderr, proc.stderr


# -- units: no conversion ---------------------------------------------------------------------------------
def _desc(has_head: bool, hint: dict | None = None):
    from edgetext_converters.description import ModelDescription

    return ModelDescription(source_kind="hf-bert", source_path="src", tokenizer=None,  # type: ignore[arg-type]
                            labels=["a"] if has_head else [], num_labels=1 if has_head else 0,
                            config=SimpleNamespace(hidden_size=8), has_head=has_head, embedding=hint)


def test_apply_task_decides_from_the_source_and_the_flags():
    from edgetext_converters.readers import apply_task

    st = {"pooling": "cls", "normalize": False}
    assert apply_task(_desc(False, st), None, None, None).embedding == {"pooling": "cls", "normalize": False, "dim": 8}
    d = apply_task(_desc(False, st), "text-embedding", "mean", True)  # flags beat the folder's settings
    assert d.embedding == {"pooling": "mean", "normalize": True, "dim": 8} and d.labels == [] and d.num_labels == 0
    assert apply_task(_desc(False), "text-embedding", None, None).embedding["pooling"] == "mean"
    d = apply_task(_desc(True), "text-embedding", None, None)  # a classifier's encoder embeds too
    assert d.is_embedding and d.labels == []
    assert apply_task(_desc(True), None, None, None).task == "text-classification"
    with pytest.raises(ConversionError, match="--task embedding"):
        apply_task(_desc(False), None, None, None)  # headless, no sentence-transformers files: say what to do
    with pytest.raises(ConversionError, match="pooling must be one of"):
        apply_task(_desc(False), "text-embedding", "max", None)
    with pytest.raises(ConversionError, match="settings of --task embedding"):
        apply_task(_desc(True), None, "mean", None)  # a classifier source with embedding flags


def test_sentence_transformers_folders_are_detected(tmp_path):
    from edgetext_converters.readers.common import sentence_transformers_settings

    assert sentence_transformers_settings(tmp_path) is None
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (tmp_path / "1_Pooling").mkdir()
    pool = tmp_path / "1_Pooling" / "config.json"
    pool.write_text(json.dumps({"word_embedding_dimension": 384, "pooling_mode_cls_token": False,
                                "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False}))
    assert sentence_transformers_settings(tmp_path) == {"pooling": "mean", "normalize": True}
    pool.write_text(json.dumps({"pooling_mode_cls_token": False, "pooling_mode_max_tokens": True}))
    with pytest.raises(ConversionError, match="not supported"):
        sentence_transformers_settings(tmp_path)
    pool.write_text("{not json")
    with pytest.raises(ConversionError, match="cannot read"):
        sentence_transformers_settings(tmp_path)


def test_the_cosine_gate_and_retrieval_agreement():
    from edgetext_converters.gate import GateConfig, check, compare, problems

    rng = np.random.default_rng(0)
    ref = rng.normal(size=(50, 16))
    m = compare(ref, ref * 3.0, task="text-embedding")  # scale does not change cosine
    assert m["mean_cosine"] == pytest.approx(1.0) and m["retrieval_top1_agreement"] == 1.0
    assert problems(m, "fp32", GateConfig()) == []
    noisy = ref + rng.normal(scale=0.3, size=ref.shape)
    m = compare(ref, noisy, task="text-embedding")
    assert m["mean_cosine"] < 0.99 and m["retrieval_top1_agreement"] <= 1.0
    assert [p.kind for p in problems(m, "int8", GateConfig())] == ["cosine"]
    assert problems(m, "int8", GateConfig(min_cosine=0.5)) == []
    with pytest.raises(AccuracyGateError, match="mean cosine"):
        check("x", m, "int8", GateConfig())
    assert len(check("x", m, "int8", GateConfig(allow_accuracy_drop=True))) == 1  # waivable
    bad = noisy.copy()
    bad[0, 0] = np.nan
    assert "non_finite" in [p.kind for p in problems(compare(ref, bad, task="text-embedding"), "int8",
                                                     GateConfig(allow_accuracy_drop=True))]
    assert problems(compare(ref, ref[:, :8], task="text-embedding"), "fp32", GateConfig())[0].kind == "shape"


def test_paddle_lite_x86_embeds_like_the_reference(converted, tmp_path):
    """lite-x86 (fp32 .nb) runs the same pooling graph: its manifest width is the embedding dim (not 0 labels)."""
    eval_file = tmp_path / "eval.txt"
    eval_file.write_text("".join(t + "\n" for t in open(converted["eval_file"], encoding="utf-8")
                                 .read().splitlines()[:48]), encoding="utf-8")
    out = tmp_path / "lite.etb"
    proc = convert_cli(str(ASSETS / "minilm"), "--task", "embedding", "--targets", "lite-x86", "--eval",
                       str(eval_file), "--out", str(out), "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads(proc.stdout.strip().splitlines()[-1])["targets"]["lite-x86"]
    assert row["precision"] == "fp32" and row["mean_cosine"] >= 0.9999
    with Bundle.open(out) as b:
        spec = b.manifest.models[0]
        assert spec.backend == "paddlelite" and spec.output.shape == (-1, 384)
    from support.convert_helpers import run

    emb = run(["-m", "edgetext", "embed", str(out), "--backend", "paddlelite", "--threads", "1", "hello world"])
    assert len(json.loads(emb.stdout.splitlines()[-1])["embedding"]) == 384


def test_without_eval_texts_a_refused_dynamic_int8_falls_back_to_weight_only(tmp_path):
    """The built-in sample texts (mixed languages, very short) are where dynamic int8 misses 0.99: the default
    conversion then writes weight-only int8 (MatMulNBits) and says why, instead of failing."""
    out = tmp_path / "b.etb"
    proc = convert_cli(str(ASSETS / "minilm"), "--task", "embedding", "--targets", "onnx-x86", "--out", str(out),
                       "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads(proc.stdout.strip().splitlines()[-1])["targets"]["onnx-x86"]
    q = row["quantization"]
    assert row["mean_cosine"] >= 0.99
    if q["method"] == "weight-only-int8":  # dynamic int8 was refused on these texts (measured: 0.9858)
        assert q["fallback_from"]["method"] == "dynamic" and q["fallback_from"]["mean_cosine"] < 0.99
    with Bundle.open(out) as b:
        assert b.manifest.models[0].quantization == q
        b.verify()
