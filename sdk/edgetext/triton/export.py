"""``edgetext export triton BUNDLE OUT_DIR``: a Triton Inference Server model repository serving a bundle.

    OUT_DIR/
      <name>/config.pbtxt             ensemble: TEXT (string; a text-pair bundle: and TEXT_PAIR) -> LABEL, SCORE,
                                      INDEX  [batch, top_k]
      <name>_tokenizer/               Python backend: EdgeText's tokenizer from the bundle (1/model.py, 1/bundle.etb)
      <name>_onnx/                    onnxruntime backend: 1/model.onnx, dynamic batching, N instances
                                      (--onnx-backend python: 1/model.py runs it on EdgeText's ONNX Runtime backend)
      <name>_postprocess/             Python backend: softmax + top-k with the bundle's labels (1/model.py); a
                                      multi-label bundle: a sigmoid per label and the bundle's per-label thresholds
                                      (written into its config.pbtxt), the labels at/above them best first

The Python models need ``edgetext`` (and numpy) importable in Triton's Python environment (pip install edgetext in
the server image). Classification bundles (single texts or text pairs); text-embedding bundles: not yet.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EdgeTextError, InvalidInputError, TaskMismatchError

NAME = "export"
HERE = Path(__file__).resolve().parent
ONNX_BACKENDS = ("onnxruntime", "python")
PAD_TO = ("longest", "max")
_TRITON_TYPES = {"int64": "TYPE_INT64", "int32": "TYPE_INT32", "float32": "TYPE_FP32"}


@dataclass(frozen=True)
class TritonOptions:
    """What the repository is configured with (the CLI flags of the same names)."""

    name: str | None = None  # the ensemble's name (default: the bundle's manifest name)
    model: str | None = None  # the bundle's ONNX file (default: the onnxruntime model the table picks here)
    device: str = "cpu"  # cpu or cuda: the instance kind, and which ONNX model of the bundle
    max_batch: int = 32  # max_batch_size of every model (texts per request at most)
    instances: int = 1  # ONNX model instances (each a session with `threads` intra-op threads)
    threads: int = 1
    max_queue_delay_us: int = 5000  # the ONNX model's dynamic batcher waits this long for batch-mates
    top_k: int | None = None  # labels per text: 1 by default; a multi-label bundle's default is all that apply
    onnx_backend: str = "onnxruntime"
    pad_to: str = "longest"  # "max": every request max_length wide, so the batcher can merge any requests


def _check(opts: TritonOptions) -> None:
    for field in ("max_batch", "instances", "threads", "top_k"):
        value = getattr(opts, field)
        if field == "top_k" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"{field} must be an int >= 1, got {value!r}")
    if opts.max_queue_delay_us < 0:
        raise InvalidInputError(f"max_queue_delay_us must be >= 0, got {opts.max_queue_delay_us}")
    if opts.onnx_backend not in ONNX_BACKENDS:
        raise InvalidInputError(f"onnx_backend {opts.onnx_backend!r}: expected one of {ONNX_BACKENDS}")
    if opts.pad_to not in PAD_TO:
        raise InvalidInputError(f"pad_to {opts.pad_to!r}: expected one of {PAD_TO}")
    if opts.device not in ("cpu", "cuda"):
        raise InvalidInputError(f"device {opts.device!r}: expected cpu or cuda")


# -- config.pbtxt (protobuf text format of Triton's ModelConfig) ------------------------------------
def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid protobuf text-format string


def _tensors(kind: str, tensors: list[tuple[str, str, list[int]]]) -> str:
    body = ",\n".join(f"  {{ name: {_q(n)} data_type: {t} dims: [ {', '.join(map(str, d))} ] }}"
                      for n, t, d in tensors)
    return f"{kind} [\n{body}\n]\n"


def _params(params: dict[str, str]) -> str:
    return "".join(f"parameters {{ key: {_q(k)} value {{ string_value: {_q(v)} }} }}\n" for k, v in params.items())


def _config(name: str, max_batch: int, inputs: list, outputs: list, *, backend: str | None = None,
            extra: str = "", params: dict[str, str] | None = None) -> str:
    head = f"name: {_q(name)}\n" + (f"backend: {_q(backend)}\n" if backend else 'platform: "ensemble"\n')
    return (head + f"max_batch_size: {max_batch}\n" + _tensors("input", inputs) + _tensors("output", outputs)
            + extra + _params(params or {}))


def _instances(count: int, device: str) -> str:
    return f"instance_group [ {{ count: {count} kind: {'KIND_GPU' if device == 'cuda' else 'KIND_CPU'} }} ]\n"


def _ensemble_step(model: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    ins = " ".join(f"input_map {{ key: {_q(k)} value: {_q(v)} }}" for k, v in inputs.items())
    outs = " ".join(f"output_map {{ key: {_q(k)} value: {_q(v)} }}" for k, v in outputs.items())
    return f"    {{ model_name: {_q(model)} model_version: -1\n      {ins}\n      {outs} }}"


# -- the export ------------------------------------------------------------------------------------
def _bundle_file(bundle: Path, tmp: Path) -> Path:
    """The bundle as one .etb file (a folder is packed, which checks it)."""
    if bundle.is_dir():
        from ..bundle import pack

        return pack(bundle, tmp / f"{bundle.name}.etb")
    return bundle


def export_triton(bundle: str | Path, out_dir: str | Path, opts: TritonOptions | None = None, *,
                  force: bool = False) -> dict[str, Any]:
    """Write the model repository for `bundle` into `out_dir` (empty or new; `force`: replace it). Returns what
    was written: {"repository", "ensemble", "models", "model_file", "inputs", "labels"}."""
    from ..backends import registry
    from ..bundle import Bundle

    opts = opts or TritonOptions()
    _check(opts)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise InvalidInputError(f"{out} is not empty: pass --force to replace it")
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="edgetext-triton-") as tmp, \
            Bundle.open(_bundle_file(Path(bundle), Path(tmp))) as b:
        m = b.manifest
        if m.task != "text-classification":
            raise TaskMismatchError(f"{bundle} is a {m.task} bundle: the Triton export serves text-classification")
        if opts.model is not None:
            spec = m.model(opts.model)
            if spec.backend != "onnxruntime":
                raise InvalidInputError(f"{opts.model} is a {spec.backend} model: Triton serves the bundle's ONNX "
                                        f"models ({[s.file for s in m.models if s.backend == 'onnxruntime']})")
        else:
            spec = registry.choose(m, "onnxruntime", opts.device).spec
        name = opts.name or m.name or "edgetext"
        tok, onnx, post = f"{name}_tokenizer", f"{name}_onnx", f"{name}_postprocess"
        # outputs are [batch, k]: a multi-label row with fewer labels at/above threshold is padded (INDEX -1)
        k = min(opts.top_k or (len(m.labels) if m.multi_label else 1), len(m.labels))
        post_params = {"labels": json.dumps(list(m.labels), ensure_ascii=False), "top_k": str(k)}
        if m.multi_label:  # the bundle's own thresholds, so Triton decides as TextClassifier does
            assert m.thresholds is not None
            post_params["thresholds"] = json.dumps([float(t) for t in m.thresholds])
        feeds = [(i.name, _TRITON_TYPES[i.dtype], [-1]) for i in spec.inputs]
        logits = (spec.output.name, "TYPE_FP32", [len(m.labels)])
        common = {"bundle": "bundle.etb", "model_file": spec.file, "threads": str(opts.threads)}
        out.mkdir(parents=True, exist_ok=True)
        bundle_bytes = Path(b.path).read_bytes() if Path(b.path).is_file() else None

        def model_dir(model: str, config: str, files: dict[str, bytes | Path]) -> None:
            version = out / model / "1"
            version.mkdir(parents=True)
            (out / model / "config.pbtxt").write_text(config, encoding="utf-8")
            for fname, data in files.items():
                dest = version / fname
                if isinstance(data, Path):
                    shutil.copyfile(data, dest)
                else:
                    dest.write_bytes(data)

        assert bundle_bytes is not None  # _bundle_file made it one file
        # a text-pair bundle takes its second texts as TEXT_PAIR, in the ensemble and the tokenizer model
        text_inputs = [("TEXT", "TYPE_STRING", [1])] + ([("TEXT_PAIR", "TYPE_STRING", [1])] if m.text_pairs else [])
        text_map = {n: n for n, _, _ in text_inputs}
        model_dir(tok, _config(tok, opts.max_batch, text_inputs, feeds, backend="python",
                               extra=_instances(1, "cpu"), params={**common, "pad_to": opts.pad_to}),
                  {"model.py": HERE / "tokenizer_model.py", "bundle.etb": bundle_bytes})
        batching = (f"dynamic_batching {{ max_queue_delay_microseconds: {opts.max_queue_delay_us} }}\n"
                    + _instances(opts.instances, opts.device))
        if opts.onnx_backend == "onnxruntime":
            # the onnxruntime backend's own knobs: intra-op threads per instance (the library's `threads`)
            model_dir(onnx, _config(onnx, opts.max_batch, feeds, [logits], backend="onnxruntime", extra=batching,
                                    params={"intra_op_thread_count": str(opts.threads),
                                            "inter_op_thread_count": "1"}),
                      {"model.onnx": b.read(spec.file)})
        else:
            model_dir(onnx, _config(onnx, opts.max_batch, feeds, [logits], backend="python", extra=batching,
                                    params=common),
                      {"model.py": HERE / "onnx_model.py", "bundle.etb": bundle_bytes})
        model_dir(post, _config(post, opts.max_batch, [("LOGITS", "TYPE_FP32", [len(m.labels)])],
                                [("LABEL", "TYPE_STRING", [k]), ("SCORE", "TYPE_FP32", [k]),
                                 ("INDEX", "TYPE_INT64", [k])], backend="python", extra=_instances(1, "cpu"),
                                params=post_params),
                  {"model.py": HERE / "postprocess_model.py"})
        steps = ",\n".join([
            _ensemble_step(tok, text_map, {n: f"feed_{n}" for n, _, _ in feeds}),
            _ensemble_step(onnx, {n: f"feed_{n}" for n, _, _ in feeds}, {logits[0]: "logits"}),
            _ensemble_step(post, {"LOGITS": "logits"}, {"LABEL": "LABEL", "SCORE": "SCORE", "INDEX": "INDEX"})])
        model_dir(name, _config(name, opts.max_batch, text_inputs,
                                [("LABEL", "TYPE_STRING", [k]), ("SCORE", "TYPE_FP32", [k]),
                                 ("INDEX", "TYPE_INT64", [k])],
                                extra=f"ensemble_scheduling {{\n  step [\n{steps}\n  ]\n}}\n"), {})
        return {"repository": str(out), "ensemble": name, "models": [name, tok, onnx, post], "model_file": spec.file,
                "inputs": [n for n, _, _ in feeds], "labels": list(m.labels), "onnx_backend": opts.onnx_backend,
                "multi_label": m.multi_label, "text_pairs": m.text_pairs, "top_k": k,
                "thresholds": None if m.thresholds is None else [float(t) for t in m.thresholds]}


# -- the command ---------------------------------------------------------------------------------------
def register(sub: Any) -> None:
    """``edgetext export triton ...`` on the `edgetext` subparsers."""
    e = sub.add_parser(NAME, help="export a bundle for a serving system (triton)",
                       description="Export a bundle for a serving system.")
    formats = e.add_subparsers(dest="export_format", metavar="FORMAT", parser_class=type(e))
    t = formats.add_parser("triton", help="a Triton Inference Server model repository",
                           description="Write a Triton model repository: the ONNX model (onnxruntime backend, dynamic "
                                       "batching), a Python-backend tokenizer and post-processor from the bundle, and "
                                       "an ensemble taking raw text (TEXT) and returning LABEL, SCORE, INDEX.")
    t.add_argument("bundle", metavar="BUNDLE")
    t.add_argument("out_dir", metavar="OUT_DIR")
    t.add_argument("--name", default=None, help="the ensemble's model name (default: the bundle's name)")
    t.add_argument("--model", default=None, help="the bundle's ONNX file to serve (default: the table's pick)")
    t.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="instance kind (default cpu)")
    t.add_argument("--max-batch", type=int, default=32, help="max_batch_size (default 32)")
    t.add_argument("--instances", type=int, default=1, help="ONNX model instances (default 1)")
    t.add_argument("--threads", type=int, default=1, help="intra-op threads per instance (default 1)")
    t.add_argument("--max-queue-delay-us", type=int, default=5000, help="dynamic batching delay (default 5000)")
    t.add_argument("--top-k", type=int, default=None,
                   help="categories per text (default 1; a multi-label bundle: every label at/above its threshold)")
    t.add_argument("--onnx-backend", default="onnxruntime", choices=list(ONNX_BACKENDS),
                   help="Triton backend of the ONNX model (default onnxruntime; python: EdgeText's ONNX Runtime "
                        "inside the Python backend)")
    t.add_argument("--pad-to", default="longest", choices=list(PAD_TO),
                   help="longest (as the library) or max (max_length: any requests batch together)")
    t.add_argument("--force", action="store_true", help="replace a non-empty OUT_DIR")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "export_format", None) != "triton":
        raise EdgeTextError("export: name a format: edgetext export triton BUNDLE OUT_DIR")
    opts = TritonOptions(name=args.name, model=args.model, device=args.device, max_batch=args.max_batch,
                         instances=args.instances, threads=args.threads, max_queue_delay_us=args.max_queue_delay_us,
                         top_k=args.top_k, onnx_backend=args.onnx_backend, pad_to=args.pad_to)
    info = export_triton(args.bundle, args.out_dir, opts, force=args.force)
    print(json.dumps(info, ensure_ascii=False))
    return 0
