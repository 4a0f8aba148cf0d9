"""The ``edgetext`` command (also ``python -m edgetext``). A contract other tools call:

    edgetext classify BUNDLE [TEXT ...] [--top-k K] [--backend B] [--device D] [--threads N] [--json]
    edgetext embed BUNDLE [TEXT ...] [--output FILE.npy] [--backend B] [--threads N]   (text-embedding bundles)
    edgetext info BUNDLE [--json]
    edgetext verify BUNDLE [--predictions] [--threads N] [--json]
    edgetext bench BUNDLE [--backend B] [--threads N] [--batch-size B] [--texts FILE] [--json]
    edgetext eval BUNDLE --data FILE [--backend B] [--threads N] [--batch-size B] [--limit N] [--json]
    edgetext serve BUNDLE [--host H] [--port N] [--max-batch B] [--max-wait-ms MS] [--workers K] [--threads T]
                                    (HTTP JSON API with dynamic batching; pip install edgetext[serve])
    edgetext classify-dataset BUNDLE --input DIR_OR_GLOB --output DIR [--address local|auto|ray://...]
                                    (Ray Data; pip install edgetext[ray]; edgetext.integrations.cli_dataset)
    edgetext export triton BUNDLE OUT_DIR   (a Triton model repository; edgetext.triton.export)
    edgetext convert ...            (edgetext_converters.cli.main; a source checkout: pip install -e '.[convert]')

classify reads texts from stdin, one per line, when no TEXT is given. --json prints one
JSON object per text and line: {"text", "label", "score", "index"} (+ "categories" with --top-k > 1); for a
multi-label bundle {"text", "labels", "categories"} (every label >= its threshold, maybe none).
embed likewise reads stdin and prints one {"text", "embedding"} JSON line per text, or with --output
saves one float32 [N, D] .npy (rows in input order).
Errors print one line, ``edgetext: error: ...``, to stderr: exit 2 for usage, 1 for everything else
(an unexpected internal error too: its traceback only with EDGETEXT_DEBUG=1). --threads is capped at
edgetext.limits.max_threads() (4 x the usable CPUs).

May import: the standard library, edgetext (the package root), edgetext.errors and, inside the
commands, edgetext.bundle, edgetext.predictor, edgetext.embedder, edgetext.verify, edgetext.evaluate, edgetext.backends.catalog /
registry, edgetext.serving.config / server (``edgetext serve``) and edgetext_converters.cli (the one
place the runtime reaches the converters, and only for ``edgetext convert``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Sequence

from . import __version__
from .errors import EdgeTextError, InvalidInputError, PairInputError
from .limits import check_threads
from .triton import export as export_triton
from .integrations import cli_dataset

log = logging.getLogger(__name__)

PROG = "edgetext"
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, never a traceback
        raise _UsageError(f"{message} (see '{self.prog} --help')")


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be within [0, 1]")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def _threads(text: str) -> int:
    value = _positive_int(text)
    try:
        return int(check_threads(value, "--threads"))  # type: ignore[arg-type]
    except EdgeTextError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _build_parser() -> argparse.ArgumentParser:
    from .backends.catalog import AUTO, BACKEND_CHOICES

    p = _Parser(prog=PROG, description="EdgeText: on-device text classification with self-describing bundles.")
    p.add_argument("--version", action="version", version=f"edgetext {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def runtime_opts(sp, batch: bool = False) -> None:
        sp.add_argument("--backend", default=AUTO, choices=list(BACKEND_CHOICES),
                        help="inference backend (default: auto, the best one for this host)")
        sp.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
        sp.add_argument("--threads", type=_threads, default=None,
                        help="threads for tokenizer and backend (default: the libraries' defaults; at most 4 x the "
                             "CPUs)")
        sp.add_argument("--model", default=None, help="use this model file of the bundle instead of the table's choice")
        if batch:
            sp.add_argument("--batch-size", type=_positive_int, default=32, help="texts per batch (default 32)")

    c = sub.add_parser("classify", help="classify texts (arguments, or stdin one per line)",
                       description="Classify each TEXT (or each stdin line when no TEXT is given).")
    c.add_argument("bundle", metavar="BUNDLE", help="bundle folder or .etb file")
    c.add_argument("texts", metavar="TEXT", nargs="*", default=[],
                   help="texts to classify (default: stdin, one per line)")
    c.add_argument("--top-k", type=_positive_int, default=None,
                   help="categories per text (default 1; a multi-label bundle: every label above its threshold)")
    c.add_argument("--score-threshold", type=_probability, default=None,
                   help="drop categories scoring below this; a multi-label bundle: replaces every label's threshold")
    c.add_argument("--pairs", action="store_true",
                   help="text pairs (a text-pair bundle): each TEXT or stdin line is text<TAB>pair")
    c.add_argument("--json", action="store_true", help="one JSON object per line per text")
    runtime_opts(c, batch=True)

    m = sub.add_parser("embed", help="sentence embeddings of texts (a text-embedding bundle)",
                       description="Embed each TEXT (or each stdin line when no TEXT is given): one JSON line "
                                   '{"text", "embedding"} per text, or one [N, D] float32 .npy with --output.')
    m.add_argument("bundle", metavar="BUNDLE", help="bundle folder or .etb file (task text-embedding)")
    m.add_argument("texts", metavar="TEXT", nargs="*", default=[], help="texts (default: stdin, one per line)")
    m.add_argument("--output", metavar="FILE.npy", default=None, help="save the embeddings as one .npy array")
    runtime_opts(m, batch=True)

    i = sub.add_parser("info", help="describe a bundle", description="Describe a bundle: labels, tokenizer, models.")
    i.add_argument("bundle", metavar="BUNDLE")
    i.add_argument("--json", action="store_true", help="print JSON")

    v = sub.add_parser("verify", help="check a bundle (checksums, schema, golden ids/predictions)",
                       description="Check checksums, schema and golden token ids; exit 1 with the reason on any "
                                   "problem.")
    v.add_argument("bundle", metavar="BUNDLE")
    v.add_argument("--predictions", action="store_true", help="also check the golden predictions of every model "
                                                              "this host can run")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.add_argument("--threads", type=_threads, default=None, help="threads for --predictions")

    b = sub.add_parser("bench", help="latency percentiles, throughput, tokenizer/model split, peak RSS",
                       description="Benchmark a bundle on this host.")
    b.add_argument("bundle", metavar="BUNDLE")
    b.add_argument("--texts", metavar="FILE", default=None,
                   help="texts, one per line (default: the bundle's golden texts)")
    b.add_argument("--repeat", type=_positive_int, default=None,
                   help="passes over the texts (default: enough for ~256 texts)")
    b.add_argument("--warmup", type=int, default=2, help="untimed batches first (default 2)")
    b.add_argument("--json", action="store_true", help="print JSON")
    runtime_opts(b, batch=True)

    e = sub.add_parser("eval", help="accuracy, macro-F1, per-class scores, confusion matrix, latency on labelled data",
                       description="Evaluate a bundle on labelled texts: text<TAB>label lines, or JSON lines with "
                                   "sentence/text/content and label (CLUE style; label_desc names are matched too). A "
                                   "multi-label bundle: text<TAB>label1,label2 lines or JSON lines with a labels "
                                   "list; reports micro/macro-F1, per-label P/R/F1 and exact-set accuracy.")
    e.add_argument("bundle", metavar="BUNDLE")
    e.add_argument("--data", metavar="FILE", required=True, help="text<TAB>label lines or JSON lines")
    e.add_argument("--limit", type=_positive_int, default=None, help="evaluate only the first N rows")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    runtime_opts(e, batch=True)

    s = sub.add_parser("serve", help="HTTP JSON API with dynamic batching (needs edgetext[serve])",
                       description="Serve POST /v1/classify, GET /healthz and GET /metrics; concurrent requests are "
                                   "batched into one engine call. SIGTERM finishes the requests in flight.")
    s.add_argument("bundle", metavar="BUNDLE")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: a free port, printed)")
    s.add_argument("--max-batch", type=_positive_int, default=32, help="texts per engine call (default 32)")
    s.add_argument("--engine-batch", type=_positive_int, default=8,
                   help="texts per backend run inside an engine call, sorted by length (default 8)")
    s.add_argument("--max-wait-ms", type=float, default=5.0, help="wait for batch-mates at most (default 5)")
    s.add_argument("--workers", type=_positive_int, default=1, help="engine calls at once (default 1)")
    s.add_argument("--max-queue", type=_positive_int, default=512, help="texts waiting at most; then 503 (default 512)")
    s.add_argument("--max-texts", type=_positive_int, default=0, help="texts per request (default 256, at most "
                                                                         "--max-queue)")
    s.add_argument("--max-text-chars", type=_positive_int, default=8192, help="characters per text (default 8192)")
    s.add_argument("--max-body-bytes", type=_positive_int, default=1 << 20, help="bytes per request (default 1 MiB)")
    s.add_argument("--shutdown-timeout", type=float, default=30.0, help="seconds SIGTERM waits (default 30)")
    runtime_opts(s)

    cli_dataset.register(sub, _positive_int, _threads)  # classify-dataset (Ray), edgetext.integrations
    export_triton.register(sub)  # export triton
    sub.add_parser("convert", help="convert a model into a bundle (needs the converters: a source checkout, pip install -e '.[convert]')", add_help=False)
    return p


# ------------------------------------------------------------------------------------------------
def _classifier(args):
    from .predictor import TextClassifier

    return TextClassifier(args.bundle, backend=args.backend, device=args.device, threads=args.threads,
                          model=args.model)


def _bench_model(args):
    """What `bench` times: the TextClassifier, or for a text-embedding bundle the TextEmbedder (same stages)."""
    from .errors import TaskMismatchError

    try:
        return _classifier(args)
    except TaskMismatchError:
        from .embedder import TextEmbedder

        return TextEmbedder(args.bundle, backend=args.backend, device=args.device, threads=args.threads,
                            model=args.model)


STDIN_CHUNK = 4096  # stdin texts are classified and printed in chunks: a long stream never sits in memory


def _text_chunks(args):
    """The texts to process: the TEXT arguments as one chunk, else stdin lines in chunks (a usage error when
    there are neither)."""
    if args.texts:
        return [args.texts]
    if sys.stdin is None or sys.stdin.isatty():
        raise _UsageError("no TEXT given and stdin is a terminal: pass texts or pipe them, one per line")
    return _stdin_chunks(sys.stdin, STDIN_CHUNK)


def _cmd_classify(args) -> int:
    chunks = _text_chunks(args)
    out = sys.stdout
    if out is None:  # started with stdout closed (`edgetext classify ... >&-`)
        raise EdgeTextError("stdout is closed: there is nowhere to print the results (redirect it to a file)")
    clf = _classifier(args)
    if clf.text_pairs != args.pairs:  # the predictor would refuse too; this names the flag
        what = "text pairs: pass --pairs (text<TAB>pair lines)" if clf.text_pairs else "single texts: drop --pairs"
        raise PairInputError(f"{args.bundle} classifies {what}")
    for lines in chunks:
        texts, pairs = _split_pairs(lines) if args.pairs else (lines, None)
        results = clf.classify_batch(texts, top_k=args.top_k, batch_size=args.batch_size, text_pairs=pairs,
                                     score_threshold=args.score_threshold)
        for k, (text, cats) in enumerate(zip(texts, results)):
            if args.json:
                obj = {"text": text, **({"text_pair": pairs[k]} if pairs is not None else {})}
                if clf.multi_label:  # a set of labels, maybe empty
                    obj["labels"] = [c.label for c in cats]
                else:
                    top = cats[0] if cats else None  # --score-threshold may drop every category
                    obj.update({"label": top and top.label, "score": top and top.score, "index": top and top.index})
                if clf.multi_label or (args.top_k or 1) > 1:
                    obj["categories"] = [{"label": c.label, "score": c.score, "index": c.index} for c in cats]
                out.write(json.dumps(obj, ensure_ascii=False) + "\n")
            else:
                shown = "  ".join(f"{c.label} {c.score:.4f}" for c in cats) or "-"
                out.write(f"{shown}\t{text}" + (f"\t{pairs[k]}" if pairs is not None else "") + "\n")
        out.flush()
    return EXIT_OK


def _split_pairs(lines: list[str]) -> tuple[list[str], list[str]]:
    """``text<TAB>pair`` lines -> (texts, pairs); a line without exactly one tab is an InvalidInputError."""
    texts, pairs = [], []
    for n, line in enumerate(lines, 1):
        if line.count("\t") != 1:
            raise InvalidInputError(f"--pairs: input {n} has {line.count(chr(9))} tabs, expected text<TAB>pair: "
                                    f"{line[:60]!r}")
        a, b = line.split("\t")
        texts.append(a)
        pairs.append(b)
    return texts, pairs


def _cmd_embed(args) -> int:
    from .embedder import TextEmbedder

    if args.output is not None and not args.output.endswith(".npy"):
        raise _UsageError(f"--output {args.output}: expected a .npy file name")
    chunks = _text_chunks(args)
    out = sys.stdout
    if out is None and args.output is None:
        raise EdgeTextError("stdout is closed: there is nowhere to print the results (use --output FILE.npy)")
    emb = TextEmbedder(args.bundle, backend=args.backend, device=args.device, threads=args.threads,
                       model=args.model)
    parts = []
    for texts in chunks:
        vectors = emb.embed(texts, batch_size=args.batch_size)
        if args.output is not None:
            parts.append(vectors)
            continue
        for text, vec in zip(texts, vectors):
            out.write(json.dumps({"text": text, "embedding": [round(float(x), 7) for x in vec]},
                                 ensure_ascii=False) + "\n")
        out.flush()
    if args.output is not None:
        import numpy as np

        arr = np.concatenate(parts) if parts else np.zeros((0, emb.dim), np.float32)
        np.save(args.output, arr)
        if out is not None:
            out.write(f"wrote {arr.shape[0]} x {arr.shape[1]} float32 embeddings to {args.output}\n")
    return EXIT_OK


def _stdin_lines(stream):
    """Lines as str; raw bytes are decoded strictly so a bad line is named, not mangled."""
    raw = getattr(stream, "buffer", None)
    if raw is None:
        yield from stream
        return
    for number, line in enumerate(raw, 1):
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidInputError(f"stdin line {number} is not valid UTF-8 (bad byte 0x{line[e.start]:02x} at "
                                    f"byte {e.start}): convert the input to UTF-8 first") from None


def _stdin_chunks(stream, size: int):
    """Lists of at most `size` lines; the good lines before a bad one are yielded before its error."""
    chunk: list[str] = []
    try:
        for line in _stdin_lines(stream):
            chunk.append(line.rstrip("\r\n"))
            if len(chunk) == size:
                yield chunk
                chunk = []
    except InvalidInputError:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


def _read_text_lines(path: str, what: str) -> list[str]:
    """The non-empty lines of a UTF-8 file; an error names the file and the line."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InvalidInputError(f"{what} {path}: {e.strerror or e}") from None
    lines = []
    for number, line in enumerate(raw.splitlines(), 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidInputError(f"{what} {path}:{number}: not valid UTF-8 (bad byte 0x{line[e.start]:02x} at byte "
                                    f"{e.start} of the line): convert the file to UTF-8 first") from None
        if text.strip():
            lines.append(text)
    return lines


def _cmd_info(args) -> int:
    from .backends import registry
    from .bundle import Bundle

    with Bundle.open(args.bundle) as b:
        info = b.info()
        for m, spec in zip(info["models"], b.models):
            m["why_not"] = registry.why_unavailable(spec)
            m["runs_here"] = m["why_not"] is None
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=1))
        return EXIT_OK
    print(f"bundle     {info['path']} ({info['kind']}, {info['size']:,} bytes, {info['files']} files)")
    print(f"name       {info['name']}  task {info['task']}  format v{info['format_version']}")
    if info.get("embedding"):
        e = info["embedding"]
        print(f"embedding  dim {e['dim']}, {e['pooling']} pooling, normalize {e['normalize']} (in the model)")
    else:
        print(f"labels     {', '.join(info['labels'])}" + ("  (inputs: text pairs)" if info.get("text_pairs") else ""))
        if info.get("multi_label"):
            tuning = info.get("threshold_tuning") or {"method": "default"}
            how = tuning["method"] + (f" on {tuning['file']} ({tuning.get('rows', '?')} rows, "
                                      f"{tuning.get('metric', 'per-label F1')})" if tuning.get("file") else "")
            print("scores     multi-label: a sigmoid per label, each label applies at >= its threshold "
                  f"(thresholds: {how})")
            print("thresholds " + ", ".join(f"{n} {t:.4g}" for n, t in zip(info["labels"], info["thresholds"])))
    tok = info["tokenizer"]
    print(f"tokenizer  vocab {tok['vocab']}, max_length {tok['max_length']}, lowercase {tok.get('lowercase')}, "
          f"strip_accents {tok.get('strip_accents')}, chinese chars {tok.get('tokenize_chinese_chars')}")
    print(f"golden     {info['golden']} texts")
    for k, step in enumerate(info.get("conversion") or []):
        print(f"{'built' if k == 0 else '':<10} {step}")
    print("models")
    for m, spec in zip(info["models"], b.models):
        here = "runs here" if m["runs_here"] else f"not here: {m['why_not']}"
        how = spec.verification.summary() if spec.verification else ("yes" if m["verified"] else "no")
        print(f"  {m['file']:<32} {m['backend']:<12} {m['target']:<8} {m['precision']:<5} "
              f"{m['size']:>12,} B  [{here}]")
        print(f"  {'':<32} verified: {how}")
    return EXIT_OK


