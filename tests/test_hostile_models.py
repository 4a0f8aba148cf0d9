"""Hostile or broken *models* inside bundles whose checksums are valid (a re-sealed bundle is what an
attacker or a broken build produces): external data, malformed Paddle Lite files, NaN/Inf or integer
outputs, another model / swapped labels / the wrong architecture's file, no golden vectors, and
unbounded thread counts (issue 13: findings 1, 2, 6, 7, 9)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from support.runtime_models import repack

from edgetext import TextClassifier
from edgetext.bundle import Bundle
from edgetext.errors import (BackendError, BundleIntegrityError, EdgeTextError, InvalidInputError,
                             UnsafeBundleError)
from edgetext.modelcheck import check_onnx_self_contained, check_paddlelite_nb

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

FP32 = "model.x86_64.fp32.onnx"
NB = "model.x86_64.fp32.nb"
ROOT = Path(__file__).resolve().parent.parent


def with_model(etb: Path, out: Path, file: str, data: bytes, change=None) -> Path:
    """A copy of `etb` whose member `file` holds `data` (re-sealed: the checksums are right)."""
    def edit(m, folder):
        (folder / file).write_bytes(data)
        if change:
            change(m, folder)
    return repack(etb, out, edit)


def only(files: list[str]):
    def edit(m, folder):
        for e in list(m["models"]):
            if e["file"] not in files:
                m["models"].remove(e)
                (folder / e["file"]).unlink()
        for g in m["golden"]:
            for f in list(g.get("per_model") or {}):
                if f not in files:
                    del g["per_model"][f]
    return edit


@pytest.fixture(scope="module")
def fp32_model(ort_bundle) -> onnx.ModelProto:
    with Bundle.open(ort_bundle) as b:
        return onnx.load_from_string(b.read(FP32))


# -- finding 1: ONNX external data / path-bearing fields ----------------------------------------------
def external(model: onnx.ModelProto, name: str, location: str, outside: Path) -> bytes:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    t = next(i for i in m.graph.initializer if i.name == name)
    outside.write_bytes(numpy_helper.to_array(t).tobytes())
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    entry = t.external_data.add()
    entry.key, entry.value = "location", location
    return m.SerializeToString()


@pytest.mark.parametrize("where", ["absolute", "relative"])
def test_onnx_external_data_is_refused_at_load_and_in_verify(ort_bundle, fp32_model, tmp_path, monkeypatch, where):
    outside = tmp_path / "outside.bin"
    monkeypatch.chdir(tmp_path)
    data = external(fp32_model, "wc", str(outside) if where == "absolute" else "outside.bin", outside)
    out = with_model(ort_bundle, tmp_path / "ext.etb", FP32, data, only([FP32]))
    with pytest.raises(UnsafeBundleError, match="stores its data outside the model .ONNX external data"):
        TextClassifier(out, check_golden=False)
    with Bundle.open(out) as b, pytest.raises(BundleIntegrityError, match="external data at '.*outside.bin'"):
        b.verify()
    with pytest.raises(BundleIntegrityError, match="external data"):
        Bundle.open(out).verify(predictions=True)


def tensor(name="w", external_location=None, data_location=None) -> TensorProto:
    t = numpy_helper.from_array(np.ones(3, np.float32), name)
    if external_location is not None:
        t.ClearField("raw_data")
        e = t.external_data.add()
        e.key, e.value = "location", external_location
    if data_location is not None:
        t.data_location = data_location
    return t


def model_bytes(nodes=(), initializers=(), sparse=(), functions=()) -> bytes:
    g = helper.make_graph(list(nodes) or [helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])], list(initializers))
    g.sparse_initializer.extend(sparse)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.functions.extend(functions)
    return m.SerializeToString()


def sparse_external() -> onnx.SparseTensorProto:
    values = tensor("sv", external_location="/etc/hostname")
    indices = numpy_helper.from_array(np.array([0], np.int64), "si")
    return helper.make_sparse_tensor(values, indices, [3])


def if_with_external_branch() -> onnx.NodeProto:
    branch = helper.make_graph([helper.make_node("Identity", ["w"], ["z"])], "b", [],
                               [helper.make_tensor_value_info("z", TensorProto.FLOAT, [3])],
                               [tensor("w", external_location="../../w.bin")])
    return helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)


def function_with_external_constant() -> onnx.FunctionProto:
    const = helper.make_node("Constant", [], ["k"], value=tensor("k", external_location="k.bin"))
    return helper.make_function("local", "f", ["a"], ["b"], [const, helper.make_node("Add", ["a", "k"], ["b"])],
                                [helper.make_opsetid("", 13)])


EXTERNAL_SIBLINGS = {
    "initializer": lambda: model_bytes(initializers=[tensor(external_location="/etc/passwd")]),
    "data_location only, no entries": lambda: model_bytes(initializers=[tensor(data_location=1)]),
    "unknown data_location value": lambda: forged_initializer(bytes([14 << 3, 7])),
    "data_location as a length-delimited field": lambda: forged_initializer(bytes([14 << 3 | 2, 1, 1])),
    "sparse initializer": lambda: model_bytes(sparse=[sparse_external()]),
    "Constant attribute": lambda: model_bytes(nodes=[helper.make_node(
        "Constant", [], ["y"], value=tensor("c", external_location="/dev/zero"))]),
    "If branch subgraph": lambda: model_bytes(nodes=[if_with_external_branch()]),
    "local function": lambda: model_bytes(functions=[function_with_external_constant()]),
    "EPContext node": lambda: model_bytes(nodes=[helper.make_node(
        "EPContext", ["x"], ["y"], domain="com.microsoft", ep_cache_context="ctx.bin", embed_mode=0)]),
}


@pytest.mark.parametrize("case", sorted(EXTERNAL_SIBLINGS))
def test_every_path_bearing_onnx_field_is_refused(case):
    with pytest.raises(UnsafeBundleError, match="outside the model|load a file named inside the model"):
        check_onnx_self_contained(EXTERNAL_SIBLINGS[case](), "m.onnx")


def forged_initializer(extra: bytes) -> bytes:
    """A model whose initializer's serialized bytes end with `extra` (fields the onnx API will not write)."""
    m = onnx.load_from_string(model_bytes())
    m.graph.initializer.add().ParseFromString(tensor().SerializeToString() + extra)
    return m.SerializeToString()


