"""edgetext serve (sdk/edgetext/serving): the real server on 127.0.0.1, classifying with the committed
bundle bundles/reviews-zh.etb through HTTP.

Results are compared bit for bit with the library: every response names the engine call it came from
(``batch``: id, texts, requests, this request's offset), and the texts of that call, run through
``TextClassifier.classify_batch(..., batch_size=--engine-batch)`` in the test process, give exactly the
labels, scores and indices the server returned. No timing thresholds: overload and SIGTERM are made
deterministic with a long --max-wait-ms (the batcher holds accepted requests until shutdown flushes them).
"""
from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")

import edgetext  # noqa: E402
from edgetext.errors import InvalidInputError  # noqa: E402
from edgetext.serving.batcher import DynamicBatcher, QueueFullError, ShuttingDownError  # noqa: E402
from edgetext.serving.config import ServeConfig  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "bundles" / "reviews-zh.etb"
TEXTS = ["这家店的菜很好吃", "太难吃了，再也不来了", "物流很快，包装也很好", "书的质量很差,味道也很大.看一会就眼睛疼",
         "", "还行吧", "服务员态度非常好，环境也干净", "等了一个小时才上菜", "a\x00b", "Hello 世界 😀"]
ENGINE_BATCH = 8  # the server's default --engine-batch: the library's batch_size inside an engine call
LIMITS = ["--max-texts", "8", "--max-text-chars", "200", "--max-body-bytes", "4096"]


