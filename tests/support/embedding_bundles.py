"""all-MiniLM-L6-v2 (real weights, as it ships: no head) converted to text-embedding bundles, for the
embedding tests (tests/test_convert_embedding.py, tests/test_embedder.py).

``embedding_bundles()`` runs ``edgetext convert minilm --task embedding --targets onnx-x86`` twice in child
processes (int8, the default, and ``--precision fp32``), gated on ``N_EVAL`` held-out English tweets
(the test split of ``edgetext_converters.datasets.tweets``, evenly spaced), and keeps the bundles and
reports in .cache/convert_tests/embedding-<key>: the key hashes the converter and manifest sources, so
an edit there converts again, and a second session (or the second test file) reuses them.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .convert_helpers import ASSETS, CACHE, ROOT, cached_folder, convert_cli

N_EVAL = 240
VERSION = "1"  # bump when what is converted here changes


def _key() -> str:
    h = hashlib.sha256(VERSION.encode())
    for folder in (ROOT / "converters" / "edgetext_converters", ROOT / "sdk" / "edgetext" / "schema"):
        for f in sorted(folder.rglob("*")):
            if f.suffix in (".py", ".json") and "__pycache__" not in f.parts:
                h.update(f.relative_to(ROOT).as_posix().encode() + f.read_bytes())
    h.update((ROOT / "sdk" / "edgetext" / "manifest.py").read_bytes())
    return h.hexdigest()[:16]


def held_out_tweets(n: int = N_EVAL) -> list[str]:
    """``n`` tweets of the test split, evenly spaced (the same texts the bundles were gated on)."""
    from edgetext_converters.datasets import tweets
    from edgetext_converters.evaluation import evenly_spaced

    texts = [t for t in tweets("test", ASSETS).texts if t.strip() and "\n" not in t]
    return [texts[i] for i in evenly_spaced(len(texts), n)]


def embedding_bundles() -> dict:
    """{"int8": {"bundle", "report"}, "fp32": {...}, "eval_file"}; converted once per cache key."""
    return _converted("embedding", {"int8": ("onnx-x86", "int8"), "fp32": ("onnx-x86", "fp32")})


def arm_embedding_bundle() -> dict:
    """{"arm": {"bundle", "report"}, "eval_file"}: int8 for onnx-x86 and onnx-arm64 in one bundle (the ARM suite)."""
    return _converted("embedding-arm", {"arm": ("onnx-x86,onnx-arm64", "int8")})


def _converted(kind: str, variants: dict[str, tuple[str, str]]) -> dict:
    return cached_folder(CACHE / f"{kind}-{_key()}", "bundles.json", lambda tmp: _convert(tmp, variants))


def _convert(tmp: Path, variants: dict[str, tuple[str, str]]) -> dict:
    tmp.mkdir(parents=True)
    eval_file = tmp / "eval.txt"
    eval_file.write_text("".join(t + "\n" for t in held_out_tweets()), encoding="utf-8")
    out: dict = {}
    for name, (targets, precision) in variants.items():
        bundle = tmp / f"minilm-embed-{name}.etb"
        proc = convert_cli(str(ASSETS / "minilm"), "--task", "embedding", "--targets", targets, "--precision",
                           precision, "--eval", str(eval_file), "--out", str(bundle), "--json", "--quiet",
                           "--name", f"minilm-embed-{name}")
        if proc.returncode != 0:
            raise RuntimeError(f"convert ({name}) failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        out[name] = {"bundle": str(bundle), "report": json.loads(proc.stdout.strip().splitlines()[-1])}
    out["eval_file"] = str(eval_file)
    return out
