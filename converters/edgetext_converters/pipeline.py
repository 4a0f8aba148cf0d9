"""``convert()``: read -> model passes -> reference + evaluation -> each target's passes -> gate ->
golden vectors -> pack.

    from edgetext_converters import convert
    report = convert("ckpt/", "reviews.etb", targets=["onnx-x86", "lite-x86"], eval_file="test.tsv")

The pipeline is the lists below, each run by ``passes.run_passes``; targets are targets.py's.

May import: the standard library, numpy, edgetext (errors, bundle, preprocess, modelcheck, version), this package's modules.
"""
from __future__ import annotations

import zlib  # noqa: F401  (before paddle: libpaddle carries its own zlib; converters README)

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgetext import __version__
from edgetext.bundle import pack
from edgetext.errors import ConversionError, EdgeTextError
from edgetext.manifest import write_version
from edgetext.preprocess import pad_rows

from . import passes, readers, writers
from .description import ModelDescription
from .evaluation import Runner, build_eval_set, check_pairs, measure, read_texts, run_batches
from .gate import check, multi_label_thresholds
from .golden import SingleRun, golden_embeddings, golden_vectors
from .options import ConvertOptions
from .output import StagedOutput
from .passes import PassContext, run_passes
from .progress import Progress
from .report import clean, conversion_report, metrics_entry, tree_size
from .runners import PaddleInferenceRunner, reference_runner
from .targets import TARGETS, Target
from .thresholds import choose_thresholds
from .tokenizer_assets import TokenizerAssets
from .verification import verification_for

log = logging.getLogger(__name__)

#: shared model passes; the reference is taken after these (they do not change predictions)
PREPARE: tuple[passes.Pass, ...] = (passes.lower_to_graph, passes.normalize_io)
#: shared model passes that shrink the model; the fp32 graph after them is gated (pruned: against the unpruned
#: reference, gate.py)
SHRINK: tuple[passes.Pass, ...] = (passes.prune, passes.trim_vocab, passes.trim_positions)
#: each target's pipeline, by writer: the last pass leaves the target's file in ``desc.artifact``
TARGET_PASSES: dict[str, tuple[passes.Pass, ...]] = {
    "onnx": (writers.onnx.export, passes.quantize),
    "lite": (passes.repair_for_lite, writers.lite.export),
    "openvino": (writers.openvino.export, passes.quantize_openvino),
}


