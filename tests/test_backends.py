"""The backend table (auto choice per host/device) and the backends' own checks."""
from __future__ import annotations

import dataclasses

import pytest

from edgetext import manifest as mf
from edgetext.backends import host as host_module
from edgetext.backends import registry
from edgetext.errors import BackendError, BackendUnavailableError, BundleIntegrityError


def make_manifest(*models: tuple[str, str, str]) -> mf.Manifest:
    """models: (backend, target, precision) triples."""
    entries = []
    for backend, target, precision in models:
        ext = "onnx" if backend == "onnxruntime" else "nb"
        entries.append({"file": f"m.{target}.{precision}.{ext}", "backend": backend, "target": target,
                        "precision": precision,
                        "inputs": [{"name": "input_ids", "role": "input_ids", "dtype": "int64"}],
                        "outputs": [{"name": "logits", "shape": [-1, 2]}]})
    obj = {"format": "edgetext-bundle", "format_version": 1, "task": "text-classification", "labels": ["a", "b"],
           "tokenizer": {"vocab": "vocab.txt", "max_length": 32}, "models": entries}
    return mf.validate(obj, require_files=False)


@pytest.fixture
def host(monkeypatch):
    """host(arch, engines=..., providers=...) fakes this machine for the table."""
    def fake(arch: str, engines=("onnxruntime", "paddlelite"), providers=("CPUExecutionProvider",)):
        monkeypatch.setattr(registry, "host_arch", lambda: arch)
        monkeypatch.setattr(registry, "engine_installed", lambda name: name in engines)
        monkeypatch.setattr(registry, "ort_providers", lambda: list(providers))
    return fake


ALL_X86 = [("onnxruntime", "x86_64", "fp32"), ("paddlelite", "x86_64", "fp32"), ("onnxruntime", "x86_64", "int8")]
ALL_ARM = [("onnxruntime", "aarch64", "int8"), ("paddlelite", "aarch64", "fp32"), ("paddlelite", "aarch64", "int8"),
           ("onnxruntime", "aarch64", "fp32")]


@pytest.mark.parametrize("arch,models,device,engines,providers,want", [
    # x86 CPU: ONNX Runtime int8 first, then ORT fp32, then Lite fp32
    ("x86_64", ALL_X86, "cpu", None, None, ("onnxruntime", "x86_64", "int8")),
    ("x86_64", ALL_X86[:2], "cpu", None, None, ("onnxruntime", "x86_64", "fp32")),
    ("x86_64", ALL_X86[1:2], "cpu", None, None, ("paddlelite", "x86_64", "fp32")),
    # a bundle with models for both arches: only the host's arch counts
    ("x86_64", ALL_X86 + ALL_ARM, "cpu", None, None, ("onnxruntime", "x86_64", "int8")),
    ("aarch64", ALL_X86 + ALL_ARM, "cpu", None, None, ("onnxruntime", "aarch64", "int8")),
    # ARM without an ONNX int8: Lite int8 beats ORT fp32; without onnxruntime installed Lite serves
    ("aarch64", ALL_ARM[1:], "cpu", None, None, ("paddlelite", "aarch64", "int8")),
    ("aarch64", ALL_ARM, "cpu", ("paddlelite",), None, ("paddlelite", "aarch64", "int8")),
    ("armv7", [("paddlelite", "armv7", "fp32"), ("onnxruntime", "aarch64", "int8")], "cpu", None, None,
     ("paddlelite", "armv7", "fp32")),
    # no paddlelite installed: ORT
    ("x86_64", ALL_X86[:2], "cpu", ("onnxruntime",), None, ("onnxruntime", "x86_64", "fp32")),
    # CUDA: a GPU model first, else the portable fp32 model; never an int8 CPU model
    ("x86_64", ALL_X86 + [("onnxruntime", "cuda", "fp16")], "cuda", None,
     ("CUDAExecutionProvider", "CPUExecutionProvider"), ("onnxruntime", "cuda", "fp16")),
    ("x86_64", ALL_X86, "cuda:1", None, ("CUDAExecutionProvider", "CPUExecutionProvider"),
     ("onnxruntime", "x86_64", "fp32")),
])
def test_auto_backend_choice_table(host, arch, models, device, engines, providers, want):
    host(arch, engines or ("onnxruntime", "paddlelite"), providers or ("CPUExecutionProvider",))
    choice = registry.choose(make_manifest(*models), "auto", device)
    s = choice.spec
    assert (s.backend, s.target, s.precision) == want
    assert choice.row.why in choice.reason and s.file in choice.reason


