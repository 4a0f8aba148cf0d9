"""``convert()``: read -> passes -> write targets -> gate -> golden vectors -> pack.

    from edgetext_converters import convert
    report = convert("ckpt/", "reviews.etb", targets=["onnx-x86", "lite-x86"], eval_file="test.tsv")

Targets (default precision first)::

    onnx-x86    onnxruntime x86_64   int8 (dynamic, reduce_range=True: non-VNNI safe) | fp32 | fp16
    onnx-arm64  onnxruntime aarch64  int8 (dynamic, reduce_range=False) | fp32 | fp16
    onnx-cuda   onnxruntime cuda     fp16 | fp32        (verified only where CUDA ran it: not here)
    lite-x86    paddlelite  x86_64   fp32 only          (FACTS: Lite int8 is wrong on x86)
    lite-arm    paddlelite  aarch64  int8 | fp32        (opt on the host; cannot run here: verified=false)
"""
from __future__ import annotations

import zlib  # noqa: F401  (before paddle: FACTS.md)

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edgetext.errors import AccuracyGateError, ConversionError

from . import gate as gate_mod
from .description import ModelDescription, TokenizerAssets, pad_batch

TARGETS: dict[str, dict[str, Any]] = {
    "onnx-x86": {"kind": "onnx", "backend": "onnxruntime", "target": "x86_64", "default": "int8",
                 "allowed": ("int8", "fp32", "fp16"), "reduce_range": True},
    "onnx-arm64": {"kind": "onnx", "backend": "onnxruntime", "target": "aarch64", "default": "int8",
                   "allowed": ("int8", "fp32", "fp16"), "reduce_range": False},
    "onnx-cuda": {"kind": "onnx", "backend": "onnxruntime", "target": "cuda", "default": "fp16",
                  "allowed": ("fp16", "fp32")},
    "lite-x86": {"kind": "lite", "backend": "paddlelite", "target": "x86_64", "default": "fp32",
                 "allowed": ("fp32",), "place": "x86"},
    "lite-arm": {"kind": "lite", "backend": "paddlelite", "target": "aarch64", "default": "int8",
                 "allowed": ("int8", "fp32"), "place": "arm"},
}
DEFAULT_TARGETS = ("onnx-x86", "onnx-arm64", "lite-x86", "lite-arm")
BUILTIN_EVAL = [
    "这家店的菜很好吃，服务也很周到。", "房间太小了，隔音很差，不会再来。", "物流很快，包装完好。", "差评",
    "The food was great and the staff were friendly.", "Terrible service, I will never come back.",
    "It was okay, nothing special.", "Hello world!", "",
]
BATCH = 32
N_GOLDEN = 6


def parse_targets(targets: str | Sequence[str] | None) -> list[str]:
    if targets is None:
        return list(DEFAULT_TARGETS)
    if isinstance(targets, str):
        targets = [t for t in targets.split(",")]
    out = []
    for t in targets:
        t = t.strip()
        if not t:
            continue
        if t not in TARGETS:
            raise ConversionError(f"unknown target {t!r}; choose from {', '.join(TARGETS)}")
        if t not in out:
            out.append(t)
    if not out:
        raise ConversionError("no targets given")
    return out


def target_precision(target: str, precision: str | None) -> str:
    spec = TARGETS[target]
    p = precision or spec["default"]
    if p not in ("int8", "fp16", "fp32"):
        raise ConversionError(f"unknown precision {p!r}; choose int8, fp16 or fp32")
    if p not in spec["allowed"]:
        why = {"lite-x86": " (Paddle Lite int8 gives NaN/garbage on x86: use onnx-x86 for int8)"}.get(target, "")
        raise ConversionError(f"{target} supports {', '.join(spec['allowed'])}, not {p}{why}")
    return p


