"""A short soak smoke of samples/soak.py (the full run, >= 1e6 texts, is `make soak`): 20k texts of the real
corpora with hostile inputs interleaved through one classifier in a fresh process, RSS flat after warm-up
within a generous bound, invalid inputs refused with an EdgeTextError and counted, everything else classified."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOAK = ROOT / "samples" / "soak.py"
INVALID = {"lone_surrogate", "bytes", "none"}


def _soak(bundle: Path, out: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    report = out / "soak.json"
    proc = subprocess.run([sys.executable, str(SOAK), str(bundle), "--report", str(report), *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    return proc, (json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {})


@pytest.mark.parametrize("backend", ["onnxruntime", "paddlelite"])
def test_soak_smoke_rss_flat_and_hostile_inputs_counted(tiny_bundle, tmp_path, backend):
    proc, rep = _soak(tiny_bundle, tmp_path, "--backend", backend, "--texts", "20000", "--sample-every", "1000",
                      "--hostile-every", "47", "--max-growth-mb", "24", "--plot", str(tmp_path / "rss.png"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert rep["ok"] and rep["texts"] == 20000 and rep["backend"] == backend
    assert rep["rss_mb"]["growth_after_warmup"] <= 24
    assert rep["canary_changed"] == 0 and rep["mishandled"] == []
    outcomes = rep["outcomes"]
    kinds = set(outcomes) - {"corpus"}
    assert len(kinds) == 11, kinds  # every hostile kind came round (20000 / 47 = 425 hostile inputs)
    for kind, counts in outcomes.items():
        if kind in INVALID:
            assert counts["classified"] == 0 and counts["refused"] > 0, (kind, counts)
        else:
            assert counts["refused"] == 0 and counts["classified"] > 0, (kind, counts)
    assert "lone surrogate" in rep["error_examples"]["lone_surrogate"]
    assert (tmp_path / "rss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_soak_fails_when_rss_grows_beyond_the_bound(ort_bundle, tmp_path):
    """The bound is enforced: a bound of -1 MiB cannot hold, so the run exits 1 and says why."""
    proc, rep = _soak(ort_bundle, tmp_path, "--texts", "600", "--sample-every", "100", "--max-growth-mb", "-1")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert rep["ok"] is False and "RSS grew" in proc.stderr


def test_soak_refuses_a_bad_bundle(tmp_path):
    bad = tmp_path / "bad.etb"
    bad.write_bytes(b"not a zip")
    proc, _ = _soak(bad, tmp_path, "--texts", "10")
    assert proc.returncode == 2 and "soak: error:" in proc.stderr