def convert(src: str | os.PathLike, out: str | os.PathLike, options: ConvertOptions | None = None,
            **kwargs: Any) -> dict:
    """Convert ``src`` into the bundle ``out`` (a folder, or a ``.etb`` archive); return the report.

    ``options`` (a ConvertOptions) and/or its fields as keyword arguments (these override ``options``).
    ``out`` is checked before any work (writable; an existing bundle there is replaced only with
    ``force=True``) and written atomically: built beside it, then renamed into place (output.py), so an
    interrupted or failed conversion leaves ``out`` as it was.
    Raises ConversionError (unreadable input, unsupported model, bad options, ``out`` not writable or
    already a bundle) or AccuracyGateError (a model lost too much accuracy; nothing is written then).
    """
    if options is None:
        options = ConvertOptions(**kwargs)
    elif kwargs:
        options = dataclasses.replace(options, **kwargs)
    out = Path(out)
    prog = Progress(4 + len(options.targets), options.progress)
    # --out is checked, and its staging folder made beside it, before any work (output.py)
    try:
        with StagedOutput(out, options.force, src) as staged, _workdir(options) as work:
            calib_texts = read_texts(options.calib, "--calib")
            trim_texts = read_texts(options.trim_vocab, "--trim-vocab")
            ctx = PassContext(options, work, trim_texts=trim_texts, calib_texts=calib_texts)
            prog.stage("read")
            desc = readers.read(src, labels=list(options.labels) if options.labels is not None else None,
                                task=options.task, pooling=options.pooling, normalize=options.normalize,
                                multi_label=options.multi_label)
            _check_multi_label_options(desc, options)
            if desc.is_embedding and options.trim_vocab is not None:
                raise ConversionError("--trim-vocab is not supported for embedding models yet (it changes the "
                                      "embeddings of texts it does not cover, and the cosine gate has no trimmed mode)")
            ref_tok = desc.tokenizer
            desc = run_passes(desc, ctx, PREPARE)
            check_pairs(desc, options.pairs)
            ref_runner = reference_runner(desc, work)
            ctx.max_length, positions = passes.resolve_max_length(desc, options.max_length)
            ctx.eval = build_eval_set(desc.labels, eval_file=options.eval_file, eval_texts=options.eval_texts,
                                      eval_labels=options.eval_labels, calib_texts=calib_texts,
                                      trim_texts=trim_texts, max_eval=options.max_eval, task=desc.task,
                                      pairs=options.pairs, multi_label=desc.multi_label)
            ctx.eval.encode_reference(ref_tok, ctx.max_length)

            prog.stage("passes")
            desc = run_passes(desc, ctx, SHRINK)
            _reference_logits(ctx, ref_runner)
            multi = choose_thresholds(ctx.eval, desc.labels, options) if desc.multi_label else None
            # every compare() from here on (gate, int8 search, OpenVINO pass) judges per-label decisions
            with multi_label_thresholds(multi["thresholds"] if multi else None):
                graph_metrics, trim_report = _gate_graph(desc, ctx, ref_tok)

                bundle_dir = work / "bundle"
                shutil.rmtree(bundle_dir, ignore_errors=True)  # a reused --workdir: every file here becomes a member
                bundle_dir.mkdir(parents=True)
                built = []
                for name in options.targets:
                    prog.stage(f"{name} ({options.precisions[name]})")
                    built.append(build_target(desc, ctx, TARGETS[name], bundle_dir))

            prog.stage("golden+pack")
            report = conversion_report(src, desc, ctx, ref_tok.vocab_size, positions, graph_metrics, trim_report,
                                       {b.target.name: b.row for b in built})
            if multi is not None:
                report["multi_label"] = multi
            _write_members(bundle_dir, src, desc, ctx, built, report, multi)
            prog.close()
            report["timings_s"] = dict(prog.times)
            result = pack_bundle(bundle_dir, out, staged=staged)
            report["bundle"] = str(result)
            report["bundle_size_mb"] = round(tree_size(result) / 1e6, 3)
            return clean(report)
    finally:
        prog.close()


def _check_multi_label_options(desc: ModelDescription, options: ConvertOptions) -> None:
    """Settings that need (or cannot take) a multi-label model, once the reader has decided what it is."""
    if options.tune_thresholds and not desc.multi_label:
        raise ConversionError("--tune-thresholds is for multi-label models (--multi-label, or a source whose "
                              "config says problem_type multi_label_classification)")
    if desc.multi_label and options.prune is not None:
        raise ConversionError("--prune is not supported for multi-label models yet (its distillation matches "
                              "softmax outputs)")


def _reference_logits(ctx: PassContext, ref_runner: Runner) -> None:
    """The reference's logits on the evaluation texts (its own tokenizer's ids)."""
    ev = ctx.eval
    assert ev is not None
    ev.ref_logits = ev.run(ref_runner, "ref")
    if not np.all(np.isfinite(ev.ref_logits)):
        raise ConversionError("the reference model itself outputs NaN/Inf on the evaluation texts")