# ----------------------------------------------------------------------------- inputs
def read_lines(path: str | os.PathLike, what: str) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise ConversionError(f"{what} file {path} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConversionError(f"{what} file {path} is not UTF-8: {e}") from None
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def read_eval_tsv(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for n, line in enumerate(read_lines(path, "--eval"), 1):
        if "\t" not in line:
            raise ConversionError(f"--eval {path}:{n}: expected text<TAB>label")
        text, label = line.rsplit("\t", 1)
        texts.append(text)
        labels.append(label.strip())
    if not texts:
        raise ConversionError(f"--eval file {path} has no rows")
    return texts, labels


def read_labels_file(path: str | os.PathLike) -> list[str]:
    p = Path(path)
    if p.suffix == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConversionError(f"--labels-file {path}: {e}") from None
        if isinstance(data, dict):  # id2label
            data = [data[k] for k in sorted(data, key=lambda k: int(k))]
        if not isinstance(data, list):
            raise ConversionError(f"--labels-file {path}: expected a JSON list or id2label object")
        return [str(x) for x in data]
    return read_lines(path, "--labels-file")


# ----------------------------------------------------------------------------- evaluation
@dataclass
class EvalSet:
    texts: list[str]
    targets: np.ndarray | None
    source: str
    ref_ids: list[list[int]] = field(default_factory=list)
    new_ids: list[list[int]] = field(default_factory=list)
    order: list[list[int]] = field(default_factory=list)  # batches of text indices
    graph_logits: np.ndarray | None = None  # fp32 logits of the model after the passes

    def batches(self, which: str, pad_id: int) -> list[dict[str, np.ndarray]]:
        ids = self.ref_ids if which == "ref" else self.new_ids
        return [pad_batch([ids[i] for i in idx], pad_id) for idx in self.order]

    def gather(self, outs: list[np.ndarray]) -> np.ndarray:
        n = len(self.texts)
        c = outs[0].shape[-1] if outs and outs[0].ndim == 2 else 1
        res = np.full((n, c), np.nan, dtype=np.float32)
        for idx, o in zip(self.order, outs):
            o = np.asarray(o)
            if o.ndim != 2 or o.shape[0] != len(idx) or o.shape[1] != c:
                raise ConversionError(f"model output has shape {list(o.shape)}, expected [{len(idx)}, {c}]")
            res[idx] = o
        return res


def make_batches(lengths: Sequence[int], batch: int = BATCH) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[i:i + batch] for i in range(0, len(order), batch)]


def run_batches(runner: Callable, batches: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    if hasattr(runner, "run_many"):
        return runner.run_many(batches)
    return [runner(b) for b in batches]


# ----------------------------------------------------------------------------- progress
class _Progress:
    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc="convert", unit="stage", leave=False, dynamic_ncols=True)
            except ImportError:
                self.bar = None
        self.times: dict[str, float] = {}
        self._t = time.perf_counter()
        self._stage = ""

    def stage(self, name: str) -> None:
        now = time.perf_counter()
        if self._stage:
            self.times[self._stage] = round(now - self._t, 3)
            if self.bar is not None:
                self.bar.update(1)
        self._stage, self._t = name, now
        if self.bar is not None and name:
            self.bar.set_description(name)

    def close(self) -> None:
        self.stage("")
        if self.bar is not None:
            self.bar.close()


# ----------------------------------------------------------------------------- convert
def convert(src: str | os.PathLike, out: str | os.PathLike, *, targets: str | Sequence[str] | None = None,
            precision: str | None = None, labels: Sequence[str] | None = None,
            calib: str | os.PathLike | Sequence[str] | None = None,
            eval_file: str | os.PathLike | None = None, eval_texts: Sequence[str] | None = None,
            eval_labels: Sequence[str] | None = None,
            trim_vocab: str | os.PathLike | Sequence[str] | None = None, min_freq: int = 1,
            max_length: int | None = None, max_accuracy_drop: float = 1.0, min_agreement: float = 0.95,
            allow_accuracy_drop: bool = False, name: str | None = None, static_quant: bool | None = None,
            max_eval: int = 2000, progress: bool = True, workdir: str | os.PathLike | None = None,
            keep_workdir: bool = False) -> dict:
    """Convert ``src`` into the bundle ``out`` (a folder, or a ``.etb`` archive); return the report.

    Raises ConversionError (unreadable input, unsupported model, bad options) or
    AccuracyGateError (a target lost too much accuracy; nothing is written then).
    """
    from . import passes, readers

    tlist = parse_targets(targets)
    precisions = {t: target_precision(t, precision) for t in tlist}
    if max_length is not None and (not isinstance(max_length, int) or max_length < 2):
        raise ConversionError(f"max_length must be an integer >= 2, got {max_length!r}")
    if not (0 <= min_agreement <= 1):
        raise ConversionError(f"min_agreement must be within [0, 1], got {min_agreement}")
    if max_accuracy_drop < 0:
        raise ConversionError(f"max_accuracy_drop must be >= 0, got {max_accuracy_drop}")
    out = Path(out)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())) and out.suffix != ".etb":
        raise ConversionError(f"--out {out} exists and is not an empty folder")
    gcfg = gate_mod.GateConfig(max_accuracy_drop=max_accuracy_drop, min_agreement=min_agreement,
                               allow_accuracy_drop=allow_accuracy_drop)
    calib_texts = _texts_arg(calib, "--calib")
    trim_texts = _texts_arg(trim_vocab, "--trim-vocab")

    stages = 4 + len(tlist)
    prog = _Progress(stages, progress)
    tmp_owner = None
    if workdir is None:
        tmp_owner = tempfile.TemporaryDirectory(prefix="edgetext-convert-")
        work = Path(tmp_owner.name)
    else:
        work = Path(workdir)
        work.mkdir(parents=True, exist_ok=True)
    try:
        # ------------------------------------------------------------------ read
        prog.stage("read")
        desc = readers.read(src, labels=list(labels) if labels is not None else None)
        ref_tok: TokenizerAssets = desc.tokenizer
        ref_runner = _reference_runner(desc, work)
        passes.normalize_io(passes.lower_to_graph(desc))
        if ref_runner is None:  # Paddle inputs: Paddle Inference on the untouched (lowered) graph
            from .paddle_graph import save_graph
            from .runners import PaddleInferenceRunner

            mf, pf = save_graph(desc.graph, work / "reference" / "model")
            ref_runner = PaddleInferenceRunner(mf, pf)
        positions = passes.position_count(desc)
        if max_length is None:
            max_length = min(x for x in (ref_tok.model_max_length or 512, positions or 512, 512) if x)
        if positions is not None and max_length > positions:
            raise ConversionError(f"--max-length {max_length} exceeds the model's {positions} position embeddings")

        # ---------------------------------------------------------------- eval set
        ev = _eval_set(desc, eval_file, eval_texts, eval_labels, calib_texts, trim_texts, max_eval)
        ref_enc = ref_tok.encoder()
        ev.ref_ids = ref_enc.encode_batch(ev.texts, max_length)

        # ------------------------------------------------------------------ passes
        prog.stage("passes")
        trim = None
        if trim_texts is not None:
            trim = passes.trim_vocab(desc, trim_texts, min_freq=min_freq)
        passes.trim_positions(desc, max_length)
        new_enc = desc.tokenizer.encoder() if trim is not None else ref_enc
        ev.new_ids = new_enc.encode_batch(ev.texts, max_length) if trim is not None else ev.ref_ids
        ev.order = make_batches([len(x) for x in ev.ref_ids])
        ref_batches = ev.batches("ref", ref_tok.pad_id)
        new_batches = ev.batches("new", desc.tokenizer.pad_id)
        ref_logits = ev.gather(run_batches(ref_runner, ref_batches))
        if not np.all(np.isfinite(ref_logits)):
            raise ConversionError("the reference model itself outputs NaN/Inf on the evaluation texts")

        from .paddle_graph import save_graph
        from .runners import PaddleInferenceRunner

        g_model, g_params = save_graph(desc.graph, work / "graph" / "model")
        graph_logits = ev.gather(run_batches(PaddleInferenceRunner(g_model, g_params), new_batches))
        graph_metrics = gate_mod.compare(ref_logits, graph_logits, ev.targets)
        ev.graph_logits = graph_logits
        gate_mod.check("the model after passes" + (" (vocabulary trimming)" if trim_texts else ""), graph_metrics,
                       "fp32" if trim_texts is None else "trimmed", gcfg)
        trim_report = None
        if trim is not None:
            covered = [i for i, ids in enumerate(ev.ref_ids) if all(trim.old_to_new[t] >= 0 for t in ids)]
            trim_report = trim.as_dict()
            trim_report["eval_texts_covered"] = len(covered)
            if covered:
                cm = gate_mod.compare(ref_logits[covered], graph_logits[covered])
                same_ids = all([int(trim.old_to_new[t]) for t in ev.ref_ids[i]] == ev.new_ids[i] for i in covered)
                trim_report.update({"covered_max_abs_logit_diff": cm["max_abs_logit_diff"],
                                    "covered_top1_agreement": cm["top1_agreement"],
                                    "covered_ids_identical": bool(same_ids)})
                if not same_ids or cm["top1_agreement"] < 1.0 or cm["max_abs_logit_diff"] > 1e-3 * max(
                        1.0, cm["reference_max_abs_logit"]):
                    raise ConversionError("vocabulary trimming changed predictions on covered texts (a bug): "
                                          f"{cm['max_abs_logit_diff']:.3g} max |logit diff|, ids identical: "
                                          f"{same_ids}")

        # ------------------------------------------------------------------ targets
        bundle_dir = work / "bundle"
        bundle_dir.mkdir(parents=True, exist_ok=True)
        lite_graph_files = None
        models: list[dict] = []
        target_reports: dict[str, dict] = {}
        per_target_logits: dict[str, np.ndarray] = {}
        onnx_fp32 = None
        for t in tlist:
            prog.stage(f"{t} ({precisions[t]})")
            spec = TARGETS[t]
            p = precisions[t]
            fname = f"model.{spec['target']}.{p}.{'onnx' if spec['kind'] == 'onnx' else 'nb'}"
            if spec["kind"] == "onnx":
                if onnx_fp32 is None:
                    from .onnx_writer import paddle_to_onnx

                    onnx_fp32 = paddle_to_onnx(g_model, g_params, work / "onnx" / "model.fp32.onnx")
                entry, rep, logits = _write_onnx_target(t, spec, p, onnx_fp32, bundle_dir / fname, work, ev,
                                                        new_batches, ref_logits, gcfg, calib_texts, desc,
                                                        max_length, static_quant)
            else:
                if lite_graph_files is None:
                    lite_graph, n_fixed = passes.repair_for_lite(desc.graph)
                    if n_fixed:
                        desc.passes.append(f"repair_for_lite: {n_fixed} scalar fill_constant -> shape [1]")
                    lite_graph_files = save_graph(lite_graph, work / "lite_graph" / "model")
                entry, rep, logits = _write_lite_target(t, spec, p, lite_graph_files, bundle_dir / fname, ev,
                                                        new_batches, ref_logits, gcfg, desc)
            entry["file"] = fname
            models.append(entry)
            target_reports[t] = rep
            if logits is not None:
                per_target_logits[fname] = logits

        # ------------------------------------------------------------------ golden + pack
        prog.stage("golden+pack")
        labels_out = list(desc.labels)
        golden = _golden(ev, ref_logits, per_target_logits, labels_out, desc.tokenizer, max_length)
        (bundle_dir / "vocab.txt").write_bytes(desc.tokenizer.vocab_bytes())
        sizes = {t: round(target_reports[t]["size_bytes"] / 1e6, 3) for t in tlist}
        report = {
            "source": {"kind": desc.source_kind, "path": str(src), "size_bytes": desc.source_size,
                       "size_mb": round(desc.source_size / 1e6, 3), "reference": desc.reference_name},
            "labels": labels_out,
            "max_length": max_length,
            "positions_before": positions,
            "tokenizer": {"vocab_before": ref_tok.vocab_size, "vocab_after": desc.tokenizer.vocab_size,
                          "encoder": ref_enc.kind},
            "trim": trim_report,
            "passes": list(desc.passes),
            "notes": list(desc.notes),
            "eval": {"n_texts": len(ev.texts), "source": ev.source, "labelled": ev.targets is not None,
                     "reference_accuracy": graph_metrics.get("reference_accuracy")},
            "graph_after_passes": _clean(graph_metrics),
            "targets": target_reports,
            "sizes_mb": sizes,
        }
        manifest = {
            "format": "edgetext-bundle", "format_version": 1,
            "name": name or Path(str(src)).name or "model", "task": "text-classification",
            "created_by": _created_by(),
            "labels": labels_out,
            "tokenizer": desc.tokenizer.manifest_dict(max_length),
            "models": models,
            "golden": golden,
            "report": _clean(report),
        }
        (bundle_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1),
                                                  encoding="utf-8")
        prog.close()
        report["timings_s"] = dict(prog.times)
        result = _pack(bundle_dir, out)
        report["bundle"] = str(result)
        report["bundle_size_mb"] = round(_tree_size(result) / 1e6, 3)
        return _clean(report)
    finally:
        if prog.bar is not None:
            prog.bar.close()
        if tmp_owner is not None and not keep_workdir:
            tmp_owner.cleanup()


