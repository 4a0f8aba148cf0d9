"""Multi-label and text-pair bundles (onnx-x86 + onnx-arm64, int8) on emulated aarch64 (make test-arm).

The small multi-label and pair models of tests/support (trained in a child process, cached) are converted on this
host; the aarch64 CPython under qemu verifies each bundle (the golden logits of the aarch64 file, on the ARM
kernels), classifies the held-out rows with ``TextClassifier`` and prints the raw logits. They are judged here
against the training framework's (Paddle) logits with the gate's own floors, as the x86 files are in
tests/test_multilabel.py and tests/test_pairs.py: multi-label, per-label decisions >= 0.99 and whole label sets
>= 0.95; pairs, top-1 agreement >= 0.99. A few minutes under emulation.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.arm

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.multilabel_models import cached_multilabel_model  # noqa: E402
from support.pair_models import cached_pair_model  # noqa: E402
from support.task_bundles import multilabel_bundle, pair_bundle, tsv_rows  # noqa: E402

ARM = ("--targets", "onnx-x86,onnx-arm64")


def _on_aarch64(arm, bundle: Path, tmp_path: Path, texts: list[str], pairs: list[str] | None = None) -> dict:
    (tmp_path / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    args = [str(HERE / "classify_texts.py"), str(bundle), str(tmp_path / "texts.json")]
    if pairs is not None:
        (tmp_path / "pairs.json").write_text(json.dumps(pairs, ensure_ascii=False), encoding="utf-8")
        args.append(str(tmp_path / "pairs.json"))
    proc = arm.guest_python(*args, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    assert got["machine"] == "aarch64" and got["verify"]["ok"] is True, got["verify"]
    assert got["describe"]["model"] == "model.aarch64.int8.onnx"
    return got


def test_multi_label_bundle_on_aarch64_decides_as_paddle(arm, aarch64_pkg, tmp_path):
    model = cached_multilabel_model()
    bundle = multilabel_bundle(model, "arm", *ARM, "--eval", model["dev"], "--calib", model["calib"],
                               "--tune-thresholds")
    texts = [r[0] for r in tsv_rows(model["test"])]
    got = _on_aarch64(arm, bundle, tmp_path, texts)
    thresholds = np.asarray(got["describe"]["thresholds"])
    decided = 1 / (1 + np.exp(-np.asarray(got["logits"]))) >= thresholds
    want = 1 / (1 + np.exp(-np.load(model["reference_test"]))) >= thresholds
    decisions, sets = float((decided == want).mean()), float((decided == want).all(1).mean())
    assert decisions >= 0.99 and sets >= 0.95, (decisions, sets)
    # classify_batch's label sets are exactly the decisions of those logits, best first
    labels = model["labels"]
    assert [sorted(c[0] for c in cats) for cats in got["batch"]] == \
        [sorted(labels[j] for j in np.flatnonzero(row)) for row in decided]


def test_text_pair_bundle_on_aarch64_agrees_with_paddle(arm, aarch64_pkg, tmp_path):
    model = cached_pair_model()
    bundle = pair_bundle(model, "arm", *ARM, "--calib", model["dev"])
    rows = tsv_rows(model["test"])
    got = _on_aarch64(arm, bundle, tmp_path, [r[0] for r in rows], [r[1] for r in rows])
    logits, ref = np.asarray(got["logits"]), np.load(model["reference"])
    agreement = float((logits.argmax(1) == ref.argmax(1)).mean())
    assert agreement >= 0.99, agreement
    assert [cats[0][2] for cats in got["batch"]] == logits.argmax(1).tolist()