def test_cuda_without_the_provider_is_unavailable(host):
    host("x86_64")
    with pytest.raises(BackendUnavailableError, match="Available here: none .on device='cpu': onnxruntime fp32.*CUDAExecutionProvider"):
        registry.choose(make_manifest(*ALL_X86), "auto", "cuda")


def test_lite_int8_on_x86_is_refused_with_the_reason(host):
    host("x86_64")
    with pytest.raises(BackendUnavailableError, match="Lite int8 on x86 outputs NaN"):
        registry.choose(make_manifest(("paddlelite", "x86_64", "int8")), "paddlelite")


def test_explicit_backend_missing_from_bundle_lists_available(host):
    host("x86_64")
    with pytest.raises(BackendUnavailableError) as e:
        registry.choose(make_manifest(*ALL_X86[:1]), "paddlelite")
    assert "Available here: onnxruntime fp32 x86_64 (m.x86_64.fp32.onnx)" in str(e.value)


def test_wrong_arch_models_are_rejected_with_reasons(host):
    host("aarch64")
    with pytest.raises(BackendUnavailableError, match="built for x86_64, this host is aarch64"):
        registry.choose(make_manifest(*ALL_X86), "auto")


def test_every_table_row_is_a_valid_manifest_combination():
    for row in registry.TABLE:
        assert row.backend in mf.BACKENDS and row.target in mf.TARGETS and row.precision in mf.PRECISIONS
        assert row.device in registry.DEVICES
    keys = [(r.backend, r.target, r.precision, r.device) for r in registry.TABLE]
    assert len(keys) == len(set(keys)), "one row per combination"
    assert not {k[:3] for k in keys if k[3] == "cpu"} & set(registry.REFUSED)


# -- the backends themselves (real models) ---------------------------------------------------------
@pytest.fixture(scope="module")
def fp32_onnx(ort_bundle) -> bytes:
    from edgetext.bundle import Bundle

    with Bundle.open(ort_bundle) as b:
        return b.read("model.x86_64.fp32.onnx")


def ort_spec(*inputs: tuple[str, str], output: str = "logits") -> mf.ModelSpec:
    spec = make_manifest(("onnxruntime", "x86_64", "fp32")).models[0]
    return dataclasses.replace(spec, file="model.x86_64.fp32.onnx", outputs=(mf.OutputSpec(output),),
                               inputs=tuple(mf.InputSpec(n, n, d) for n, d in inputs))


def test_onnxruntime_backend_refuses_a_manifest_that_lies_about_the_model(fp32_onnx):
    from edgetext.backends.onnxruntime import OnnxRuntimeBackend

    with pytest.raises(BackendError, match="inputs .* differ from the manifest"):
        OnnxRuntimeBackend(fp32_onnx, ort_spec(("input_ids", "int64")), 1, "cpu")
    with pytest.raises(BackendError, match="input input_ids is tensor.int64., the manifest says int32"):
        OnnxRuntimeBackend(fp32_onnx, ort_spec(("input_ids", "int32"), ("token_type_ids", "int64")), 1, "cpu")
    with pytest.raises(BackendError, match="no output 'probs'"):
        OnnxRuntimeBackend(fp32_onnx, ort_spec(("input_ids", "int64"), ("token_type_ids", "int64"), output="probs"),
                           1, "cpu")
    with pytest.raises(BundleIntegrityError, match="not a well-formed ONNX model"):  # refused before ORT parses it
        OnnxRuntimeBackend(b"garbage", ort_spec(("input_ids", "int64")), 1, "cpu")
    with pytest.raises(BackendError, match="cannot load"):  # well-formed protobuf, not a loadable model
        OnnxRuntimeBackend(b"\x08\x07\x3a\x00", ort_spec(("input_ids", "int64")), 1, "cpu")


