"""edgetext.TextEmbedder and `edgetext embed` on real text-embedding bundles (all-MiniLM-L6-v2, int8 and fp32,
converted once per converter source by tests/support/embedding_bundles.py), and the task checks both ways."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import edgetext
from edgetext import TextClassifier, TextEmbedder
from edgetext.bundle import Bundle, pack
from edgetext.embedder import cosine_similarity
from edgetext.errors import (BundleIntegrityError, EdgeTextError, InputTypeError, InvalidInputError, ManifestError,
                             TaskMismatchError)

from support.convert_helpers import ASSETS, ROOT, child_env
from support.embedding_bundles import embedding_bundles

pytestmark = pytest.mark.skipif(not (ASSETS / "minilm" / "model.safetensors").is_file(),
                                reason="needs the real assets (make assets)")

PAIRS = [("I love driving my car on the weekend", "Driving my car is my favourite weekend activity"),
         ("The stock market fell sharply today", "Shares dropped a lot on Wall Street today")]
UNRELATED = "My cat sleeps on the windowsill all afternoon"


@pytest.fixture(scope="module")
def bundles() -> dict:
    return embedding_bundles()


@pytest.fixture(scope="module")
def int8(bundles):
    with TextEmbedder(bundles["int8"]["bundle"], threads=1) as emb:
        yield emb


@pytest.fixture(scope="module")
def fp32(bundles):
    with TextEmbedder(bundles["fp32"]["bundle"], threads=1) as emb:
        yield emb


def test_embed_shapes_dtypes_and_norms(int8):
    m = int8.embed(["hello world", "a second, longer text about something else entirely", ""])
    assert m.shape == (3, 384) and m.dtype == np.float32
    assert np.allclose(np.linalg.norm(m, axis=1), 1, atol=1e-5)  # normalize: exact unit vectors
    v = int8.embed("hello world")
    assert v.shape == (384,) and v.dtype == np.float32
    assert int8.embed([]).shape == (0, 384)
    assert int8.golden_checked >= 1


def test_rows_come_back_in_the_callers_order(fp32):
    texts = ["short", "a much much longer text than the others, with many words in it", "mid length text"]
    together = fp32.embed(texts, batch_size=2)
    alone = np.stack([fp32.embed(t) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_similarity_ranks_paraphrases_above_unrelated_texts(int8, fp32):
    for emb in (int8, fp32):
        for a, b in PAIRS:
            assert emb.similarity(a, b) > emb.similarity(a, UNRELATED) + 0.2
        v = emb.embed(PAIRS[0][0])
        assert emb.similarity(v, v) == pytest.approx(1.0, abs=1e-6)
        assert emb.similarity(PAIRS[0][0], v) == pytest.approx(1.0, abs=1e-6)
    sims = cosine_similarity(int8.embed([a for a, _ in PAIRS]), int8.embed([b for _, b in PAIRS]))
    assert sims.shape == (2, 2) and (sims.argmax(1) == [0, 1]).all()


def test_int8_agrees_with_fp32_here(int8, fp32):
    texts = open(embedding_bundles()["eval_file"], encoding="utf-8").read().splitlines()[:64]
    cos = (int8.embed(texts) * fp32.embed(texts)).sum(1)
    assert cos.mean() >= 0.985 and cos.min() > 0.9


def test_bad_inputs_are_edgetext_errors(int8):
    with pytest.raises(InputTypeError):
        int8.embed(None)  # type: ignore[arg-type]
    with pytest.raises(InputTypeError):
        int8.embed([b"bytes"])  # type: ignore[list-item]
    with pytest.raises(InputTypeError):
        int8.similarity(int8.embed(["a", "b"]), "c")
    with pytest.raises(InputTypeError):
        cosine_similarity(np.ones(3), np.ones(4))
    with pytest.raises(InvalidInputError):
        int8.embed(["\ud800"])


def test_describe_and_info_show_the_task_and_its_settings(int8, bundles):
    d = int8.describe()
    assert d["task"] == "text-embedding" and "labels" not in d
    assert d["embedding"] == {"pooling": "mean", "normalize": True, "dim": 384}
    assert d["precision"] == "int8" and d["backend"] == "onnxruntime" and d["why"]
    proc = _cli("info", bundles["int8"]["bundle"])
    assert proc.returncode == 0 and "task text-embedding  format v2" in proc.stdout
    assert "embedding  dim 384, mean pooling, normalize True" in proc.stdout
    info = json.loads(_cli("info", bundles["int8"]["bundle"], "--json").stdout)
    assert info["task"] == "text-embedding" and info["embedding"]["dim"] == 384


def test_the_wrong_api_for_a_task_is_a_clear_error(bundles, tiny_bundle):
    with pytest.raises(TaskMismatchError, match="text-embedding bundle.*edgetext.TextEmbedder"):
        TextClassifier(bundles["int8"]["bundle"])
    with pytest.raises(TaskMismatchError, match="text-classification bundle.*edgetext.TextClassifier"):
        TextEmbedder(tiny_bundle)
    assert issubclass(TaskMismatchError, EdgeTextError)
    committed = ROOT / "bundles" / "tweets-en.etb"
    if committed.is_file():  # a committed format_version 1 bundle
        with pytest.raises(TaskMismatchError):
            TextEmbedder(committed)
    proc = _cli("classify", bundles["int8"]["bundle"], "hello")
    assert proc.returncode == 1 and "TextEmbedder" in proc.stderr
    proc = _cli("embed", str(tiny_bundle), "hello")
    assert proc.returncode == 1 and "TextClassifier" in proc.stderr and "Traceback" not in proc.stderr


def test_verify_checks_golden_embeddings(bundles):
    for p in ("int8", "fp32"):
        report = edgetext.verify_bundle(bundles[p]["bundle"])
        assert report["ok"] and any("golden predictions" in c for c in report["checks"])


def _resealed(src: str, tmp_path, edit) -> str:
    """The bundle with its manifest edited (and sealed again, checksums valid)."""
    folder = tmp_path / "b"
    with Bundle.open(src) as b:
        folder.mkdir(parents=True)
        for name in b.manifest.files:
            (folder / name).write_bytes(b.read(name))
        m = dict(b.manifest.raw)
    m.pop("files")
    edit(m)
    (folder / "manifest.json").write_text(json.dumps(m))
    out = tmp_path / "b.etb"
    pack(folder, out)
    shutil.rmtree(folder)
    return str(out)


def test_a_changed_golden_embedding_is_caught_at_load(bundles, tmp_path):
    def flip(m):
        for g in m["golden"]:
            for e in [g, *g["per_model"].values()]:
                e["embedding"] = [-x for x in e["embedding"]]

    path = _resealed(bundles["int8"]["bundle"], tmp_path, flip)
    with pytest.raises(BundleIntegrityError, match="golden embeddings differ"):
        TextEmbedder(path)
    TextEmbedder(path, check_golden=False).close()  # opted out: loads


def test_a_dim_that_is_not_the_models_output_is_refused_at_load(bundles, tmp_path):
    def shrink(m):
        m["embedding"]["dim"] = 383
        m["models"][0]["outputs"][0]["shape"] = [-1, -1]
        m["golden"] = []

    path = _resealed(bundles["int8"]["bundle"], tmp_path, shrink)
    with pytest.raises(ManifestError, match=r"outputs shape \(1, 384\) but the bundle's embedding dim is 383"):
        TextEmbedder(path, check_golden=False)
    with pytest.raises(ManifestError, match="embedding dim is 383"):
        TextEmbedder(path)
    path = _resealed(bundles["int8"]["bundle"], tmp_path / "nogolden", lambda m: m.update(golden=[]))
    with pytest.raises(BundleIntegrityError, match="no golden embeddings"):
        TextEmbedder(path)


# -- edgetext embed ---------------------------------------------------------------------------------------
def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgetext", *args], input=stdin, capture_output=True, text=True,
                          env=child_env(), timeout=300)


def test_cli_embed_json_lines_from_arguments_and_stdin(bundles, int8):
    b = bundles["int8"]["bundle"]
    proc = _cli("embed", b, "hello world", "second text")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["hello world", "second text"]
    assert all(len(r["embedding"]) == 384 for r in rows)
    # the same batch as the CLI's (int8 activations are scaled per batch)
    assert np.allclose([r["embedding"] for r in rows], int8.embed(["hello world", "second text"]), atol=1e-5)
    proc = _cli("embed", b, "--threads", "1", stdin="one\ntwo two\n\nthree\n")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["text"] for line in proc.stdout.splitlines()] == ["one", "two two", "", "three"]


def test_cli_embed_writes_npy(bundles, int8, tmp_path):
    out = tmp_path / "e.npy"
    proc = _cli("embed", bundles["int8"]["bundle"], "--output", str(out), stdin="alpha\nbeta gamma\n")
    assert proc.returncode == 0, proc.stderr
    assert "wrote 2 x 384" in proc.stdout
    arr = np.load(out)
    assert arr.shape == (2, 384) and arr.dtype == np.float32
    assert np.allclose(arr, int8.embed(["alpha", "beta gamma"]), atol=1e-5)
    proc = _cli("embed", bundles["int8"]["bundle"], "x", "--output", str(tmp_path / "e.txt"))
    assert proc.returncode == 2 and "expected a .npy" in proc.stderr


def test_the_semantic_search_sample_finds_a_corpus_text_first(bundles, tmp_path):
    texts = open(bundles["eval_file"], encoding="utf-8").read().splitlines()[:120]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(ROOT / "samples" / "semantic_search.py"), bundles["int8"]["bundle"],
                           texts[7], "self-driving cars", "--corpus", str(corpus), "--json", "--threads", "1"],
                          capture_output=True, text=True, env=child_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "indexed 120 texts" in proc.stderr
    first, second = [json.loads(line) for line in proc.stdout.splitlines()]
    assert first["hits"][0]["text"] == texts[7] and first["hits"][0]["score"] > 0.99
    assert len(second["hits"]) == 3 and second["hits"][0]["score"] >= second["hits"][1]["score"]
    bad = subprocess.run([sys.executable, str(ROOT / "samples" / "semantic_search.py"), str(corpus)],
                         capture_output=True, text=True, env=child_env(), timeout=120)
    assert bad.returncode == 2 and "semantic_search:" in bad.stderr


def test_cli_bench_times_an_embedding_bundle(bundles):
    proc = _cli("bench", bundles["int8"]["bundle"], "--json", "--threads", "1", "--repeat", "1", "--batch-size", "2")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["model"] == "model.x86_64.int8.onnx" and report["texts"] >= 4 and report["latency_ms"]["p50"] > 0
