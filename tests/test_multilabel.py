"""Multi-label classification end to end (issue 11): a small ERNIE-shaped model with 12 independent labels trained
here with Paddle and BCE (tests/support/multilabel_models.py: real reviews and TNEWS titles as 1-2-text messages),
converted with ``--multi-label --tune-thresholds`` to every x86 target, its outputs and per-label decisions
compared with the Paddle model's own logits on held-out messages, thresholds, eval numbers against scikit-learn,
and the wrong uses. The model the project ships as proof (training/multilabel_zh.py) is checked by the slow test.

Models and bundles are built once per machine under .cache/convert_tests (child processes: this process never
loads libpaddle).
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgetext import TextClassifier, verify_bundle
from edgetext.bundle import Bundle
from edgetext.errors import BundleIntegrityError, ConversionError, InvalidInputError, ManifestError
from edgetext.evaluate import evaluate, read_labelled
from support.convert_helpers import ASSETS, CACHE, ROOT, cached_folder, child_env, convert_cli
from support.multilabel_models import cached_multilabel_model
from support.runtime_models import repack
from support.task_bundles import MULTILABEL_ARGS, multilabel_bundle

pytestmark = pytest.mark.skipif(not (ASSETS / "bert-base-chinese" / "vocab.txt").is_file() or
                                not (ASSETS / "tnews" / "train.json").is_file(),
                                reason="needs the assets (make assets)")

SINGLE_BUNDLE = ROOT / "bundles" / "reviews-zh.etb"
FP32_MAX_DIFF = 1e-4  # fp32 files vs the Paddle model's logits: float rounding only
SHIPPED = ROOT / ".cache" / "models" / "multilabel-zh"  # training/multilabel_zh.py's output


@pytest.fixture(scope="module")
def model() -> dict:
    return cached_multilabel_model()


@pytest.fixture(scope="module")
def bundle(model) -> Path:
    """onnx-x86 int8 (the int8 search on per-label decisions) + lite-x86 fp32, thresholds tuned on dev."""
    return multilabel_bundle(model, "tuned", *MULTILABEL_ARGS["tuned"](model))


@pytest.fixture(scope="module")
def fp32_bundle(model) -> Path:
    """onnx-x86 fp32, default thresholds (0.5), gated on the held-out messages."""
    return multilabel_bundle(model, "fp32", *MULTILABEL_ARGS["fp32"](model))


def _rows(path: str) -> tuple[list[str], list[list[str]]]:
    rows = [line.split("\t") for line in Path(path).read_text(encoding="utf-8").splitlines()]
    return [r[0] for r in rows], [[x for x in r[1].split(",") if x] for r in rows]


def _onehot(sets: list[list[str]], labels: list[str]) -> np.ndarray:
    y = np.zeros((len(sets), len(labels)), np.int64)
    for r, names in enumerate(sets):
        y[r, [labels.index(n) for n in names]] = 1
    return y


def _sigmoid(x) -> np.ndarray:
    return 1 / (1 + np.exp(-np.asarray(x, dtype=np.float64)))


def test_the_trained_model_is_multi_label(model):
    texts, sets = _rows(model["test"])
    assert len(texts) == 300 and any(len(s) == 2 for s in sets) and any(len(s) == 1 for s in sets)
    # every label occurs in the held-out messages but finance: the TNEWS sample's test split has no finance title
    assert {n for s in sets for n in s} == set(model["labels"]) - {"finance"}
    assert 0.2 < model["labels_predicted_at_0.5"] < 3  # trained: neither every label nor none


def test_the_manifest_records_multi_label_thresholds_and_their_tuning(model, bundle):
    dev_texts, dev_sets = _rows(model["dev"])
    with Bundle.open(bundle) as b:
        m = b.manifest
        assert m.raw["format_version"] == 3 and m.multi_label and m.labels == tuple(model["labels"])
        t = m.thresholds
        assert t is not None and len(t) == 12 and all(0 <= x <= 1 for x in t) and t != (0.5,) * 12
        tuning = m.threshold_tuning
        assert tuning["method"] == "tuned" and tuning["file"] == "dev.tsv" and tuning["rows"] == len(dev_texts)
        assert tuning["sha256"] == hashlib.sha256(Path(model["dev"]).read_bytes()).hexdigest()
        info = b.info()
        assert info["multi_label"] is True and info["thresholds"] == list(t)
        golden = m.golden
    # tuned on the reference's probabilities: each label's F1 (scikit-learn, on the Paddle model's own dev logits)
    # at its tuned threshold is what the record says and never below its F1 at 0.5
    from sklearn.metrics import f1_score

    probs, truth = _sigmoid(np.load(model["reference_dev"])), _onehot(dev_sets, model["labels"])
    for j, rec in enumerate(tuning["per_label"]):
        at_t = f1_score(truth[:, j], probs[:, j] >= t[j], zero_division=0)
        at_half = f1_score(truth[:, j], probs[:, j] >= 0.5, zero_division=0)
        assert rec["label"] == model["labels"][j] and abs(rec["f1"] - at_t) < 1e-9 and at_t >= at_half - 1e-12
    assert any(rec["f1"] > rec["f1_at_0.5"] for rec in tuning["per_label"])
    # golden entries hold label sets, consistent with their own logits and the thresholds
    assert golden and all(isinstance(g["labels"], list) for g in golden)
    for g in golden:
        p = _sigmoid(g["logits"])
        assert g["labels"] == [model["labels"][j] for j in np.flatnonzero(p >= np.asarray(t))]


@pytest.mark.parametrize("which, file", [("fp32", "model.x86_64.fp32.onnx"), ("tuned", "model.x86_64.int8.onnx"),
                                         ("tuned", "model.x86_64.fp32.nb")])
def test_every_target_decides_as_the_paddle_model_on_held_out_messages(model, bundle, fp32_bundle, which, file):
    texts, _ = _rows(model["test"])
    ref = np.load(model["reference_test"])
    with TextClassifier(fp32_bundle if which == "fp32" else bundle, model=file, threads=1) as clf:
        got = clf.logits(texts, batch_size=16)
        t = np.asarray(clf.thresholds)
        decided = clf.decide(got)
    want = _sigmoid(ref) >= t
    decisions = float((decided == want).mean())
    sets = float((decided == want).all(1).mean())
    if file.endswith(".nb") or which == "fp32":
        assert float(np.abs(got - ref).max()) < FP32_MAX_DIFF, file
        assert decisions == 1.0 and sets == 1.0
    else:  # int8: the gate's floors (per decision 0.99, label sets 0.95) on held-out messages it never saw
        assert decisions >= 0.99 and sets >= 0.95, (decisions, sets)
        assert float(np.abs(_sigmoid(got) - _sigmoid(ref)).max()) < 0.1


def test_classify_returns_every_label_at_or_above_its_threshold(model, bundle):
    texts, _ = _rows(model["test"])
    texts = texts[:60]
    with TextClassifier(bundle, model="model.x86_64.fp32.nb", threads=1) as clf:
        t = clf.thresholds
        probs = clf.scores(texts)
        batch = clf.classify_batch(texts)
        capped = clf.classify_batch(texts, top_k=1)
        everything = clf.classify_batch(texts, score_threshold=0.0)
        nothing = clf.classify(texts[0], score_threshold=1.0)
        one = clf.classify(texts[3])
        d = clf.describe()
    np.testing.assert_allclose(probs, _sigmoid(np.load(model["reference_test"])[:60]), atol=1e-5)
    for p, cats, cap, allc in zip(probs, batch, capped, everything):
        want = sorted((j for j in range(12) if p[j] >= t[j]), key=lambda j: (-p[j], j))
        assert [c.index for c in cats] == want and all(c.label == model["labels"][c.index] for c in cats)
        assert [c.score for c in cats] == [float(p[j]) for j in want]
        assert cap == cats[:1] and len(allc) == 12 and [c.score for c in allc] == sorted(p.tolist(), reverse=True)
    assert any(len(c) == 0 for c in batch) or any(len(c) >= 2 for c in batch)  # sets, not one argmax per text
    assert nothing == [] and [c.label for c in one] == [c.label for c in batch[3]]  # alone: unpadded, same labels
    np.testing.assert_allclose([c.score for c in one], [c.score for c in batch[3]], atol=1e-5)
    assert d["multi_label"] is True and d["thresholds"] == list(t) and d["threshold_tuning"]["method"] == "tuned"
    with TextClassifier(bundle, model="model.x86_64.fp32.nb", threads=1) as clf:
        for bad in (-0.1, 1.5, float("nan"), "0.5", True):
            with pytest.raises((InvalidInputError, TypeError), match="score_threshold"):
                clf.classify("x", score_threshold=bad)


def test_eval_numbers_match_scikit_learn(model, fp32_bundle):
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    texts, sets = _rows(model["test"])
    labels = model["labels"]
    with TextClassifier(fp32_bundle, threads=1) as clf:
        report = evaluate(clf, read_labelled(model["test"], multi_label=True), batch_size=16)
        pred = clf.decide(clf.logits(texts))
    truth = _onehot(sets, labels)
    assert report["multi_label"] is True and report["n_texts"] == 300
    assert abs(report["micro_f1"] - f1_score(truth, pred, average="micro", zero_division=0)) < 1e-12
    # macro-F1 averages the labels that occur in the truth or the predictions (finance may occur in neither)
    seen = [j for j in range(len(labels)) if truth[:, j].any() or pred[:, j].any()]
    assert len(seen) >= 11
    assert abs(report["macro_f1"] - f1_score(truth, pred, labels=seen, average="macro", zero_division=0)) < 1e-12
    assert abs(report["exact_set_accuracy"] - accuracy_score(truth, pred)) < 1e-12
    assert abs(report["decision_accuracy"] - float((truth == pred).mean())) < 1e-12
    p, r, f, s = precision_recall_fscore_support(truth, pred, zero_division=0)
    for j, name in enumerate(labels):
        got = report["per_class"][name]
        assert (abs(got["precision"] - p[j]), abs(got["recall"] - r[j]), abs(got["f1"] - f[j])) < (1e-12,) * 3
        assert got["support"] == s[j]
    assert report["thresholds"] == dict(zip(labels, [0.5] * 12))
    # the converter's gate measured the same micro-F1 on the same file (it gated on it)
    with Bundle.open(fp32_bundle) as b:
        acc = b.manifest.models[0].accuracy
    assert abs(acc["micro_f1"] - report["micro_f1"]) < 0.01 and acc["label_decision_agreement"] == 1.0


def _edgetext(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgetext", *args], input=stdin, capture_output=True, text=True,
                          env=child_env(), cwd=str(ROOT), timeout=300)


def test_cli_classify_info_eval_and_verify(model, bundle):
    texts, _ = _rows(model["test"])
    proc = _edgetext("classify", str(bundle), "--json", "--threads", "1", stdin="".join(t + "\n" for t in texts[:8]))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    with TextClassifier(bundle, threads=1) as clf:
        want = clf.classify_batch(texts[:8])
    assert [o["labels"] for o in out] == [[c.label for c in w] for w in want]
    assert all(o["categories"] == [{"label": c.label, "score": c.score, "index": c.index} for c in w]
               for o, w in zip(out, want))
    info = _edgetext("info", str(bundle))
    assert info.returncode == 0 and "multi-label" in info.stdout and "tuned on dev.tsv" in info.stdout
    assert "thresholds negative" in info.stdout
    ev = _edgetext("eval", str(bundle), "--data", model["test"], "--json", "--threads", "1")
    assert ev.returncode == 0, ev.stderr
    rep = json.loads(ev.stdout)
    assert {"micro_f1", "macro_f1", "exact_set_accuracy", "per_class"} <= set(rep) and rep["n_texts"] == 300
    text = _edgetext("eval", str(bundle), "--data", model["test"], "--limit", "50")
    assert text.returncode == 0 and "micro-F1" in text.stdout and "threshold" in text.stdout
    report = verify_bundle(bundle, predictions=True)
    assert any("golden predictions of model.x86_64.int8.onnx" in c for c in report["checks"])


def test_wrong_usage_is_a_clear_error(model, bundle, tmp_path):
    # a multi-label file to a single-label bundle
    wrong = _edgetext("eval", str(SINGLE_BUNDLE), "--data", model["test"])
    assert wrong.returncode == 1 and "multi-label data, and this bundle has one label per text" in wrong.stderr
    # single-label CLUE rows ("label") to a multi-label bundle, and malformed label sets
    clue = tmp_path / "clue.json"
    clue.write_text(json.dumps({"sentence": "湖人夺冠", "label": "sports"}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r'needs "labels": \[names\].*single "label"'):
        read_labelled(clue, multi_label=True)
    for body, match in [("湖人夺冠\tsports,,positive\n", "empty or non-string label"),
                        ("湖人夺冠\tsports,sports\n", "listed twice")]:
        (tmp_path / "bad.tsv").write_text(body, encoding="utf-8")
        with pytest.raises(InvalidInputError, match=match):
            read_labelled(tmp_path / "bad.tsv", multi_label=True)
    (tmp_path / "unknown.tsv").write_text("湖人夺冠\tsports,cooking\n", encoding="utf-8")
    with TextClassifier(bundle, threads=1) as clf:
        with pytest.raises(InvalidInputError, match="labels not in the bundle: 'cooking'"):
            evaluate(clf, read_labelled(tmp_path / "unknown.tsv", multi_label=True))
        with pytest.raises(InvalidInputError, match="read as single-label data"):
            evaluate(clf, read_labelled(tmp_path / "unknown.tsv"))
    # converting: --tune-thresholds without labelled --eval, or for a single-label model; multi-label --eval rows
    # for a single-label conversion; unknown labels in a multi-label --eval
    with pytest.raises(ConversionError, match="--tune-thresholds needs --eval"):
        from edgetext_converters import ConvertOptions
        ConvertOptions(multi_label=True, tune_thresholds=True)
    proc = convert_cli(model["checkpoint"], "--out", str(tmp_path / "x.etb"), "--targets", "onnx-x86",
                       "--tune-thresholds", "--eval", model["dev"], "--quiet")
    assert proc.returncode == 1 and "--tune-thresholds is for multi-label models" in proc.stderr
    from edgetext_converters.evaluation import build_eval_set

    kw = dict(eval_texts=None, eval_labels=None, calib_texts=None, trim_texts=None, max_eval=100)
    with pytest.raises(ConversionError, match="multi-label data: convert a multi-label model with --multi-label"):
        build_eval_set(model["labels"], eval_file=model["dev"], **kw)
    with pytest.raises(ConversionError, match=r"--eval row 1: labels \['cooking'\] are not among"):
        build_eval_set(model["labels"], eval_file=tmp_path / "unknown.tsv", multi_label=True, **kw)


def test_hostile_or_altered_thresholds_are_refused(bundle, tmp_path):
    def change(**kw):
        def apply(m, folder):
            m.update(kw)
            m.pop("files", None)
        return apply

    for kw, match in [({"thresholds": [0.5] * 11}, "11 thresholds for 12 labels"),
                      ({"thresholds": [0.5] * 11 + [1.01]}, "schema at thresholds/11"),
                      ({"multi_label": "yes"}, "schema at multi_label"),
                      ({"format_version": 2}, "schema")]:
        with pytest.raises(ManifestError, match=match):
            repack(bundle, tmp_path / "bad.etb", change(**kw))
    # re-sealed with other thresholds: the golden label sets no longer hold, refused at load
    altered = repack(bundle, tmp_path / "altered.etb", change(thresholds=[0.999] * 12))
    with pytest.raises(BundleIntegrityError, match="golden predictions differ at load"):
        TextClassifier(altered, threads=1)


def test_a_hugging_face_head_saying_multi_label_is_detected(tmp_path):
    """all-MiniLM-L6-v2 + a BertForSequenceClassification head whose config says problem_type
    multi_label_classification converts as multi-label without the flag, gated against the numpy float64 reference;
    --no-multi-label converts it as softmax, with a note."""
    import shutil

    from edgetext_converters.datasets import tweets
    from support import convert_helpers as H

    if not (ASSETS / "minilm" / "model.safetensors").is_file():
        pytest.skip("needs the MiniLM asset")
    base = Path(H.build_cached("minilm", "--head", "fitted")["folder"])
    test = tweets("test", ASSETS)
    texts = tmp_path / "eval.tsv"  # single labels are label sets of one
    texts.write_text("".join(f"{t}\t{test.labels[y]}\n" for t, y in list(zip(test.texts, test.targets))[:80]),
                     encoding="utf-8")

    def make(tmp: Path) -> dict:
        folder = tmp / "hf"
        shutil.copytree(base, folder)
        cfg = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**cfg, "problem_type": "multi_label_classification"}))
        out = {}
        for name, extra in (("ml", ()), ("single", ("--no-multi-label",))):
            proc = convert_cli(str(folder), "--out", str(tmp / f"{name}.etb"), "--targets", "onnx-x86", "--precision",
                               "fp32", "--eval", str(texts), "--max-length", "64", "--json", "--quiet", *extra)
            assert proc.returncode == 0, proc.stderr[-3000:]
            out[name] = {"bundle": str(tmp / f"{name}.etb"), "report": json.loads(proc.stdout.strip().splitlines()[-1])}
        shutil.rmtree(folder)
        return out

    done = cached_folder(CACHE / f"multilabel-bundle-hf-{base.name}", "convert.json", make)
    ml, single = done["ml"], done["single"]
    row = ml["report"]["targets"]["onnx-x86"]
    assert ml["report"]["source"]["reference"] == "numpy-bert" and ml["report"]["multi_label"]["thresholds"] == [0.5] * 3
    assert row["label_decision_agreement"] == 1.0 and row["max_abs_logit_diff"] < 1e-3 and "micro_f1" in row
    with TextClassifier(ml["bundle"], threads=1) as clf:
        assert clf.multi_label and clf.golden_checked >= 1
    with TextClassifier(single["bundle"], threads=1) as clf:
        assert not clf.multi_label and clf.bundle.manifest.raw["format_version"] == 2
    assert any("converted as single-label" in n for n in single["report"]["notes"])


SHIPPED_TARGETS = "onnx-x86,onnx-arm64,lite-x86,openvino-x86,lite-arm"


def shipped_bundle() -> dict:
    """training/multilabel_zh.py's model converted to every target (thresholds tuned on its dev messages), once."""
    def make(tmp: Path) -> dict:
        tmp.mkdir(parents=True)
        proc = convert_cli(str(SHIPPED / "checkpoint"), "--out", str(tmp / "multilabel-zh.etb"), "--multi-label",
                           "--tune-thresholds", "--eval", str(SHIPPED / "dev.tsv"), "--calib", str(SHIPPED / "dev.txt"),
                           "--targets", SHIPPED_TARGETS, "--max-length", "128", "--json", "--quiet", timeout=3000)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return {"bundle": str(tmp / "multilabel-zh.etb"), "report": json.loads(proc.stdout.strip().splitlines()[-1])}

    key = hashlib.sha256((SHIPPED / "checkpoint" / "model_state.pdparams").read_bytes()
                         + SHIPPED_TARGETS.encode()).hexdigest()[:12]
    return cached_folder(CACHE / f"multilabel-shipped-{key}", "convert.json", make)


