"""``edgetext convert``: the converters' command line (a contract; see docs/architecture.md).

    edgetext convert SRC --out BUNDLE [--targets onnx-x86,onnx-arm64,onnx-cuda,lite-x86,lite-arm]
        [--precision int8|fp16|fp32] [--labels a,b,... | --labels-file F] [--calib TEXTS_FILE]
        [--eval TSV_FILE] [--trim-vocab CORPUS_FILE] [--min-freq N] [--max-length N]
        [--max-accuracy-drop P] [--min-agreement A] [--allow-accuracy-drop] [--name NAME] [--json] [--force]

Progress (tqdm, one step per stage) goes to stderr; the final report table (or, with --json,
one JSON object) to stdout. Errors: one line ``edgetext convert: error: ...`` on stderr and
exit 1 (2 for usage errors); an accuracy-gate refusal exits 3. ``--out`` is checked before anything
is read (an existing bundle needs ``--force``); Ctrl-C exits 130 and leaves ``--out`` as it was.
The arguments become one :class:`ConvertOptions` (:func:`options_from_args`), the same object
``convert()`` builds from its keyword arguments.

May import: the standard library, edgetext.errors; the rest of this package lazily.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from .options import ConvertOptions

log = logging.getLogger(__name__)

PROG = "edgetext convert"
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_GATE = 0, 1, 2, 3


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (not argparse's usage dump)
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    from .targets import DEFAULT_TARGETS, PRECISIONS, TARGETS

    defaults: dict[str, list[str]] = {}
    for name, t in TARGETS.items():
        defaults.setdefault(t.default, []).append(name)
    p = _Parser(prog=PROG, description="Convert a trained classifier (Paddle inference model, PaddleNLP "
                "checkpoint or Hugging Face BERT folder) into an EdgeText bundle.")
    p.add_argument("src", help="model folder (or .pdmodel file)")
    p.add_argument("--out", required=True, help="bundle to write: a folder, or a .etb archive")
    p.add_argument("--targets", default=None,
                   help=f"comma list of {','.join(TARGETS)} (default {','.join(DEFAULT_TARGETS)})")
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="one precision for every target (default per target: "
                        + "; ".join(f"{prec} for {', '.join(names)}" for prec, names in defaults.items()) + ")")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--labels", default=None, help="comma-separated labels in the model's output order")
    g.add_argument("--labels-file", default=None, help="labels, one per line (or a JSON list / id2label)")
    p.add_argument("--calib", default=None, help="calibration texts, one per line: int8 recipes are scored on "
                   "them and, when the gate would refuse, sensitive layers are kept in higher precision")
    p.add_argument("--eval", dest="eval_file", default=None, help="held-out texts: text<TAB>label per line")
    p.add_argument("--pairs", action="store_true",
                   help="a text-pair classifier: --eval rows text<TAB>pair<TAB>label, --calib rows text<TAB>pair")
    p.add_argument("--trim-vocab", default=None, help="domain corpus, one text per line: keep only its tokens")
    p.add_argument("--min-freq", type=int, default=1, help="with --trim-vocab: keep tokens seen >= N times")
    p.add_argument("--max-length", type=int, default=None, help="bundle max length (default min(512, model))")
    from .gate import GateConfig

    p.add_argument("--max-accuracy-drop", type=float, default=GateConfig.max_accuracy_drop,
                   help=f"points of accuracy a target may lose (default {GateConfig.max_accuracy_drop:g})")
    p.add_argument("--min-agreement", type=float, default=GateConfig.min_agreement,
                   help=f"minimum top-1 agreement with the reference (default {GateConfig.min_agreement:g})")
    p.add_argument("--allow-accuracy-drop", action="store_true", help="write targets that fail the gate anyway")
    m = p.add_argument_group("multi-label classifiers (independent labels, a sigmoid each)")
    m.add_argument("--multi-label", action=argparse.BooleanOptionalAction, default=None,
                   help="the head's labels are independent (default: the source's problem_type; PaddleNLP "
                        "checkpoints and inference models need the flag); --eval rows are text<TAB>label1,label2")
    m.add_argument("--tune-thresholds", action="store_true",
                   help="choose each label's threshold maximising its F1 on --eval (default: 0.5 each); recorded "
                        "in the manifest")
    m.add_argument("--min-label-set-agreement", type=float, default=GateConfig.min_label_set_agreement,
                   help="share of evaluation texts whose whole label set must equal the reference's (default "
                        f"{GateConfig.min_label_set_agreement:g}; per-label decisions must agree at --min-agreement)")
    e = p.add_argument_group("sentence embeddings (a model without a classifier head, e.g. all-MiniLM-L6-v2)")
    e.add_argument("--task", choices=("classification", "embedding"), default=None,
                   help="what the bundle does (default: classification; embedding for a sentence-transformers "
                        "folder without a head)")
    e.add_argument("--pooling", choices=("mean", "cls", "pooler"), default=None,
                   help="embedding pooling, computed in the graph (default: the folder's 1_Pooling, else mean)")
    e.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                   help="L2-normalize embeddings in the graph (default: on, or the folder's modules.json)")
    e.add_argument("--min-cosine", type=float, default=GateConfig.min_cosine,
                   help=f"embedding int8/fp16: minimum mean cosine to the reference (default {GateConfig.min_cosine:g};"
                        f" fp32 must reach {GateConfig.fp32_min_cosine:g})")
    r = p.add_argument_group("width pruning, recovered by distillation (needs --trim-vocab and/or --calib texts)")
    r.add_argument("--prune", default=None, metavar="SPEC",
                   help="heads=F,ffn=F (fractions of each layer's attention heads / FFN neurons to remove, least "
                        "important first) or latency=F (the share of encoder compute to keep); the pruned model "
                        "is distilled from the unpruned one and gated against it")
    r.add_argument("--distill-epochs", type=float, default=2.0,
                   help="with --prune: passes over the distillation texts (default 2)")
    r.add_argument("--min-pruned-agreement", type=float, default=GateConfig.min_pruned_agreement,
                   help="with --prune: minimum top-1 agreement of the pruned model with the unpruned reference "
                        f"(default {GateConfig.min_pruned_agreement:g}; accuracy drop, with --eval labels, is "
                        "gated as usual)")
    r.add_argument("--seed", type=int, default=0, help="with --prune: seed of the distillation (default 0)")
    p.add_argument("--name", default=None, help="bundle name (default: the source folder's name)")
    p.add_argument("--no-static-quant", action="store_true", help="with --calib: do not try static QDQ int8")
    p.add_argument("--onnx-graph", choices=("auto", "direct", "paddle2onnx"), default="auto",
                   help="how ONNX files are written: direct = from the weights, shaped for inference (the last "
                        "layer computes the [CLS] row only); paddle2onnx = traced; auto (default) = direct where "
                        "the source has weights (PaddleNLP checkpoint, Hugging Face folder)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--force", action="store_true", help="replace an existing bundle at --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def options_from_args(args: argparse.Namespace, progress: bool) -> "ConvertOptions":
    """The ConvertOptions of parsed command-line arguments (ConversionError on bad values)."""
    from .evaluation import read_labels_file
    from .options import ConvertOptions

    labels = None
    if args.labels is not None:
        labels = [x.strip() for x in args.labels.split(",")]
    elif args.labels_file is not None:
        labels = read_labels_file(args.labels_file)
    return ConvertOptions(targets=args.targets, precision=args.precision, labels=labels, calib=args.calib,
                          eval_file=args.eval_file, trim_vocab=args.trim_vocab, min_freq=args.min_freq,
                          max_length=args.max_length, max_accuracy_drop=args.max_accuracy_drop,
                          min_agreement=args.min_agreement, allow_accuracy_drop=args.allow_accuracy_drop,
                          name=args.name, static_quant=False if args.no_static_quant else None,
                          onnx_graph=args.onnx_graph, progress=progress, pairs=args.pairs,
                          force=args.force, task=args.task, pooling=args.pooling, normalize=args.normalize,
                          min_cosine=args.min_cosine, prune=args.prune, distill_epochs=args.distill_epochs,
                          min_pruned_agreement=args.min_pruned_agreement, seed=args.seed,
                          multi_label=args.multi_label, tune_thresholds=args.tune_thresholds,
                          min_label_set_agreement=args.min_label_set_agreement)


class _Terminated(BaseException):
    """SIGTERM, raised where the conversion is, so its cleanup (staged output, work folders) runs as for Ctrl-C."""


def _raise_terminated(signum, frame) -> None:
    raise _Terminated()


def _terminate_like_interrupt():
    """Turn SIGTERM (``kill``, systemd, a CI timeout) into an exception for the run; returns the handler to
    restore, or None where none was installed: off the main thread, or when the embedding application
    already handles SIGTERM itself."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        return None
    signal.signal(signal.SIGTERM, _raise_terminated)
    return previous


