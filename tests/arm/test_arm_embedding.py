"""The all-MiniLM-L6-v2 int8 embedding bundle (onnx-x86 + onnx-arm64) on emulated aarch64 (make test-arm).

The bundle is converted on this host (tests/support/embedding_bundles.py, cached); the aarch64 CPython under
qemu (cortex-a72) verifies it (golden embeddings of the aarch64 file), embeds held-out tweets with
``TextEmbedder``, and the embeddings are compared here with the numpy float64 reference forward pass of the
safetensors: the same cosine bar as the x86 gate (mean >= 0.99). About 2 minutes under emulation.
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

from support.convert_helpers import ASSETS  # noqa: E402
from support.embedding_bundles import arm_embedding_bundle  # noqa: E402

N_TEXTS = 48


def _reference(texts: list[str], ids: list[list[int]]) -> np.ndarray:
    from edgetext.preprocess import pad_rows
    from edgetext_converters.runners import NumpyBert
    from safetensors.numpy import load_file

    cfg = json.loads((ASSETS / "minilm" / "config.json").read_text())
    ref = NumpyBert(load_file(str(ASSETS / "minilm" / "model.safetensors")), cfg,
                    embedding={"pooling": "mean", "normalize": True})
    return np.concatenate([ref.embed(pad_rows(ids[i:i + 16], 0)) for i in range(0, len(ids), 16)])


def test_int8_embeddings_on_aarch64_match_the_float64_reference(arm, aarch64_pkg, tmp_path):
    from edgetext import TextEmbedder
    from edgetext_converters.gate import compare_embeddings

    built = arm_embedding_bundle()
    bundle = built["arm"]["bundle"]
    texts = open(built["eval_file"], encoding="utf-8").read().splitlines()[:N_TEXTS]
    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "arm.npy"
    proc = arm.guest_python(str(HERE / "embed_texts.py"), bundle, str(texts_file), str(out), timeout=1200,
                            check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["machine"] == "aarch64" and report["verify"]["ok"] is True
    assert any("golden predictions of model.aarch64.int8.onnx" in c for c in report["verify"]["checks"])
    assert report["describe"]["model"] == "model.aarch64.int8.onnx"
    assert report["describe"]["embedding"] == {"pooling": "mean", "normalize": True, "dim": 384}
    on_arm = np.load(out)
    assert on_arm.shape == (N_TEXTS, 384) and on_arm.dtype == np.float32
    with TextEmbedder(bundle, threads=1) as emb:
        ids = emb.encode(texts)
    m = compare_embeddings(_reference(texts, ids), on_arm)
    print(f"\naarch64 (emulated) int8 vs float64 reference on {N_TEXTS} held-out tweets: mean cosine "
          f"{m['mean_cosine']:.5f}, min {m['min_cosine']:.4f}, retrieval top-1 {m['retrieval_top1_agreement']:.3f}; "
          f"embed {report['embed_s']:.1f} s under qemu")
    assert m["mean_cosine"] >= 0.99 and m["min_cosine"] >= 0.95, m