def test_data_location_as_an_overlong_varint_is_still_external():
    """protobuf reads an enum as int32: a varint of 2**32 + 1 is EXTERNAL to ONNX Runtime."""
    data = forged_initializer(bytes([14 << 3, 0x81, 0x80, 0x80, 0x80, 0x10]))
    with pytest.raises(UnsafeBundleError, match="external data"):
        check_onnx_self_contained(data, "m.onnx")
    check_onnx_self_contained(model_bytes(initializers=[tensor()]), "m.onnx")


@pytest.mark.parametrize("data,why", [
    (b"", "no ir_version or no graph"),
    (b"\x08\x07", "no ir_version or no graph"),
    (b"\x08\x07\x3a\x05\x0a", "bytes where"),  # a graph of 5 bytes with 1 left
    (b"\x08\x07\x3b\x00", "wire type 3"),  # a group
    (b"\x00\x00\x00\x00ORTM" + b"\x00" * 16, ".ort flatbuffer"),
    (b"\x08" + b"\xff" * 11, "varint longer"),
])
def test_onnx_bytes_the_walker_cannot_follow_are_refused(data, why):
    with pytest.raises(BundleIntegrityError, match=why):
        check_onnx_self_contained(data, "m.onnx")


def test_real_models_pass_the_onnx_check(ort_bundle, tiny_bundle):
    for etb in (ort_bundle, tiny_bundle):
        with Bundle.open(etb) as b:
            for spec in b.models:
                if spec.backend == "onnxruntime":
                    check_onnx_self_contained(b.read(spec.file), spec.file)