# ----------------------------------------------------------------------------- helpers
def _texts_arg(arg, what: str) -> list[str] | None:
    if arg is None:
        return None
    if isinstance(arg, (str, os.PathLike)):
        texts = read_lines(arg, what)
    else:
        texts = [str(t) for t in arg]
    if not texts:
        raise ConversionError(f"{what}: no texts")
    return texts


def _reference_runner(desc: ModelDescription, work: Path):
    if desc.source_kind == "hf-bert":
        from .runners import NumpyBert

        return NumpyBert(desc.hf_weights, desc.hf_config)
    return None


def _eval_set(desc, eval_file, eval_texts, eval_labels, calib_texts, trim_texts, max_eval) -> EvalSet:
    targets = None
    if eval_file is not None:
        texts, names = read_eval_tsv(eval_file)
        source = f"eval-file ({Path(str(eval_file)).name})"
    elif eval_texts is not None:
        texts, names = list(eval_texts), (list(eval_labels) if eval_labels is not None else None)
        source = "eval-texts"
    elif calib_texts:
        texts, names, source = calib_texts, None, "calibration texts (no labels)"
    elif trim_texts:
        texts, names, source = trim_texts, None, "trimming corpus (no labels)"
    else:
        texts, names, source = list(BUILTIN_EVAL), None, "built-in sample texts (no labels)"
    texts, names = texts[:max_eval], (names[:max_eval] if names is not None else None)
    if names is not None:
        index = {label: i for i, label in enumerate(desc.labels)}
        bad = sorted({n for n in names if n not in index})
        if bad:
            raise ConversionError(f"evaluation labels {bad[:5]} are not among the model's labels {desc.labels} "
                                  "(pass --labels in the model's output order)")
        targets = np.array([index[n] for n in names], dtype=np.int64)
    return EvalSet(texts=list(texts), targets=targets, source=source)