@pytest.mark.slow
@pytest.mark.skipif(not (SHIPPED / "checkpoint").is_dir(), reason="needs training/multilabel_zh.py's model")
def test_the_shipped_multilabel_model_through_every_target():
    """Every file that runs here decides the held-out test messages as the Lite fp32 file does (which equals the
    Paddle model within float rounding: test_every_target_decides_as_the_paddle_model_on_held_out_messages), and the
    converter's gate measured each against Paddle Inference on the dev messages."""
    built = shipped_bundle()
    texts, _ = _rows(str(SHIPPED / "test.tsv"))
    for target, row in built["report"]["targets"].items():
        if row.get("label_decision_agreement") is not None:  # ran here (lite-arm cannot)
            assert row["label_decision_agreement"] >= 0.99 and row["label_set_agreement"] >= 0.95, target
    with TextClassifier(built["bundle"], model="model.x86_64.fp32.nb", threads=1) as clf:
        ref = clf.decide(clf.logits(texts))
    from edgetext.backends.registry import why_unavailable

    with Bundle.open(built["bundle"]) as b:  # the aarch64 files: tests/arm under qemu; lite-arm: no runtime here
        runnable = [m.file for m in b.manifest.models if why_unavailable(m) is None]
    assert len(runnable) >= 3
    for file in runnable:
        with TextClassifier(built["bundle"], model=file, threads=1) as clf:
            d = clf.decide(clf.logits(texts))
        assert float((d == ref).mean()) >= 0.99 and float((d == ref).all(1).mean()) >= 0.95, file