# -- finding 2: malformed Paddle Lite .nb never takes the process down ---------------------------------
def survives(code: str, timeout: int = 240) -> str:
    """Run `code` in a fresh interpreter; the test fails if it dies by a signal (what the bug did)."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={"PYTHONPATH": str(ROOT / "tests"), "PATH": "/usr/bin:/bin",
                                                          "GLOG_minloglevel": "3", "HOME": str(ROOT)})
    assert proc.returncode == 0, f"the process died (rc {proc.returncode}): {proc.stderr[-2000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def nb_bytes(tiny_bundle) -> bytes:
    pytest.importorskip("paddlelite")
    with Bundle.open(tiny_bundle) as b:
        return b.read(NB)


def bad_nbs(nb: bytes, onnx_bytes: bytes) -> dict[str, bytes]:
    rng = np.random.default_rng(5)
    return {"truncated": nb[: len(nb) // 2], "header only": nb[:40], "garbage": rng.bytes(50_000),
            "onnx file": onnx_bytes, "trailing bytes": nb + b"\0" * 8, "empty-ish": b"\x02\x00",
            "arm kernels": nb.replace(b"/2/1/1\x00", b"/4/1/1\x00")}


def test_malformed_nb_is_refused_by_the_container_check(nb_bytes, fp32_model):
    info = check_paddlelite_nb(nb_bytes, NB, "x86_64")
    assert info["meta_version"] == 2 and info["params"] > 0 and "x86" in info["kernel_targets"]
    for case, data in bad_nbs(nb_bytes, fp32_model.SerializeToString()).items():
        with pytest.raises(BundleIntegrityError, match="not a valid Paddle Lite|kernels for arm"):
            check_paddlelite_nb(data, case, "x86_64")


def test_malformed_nb_is_an_error_not_a_crash_in_classifier_cli_and_verify(tiny_bundle, nb_bytes, fp32_model,
                                                                           tmp_path):
    bundles = {case: str(with_model(tiny_bundle, tmp_path / f"{i}.etb", NB, data))
               for i, (case, data) in enumerate(bad_nbs(nb_bytes, fp32_model.SerializeToString()).items())}
    out = survives(f"""
        import json, subprocess, sys
        from edgetext import TextClassifier, verify_bundle
        from edgetext.errors import EdgeTextError
        from edgetext.cli import main
        for case, path in {json.dumps(bundles)}.items():
            try:
                TextClassifier(path, backend="paddlelite")
                print(case, "LOADED")
            except EdgeTextError as e:
                print(case, "refused", type(e).__name__)
            try:
                verify_bundle(path, predictions=True)
                print(case, "VERIFIED")
            except EdgeTextError as e:
                print(case, "verify failed", type(e).__name__)
            print(case, "cli", main(["classify", path, "text", "--backend", "paddlelite"]))
    """)
    for case in bundles:
        assert f"{case} refused BundleIntegrityError" in out and f"{case} verify failed" in out, out
        assert f"{case} cli 1" in out, out


def test_an_nb_that_passes_the_container_check_but_crashes_lite_is_caught_by_the_probe(tiny_bundle, nb_bytes,
                                                                                     tmp_path):
    """Flipped bytes inside the topology flatbuffer: Lite dies by SIGSEGV/SIGABRT; only the probe child does."""
    topo = int.from_bytes(nb_bytes[18:26], "little")
    rng = np.random.default_rng(13)
    forged = []
    for _ in range(40):
        off = int(rng.integers(34, 26 + topo - 4))
        data = nb_bytes[:off] + b"\xff\xff\xff\x7f" + nb_bytes[off + 4:]
        try:
            check_paddlelite_nb(data, NB, "x86_64")
        except BundleIntegrityError:
            continue
        forged.append(str(with_model(tiny_bundle, tmp_path / f"f{len(forged)}.etb", NB, data)))
        if len(forged) == 6:
            break
    out = survives(f"""
        from edgetext import TextClassifier
        from edgetext.errors import EdgeTextError
        for path in {forged!r}:
            try:
                TextClassifier(path, backend="paddlelite", check_golden=False)
                print("loaded")
            except EdgeTextError as e:
                print("refused:", e)
    """)
    assert "crashed (SIG" in out, f"no forged .nb crashed Lite in the probe: {out}"


def test_the_probe_is_cached_per_sha256(tiny_bundle, nb_bytes, monkeypatch):
    from edgetext.backends import paddlelite

    paddlelite.probe_cache_clear()
    runs = []
    real = subprocess.run
    monkeypatch.setattr(paddlelite.subprocess, "run", lambda *a, **k: runs.append(1) or real(*a, **k))
    for _ in range(2):
        TextClassifier(tiny_bundle, backend="paddlelite", threads=1)
    assert runs == [1]


# -- finding 6: NaN / Inf / integer outputs -------------------------------------------------------------
def with_output(model: onnx.ModelProto, extra_nodes, initializers=(), out_type=TensorProto.FLOAT) -> bytes:
    """`model` whose 'logits' output passes through extra_nodes (which read 'raw_logits', write 'logits')."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for node in m.graph.node:
        node.output[:] = ["raw_logits" if o == "logits" else o for o in node.output]
    m.graph.node.extend(extra_nodes)
    m.graph.initializer.extend(initializers)
    m.graph.output[0].type.tensor_type.elem_type = out_type
    return m.SerializeToString()