def _metrics_entry(m: dict, reference: str) -> dict:
    keep = ("max_abs_logit_diff", "max_abs_logit_diff_vs_fp32_graph", "mean_abs_logit_diff", "top1_agreement", "accuracy", "reference_accuracy",
            "accuracy_drop_points", "n_texts", "non_finite")
    out = {k: m[k] for k in keep if k in m}
    out["reference"] = reference
    return out


def _gate(t: str, p: str, m: dict, gcfg) -> list[str]:
    return gate_mod.check(t, m, p, gcfg)


def _write_onnx_target(t, spec, p, fp32_path: Path, dest: Path, work: Path, ev: EvalSet, batches, ref_logits,
                       gcfg, calib_texts, desc, max_length, static_quant):
    from . import onnx_writer
    from .runners import OrtRunner

    candidates: list[tuple[Path, dict]] = []
    if p == "fp32":
        shutil.copyfile(fp32_path, dest)
        candidates.append((dest, {"method": "none"}))
    elif p == "fp16":
        q = onnx_writer.to_fp16(fp32_path, dest)
        candidates.append((dest, q))
    else:
        rr = bool(spec.get("reduce_range", False))
        dyn = work / "onnx" / f"{t}.dynamic.onnx"
        candidates.append((dyn, onnx_writer.quantize_dynamic_int8(fp32_path, dyn, reduce_range=rr)))
        if calib_texts and static_quant is not False:
            st = work / "onnx" / f"{t}.static.onnx"
            enc = desc.tokenizer.encoder()
            ids = enc.encode_batch(calib_texts[:256], max_length)
            cb = [pad_batch([ids[i] for i in idx], desc.tokenizer.pad_id) for idx in make_batches(
                [len(x) for x in ids], 16)]
            try:
                candidates.append((st, onnx_writer.quantize_static_int8(fp32_path, st, rr, cb)))
            except Exception as e:  # noqa: BLE001
                desc.notes.append(f"{t}: static QDQ quantization failed ({str(e).splitlines()[0][:120]}); "
                                  "dynamic kept")
    results = []
    for path, q in candidates:
        runner = OrtRunner(path, basic_optimizations=(p == "fp16"))
        logits = ev.gather(run_batches(runner, batches))
        m = gate_mod.compare(ref_logits, logits, ev.targets, graph=ev.graph_logits)
        results.append((path, q, logits, m))
    if len(results) > 1:
        def score(r):
            m = r[3]
            ok = not gate_mod.problems(m, p, gcfg)
            return (ok, m.get("accuracy", 0.0), m["top1_agreement"], -m["max_abs_logit_diff"])
        results.sort(key=score, reverse=True)
    path, q, logits, m = results[0]
    if len(results) > 1:
        q = dict(q)
        q["candidates"] = {r[1]["method"]: _metrics_entry(r[3], desc.reference_name) for r in results}
    waived = _gate(t, p, m, gcfg)
    if path != dest:
        shutil.copyfile(path, dest)
    inputs, outputs = onnx_writer.io_spec(dest)
    verified = spec["target"] != "cuda"
    acc = _metrics_entry(m, desc.reference_name)
    acc["measured_with"] = "onnxruntime CPU (x86_64)" + (", basic graph optimizations" if p == "fp16" else "")
    if spec["target"] == "cuda":
        acc["note"] = "CUDA did not run this model here; numbers are from the CPU provider"
    entry = {"backend": spec["backend"], "target": spec["target"], "precision": p, "inputs": inputs,
             "outputs": outputs, "verified": verified,
             "quantization": None if p == "fp32" else q, "accuracy": acc}
    rep = {"file": dest.name, "precision": p, "size_bytes": dest.stat().st_size, "verified": verified,
           **_metrics_entry(m, desc.reference_name), "quantization": entry["quantization"], "waived": waived}
    return entry, rep, (logits if verified else None)


