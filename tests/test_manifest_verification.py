"""The per-model ``verification`` record of the manifest (issue 7, defect 5): optional (bundles written
before it still open), typed on ModelSpec, its mode checked by the schema; ``verified`` keeps meaning
"ran on its own target architecture"."""
from __future__ import annotations

import copy

import pytest

from edgetext import manifest as mf
from edgetext.errors import ManifestError

MODEL = {"file": "model.aarch64.int8.onnx", "backend": "onnxruntime", "target": "aarch64", "precision": "int8",
         "inputs": [{"name": "input_ids", "role": "input_ids", "dtype": "int64", "shape": [-1, -1]}],
         "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 2]}], "verified": False}
MANIFEST = {"format": "edgetext-bundle", "format_version": 1, "task": "text-classification",
            "labels": ["neg", "pos"], "tokenizer": {"vocab": "vocab.txt", "max_length": 16}, "models": [MODEL]}


def _with(verification):
    m = copy.deepcopy(MANIFEST)
    if verification is not None:
        m["models"][0]["verification"] = verification
    return m


def test_bundles_without_the_record_still_open():
    spec = mf.validate(_with(None), require_files=False).models[0]
    assert spec.verification is None and spec.verified is False


def test_record_is_typed_on_the_model_spec():
    rec = {"mode": "cross", "host_arch": "x86_64", "engine": "onnxruntime", "engine_version": "1.23.2",
           "note": "built for aarch64: ran with x86_64 kernels, aarch64 kernels not exercised"}
    spec = mf.validate(_with(rec), require_files=False).models[0]
    v = spec.verification
    assert isinstance(v, mf.Verification) and v.as_dict() == rec
    assert v.summary() == ("cross: onnxruntime 1.23.2 on x86_64 (built for aarch64: ran with x86_64 kernels, "
                           "aarch64 kernels not exercised)")
    assert mf.Verification.from_dict({"mode": "not_run", "note": "no ARM runtime"}).summary() == \
        "not run (no ARM runtime)"


@pytest.mark.parametrize("bad", [{"mode": "verified"}, {"host_arch": "x86_64"}, {"mode": "native", "note": 3},
                                 "native"])
def test_schema_checks_the_record(bad):
    with pytest.raises(ManifestError, match="verification"):
        mf.validate(_with(bad), require_files=False)


def test_later_keys_are_allowed():
    spec = mf.validate(_with({"mode": "emulated", "emulator": "qemu-aarch64 -cpu cortex-a72"}),
                       require_files=False).models[0]
    assert spec.verification.mode == "emulated" and spec.verification.host_arch is None