def constant_added(model, value) -> bytes:
    return with_output(model, [helper.make_node("Add", ["raw_logits", "bad"], ["logits"])],
                       [numpy_helper.from_array(np.array([value, 0, 0], np.float32), "bad")])


def nan_for_long_texts(model) -> bytes:
    """NaN once a text has more than 4 tokens: log(4.5 - length)."""
    nodes = [helper.make_node("Shape", ["input_ids"], ["shape"]),
             helper.make_node("Gather", ["shape", "one"], ["len_i"], axis=0),
             helper.make_node("Cast", ["len_i"], ["len_f"], to=TensorProto.FLOAT),
             helper.make_node("Sub", ["four5", "len_f"], ["room"]),
             helper.make_node("Log", ["room"], ["term"]),
             helper.make_node("Mul", ["term", "zero"], ["nanish"]),
             helper.make_node("Add", ["raw_logits", "nanish"], ["logits"])]
    inits = [numpy_helper.from_array(np.array(1, np.int64), "one"),
             numpy_helper.from_array(np.array(4.5, np.float32), "four5"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    return with_output(model, nodes, inits)


def labels_first(m, _):
    for g in m["golden"]:
        g.update(label=m["labels"][0], score=0.5)
        g.pop("logits", None), g.pop("per_model", None)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_logits_are_refused_at_load_in_verify_and_on_the_cli(ort_bundle, fp32_model, tmp_path, value):
    out = with_model(ort_bundle, tmp_path / "nan.etb", FP32, constant_added(fp32_model, value),
                     lambda m, f: (only([FP32])(m, f), labels_first(m, f)))
    with pytest.raises(BackendError, match="non-finite logits"):
        TextClassifier(out)
    with pytest.raises(BackendError, match="non-finite logits"):
        TextClassifier(out, check_golden=False)
    with pytest.raises(BundleIntegrityError, match="non-finite logits"):
        Bundle.open(out).verify(predictions=True)
    proc = subprocess.run([sys.executable, "-m", "edgetext", "classify", str(out), "x"], capture_output=True,
                          text=True)
    assert proc.returncode == 1 and "non-finite" in proc.stderr and "nan" not in proc.stdout


def test_non_finite_logits_at_run_time_name_the_text(ort_bundle, fp32_model, tmp_path):
    out = with_model(ort_bundle, tmp_path / "late-nan.etb", FP32, nan_for_long_texts(fp32_model), only([FP32]))
    with pytest.raises(BackendError, match="non-finite"):
        TextClassifier(out)  # the long golden texts give NaN
    clf = TextClassifier(out, check_golden=False)  # the probe (2 tokens) is finite
    assert clf.classify("差")
    with pytest.raises(BackendError, match=r"non-finite logits .*for texts\[1\]"):
        clf.classify_batch(["差", "这家店的菜很好吃，服务也很周到。"], batch_size=1)


def test_integer_outputs_are_refused_not_cast(ort_bundle, fp32_model, tmp_path):
    data = with_output(fp32_model, [helper.make_node("Cast", ["raw_logits"], ["logits"], to=TensorProto.INT64)],
                       out_type=TensorProto.INT64)
    out = with_model(ort_bundle, tmp_path / "int.etb", FP32, data, only([FP32]))
    with pytest.raises(BackendError, match="tensor.int64., not floating-point logits"):
        TextClassifier(out, check_golden=False)
    assert "cannot run" in _verify_problems(out)

    def int_manifest(m, f):
        only([FP32])(m, f)
        m["models"][0]["outputs"][0]["dtype"] = "int64"
    from edgetext.errors import ManifestError
    with pytest.raises(ManifestError, match="outputs/0/dtype"):
        with_model(ort_bundle, tmp_path / "int2.etb", FP32, data, int_manifest)


def _verify_problems(path) -> str:
    try:
        Bundle.open(path).verify(predictions=True)
    except BundleIntegrityError as e:
        return str(e)
    return ""


# -- finding 7: golden predictions of the chosen model at load; no golden vectors is a failure ----------
def negated_head(model) -> bytes:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for t in m.graph.initializer:
        if t.name == "wc":
            t.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(t), "wc"))
    return m.SerializeToString()


