"""ConvertOptions (one typed, validated object for the CLI and convert()), the targets derived from
the SDK's backend table, and the per-model verification record. No model is built here."""
from __future__ import annotations

import dataclasses

import pytest

from edgetext.backends import registry
from edgetext.errors import ConversionError
from edgetext_converters import ConvertOptions
from edgetext_converters.cli import build_parser, options_from_args
from edgetext_converters.targets import DEFAULT_TARGETS, TARGETS, build_targets, parse_targets
from edgetext_converters.verification import verification_for


# ----------------------------------------------------------------------------- options
def test_defaults_and_per_target_precisions():
    o = ConvertOptions()
    assert o.targets == DEFAULT_TARGETS
    assert dict(o.precisions) == {"onnx-x86": "int8", "onnx-arm64": "int8", "lite-x86": "fp32", "lite-arm": "int8"}
    o = ConvertOptions(targets="onnx-cuda, onnx-x86,onnx-cuda", precision="fp32")
    assert o.targets == ("onnx-cuda", "onnx-x86") and set(o.precisions.values()) == {"fp32"}
    assert o.gate.min_agreement == 0.99 and o.gate.max_accuracy_drop == 0.5 and not o.gate.allow_accuracy_drop


@pytest.mark.parametrize("kwargs, needle", [
    ({"targets": "onnx-x86,tflite"}, "unknown target 'tflite'"),
    ({"targets": " , "}, "no targets given"),
    ({"precision": "bf16"}, "unknown precision 'bf16'"),
    ({"targets": "lite-x86", "precision": "int8"}, "lite-x86 supports fp32, not int8"),
    ({"max_length": 1}, "max_length must be an integer >= 2"),
    ({"min_agreement": 1.5}, "min_agreement must be within [0, 1]"),
    ({"max_accuracy_drop": -1}, "max_accuracy_drop must be >= 0"),
    ({"trim_vocab": ["a"], "min_freq": 0}, "min_freq must be >= 1"),
    ({"max_eval": 0}, "max_eval must be a positive integer"),
])
def test_bad_options_are_refused_in_one_place(kwargs, needle):
    with pytest.raises(ConversionError) as e:
        ConvertOptions(**kwargs)
    assert needle in str(e.value)


def test_options_are_frozen_and_replace_revalidates():
    o = ConvertOptions(calib=["a", "b"], labels=["x", "y"])
    assert o.calib == ("a", "b") and o.labels == ("x", "y")
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.precision = "fp32"  # type: ignore[misc]
    r = dataclasses.replace(o, targets="lite-x86")
    assert dict(r.precisions) == {"lite-x86": "fp32"}
    with pytest.raises(ConversionError):
        dataclasses.replace(o, targets="lite-x86", precision="int8")
    with pytest.raises(TypeError):
        ConvertOptions(no_such_option=1)  # type: ignore[call-arg]