def _cmd_verify(args) -> int:
    from .verify import verify_bundle

    report = verify_bundle(args.bundle, predictions=args.predictions, threads=args.threads)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"OK {report['bundle']}: " + "; ".join(report["checks"]))
        for s in report["skipped"]:
            print(f"skipped {s}")
    return EXIT_OK


def _progress(total: int, desc: str):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional: no progress bar, nothing else changes
        log.debug("tqdm is not installed: no progress bar")
        return None
    return tqdm(total=total, desc=desc, unit="text", file=sys.stderr, disable=None, leave=False)


def _cmd_bench(args) -> int:
    import resource

    from .evaluate import latency_summary

    if args.texts:  # read (and refused) before the model is loaded
        texts = _read_text_lines(args.texts, "--texts")
        if not texts:
            raise _UsageError(f"{args.texts} has no non-empty lines")
    clf = _bench_model(args)
    pairs = bool(getattr(clf, "text_pairs", False))  # a text-pair bundle: text<TAB>pair lines

    def encode(batch: list[str]):
        if not pairs:
            return clf.encode(batch), None
        return clf.encode_pairs(*_split_pairs(batch))

    if not args.texts:
        texts = [g["text"] + (f"\t{g['text_pair']}" if pairs else "") for g in clf.bundle.manifest.golden
                 if g["text"]] or ["edgetext" + ("\tedgetext" if pairs else "")]
    repeat = args.repeat or max(1, -(-256 // len(texts)))
    work = texts * repeat
    bs = args.batch_size
    batches = [work[i:i + bs] for i in range(0, len(work), bs)]
    for batch in batches[:max(0, args.warmup)]:
        ids, types = encode(batch)
        clf.run_ids(ids, batch_size=bs, type_ids=types)
    lat, tok_s, model_s = [], 0.0, 0.0
    bar = _progress(len(work), "bench")
    t_all = time.perf_counter()
    for batch in batches:
        t0 = time.perf_counter()
        ids, types = encode(batch)
        t1 = time.perf_counter()
        clf.run_ids(ids, batch_size=bs, type_ids=types)
        t2 = time.perf_counter()
        tok_s += t1 - t0
        model_s += t2 - t1
        lat.append((t2 - t0) * 1000.0)
        if bar is not None:
            bar.update(len(batch))
    wall = time.perf_counter() - t_all
    if bar is not None:
        bar.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mb = rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0
    d = clf.describe()
    report = {
        "bundle": d["bundle"], "backend": d["backend"], "model": d["model"], "precision": d["precision"],
        "threads": d["threads"]["backend"], "batch_size": bs, "texts": len(work), "batches": len(batches),
        "latency_ms": latency_summary(lat),
        "throughput_texts_per_s": len(work) / wall if wall > 0 else float("inf"),
        "ms_per_text": wall * 1000.0 / len(work),
        "tokenizer_s": tok_s, "model_s": model_s,
        "tokenizer_share": tok_s / (tok_s + model_s) if tok_s + model_s > 0 else 0.0,
        "peak_rss_mb": rss_mb,
    }
    if args.json:
        print(json.dumps(report))
        return EXIT_OK
    ms = report["latency_ms"]
    print(f"{d['backend']} {d['precision']} {d['model']}  threads={report['threads']}  batch={bs}  "
          f"{len(work)} texts in {len(batches)} batches")
    print(f"latency per batch   p50 {ms['p50']:.2f} ms   p90 {ms['p90']:.2f} ms   p99 {ms['p99']:.2f} ms")
    print(f"throughput          {report['throughput_texts_per_s']:.1f} texts/s  ({report['ms_per_text']:.3f} ms/text)")
    print(f"time split          tokenizer {tok_s * 1000:.1f} ms ({report['tokenizer_share']:.1%})   "
          f"model {model_s * 1000:.1f} ms")
    print(f"peak RSS            {rss_mb:.1f} MB")
    return EXIT_OK


def _cmd_eval(args) -> int:
    from dataclasses import replace

    from .evaluate import evaluate, format_report, read_labelled

    with _classifier(args) as clf:
        data = read_labelled(args.data, pairs=clf.text_pairs, multi_label=clf.multi_label)
        if args.limit is not None:
            data = replace(data, texts=data.texts[:args.limit], labels=data.labels[:args.limit],
                           descs=data.descs[:args.limit], pairs=None if data.pairs is None else data.pairs[:args.limit])
        bar = _progress(len(data.texts), "eval")
        try:
            report = evaluate(clf, data, batch_size=args.batch_size,
                              progress=bar.update if bar is not None else None)
        finally:
            if bar is not None:
                bar.close()
        d = clf.describe()
    report["model"] = {"bundle": d["bundle"], "backend": d["backend"], "file": d["model"],
                       "precision": d["precision"], "threads": d["threads"]["backend"]}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"{d['backend']} {d['precision']} {d['model']}")
        print(format_report(report))
    return EXIT_OK


def _cmd_serve(args) -> int:
    try:
        from .serving.server import serve
    except ImportError as e:
        raise EdgeTextError(f"'serve' needs aiohttp ({getattr(e, 'name', None) or e} is not importable): "
                            "pip install edgetext[serve]") from None
    from .serving.config import ServeConfig

    names = ("host", "port", "max_batch", "engine_batch", "max_wait_ms", "workers", "threads", "backend", "device",
             "model", "max_queue", "max_texts", "max_text_chars", "max_body_bytes", "shutdown_timeout")
    return serve(ServeConfig(args.bundle, **{n: getattr(args, n) for n in names}))


def _cmd_convert(argv: list[str]) -> int:
    try:
        from edgetext_converters.cli import main as convert_main
    except ImportError as e:
        missing = getattr(e, "name", None) or str(e)
        _print_error(f"'convert' needs the converters ({missing} is not importable): they run on a host from an "
                     "EdgeText source checkout (pip install -e '.[convert]' there); the runtime wheel does not carry them")
        return EXIT_FAIL
    try:
        return int(convert_main(argv) or 0)
    except SystemExit as e:  # argparse's --help / usage errors inside the converters' CLI
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_FAIL)