def _gate_graph(desc: ModelDescription, ctx: PassContext, ref_tok: TokenizerAssets) -> tuple[dict, dict | None]:
    """Measure the fp32 graph after the shared passes against the reference; gate it (trimmed-vocabulary
    mode when trimmed) and check trimming left covered texts alone. Returns (graph metrics, report["trim"])."""
    ev = ctx.eval
    assert ev is not None and desc.graph is not None and ctx.max_length is not None
    if desc.tokenizer is not ref_tok:
        ev.encode_model(desc.tokenizer, ctx.max_length)
    ev.graph_logits, metrics = measure(ev, PaddleInferenceRunner(*ctx.graph_files(desc.graph)))
    trim = ctx.result("trim_vocab")
    pruned = ctx.result("prune") is not None
    check("the model after passes" + (" (vocabulary trimming)" if trim else ""), metrics, "fp32", ctx.options.gate,
          trimmed_vocab=trim is not None, pruned=pruned)
    return metrics, (passes.coverage(trim, ev, logits=not pruned) if trim is not None else None)


def _write_members(bundle_dir: Path, src: str | os.PathLike, desc: ModelDescription, ctx: PassContext,
                   built: list["BuiltTarget"], report: dict, multi: dict | None = None) -> None:
    """The vocabulary and the manifest (without ``files``: pack adds them) beside the model files. ``multi``:
    a multi-label model's thresholds and how they were chosen (thresholds.choose_thresholds)."""
    assert ctx.eval is not None and ctx.max_length is not None
    measured = {b.file: b.logits for b in built if b.logits is not None}
    singles = {b.file: b.single_run for b in built if b.single_run is not None}
    golden = (golden_embeddings(ctx.eval, measured, singles) if desc.is_embedding
              else golden_vectors(ctx.eval, measured, desc.labels, singles,
                                  thresholds=multi["thresholds"] if multi else None))
    (bundle_dir / "vocab.txt").write_bytes(desc.tokenizer.vocab_bytes())
    ml = {"multi_label": True, "thresholds": multi["thresholds"], "threshold_tuning": multi["tuning"]} if multi else {}
    manifest = {
        "format": "edgetext-bundle", "format_version": write_version(ml),
        "name": ctx.options.name or Path(str(src)).name or "model", "task": desc.task,
        "created_by": f"edgetext-converters {__version__}",
        **({"embedding": dict(desc.embedding or {})} if desc.is_embedding else {"labels": list(desc.labels)}),
        **({"text_pairs": True} if ctx.options.pairs else {}),
        **ml,
        "tokenizer": desc.tokenizer.manifest_dict(ctx.max_length),
        "models": [b.entry for b in built],
        "golden": golden,
        "report": clean(report),
    }
    (bundle_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


@dataclass
class BuiltTarget:
    """One target's model in the bundle: its manifest entry, its report row, its logits here."""

    target: Target
    file: str
    entry: dict
    row: dict
    logits: np.ndarray | None  # set when its expectations go into the golden vectors (it ran here, on a CPU)
    single_run: SingleRun | None = None  # the file run one text at a time, as a device checks golden vectors


def build_target(desc: ModelDescription, ctx: PassContext, target: Target, bundle_dir: Path) -> BuiltTarget:
    """Run the target's passes on a copy of ``desc``, measure and gate the file, put it in ``bundle_dir``."""
    ctx.target = target
    try:
        p = ctx.precision
        writer = writers.WRITERS[target.writer]
        tdesc = run_passes(desc.for_target(), ctx, TARGET_PASSES[target.writer])
        art = tdesc.artifact
        assert art is not None and art.precision == p, f"{target.name}: the pipeline left no {p} file"
        why_not = writer.why_not_run(target)
        ran = why_not is None
        waived: list[str] = []
        if ran:
            if art.metrics is None:
                assert ctx.eval is not None
                art.logits, art.metrics = measure(ctx.eval, writer.runner(tdesc, art.path, p))
            waived = [str(x) for x in check(target.name, art.metrics, p, ctx.options.gate,
                                            pruned=ctx.result("prune") is not None)]
            accuracy = metrics_entry(art.metrics, desc.reference_name)
            accuracy["measured_with"] = writer.measured_with(p)
            if target.device != "cpu":
                accuracy["note"] = (f"{target.device.upper()} did not run this model here; numbers are from the "
                                    "CPU provider")
        else:
            accuracy = {"reference": desc.reference_name, "not_run": why_not}
        fname = target.file_name(p)
        dest = bundle_dir / fname
        shutil.copyfile(art.path, dest)
        _check_model_file(target, dest)
        inputs, outputs = writer.io(tdesc, dest, ran)
        ver = verification_for(target, ran, writer.engine_version() if ran else None, why_not)
        entry = {"backend": target.backend, "target": target.arch, "precision": p, "inputs": inputs,
                 "outputs": outputs, "verified": ver.verified, "verification": ver.as_dict(),
                 "quantization": art.quantization, "accuracy": accuracy, "file": fname}
        row = {"file": fname, "precision": p, "size_bytes": dest.stat().st_size, "verified": ver.verified,
               "verification": ver.as_dict(), **writer.report_metrics(accuracy), "quantization": art.quantization,
               "waived": waived}
        log.info("%s: %s, verification %s (%s)%s", target.name, fname, ver.mode, ver.note,
                 f"; waived: {'; '.join(waived)}" if waived else "")
        golden = ran and target.device == "cpu"  # a CUDA model's CPU-provider logits are no CUDA expectation
        single = _single_run(writer.runner(tdesc, dest, p), desc.tokenizer.pad_id) if golden else None
        return BuiltTarget(target, fname, entry, row, art.logits if golden else None, single)
    finally:
        ctx.target = None


def _single_run(runner: Runner, pad_id: int) -> SingleRun:
    """Each row as a batch of one, unpadded (the runtime's load-time golden check feeds it so)."""
    def run(rows, types=None):
        batches = [pad_rows([list(r)], pad_id, type_rows=None if types is None else [list(types[k])])
                   for k, r in enumerate(rows)]
        return [np.asarray(o, dtype=np.float32)[0] for o in run_batches(runner, batches)]
    return run


def _check_model_file(target: Target, path: Path) -> None:
    """The runtime's container check of a model file, at convert time: ONNX files self-contained (no
    external data or other host paths: what the bundle's checksums pin is all a model may use), .nb
    files well-formed and built for the target's hardware (edgetext.modelcheck; issue 13, finding 1)."""
    from types import SimpleNamespace

    from edgetext.modelcheck import check_model_bytes

    try:
        check_model_bytes(SimpleNamespace(file=path.name, backend=target.backend, target=target.arch),
                          path.read_bytes())
    except EdgeTextError as e:
        raise ConversionError(f"{target.name}: the converted model is not fit for a bundle: {e}") from None


@contextlib.contextmanager
def _workdir(options: ConvertOptions) -> Iterator[Path]:
    if options.workdir is not None:
        work = Path(options.workdir)
        work.mkdir(parents=True, exist_ok=True)
        yield work
        return
    tmp = tempfile.mkdtemp(prefix="edgetext-convert-")
    try:
        yield Path(tmp)
    finally:
        if not options.keep_workdir:
            shutil.rmtree(tmp, ignore_errors=True)


def pack_bundle(bundle_dir: Path, out: Path, force: bool = False, staged: StagedOutput | None = None) -> Path:
    """Seal ``bundle_dir`` into ``out`` with the runtime's ``edgetext.bundle.pack`` (which validates the
    manifest before writing anything), written into ``staged`` (a :class:`StagedOutput` of ``out``; one is
    made when not given) and then moved into place in one rename: an interrupted or failed pack leaves
    ``out`` as it was. An existing bundle at ``out`` is replaced only with ``force`` (or ``staged.force``)."""
    if staged is None:
        with StagedOutput(out, force) as own:
            return pack_bundle(bundle_dir, out, staged=own)
    try:
        pack(bundle_dir, staged.staged)
    except EdgeTextError as e:
        raise ConversionError(f"cannot pack the bundle: {e}") from None
    except OSError as e:
        raise ConversionError(f"--out {out}: cannot write the bundle: {e.strerror or e}") from None
    return staged.commit()