def test_cli_builds_the_same_options_as_keyword_arguments(tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text('{"1": "pos", "0": "neg"}')
    args = build_parser().parse_args(["src", "--out", "o.etb", "--targets", "onnx-x86,lite-x86", "--precision",
                                      "fp32", "--labels-file", str(labels), "--calib", "c.txt", "--eval", "e.tsv",
                                      "--trim-vocab", "t.txt", "--min-freq", "2", "--max-length", "64",
                                      "--max-accuracy-drop", "0.5", "--min-agreement", "0.99",
                                      "--allow-accuracy-drop", "--name", "n", "--no-static-quant"])
    from_cli = options_from_args(args, progress=False)
    from_kwargs = ConvertOptions(targets=["onnx-x86", "lite-x86"], precision="fp32", labels=["neg", "pos"],
                                 calib="c.txt", eval_file="e.tsv", trim_vocab="t.txt", min_freq=2, max_length=64,
                                 max_accuracy_drop=0.5, min_agreement=0.99, allow_accuracy_drop=True, name="n",
                                 static_quant=False, progress=False)
    assert from_cli == from_kwargs


def test_cli_help_lists_the_derived_targets():
    text = build_parser().format_help()
    for name in TARGETS:
        assert name in text
    assert "fp16 for onnx-cuda" in " ".join(text.split())


# ----------------------------------------------------------------------------- targets
def test_targets_offer_what_the_writer_writes_and_the_table_runs():
    want = {"onnx-x86": ("int8", "fp32", "fp16"), "onnx-arm64": ("int8", "fp32", "fp16"),
            "onnx-cuda": ("fp16", "fp32"), "lite-x86": ("fp32",), "lite-arm": ("int8", "fp32"),
            "openvino-x86": ("int8", "fp32")}
    assert {n: t.precisions for n, t in TARGETS.items()} == want
    for t in TARGETS.values():  # every offered precision is a row of the runtime's table
        assert all(registry.lookup(_spec(t, p), "cuda" if t.device == "cuda" else "cpu") for p in t.precisions)
    assert TARGETS["onnx-x86"].file_name("int8") == "model.x86_64.int8.onnx"
    assert TARGETS["lite-arm"].file_name("fp32") == "model.aarch64.fp32.nb"
    assert TARGETS["openvino-x86"].file_name("int8") == "model.x86_64.int8.openvino.onnx"  # beside the ORT file
    assert parse_targets(None) == DEFAULT_TARGETS


def test_refusal_quotes_the_sdk_refused_table():
    why = registry.REFUSED[("paddlelite", "x86_64", "int8")]
    with pytest.raises(ConversionError) as e:
        TARGETS["lite-x86"].precision("int8")
    assert why in str(e.value)
    with pytest.raises(ConversionError, match="onnx-cuda supports fp16, fp32, not int8"):
        TARGETS["onnx-cuda"].precision("int8")


def test_targets_follow_the_table():
    """Change the SDK's table and the targets change with it: one statement of what runs where."""
    table = [r for r in registry.TABLE if (r.backend, r.target, r.precision) != ("onnxruntime", "aarch64", "fp16")]
    table = [dataclasses.replace(r, rank=1) if (r.backend, r.target, r.precision, r.device)
             == ("onnxruntime", "x86_64", "fp32", "cpu") else r for r in table]
    refused = dict(registry.REFUSED)
    refused[("paddlelite", "aarch64", "int8")] = "pretend Lite ARM int8 is broken"
    targets = build_targets(table, refused)
    assert targets["onnx-arm64"].precisions == ("int8", "fp32")
    assert targets["onnx-x86"].default == "fp32"  # now the best-ranked row
    assert targets["lite-arm"].precisions == ("fp32",)
    with pytest.raises(ConversionError, match="pretend Lite ARM int8 is broken"):
        targets["lite-arm"].precision("int8")


def _spec(t, precision):
    from edgetext.manifest import ModelSpec

    return ModelSpec(file="m", backend=t.backend, target=t.arch, precision=precision, inputs=(), outputs=())


# ----------------------------------------------------------------------------- verification record
@pytest.mark.parametrize("target, host, mode, verified", [
    ("onnx-x86", "x86_64", "native", True),
    ("onnx-arm64", "x86_64", "cross", False),  # issue 7 defect 5: x86 kernels are not an aarch64 check
    ("onnx-arm64", "aarch64", "native", True),
    ("onnx-x86", "aarch64", "cross", False),
    ("onnx-cuda", "x86_64", "cross", False),  # the CPU provider ran it, not CUDA
    ("lite-x86", "x86_64", "native", True),
])
def test_verification_modes(target, host, mode, verified):
    v = verification_for(TARGETS[target], ran=True, engine_version="9.9", arch=host)
    assert (v.mode, v.verified, v.host_arch, v.engine, v.engine_version) == (mode, verified, host,
                                                                             TARGETS[target].backend, "9.9")
    assert v.note and (mode != "cross" or TARGETS[target].arch in v.note)


def test_not_run_records_why():
    v = verification_for(TARGETS["lite-arm"], ran=False, engine_version=None,
                         why_not="no ARM Paddle Lite runtime on this host", arch="x86_64")
    assert v.as_dict() == {"mode": "not_run", "host_arch": "x86_64", "engine": None, "engine_version": None,
                           "note": "no ARM Paddle Lite runtime on this host"}
    assert not v.verified


def test_eval_file_longer_than_max_eval_is_sampled_evenly_not_by_its_head(tmp_path):
    from edgetext_converters.evaluation import build_eval_set

    # a held-out file grouped by label, as test.tsv files often are: the head would hold one class only
    rows = [(f"negative text {i}", "negative") for i in range(300)] + [(f"positive text {i}", "positive")
                                                                       for i in range(300)]
    path = tmp_path / "test.tsv"
    path.write_text("".join(f"{t}\t{label}\n" for t, label in rows), encoding="utf-8")
    ev = build_eval_set(["negative", "positive"], eval_file=path, eval_texts=None, eval_labels=None,
                        calib_texts=None, trim_texts=None, max_eval=100)
    assert len(ev.texts) == 100 and sorted(set(ev.targets.tolist())) == [0, 1]
    assert int(ev.targets.sum()) == 50
    assert "100 of 600 rows evenly spaced" in ev.source
    full = build_eval_set(["negative", "positive"], eval_file=path, eval_texts=None, eval_labels=None,
                          calib_texts=None, trim_texts=None, max_eval=600)
    assert len(full.texts) == 600 and full.source == "eval-file (test.tsv)"