def _write_lite_target(t, spec, p, graph_files, dest: Path, ev: EvalSet, batches, ref_logits, gcfg, desc):
    from .runners import LiteRunner, lite_subprocess

    base = str(dest)[: -len(".nb")]
    args = ["opt", str(graph_files[0]), str(graph_files[1]), base, spec["place"]] + (["int8"] if p == "int8" else [])
    proc = lite_subprocess(args)
    if proc.returncode != 0 or not dest.is_file():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()
        raise ConversionError(f"Paddle Lite opt failed for {t}: {(tail[-1] if tail else '')[:300]}")
    names = list(desc.graph.feed_names)
    runnable = spec["target"] == "x86_64"
    quant = None
    if p == "int8":
        quant = {"method": "lite-weight-only", "quant_type": "QUANT_INT8",
                 "note": "weights int8 in the file, dequantized at load; embedding table stays fp32"}
    if runnable:
        info = lite_subprocess(["info", str(dest)])
        outs = ["logits"]
        if info.returncode == 0:
            try:
                outs = json.loads(info.stdout.strip().splitlines()[-1])["outputs"]
            except (ValueError, KeyError, IndexError):
                pass
        logits = ev.gather(LiteRunner(dest, names, desc.graph.feed_dtypes).run_many(batches))
        m = gate_mod.compare(ref_logits, logits, ev.targets, graph=ev.graph_logits)
        waived = _gate(t, p, m, gcfg)
        acc = _metrics_entry(m, desc.reference_name)
        acc["measured_with"] = "paddlelite x86_64"
    else:
        outs = ["logits"]
        logits, waived = None, []
        acc = {"reference": desc.reference_name, "not_run": "no ARM Paddle Lite runtime on this host"}
    inputs = [{"name": n, "role": _role(n), "dtype": desc.graph.feed_dtypes.get(n, "int64"), "shape": [-1, -1]}
              for n in names]
    entry = {"backend": "paddlelite", "target": spec["target"], "precision": p, "inputs": inputs,
             "outputs": [{"name": outs[0], "dtype": "float32", "shape": [-1, desc.num_labels]}],
             "verified": bool(runnable), "quantization": quant, "accuracy": acc}
    rep = {"file": dest.name, "precision": p, "size_bytes": dest.stat().st_size, "verified": bool(runnable),
           **{k: v for k, v in acc.items()}, "quantization": quant, "waived": waived}
    return entry, rep, logits


