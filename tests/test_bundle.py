"""Well-formed bundles: open, info, verify (checksums, golden ids, golden predictions per model), pack."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from support.runtime_models import repack

import edgetext
from edgetext.bundle import Bundle, pack
from edgetext.errors import BundleIntegrityError


def unpack(etb: Path, dest: Path) -> Path:
    with zipfile.ZipFile(etb) as zf:
        zf.extractall(dest)
    return dest


def test_open_folder_and_archive_alike(ort_bundle, tmp_path):
    folder = pack(unpack(ort_bundle, tmp_path / "src"), tmp_path / "folder")
    with Bundle.open(ort_bundle) as a, edgetext.Bundle.open(folder) as b:
        assert a.manifest.raw == b.manifest.raw
        assert a.read("vocab.txt") == b.read("vocab.txt")
        assert Bundle.open(a) is a
        ia, ib = a.info(), b.info()
        assert (ia["kind"], ib["kind"]) == ("archive", "directory")
        assert ia["labels"] == ["negative", "neutral", "positive"] and ia["max_length"] == 64
        assert {m["precision"] for m in ia["models"]} == {"fp32", "int8"}
        assert "Bundle(" in repr(a)


def test_verify_reports_its_checks(ort_bundle):
    report = Bundle.open(ort_bundle).verify(predictions=True)
    assert report["ok"] and report["skipped"] == []
    assert report["checks"][:3] == ["manifest schema", "sha256 of 3 files", "golden input ids of 7 texts"]
    assert "golden predictions of model.x86_64.int8.onnx" in report["checks"]


def test_verify_skips_models_this_host_cannot_run_and_says_why(ort_bundle, tmp_path):
    def add_arm(m, src):
        (src / "model.aarch64.int8.onnx").write_bytes((src / "model.x86_64.int8.onnx").read_bytes())
        m["models"].append(dict(m["models"][1], file="model.aarch64.int8.onnx", target="aarch64"))

    report = Bundle.open(repack(ort_bundle, tmp_path / "arm.etb", add_arm)).verify(predictions=True)
    assert report["skipped"] == ["model.aarch64.int8.onnx: built for aarch64, this host is x86_64"]


def test_verify_catches_a_wrong_golden_prediction(ort_bundle, tmp_path):
    labels = ["negative", "neutral", "positive"]

    def flip(m, _):
        g = m["golden"][0]
        g["label"] = labels[(labels.index(g["label"]) + 1) % 3]

    b = Bundle.open(repack(ort_bundle, tmp_path / "flipped.etb", flip))
    assert b.verify()["ok"], "ids still agree"
    with pytest.raises(BundleIntegrityError, match=r"model.x86_64.fp32.onnx: golden\[0\] predicts"):
        b.verify(predictions=True)


def test_verify_catches_a_wrong_golden_score(ort_bundle, tmp_path):
    out = repack(ort_bundle, tmp_path / "s.etb",
                 lambda m, _: m["golden"][1].update(score=round(m["golden"][1]["score"] * 0.5, 6)))
    with pytest.raises(BundleIntegrityError, match=r"golden\[1\] score .*tolerance 0.001 for fp32"):
        Bundle.open(out).verify(predictions=True)


def test_pack_in_place_is_idempotent(ort_bundle, tmp_path):
    src = unpack(ort_bundle, tmp_path / "src")
    first = pack(src)
    text = (src / "manifest.json").read_bytes()
    assert Bundle.pack(src) == first and (src / "manifest.json").read_bytes() == text
    assert Bundle.open(src).verify()["ok"]


# -- golden predictions live in edgetext.verify; Bundle.verify(predictions=True) reaches them via edgetext._hooks --
def test_verify_bundle_gives_the_same_report_and_closes_what_it_opened(ort_bundle, monkeypatch):
    from edgetext import verify

    closed = []
    real_close = Bundle.close
    monkeypatch.setattr(Bundle, "close", lambda self: (closed.append(self), real_close(self))[1])
    with Bundle.open(ort_bundle) as b:
        want = b.verify(predictions=True)
        assert edgetext.verify_bundle(b) == want and b.read("vocab.txt"), "a Bundle passed in stays open"
    closed.clear()
    assert verify.verify_bundle(str(ort_bundle)) == want and len(closed) == 1
    ids_only = edgetext.verify_bundle(ort_bundle, predictions=False)
    assert ids_only["checks"] == want["checks"][:4] and ids_only["skipped"] == []


def test_verify_bundle_reports_wrong_golden_predictions(ort_bundle, tmp_path):
    out = repack(ort_bundle, tmp_path / "s.etb",
                 lambda m, _: m["golden"][1].update(score=round(m["golden"][1]["score"] * 0.5, 6)))
    with pytest.raises(BundleIntegrityError, match=r"golden\[1\] score .*tolerance 0.001 for fp32"):
        edgetext.verify_bundle(out)


def test_bundle_verify_uses_the_installed_prediction_check(ort_bundle, monkeypatch):
    from edgetext import _hooks
    from edgetext.errors import EdgeTextError

    seen = []

    def fake(bundle, threads):
        seen.append((bundle, threads))
        return _hooks.PredictionChecks(["fake check"], [], ["m.onnx: fake skip"])

    with Bundle.open(ort_bundle) as b:
        monkeypatch.setattr(_hooks, "prediction_check", fake)
        report = b.verify(predictions=True, threads=2)
        assert report["checks"][-1] == "fake check" and report["skipped"] == ["m.onnx: fake skip"]
        assert seen == [(b, 2)]
        monkeypatch.setattr(_hooks, "prediction_check", None)
        assert b.verify()["ok"], "integrity and golden ids need no prediction check"
        with pytest.raises(EdgeTextError, match=r"edgetext.verify_bundle\(bundle, predictions=True\)"):
            b.verify(predictions=True)
