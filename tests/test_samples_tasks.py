"""samples/tag_messages.py (multi-label tagging) and samples/match_pairs.py (text pairs) run as a user runs them, in
child processes, on the small bundles tests/test_multilabel.py and tests/test_pairs.py build (cached once per
machine): every output line equals ``TextClassifier.classify_batch`` on the same micro-batch, the labels are the
bundle's, the reports count what was written, and the wrong bundle or input exits 2 with the reason.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import edgetext
from support import task_bundles
from support.convert_helpers import ASSETS, ROOT, child_env

pytestmark = pytest.mark.skipif(not (ASSETS / "bert-base-chinese" / "vocab.txt").is_file() or
                                not (ASSETS / "tnews" / "train.json").is_file(),
                                reason="needs the assets (make assets)")
SINGLE = ROOT / "bundles" / "reviews-zh.etb"
BATCH = 8


def _multilabel() -> tuple[Path, list[str]]:
    """The tuned multi-label bundle (int8, per-label thresholds) and its held-out messages."""
    return task_bundles.multilabel("tuned")


def _pairs() -> tuple[Path, list[list[str]]]:
    """The fp32 text-pair bundle and its held-out [text, pair, label] rows."""
    return task_bundles.pairs("fp32")


def _sample(name: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "samples" / name), *args], input=stdin, capture_output=True,
                          text=True, env=child_env(), timeout=300)


def _report(stderr: str) -> dict:
    return json.loads(stderr.strip().splitlines()[-1])["report"]


def _by_batch(clf, texts: list[str], **kw) -> list[list[dict]]:
    """The library on the sample's micro-batches of BATCH consecutive lines."""
    out = []
    for a in range(0, len(texts), BATCH):
        out += clf.classify_batch(texts[a:a + BATCH], batch_size=BATCH, **kw)
    return [[c._asdict() for c in cats] for cats in out]


def test_tag_messages_gives_every_label_above_its_threshold(tmp_path: Path):
    bundle, texts = _multilabel()
    texts = texts[:40]
    inp = tmp_path / "messages.txt"
    inp.write_text(texts[0] + "\n\n" + "\n".join(texts[1:]) + "\n", encoding="utf-8")  # a blank line is skipped
    proc = _sample("tag_messages.py", str(bundle), "--input", str(inp), "--batch-size", str(BATCH), "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    with edgetext.TextClassifier(bundle, threads=1) as clf:
        want = _by_batch(clf, texts)
        capped = _by_batch(clf, texts, top_k=2)
        lowered = _by_batch(clf, texts, score_threshold=0.3)
        labels = set(clf.labels)
    assert [r["text"] for r in rows] == texts and [r["line"] for r in rows] == [1] + list(range(3, 42))
    assert [r["tags"] for r in rows] == want
    assert {t["label"] for r in rows for t in r["tags"]} <= labels and max(len(r["tags"]) for r in rows) >= 3
    report = _report(proc.stderr)
    assert report["messages"] == 40 and report["batches"] == 5
    assert report["untagged"] == sum(not w for w in want)
    assert report["tags"] == dict(Counter(t["label"] for w in want for t in w))
    # --top-k and --threshold: classify_batch's top_k and score_threshold; stdin when there is no --input
    proc = _sample("tag_messages.py", str(bundle), "--top-k", "2", "--batch-size", str(BATCH), "--threads", "1",
                   stdin="\n".join(texts) + "\n")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["tags"] for line in proc.stdout.splitlines()] == capped
    proc = _sample("tag_messages.py", str(bundle), "--threshold", "0.3", "--batch-size", str(BATCH), "--input", str(inp))
    assert [json.loads(line)["tags"] for line in proc.stdout.splitlines()] == lowered and lowered != want
    bad = _sample("tag_messages.py", str(SINGLE), stdin="x\n")
    assert bad.returncode == 2 and "tag_messages: EdgeTextError" in bad.stderr and "is single-label" in bad.stderr
    bad = _sample("tag_messages.py", str(bundle), "--threshold", "2", stdin="x\n")
    assert bad.returncode == 2 and "score_threshold must be within [0, 1]" in bad.stderr


def test_match_pairs_scores_each_pair_and_reports_accuracy(tmp_path: Path):
    bundle, rows = _pairs()
    rows = rows[:30]
    inp = tmp_path / "pairs.tsv"
    inp.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    proc = _sample("match_pairs.py", str(bundle), "--input", str(inp), "--top-k", "2", "--batch-size", str(BATCH),
                   "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    texts, pairs = [r[0] for r in rows], [r[1] for r in rows]
    with edgetext.TextClassifier(bundle, threads=1) as clf:
        want = [[c._asdict() for c in cats] for a in range(0, len(rows), BATCH)
                for cats in clf.classify_batch(texts[a:a + BATCH], top_k=2, batch_size=BATCH,
                                               text_pairs=pairs[a:a + BATCH])]
        labels = list(clf.labels)
    assert [(o["line"], o["text"], o["pair"], o["expected"]) for o in out] == \
        [(i + 1, *r) for i, r in enumerate(rows)]
    assert [o["labels"] for o in out] == want
    assert all(sorted(c["label"] for c in o["labels"]) == sorted(labels) for o in out)  # both of the 2 labels
    report = _report(proc.stderr)
    correct = sum(w[0]["label"] == r[2] for w, r in zip(want, rows))
    assert report["pairs"] == 30 and report["labelled"] == 30 and report["accuracy"] == round(correct / 30, 4)
    assert report["accuracy"] > 0.6  # the small model does learn the task
    # stdin, two columns (no expected label): no accuracy in the report
    proc = _sample("match_pairs.py", str(bundle), "--batch-size", str(BATCH), "--threads", "1",
                   stdin="".join(f"{a}\t{b}\n" for a, b in zip(texts[:BATCH], pairs[:BATCH])))
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["labels"] for line in proc.stdout.splitlines()] == [w[:1] for w in want[:BATCH]]
    assert "accuracy" not in _report(proc.stderr)
    bad = _sample("match_pairs.py", str(SINGLE), stdin="a\tb\n")
    assert bad.returncode == 2 and "classifies single texts, not pairs" in bad.stderr
    bad = _sample("match_pairs.py", str(bundle), stdin="a\tb\nno tab here\n")
    assert bad.returncode == 2 and "line 2 has 1 tab-separated columns" in bad.stderr