def _role(name: str) -> str:
    from .paddle_graph import feed_role

    return feed_role(name)


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.float64) - x.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _golden(ev: EvalSet, ref_logits, per_target: dict[str, np.ndarray], labels, tok, max_length) -> list[dict]:
    """A few texts (short to long) where every verified target agrees with the reference."""
    n = len(ev.texts)
    if n == 0:
        return []
    top = ref_logits.argmax(-1)
    probs = _softmax(ref_logits)
    margin = np.sort(probs, -1)[:, -1] - (np.sort(probs, -1)[:, -2] if probs.shape[1] > 1 else 0)
    agree = np.ones(n, dtype=bool)
    for lg in per_target.values():
        agree &= lg.argmax(-1) == top
    cands = [i for i in range(n) if agree[i] and len(ev.texts[i]) <= 2000]
    cands.sort(key=lambda i: (len(ev.new_ids[i]), i))
    if len(cands) > N_GOLDEN:
        picks = [cands[int(round(k * (len(cands) - 1) / (N_GOLDEN - 1)))] for k in range(N_GOLDEN)]
        strong = sorted(cands, key=lambda i: -margin[i])[:N_GOLDEN]
        picks = list(dict.fromkeys(picks[: N_GOLDEN // 2] + strong))[:N_GOLDEN]
    else:
        picks = cands
    out = []
    for i in picks:
        g = {"text": ev.texts[i], "text_pair": None, "input_ids": [int(x) for x in ev.new_ids[i]],
             "label": labels[int(top[i])], "score": float(probs[i, top[i]]),
             "logits": [float(x) for x in ref_logits[i]]}
        per = {}
        for fname, lg in per_target.items():
            pr = _softmax(lg[i:i + 1])[0]
            per[fname] = {"label": labels[int(lg[i].argmax())], "score": float(pr.max()),
                          "logits": [float(x) for x in lg[i]]}
        if per:
            g["per_model"] = per
        out.append(g)
    return out


def _clean(obj):
    """JSON-safe: numpy scalars to Python, NaN/Inf to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if np.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def _created_by() -> str:
    try:
        from edgetext import __version__

        return f"edgetext-converters {__version__}"
    except Exception:  # noqa: BLE001
        return "edgetext-converters"


def _pack(bundle_dir: Path, out: Path) -> Path:
    try:
        from edgetext.bundle import pack
    except ImportError:
        pack = None
    if out.exists() and out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if pack is not None:
        try:
            return Path(pack(bundle_dir, out))
        except Exception as e:  # noqa: BLE001
            from edgetext.errors import EdgeTextError

            if isinstance(e, EdgeTextError):
                raise ConversionError(f"cannot pack the bundle: {e}") from None
            raise
    # fallback (runtime not available): a folder bundle with checksums
    import hashlib

    manifest = json.loads((bundle_dir / "manifest.json").read_text(encoding="utf-8"))
    files = {}
    for f in sorted(bundle_dir.iterdir()):
        if f.name != "manifest.json":
            files[f.name] = {"sha256": hashlib.sha256(f.read_bytes()).hexdigest(), "size": f.stat().st_size}
    manifest["files"] = files
    shutil.copytree(bundle_dir, out)
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return out


def _tree_size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