def test_onnxruntime_backend_runs_and_describes_threads_and_providers(fp32_onnx):
    import numpy as np

    from edgetext.backends.base import Backend
    from edgetext.backends.onnxruntime import OnnxRuntimeBackend

    b = OnnxRuntimeBackend(fp32_onnx, ort_spec(("input_ids", "int64"), ("token_type_ids", "int64")), 2, "cpu")
    assert isinstance(b, Backend)
    ids = np.array([[101, 2769, 102, 0]], dtype=np.int64)
    out = b.run({"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": np.ones_like(ids)})
    assert out.shape == (1, 3) and out.dtype == np.float32
    d = b.describe()
    assert d["threads"] == 2 and "intra_op" in d["threads_how"] and "CPUExecutionProvider" in d["providers"]
    with pytest.raises(BackendUnavailableError, match="CUDAExecutionProvider"):
        OnnxRuntimeBackend(fp32_onnx, ort_spec(("input_ids", "int64")), 1, "cuda")


def test_paddle_lite_backend_refuses_bad_models_and_devices(tiny_bundle):
    pytest.importorskip("paddlelite")
    from edgetext.backends.paddlelite import PaddleLiteBackend
    from edgetext.bundle import Bundle

    with Bundle.open(tiny_bundle) as bundle:
        spec = bundle.manifest.model("model.x86_64.fp32.nb")
        data = bundle.read(spec.file)
    with pytest.raises(BackendUnavailableError, match="CPU only"):
        PaddleLiteBackend(data, spec, 1, "cuda")
    with pytest.raises(BackendError, match="inputs .* differ"):
        PaddleLiteBackend(data, dataclasses.replace(spec, inputs=spec.inputs[:1]), 1, "cpu")


def test_paddle_lite_threads_come_from_omp_env_set_before_the_first_load(tiny_bundle):
    """In a fresh process: threads=2 sets OMP/MKL_NUM_THREADS before Lite loads; a later request cannot change it."""
    pytest.importorskip("paddlelite")
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = f"""
import json, os
from edgetext import TextClassifier
a = TextClassifier({str(tiny_bundle)!r}, backend="paddlelite", threads=2)
b = TextClassifier({str(tiny_bundle)!r}, backend="paddlelite", threads=1)
print(json.dumps([os.environ.get("OMP_NUM_THREADS"), os.environ.get("MKL_NUM_THREADS"),
                  a.describe()["threads"], b.describe()["threads"], a.classify("好") == b.classify("好")]))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parent.parent / "sdk"),
                                         env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    omp, mkl, a, b, same = json.loads(p.stdout.strip().splitlines()[-1])
    assert (omp, mkl, a["backend"], b["backend"], same) == ("2", "2", 2, 2, True)
    assert "before Paddle Lite was first loaded" in a["how"]
    assert "requested 1 was not applied" in b["how"]


@pytest.mark.parametrize("arch,device,available,want", [
    ("x86_64", "cpu", ["CPUExecutionProvider"], ["CPUExecutionProvider"]),
    ("x86_64", "cuda:1", ["CUDAExecutionProvider", "CPUExecutionProvider"],
     [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]),
    ("aarch64", "cpu", ["XnnpackExecutionProvider", "CPUExecutionProvider"],
     [("XnnpackExecutionProvider", {"intra_op_num_threads": 2}), "CPUExecutionProvider"]),
    ("x86_64", "cpu", ["XnnpackExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]),
])
def test_onnxruntime_backend_asks_for_the_right_providers(fp32_onnx, monkeypatch, arch, device, available, want):
    """CUDA / XNNPACK builds are not installed here: fake the provider list, keep the real CPU session."""
    import onnxruntime

    from edgetext.backends.onnxruntime import OnnxRuntimeBackend

    asked = {}
    real = onnxruntime.InferenceSession

    def session(model, so, providers):
        asked["providers"], asked["threads"] = providers, so.intra_op_num_threads
        return real(model, so, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(host_module, "host_arch", lambda: arch)  # the backend asks backends.host
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: available)
    monkeypatch.setattr(onnxruntime, "InferenceSession", session)
    OnnxRuntimeBackend(fp32_onnx, ort_spec(("input_ids", "int64"), ("token_type_ids", "int64")), 2, device)
    assert asked == {"providers": want, "threads": 2}