def _print_error(message: str) -> None:
    """One line on stderr, whatever the message holds (multi-line reports are joined with ' | ')."""
    text = " | ".join(line.strip() for line in str(message).splitlines() if line.strip())
    print(f"{PROG}: error: {text}", file=sys.stderr)


COMMANDS = {"classify": _cmd_classify, "info": _cmd_info, "verify": _cmd_verify, "bench": _cmd_bench,
            "eval": _cmd_eval, "serve": _cmd_serve}
COMMANDS["embed"] = _cmd_embed
COMMANDS[cli_dataset.NAME] = cli_dataset.run
COMMANDS[export_triton.NAME] = export_triton.run


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "convert":
            return _cmd_convert(argv[1:])
        parser = _build_parser()
        # Texts may come before or after options (`classify B --json TEXT`), as users type them.
        args, extra = parser.parse_known_args(argv)
        if extra and args.command in ("classify", "embed") and not any(x.startswith("-") for x in extra):
            args.texts = list(args.texts) + extra
        elif extra:
            parser.parse_args(argv)  # reports the unrecognized arguments (exit 2)
        if not args.command:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return COMMANDS[args.command](args)
    except _UsageError as e:
        _print_error(str(e))
        return EXIT_USAGE
    except BrokenPipeError:  # `edgetext classify ... | head`
        _silence_stdout()
        return EXIT_OK
    except (EdgeTextError, OSError, UnicodeDecodeError) as e:
        _print_error(str(e) or type(e).__name__)
        return EXIT_FAIL
    except KeyboardInterrupt:
        _print_error("interrupted")
        return 130
    except Exception as e:  # noqa: BLE001 (a bug, not the user's fault: one line, the traceback on request)
        if os.environ.get("EDGETEXT_DEBUG"):
            raise
        _print_error(f"internal error ({type(e).__name__}: {e}); please report it, with EDGETEXT_DEBUG=1 "
                     "for the traceback")
        return EXIT_FAIL


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