def test_a_resealed_bundle_with_another_model_is_refused_at_load(ort_bundle, fp32_model, tmp_path):
    out = with_model(ort_bundle, tmp_path / "other.etb", FP32, negated_head(fp32_model))
    assert Bundle.open(out).verify()["ok"], "checksums and golden ids are fine: only predictions show it"
    with pytest.raises(BundleIntegrityError, match="golden predictions differ at load"):
        TextClassifier(out, model=FP32)
    assert TextClassifier(out, model=FP32, check_golden=False).classify("x"), "the caller may opt out"
    assert TextClassifier(out, model="model.x86_64.int8.onnx").describe()["golden_checked_at_load"] >= 1


def test_swapped_labels_are_refused_at_load(ort_bundle, tmp_path):
    def swap(m, _):
        a, b = m["labels"][0], m["labels"][2]
        m["labels"][0], m["labels"][2] = b, a
    out = repack(ort_bundle, tmp_path / "swapped.etb", swap)
    with pytest.raises(BundleIntegrityError, match="golden predictions differ"):
        TextClassifier(out)


def test_an_arm_nb_in_place_of_the_x86_one_is_refused(tiny_bundle, nb_bytes, tmp_path):
    out = with_model(tiny_bundle, tmp_path / "arm-nb.etb", NB, nb_bytes.replace(b"/2/1/1\x00", b"/4/1/1\x00"))
    with pytest.raises(BundleIntegrityError, match="kernels for arm, but the manifest says it is the x86_64"):
        TextClassifier(out, backend="paddlelite")
    with pytest.raises(BundleIntegrityError, match="kernels for arm"):
        Bundle.open(out).verify()


@pytest.mark.parametrize("how", ["empty", "labels removed"])
def test_no_golden_predictions_fail_load_and_verify(ort_bundle, tmp_path, how):
    def change(m, _):
        if how == "empty":
            m["golden"] = []
        for g in m["golden"]:
            for k in ("label", "score", "logits", "per_model"):
                g.pop(k, None)
    out = repack(ort_bundle, tmp_path / "nogolden.etb", change)
    with pytest.raises(BundleIntegrityError, match="no golden predictions for model"):
        TextClassifier(out)
    assert TextClassifier(out, check_golden=False, threads=1).classify("x")
    with pytest.raises(BundleIntegrityError, match="no golden vectors"):
        Bundle.open(out).verify(predictions=True)


def test_verify_cli_says_no_golden_vectors_as_a_failure(ort_bundle, tmp_path):
    out = repack(ort_bundle, tmp_path / "empty.etb", lambda m, _: m.update(golden=[]))
    proc = subprocess.run([sys.executable, "-m", "edgetext", "verify", str(out), "--predictions"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "no golden vectors" in proc.stderr and "OK" not in proc.stdout


# -- finding 9: thread counts are bounded ------------------------------------------------------------
def test_absurd_thread_counts_are_refused_at_once(ort_bundle):
    from edgetext import Tokenizer
    from edgetext.limits import max_threads

    for n in (1000, 100_000, max_threads() + 1):
        t0 = time.perf_counter()
        with pytest.raises(InvalidInputError, match=rf"threads={n} is more than 4 x the \d+ CPUs"):
            TextClassifier(ort_bundle, threads=n)
        assert time.perf_counter() - t0 < 2.0
    assert TextClassifier(ort_bundle, threads=max_threads(), check_golden=False).classify("x")
    with Bundle.open(ort_bundle) as b:
        vocab = b.read("vocab.txt")
    with pytest.raises(InvalidInputError, match="more than 4 x"):
        Tokenizer.from_vocab_bytes(vocab, threads=10_000)
    tok = Tokenizer.from_vocab_bytes(vocab)
    for call in (lambda: tok.encode_batch(["a"], threads=10_000), lambda: tok(["a"], threads=10_000)):
        with pytest.raises(InvalidInputError, match="more than 4 x"):
            call()
    proc = subprocess.run([sys.executable, "-m", "edgetext", "classify", str(ort_bundle), "x", "--threads",
                           "100000"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "more than 4 x" in proc.stderr and "Traceback" not in proc.stderr


def test_errors_are_edgetext_errors():
    assert issubclass(UnsafeBundleError, EdgeTextError) and issubclass(BundleIntegrityError, EdgeTextError)