class Server:
    """`edgetext serve` in a subprocess on a free port of 127.0.0.1."""

    def __init__(self, *args: str, bundle: Path | str = BUNDLE):
        self.proc = subprocess.Popen([sys.executable, "-m", "edgetext", "serve", str(bundle), "--host", "127.0.0.1",
                                      "--port", "0", "--threads", "1", *args],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._watchdog = threading.Timer(120, self.proc.kill)  # a hung server fails the test, never the run
        self._watchdog.start()
        line = self.proc.stdout.readline()
        if "listening on http://" not in line:
            self.proc.kill()
            raise AssertionError(f"the server did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line.split("listening on ", 1)[1].split()[0]

    def request(self, path: str, body: bytes | dict | None = None, method: str | None = None):
        """(status, headers, parsed JSON or text)."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        req = urllib.request.Request(self.url + path, data=data, method=method or ("POST" if data is not None
                                                                                     else "GET"))
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, headers, raw = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, raw = e.code, e.headers, e.read()
        text = raw.decode("utf-8")
        is_json = headers.get("Content-Type", "").startswith("application/json")
        return status, headers, json.loads(text) if is_json else text

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=60)
        finally:
            self._watchdog.cancel()
        return self.proc.returncode, err


@pytest.fixture(scope="module")
def server():
    s = Server(*LIMITS)
    yield s
    code, err = s.stop()
    assert code == 0, err


@pytest.fixture(scope="module")
def library():
    with edgetext.TextClassifier(BUNDLE, threads=1) as clf:
        yield clf


def _reference(library, texts: list[str], top_k: int, engine_batch: int = ENGINE_BATCH) -> list[list[dict]]:
    return [[c._asdict() for c in cats] for cats in library.classify_batch(texts, top_k=top_k, batch_size=engine_batch)]


def _check_against_library(library, answered: list[tuple[list[str], int, dict]], engine_batch: int = ENGINE_BATCH):
    """Group responses by engine call, rebuild each call's texts from the offsets, compare with the library."""
    calls: dict[int, list[tuple[list[str], int, dict]]] = defaultdict(list)
    for texts, top_k, body in answered:
        calls[body["batch"]["id"]].append((texts, top_k, body))
    for members in calls.values():
        members.sort(key=lambda m: m[2]["batch"]["offset"])
        batch_texts = [t for texts, _, _ in members for t in texts]
        assert all(m[2]["batch"]["texts"] == len(batch_texts) and m[2]["batch"]["requests"] == len(members)
                   for m in members), "every request of an engine call is accounted for"
        for texts, top_k, body in members:
            offset = body["batch"]["offset"]
            expected = _reference(library, batch_texts, top_k, engine_batch)[offset:offset + len(texts)]
            assert body["results"] == expected


def test_classify_returns_what_the_library_returns(server, library):
    status, _, body = server.request("/v1/classify", {"texts": TEXTS[:8], "top_k": 2})
    assert status == 200, body
    assert body["batch"] == {"id": body["batch"]["id"], "texts": 8, "requests": 1, "offset": 0}
    assert body["results"] == _reference(library, TEXTS[:8], 2)
    assert [len(r) for r in body["results"]] == [2] * 8 and body["results"][0][0].keys() == {"label", "score", "index"}
    status, _, one = server.request("/v1/classify", {"text": TEXTS[0]})
    assert status == 200 and one["results"] == [[library.classify(TEXTS[0])[0]._asdict()]]
    status, _, many = server.request("/v1/classify", {"texts": TEXTS[8:], "top_k": 5})  # top_k capped at the labels
    assert status == 200 and many["results"] == _reference(library, TEXTS[8:], 5)


def test_concurrent_requests_equal_the_library_on_their_engine_batch(server, library):
    jobs = [([TEXTS[(i + j) % len(TEXTS)] for j in range(1 + i % 3)], 1 + i % 2) for i in range(48)]

    def send(job):
        texts, top_k = job
        status, _, body = server.request("/v1/classify", {"texts": texts, "top_k": top_k})
        assert status == 200, body
        return texts, top_k, body

    with ThreadPoolExecutor(8) as pool:
        answered = list(pool.map(send, jobs))
    _check_against_library(library, answered)


BAD = [
    (b'{"te', 400, "MalformedRequestError", "not valid JSON"),
    (b"", 400, "MalformedRequestError", "body is empty"),
    (b"[1, 2]", 400, "MalformedRequestError", "not a JSON array"),
    (b"[" * 2000 + b"]" * 2000, 400, "MalformedRequestError", "nested too deeply"),
    (b'{"texts": ["\xff"]}', 400, "MalformedRequestError", "not valid UTF-8"),
    ({"texts": "abc"}, 422, "InputTypeError", 'for one text use "text"'),
    ({"texts": ["ok", 3]}, 422, "InputTypeError", "texts[1] must be a str, not int"),
    ({"texts": [None]}, 422, "InvalidInputError", "texts[0] is None"),
    ({"texts": {"a": 1}}, 422, "InputTypeError", "texts must be a list of str, not dict"),
    ({"text": 5}, 422, "InputTypeError", "text must be a str, not int"),
    ({"text": ["a"]}, 422, "InputTypeError", 'for several texts use "texts"'),
    ({"texts": []}, 422, "InvalidInputError", '"texts" is empty'),
    ({}, 422, "InvalidInputError", 'either "texts"'),
    ({"text": "a", "texts": ["b"]}, 422, "InvalidInputError", 'either "texts"'),
    ({"texts": ["a"], "top_k": 0}, 422, "InvalidInputError", '"top_k" must be >= 1'),
    ({"texts": ["a"], "top_k": "2"}, 422, "InputTypeError", '"top_k" must be an integer, not a JSON string'),
    ({"texts": ["a"], "top_k": True}, 422, "InputTypeError", '"top_k" must be an integer'),
    ({"texts": ["a"], "topk": 2}, 422, "InvalidInputError", "unknown field 'topk'"),
    ({"text": "\ud800x"}, 422, "InvalidInputError", "lone surrogate at index 0"),
    ({"texts": ["a"] * 9}, 413, "PayloadTooLargeError", "at most 8 (--max-texts)"),
    ({"texts": ["ok", "好" * 201]}, 413, "PayloadTooLargeError", "texts[1] has 201 characters"),
    ({"text": "x" * 5000}, 413, "PayloadTooLargeError", "over 4,096 bytes (--max-body-bytes)"),
]


@pytest.mark.parametrize("body,status,kind,message", BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_bad_requests_get_a_4xx_with_the_reason(server, body, status, kind, message):
    got, headers, answer = server.request("/v1/classify", body)
    assert got == status, answer
    assert headers["Content-Type"].startswith("application/json")
    assert answer["error"]["status"] == status and answer["error"]["type"] == kind
    assert message in answer["error"]["message"], answer


def test_a_chunked_body_over_the_limit_gets_413(server):
    import http.client

    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("POST", "/v1/classify", body=iter([b'{"text": "', b"x" * 5000, b'"}']),
                     encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        answer = json.loads(r.read())
    finally:
        conn.close()
    assert r.status == 413 and answer["error"]["type"] == "PayloadTooLargeError"
    assert "--max-body-bytes" in answer["error"]["message"]


def test_unknown_routes_methods_and_embedding(server, library):
    status, _, body = server.request("/v1/classify", method="GET")
    assert status == 405 and "allowed: POST" in body["error"]["message"]
    status, _, body = server.request("/v2/nothing")
    assert status == 404 and body["error"]["status"] == 404
    status, _, body = server.request("/v1/embed", {"texts": ["a"]})
    assert status == 404 and body["error"]["type"] == "UnsupportedTaskError"
    assert "'text-classification', which does not support embedding: use POST /v1/classify" in body["error"]["message"]
    status, _, body = server.request("/v1/classify", {"text": TEXTS[1]})  # still serving after all the errors
    assert status == 200 and body["results"] == [[library.classify(TEXTS[1])[0]._asdict()]]


def test_healthz_describes_the_model(server):
    status, _, body = server.request("/healthz")
    assert status == 200 and body["status"] == "ok"
    assert body["bundle"] == "reviews-zh" and body["task"] == "text-classification"
    assert body["labels"] == ["negative", "positive"] and body["endpoints"] == ["classify"]


def test_metrics_parse_as_prometheus_text(server):
    from prometheus_client.parser import text_string_to_metric_families

    assert server.request("/v1/classify", {"texts": ["好"]})[0] == 200
    assert server.request("/v1/classify", {"texts": [1]})[0] == 422
    status, headers, text = server.request("/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["edgetext_requests"].type == "counter"
    counts = {(s.labels["endpoint"], s.labels["status"]): s.value for s in families["edgetext_requests"].samples
              if s.name == "edgetext_requests_total"}
    assert counts[("/v1/classify", "200")] >= 1 and counts[("/v1/classify", "422")] >= 1
    for name in ("edgetext_batch_texts", "edgetext_batch_requests", "edgetext_request_duration_seconds",
                 "edgetext_engine_duration_seconds"):
        assert families[name].type == "histogram", name
    batch = {s.labels.get("le"): s.value for s in families["edgetext_batch_texts"].samples
             if s.name == "edgetext_batch_texts_bucket"}
    count = next(s.value for s in families["edgetext_batch_texts"].samples if s.name == "edgetext_batch_texts_count")
    assert batch["+Inf"] == count >= 2
    for name in ("edgetext_queue_texts", "edgetext_queue_capacity_texts", "edgetext_requests_in_flight",
                 "edgetext_engine_texts_in_flight"):
        assert families[name].type == "gauge", name
    assert families["edgetext_queue_capacity_texts"].samples[0].value == 512


def _gauge(server: Server, name: str) -> float:
    text = server.request("/metrics")[2]
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith(name + " ")))


def test_overload_gets_503_and_sigterm_answers_the_requests_in_flight(library):
    """A queue of 4 texts held by a 30 s --max-wait-ms: 4 single-text requests are accepted and wait, the next
    ones get 503 + Retry-After at once; SIGTERM then runs the 4 (one engine call), answers them, exits 0."""
    s = Server("--max-batch", "64", "--max-wait-ms", "30000", "--max-queue", "4", "--max-texts", "4",
               "--workers", "1")
    try:
        texts = TEXTS[:4]
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(s.request, "/v1/classify", {"text": t}) for t in texts]
            for _ in range(1200):  # until all 4 are accepted (bounded: the watchdog kills a hung server)
                if _gauge(s, "edgetext_queue_texts") == 4:
                    break
                time.sleep(0.05)
            assert _gauge(s, "edgetext_queue_texts") == 4
            for body in ({"text": "one more"}, {"texts": ["a", "b"]}):
                status, headers, answer = s.request("/v1/classify", body)
                assert status == 503 and answer["error"]["type"] == "QueueFullError", answer
                assert int(headers["Retry-After"]) >= 1 and "the queue is full" in answer["error"]["message"]
            assert s.request("/healthz")[0] == 200
            assert not any(f.done() for f in futures)
            s.proc.send_signal(signal.SIGTERM)
            answered = []
            for t, f in zip(texts, futures):
                status, _, body = f.result(timeout=60)
                assert status == 200, body
                answered.append(([t], 1, body))
    finally:
        code, err = s.stop()
    assert code == 0, err
    assert "shutting down (4 texts accepted" in err
    assert {a[2]["batch"]["requests"] for a in answered} == {4}, "the 4 waiting requests ran as one engine call"
    _check_against_library(library, answered)


def test_embed_returns_what_the_library_returns_for_an_embedding_bundle():
    """all-MiniLM-L6-v2 as a text-embedding bundle (converted once per converter source and cached by
    tests/support/embedding_bundles.py, which tests/test_embedder.py shares: ~1 min when the cache is cold)."""
    from support.embedding_bundles import embedding_bundles

    bundle = embedding_bundles()["int8"]["bundle"]
    texts = ["how do I reset my password", "the flight was delayed again", "I love this phone", "", "ok",
             "what a wonderful day at the beach with friends"]
    s = Server(bundle=bundle)
    try:
        with ThreadPoolExecutor(4) as pool:
            answered = list(pool.map(lambda i: ([texts[i]], s.request("/v1/embed", {"text": texts[i]})),
                                     range(len(texts))))
        status, _, many = s.request("/v1/embed", {"texts": texts})
        wrong = s.request("/v1/classify", {"text": "a"})
        health = s.request("/healthz")[2]
    finally:
        code, err = s.stop()
    assert code == 0, err
    assert status == 200 and many["dim"] == 384 and len(many["embeddings"]) == len(texts)
    assert wrong[0] == 404 and "which does not support classification: use POST /v1/embed" in \
        wrong[2]["error"]["message"]
    assert health["task"] == "text-embedding" and health["endpoints"] == ["embed"] and health["embedding"]["dim"] == 384
    with edgetext.TextEmbedder(bundle, threads=1) as emb:
        assert many["embeddings"] == emb.embed(texts, batch_size=ENGINE_BATCH).tolist()
        calls = defaultdict(list)
        for t, (st, _, body) in answered:
            assert st == 200, body
            calls[body["batch"]["id"]].append((t, body))
        for members in calls.values():
            members.sort(key=lambda m: m[1]["batch"]["offset"])
            rows = emb.embed([t[0] for t, _ in members], batch_size=ENGINE_BATCH).tolist()
            assert [b["embeddings"][0] for _, b in members] == rows


# -- the batcher and the settings, in process ---------------------------------------------------------------
def test_a_failing_request_fails_alone_in_its_batch():
    def run(texts):
        if "bad" in texts:
            raise InvalidInputError("bad text")
        return [t.upper() for t in texts]

    async def main():
        b = DynamicBatcher(run, max_batch=3, max_wait_s=30.0, workers=1, max_queue=8)
        b.start()
        futures = [b.submit([t]) for t in ("a", "bad", "c")]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert b.close(10)
        return results

    a, bad, c = asyncio.run(main())
    assert isinstance(bad, InvalidInputError)
    assert a[0] == ["A"] and c[0] == ["C"] and a[1].requests == 1 and c[1].requests == 1


def test_the_batcher_queue_is_bounded_and_shutdown_flushes_it():
    async def main():
        b = DynamicBatcher(lambda texts: texts, max_batch=64, max_wait_s=30.0, workers=2, max_queue=3)
        b.start()
        first, second = b.submit(["a", "b"]), b.submit(["c"])
        with pytest.raises(QueueFullError, match="3 of 3 texts"):
            b.submit(["d"])
        b.begin_shutdown()
        with pytest.raises(ShuttingDownError):
            b.submit(["e"])
        (rows1, info1), (rows2, info2) = await asyncio.gather(first, second)
        assert b.close(10)
        return rows1, info1, rows2, info2

    rows1, info1, rows2, info2 = asyncio.run(main())
    assert rows1 == ["a", "b"] and rows2 == ["c"] and info1.id == info2.id and (info1.offset, info2.offset) == (0, 2)


@pytest.mark.parametrize("kwargs,message", [({"max_texts": 600}, "more than --max-queue"),
                                            ({"max_wait_ms": -1}, "--max-wait-ms"), ({"port": 70000}, "--port"),
                                            ({"max_batch": 0}, "--max-batch"), ({"threads": 10_000}, "--threads")])
def test_bad_settings_are_refused_by_name(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        ServeConfig("b.etb", **kwargs)


def test_cli_refuses_bad_settings_before_loading(capsys):
    from edgetext import cli

    assert cli.main(["serve", str(BUNDLE), "--max-wait-ms", "-5"]) == 1
    assert "--max-wait-ms must be 0..60000" in capsys.readouterr().err


def test_the_runtime_and_the_cli_do_not_import_the_server_library():
    code = "import sys, edgetext, edgetext.cli; edgetext.cli._build_parser(); print('aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"


def test_serve_without_the_extra_says_what_to_install():
    code = ("import sys; sys.modules['aiohttp'] = None\nfrom edgetext import cli\n"
            f"raise SystemExit(cli.main(['serve', {str(BUNDLE)!r}]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "pip install edgetext[serve]" in out.stderr, out.stderr