def _import_paddle_keeping_handlers(previous) -> None:
    """libpaddle installs its own C-level SIGTERM handler when first imported (it aborts the process with
    "FatalError: Termination signal"), replacing Python's: import it now and re-arm ours after it. Nothing
    to do when ours was not installed (``previous`` None)."""
    import importlib.util

    if previous is None or importlib.util.find_spec("paddle") is None:
        return
    import zlib  # noqa: F401  (before paddle: libpaddle carries its own zlib; docs/environment.md)

    # SIGTERM stays pending while paddle's handler is the one installed; it is delivered to ours on unblock.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        import paddle  # noqa: F401
    finally:
        signal.signal(signal.SIGTERM, _raise_terminated)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def _print_error(message: str) -> None:
    text = " | ".join(line.strip() for line in str(message).splitlines() if line.strip())
    print(f"{PROG}: error: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    import os

    os.environ.setdefault("GLOG_minloglevel", "2")  # Paddle's C++ INFO lines
    if argv and argv[0] == "convert":  # tolerate being handed the sub-command name too
        argv = argv[1:]
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as e:
        _print_error(f"{e} (see --help)")
        return EXIT_USAGE
    except SystemExit as e:  # --help
        return int(e.code or 0)
    try:
        from edgetext.errors import AccuracyGateError, EdgeTextError
    except ImportError as e:  # pragma: no cover
        _print_error(f"the edgetext runtime is not importable: {e}")
        return EXIT_FAIL
    previous = _terminate_like_interrupt()
    try:
        from .output import check_output

        check_output(args.out, force=args.force, src=args.src)  # before the heavy imports and any work
        _import_paddle_keeping_handlers(previous)
        from .pipeline import convert

        report = convert(args.src, args.out, options_from_args(args, progress=not args.quiet and sys.stderr.isatty()))
    except _Terminated:
        _print_error("terminated (SIGTERM); --out is as it was before the run")
        return 128 + signal.SIGTERM
    except AccuracyGateError as e:
        _print_error(str(e))
        return EXIT_GATE
    except EdgeTextError as e:
        _print_error(str(e))
        return EXIT_FAIL
    except KeyboardInterrupt:
        _print_error("interrupted")
        return 130
    except MemoryError:
        _print_error("out of memory")
        return EXIT_FAIL
    except Exception as e:  # noqa: BLE001  (one clear line, never a traceback; the traceback goes to the log)
        log.debug("edgetext convert failed", exc_info=True)
        _print_error(f"unexpected {type(e).__name__}: {e}")
        return EXIT_FAIL
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        from .report import format_table

        print(format_table(report))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
