"""TextClassifier: the one predictor API over every backend.

    clf = TextClassifier("reviews.etb", backend="auto", threads=2)
    clf.classify("这家店的菜很好吃")        # [Category(label='positive', score=0.97, index=1)]
    clf.classify_batch(texts, top_k=2)     # list[list[Category]], caller's order
    tagger.classify("...")                 # a multi-label bundle: every label >= its threshold (maybe none)
    clf.logits(texts)                      # np.ndarray [N, C] float32
    clf.describe()                         # backend, model file, precision, target, threads, why

A thin composition (tflite-support style): pre-processing (edgetext.preprocess:
the bundle's tokenizer, truncation to the manifest max_length, length-bucketed
batches padded to their longest text, cast to the declared dtypes) -> inference
(a backend from edgetext.backends, picked by the table in backends/registry.py)
-> post-processing (edgetext.postprocess: softmax, top-k; a multi-label bundle: a sigmoid per
label and its threshold). One `threads` setting
drives tokenizer and backend, so every backend sees identical inputs.
A classifier is safe to share between threads. After os.fork() the child may use it when no call was
running at the fork; a classifier forked mid-call raises BackendError in the child ("Concurrency" in
docs/architecture.md).

May import: numpy, the standard library, edgetext.errors, edgetext.bundle,
edgetext.preprocess, edgetext.postprocess and edgetext.backends.registry (backend
classes through registry.backend_class). Never edgetext.verify (which imports this module).
"""
from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np

from .backends import registry
from .bundle import Bundle
from .errors import (BackendError, BundleIntegrityError, InputTypeError, InvalidInputError, ManifestError,
                     PairInputError, TaskMismatchError)
from .limits import check_threads, cpu_count, max_threads
from .manifest import Manifest, ModelSpec
from .postprocess import Category, ClassificationPostprocessor, softmax
from .preprocess import TextPreprocessor, check_pairs, check_text, check_texts, length_buckets, pad_id_of

__all__ = ["BundleModel", "Category", "TextClassifier", "check_task", "softmax", "golden_expectations",
           "SCORE_TOLERANCE"]

log = logging.getLogger(__name__)

_DTYPES = {"int64": np.int64, "int32": np.int32}
# golden score tolerance per precision (labels must match exactly); edgetext.verify uses the same
SCORE_TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2, "int8": 5e-2}
# backend="auto": engine calls with fewer tokens than this (rows x longest row) may go to the table's best model
# for latency: on this host OpenVINO's int8 overtakes ONNX Runtime's from about 1,000 tokens per call (bench/e2e.py:
# reviews at batch 32, ~1,900 tokens, 1.2x faster; TNEWS titles at batch 32, ~640 tokens, and single texts slower)
SMALL_TOKENS = 1024
LOAD_GOLDEN_TEXTS = 8  # at most this many golden texts are run at load: one per distinct expected label


#: (golden index, text, its pair or None, expectation)
Golden = tuple[int, str, "str | None", dict]


def golden_expectations(manifest: Manifest, spec: ModelSpec) -> list[Golden]:
    """(golden index, text, text_pair, expectation) for every golden entry that states a label for `spec`'s
    model (its ``per_model`` entry overriding the top-level label/score). The manifest rules make every entry
    of a text-pair bundle a pair and no entry of another bundle one."""
    found = []
    for i, g in enumerate(manifest.golden):
        expect = (g.get("per_model") or {}).get(spec.file, g)
        if "label" in expect:
            found.append((i, g["text"], g.get("text_pair"), expect))
    return found


def _load_sample(expected: list[Golden], limit: int) -> list[Golden]:
    """One golden text per distinct expected label (multi-label: label set) so swapped labels show, at most
    `limit`."""
    seen: set[object] = set()
    picked = []
    for item in expected:
        key = tuple(item[3]["labels"]) if item[3].get("labels") is not None else item[3]["label"]
        if key not in seen:
            seen.add(key)
            picked.append(item)
    return picked[:limit]


#: the public class of each manifest task, for the error that names the right one
TASK_API = {"text-classification": "edgetext.TextClassifier", "text-embedding": "edgetext.TextEmbedder"}


def check_task(manifest: Manifest, task: str, api: str) -> None:
    """TaskMismatchError unless the bundle's task is `task` (`api` names the class that was given it)."""
    if manifest.task != task:
        raise TaskMismatchError(f"{manifest.name or 'this bundle'} is a {manifest.task} bundle, not {task}: "
                                f"{api} cannot use it; load it with {TASK_API.get(manifest.task, 'another API')}")


def _check_positive_int(value, what: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputTypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 1:
        raise InvalidInputError(f"{what} must be >= 1, got {value}")
    return int(value)


def _check_probability(value, what: str) -> float | None:
    """None, or a finite number within [0, 1] (InputTypeError / InvalidInputError otherwise)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise InputTypeError(f"{what} must be a number within [0, 1], not {type(value).__name__}")
    if not (0.0 <= float(value) <= 1.0):  # NaN fails both comparisons
        raise InvalidInputError(f"{what} must be within [0, 1], got {value!r}")
    return float(value)


class BundleModel:
    """What every task's predictor shares (TextClassifier, edgetext.embedder.TextEmbedder): the bundle, the
    model the table chooses, the tokenizer and pre-processing, the backend, output checks, fork detection.

    A subclass sets ``TASK`` (the manifest task it serves), ``_output_width()`` (values per text) and
    ``_width_says()`` (how the bundle states it, for errors), ``_setup()`` (its own state) and
    ``_check_golden_predictions()`` (the load-time golden check of its task). Arguments as in :class:`TextClassifier`. A bundle of another task is refused
    (TaskMismatchError).
    """

    TASK = "text-classification"
    _WIDTH_WHAT = "labels"  # what the output values of one text are, in error messages

    def __init__(self, bundle_or_path, backend: str = "auto", device: str = "cpu", threads: int | None = None,
                 *, model: str | None = None, check_golden: bool = True):
        self.threads = check_threads(threads, "threads")
        self._owns_bundle = not isinstance(bundle_or_path, Bundle)
        self.bundle = Bundle.open(bundle_or_path)
        try:
            self._load(backend, device, model, check_golden)
        except BaseException:
            self.close()
            raise

    def _load(self, backend: str, device: str, model: str | None, check_golden: bool) -> None:
        self.device = device
        manifest = self.bundle.manifest
        check_task(manifest, self.TASK, type(self).__name__)
        self._choice = registry.choose(manifest, backend, device, model)
        self.spec = self._choice.spec
        log.debug("%s: %s", self.bundle.path, self._choice.reason)
        self.labels = manifest.labels
        self.text_pairs = manifest.text_pairs  # inputs are (text, text_pair): encode_pairs, run_ids(type_ids=)
        self.max_length = manifest.max_length
        self.tokenizer = self.bundle.tokenizer(self.threads)
        if check_golden:
            self.bundle.check_golden_ids(self.tokenizer)
        pad = (manifest.tokenizer.get("special_tokens") or {}).get("pad", "[PAD]")
        self._pre = TextPreprocessor(self.tokenizer, self.max_length, pad_id_of(self.tokenizer, pad),
                                     {i.role: _DTYPES[i.dtype] for i in self.spec.inputs}, self.threads)
        self._setup(manifest)
        cls = registry.backend_class(self.spec.backend)
        self._backend = cls(self.bundle.read(self.spec.file), self.spec, self.threads, device)
        self._pre.pad_multiple = int(getattr(self._backend, "pad_multiple", 1))
        self._small: BundleModel | None = None  # set below, after this model's own golden check
        self._small_why = ""
        # fork detection: the process that owns the engine, and the calls in flight (list append/pop are atomic
        # under the GIL and take no lock a fork could leave held)
        self._pid = os.getpid()
        self._in_flight: list[None] = []
        self._forked_mid_call = False
        self._check_output()
        self.golden_checked = 0
        if check_golden:
            self._check_golden_predictions()
        # backend="auto": engine calls of fewer than SMALL_TOKENS tokens go to the table's best model for latency
        # when that is another file of the bundle (OpenVINO's int8 is fastest on large batches, ONNX Runtime's on
        # single texts and short batches): a sibling of this task's class on that file, with its own checks
        if backend == registry.AUTO and model is None:
            small = registry.choose(manifest, backend, device, latency=True)
            if small.spec.file != self.spec.file:
                self._small = type(self)(self.bundle, backend=small.spec.backend, device=device,
                                         threads=self.threads, model=small.spec.file, check_golden=check_golden)
                self._small_why = small.reason

    def _check_finite(self, logits: np.ndarray, what) -> None:
        """BackendError naming the first row with a NaN or Inf logit (`what(row)` says whose row it is)."""
        if not np.isfinite(logits).all():
            row = int(np.argwhere(~np.isfinite(logits))[0][0])
            raise BackendError(f"{self.spec.file} produced non-finite logits (NaN or Inf) for {what(row)}: "
                               f"{logits[row].tolist()}: the model is broken; refused rather than classified")

    def _setup(self, manifest: Manifest) -> None:
        """The task's own state, made before the backend loads (e.g. the post-processor)."""

    def _output_width(self) -> int:
        return len(self.labels)

    def _width_says(self) -> str:
        """What the bundle says the output width is, for the load-time probe's error."""
        raise NotImplementedError

    def _check_output(self) -> None:
        """One tiny run at load: warms the backend up and proves the model emits ``_output_width()`` finite
        values per text."""
        if self.text_pairs:  # the pair probe feeds token type 1 too
            out = self._backend.run(self._pre.feeds(*self._pre.encode_pairs([""], [""])))
        else:
            out = self._backend.run(self._pre.feeds(self._pre.probe()))
        if out.ndim != 2 or out.shape[1] != self._output_width():
            raise ManifestError(f"{self.spec.file} outputs shape {tuple(out.shape)} but {self._width_says()}")
        self._check_finite(out, lambda r: "the load-time probe (an empty text)")

    def _check_golden_predictions(self) -> None:
        raise NotImplementedError

    # -- the two stages (public so that benchmarks can time them apart) --------------------------
    def _check_pairs(self, pairs: object, what: str) -> None:
        """PairInputError when `pairs` (None or the second texts) does not fit the bundle's ``text_pairs``."""
        name = self.bundle.manifest.name or "this bundle"
        if self.text_pairs and pairs is None:
            raise PairInputError(f"{name} classifies text pairs: pass the second texts ({what})")
        if not self.text_pairs and pairs is not None:
            raise PairInputError(f"{name} classifies single texts, not pairs: drop {what} (or convert a pair "
                                 "model with edgetext convert --pairs)")

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, truncated to the bundle's max_length (single-text bundles; a text-pair
        bundle takes :meth:`encode_pairs`)."""
        self._check_pairs(None, "encode_pairs(texts, text_pairs)")
        self._check_process()
        self._in_flight.append(None)
        try:
            return self._pre.encode(texts)
        finally:
            self._in_flight.pop()

    def encode_pairs(self, texts: list[str], text_pairs: list[str]) -> tuple[list[list[int]], list[list[int]]]:
        """Token ids and token types of each pair, truncated longest-first to max_length (text-pair bundles)."""
        self._check_pairs(text_pairs, "text_pairs")
        self._check_process()
        self._in_flight.append(None)
        try:
            return self._pre.encode_pairs(texts, text_pairs)
        finally:
            self._in_flight.pop()

    def run_ids(self, ids: list[list[int]], batch_size: int = 32, *,
                type_ids: list[list[int]] | None = None) -> np.ndarray:
        """Logits of pre-tokenized texts: length-bucketed batches, each padded to its longest. ``type_ids``:
        the token types of pairs (:meth:`encode_pairs`), required by a text-pair bundle and refused otherwise."""
        batch_size = _check_positive_int(batch_size, "batch_size")
        self._check_pairs(type_ids, "type_ids")
        if type_ids is not None and len(type_ids) != len(ids):
            raise PairInputError(f"{len(type_ids)} type_ids rows for {len(ids)} id rows")
        n_labels = self._output_width()
        out = np.empty((len(ids), n_labels), dtype=np.float32)
        self._check_process()
        self._in_flight.append(None)
        try:
            self._run_batches(ids, type_ids, batch_size, n_labels, out)
        finally:
            self._in_flight.pop()
        return out

    def _run_batches(self, ids: list[list[int]], types: list[list[int]] | None, batch_size: int, n_labels: int,
                     out: np.ndarray) -> None:
        for idx in length_buckets([len(r) for r in ids], batch_size):
            rows = [ids[i] for i in idx]
            trows = None if types is None else [types[i] for i in idx]
            if self._small is not None and len(rows) * max(map(len, rows)) < SMALL_TOKENS:
                out[idx] = self._small.run_ids(rows, batch_size=len(rows), type_ids=trows)
                continue
            try:
                feeds = self._pre.feeds(rows, trows)
            except ValueError as e:  # pad_rows: a type row of another length than its id row
                raise PairInputError(f"type_ids do not match the id rows: {e}") from None
            logits = self._backend.run(feeds)
            if logits.ndim != 2 or logits.shape != (len(idx), n_labels):
                raise BackendError(f"{self.spec.file} returned logits of shape {logits.shape}, expected "
                                   f"({len(idx)}, {n_labels}) for {n_labels} {self._WIDTH_WHAT}")
            self._check_finite(logits, lambda r: f"texts[{int(idx[r])}]")  # noqa: B023 (called at once)
            out[idx] = logits

    def _check_process(self) -> None:
        """In a child after os.fork(): go on with the inherited engine if no call was running at the fork, else
        BackendError. A call in flight on another thread at fork time can leave its engine's locks held in the
        child (Paddle Lite's run() lock, ONNX Runtime's intra-op pool), where the next call would hang forever;
        re-creating the engine in the child can hang too (ONNX Runtime, once paddle is imported)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._forked_mid_call = self._forked_mid_call or bool(self._in_flight)
            self._in_flight = []
        if self._forked_mid_call:
            raise BackendError(
                f"this {type(self).__name__} ({self.spec.file}) was inside a call on another thread when the "
                f"process forked: its engine may be locked in this child. Create a new {type(self).__name__} in the "
                "child, or fork "
                "only while no call is running (or use multiprocessing's 'spawn'/'forkserver' start methods)")

    def describe(self) -> dict:
        """What runs and why: backend, model file, precision, target, threads, the table's reason."""
        info = self._backend.describe()
        return {
            "bundle": str(self.bundle.path), "name": self.bundle.manifest.name, "task": self.bundle.manifest.task,
            "backend": self.spec.backend, "model": self.spec.file, "precision": self.spec.precision,
            "target": self.spec.target, "device": self.device, "host": registry.host_arch(),
            "threads": {"requested": self.threads, "tokenizer": self.threads or "tokenizer default",
                        "backend": info.get("threads"), "how": info.get("threads_how"),
                        "cpus": cpu_count(), "max": max_threads()},
            "why": self._choice.reason, "not_chosen": list(self._choice.rejected),
            "small_batches": None if self._small is None else {
                "under_tokens": SMALL_TOKENS, "backend": self._small.spec.backend, "model": self._small.spec.file,
                "why": self._small_why, "golden_checked_at_load": self._small.golden_checked},
            "golden_checked_at_load": self.golden_checked,
            "engine": info, "labels": list(self.labels), "text_pairs": self.text_pairs, "max_length": self.max_length,
            "inputs": [{"name": i.name, "role": i.role, "dtype": i.dtype} for i in self.spec.inputs],
        }

    def close(self) -> None:
        """Close the bundle if this classifier opened it (the loaded model keeps working)."""
        if self._owns_bundle:
            self.bundle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self.bundle.path)!r}, backend={self.spec.backend!r}, "
                f"model={self.spec.file!r}, threads={self.threads})")


class TextClassifier(BundleModel):
    """Classify texts with a bundle. See the module docstring.

    bundle_or_path: a :class:`Bundle` or a path to a bundle folder / .etb.
    backend: "auto" (the best model for this host, by the table in backends/registry.py),
        "onnxruntime" or "paddlelite". An explicit backend the bundle or host cannot serve
        raises BackendUnavailableError listing what is available.
    device: "cpu", "cuda" or "cuda:N".
    threads: one setting for the tokenizer and the backend (None: each library's default).
    model: a model file of the bundle to use instead of the table's choice.
    check_golden: at load, check the bundle's golden token ids with this host's tokenizer and the
        golden predictions of the model actually chosen (one golden text per distinct expected
        label, at most 8): a re-sealed bundle with another model, swapped labels or the wrong
        architecture's file is refused (BundleIntegrityError), as is one with no golden
        predictions for that model. False skips both (a bundle you built and trust).
    """

    def _setup(self, manifest: Manifest) -> None:
        self.multi_label = manifest.multi_label  # a sigmoid per label, each decided by its own threshold
        self.thresholds = manifest.thresholds
        self._post = ClassificationPostprocessor(self.labels, self.thresholds)

    def describe(self) -> dict:
        """:meth:`BundleModel.describe` plus the task's settings: multi_label, thresholds and how they were chosen."""
        info = super().describe()
        m = self.bundle.manifest
        info.update({"multi_label": self.multi_label,
                     "thresholds": None if self.thresholds is None else list(self.thresholds),
                     "threshold_tuning": m.threshold_tuning or None,
                     "scores": "sigmoid per label" if self.multi_label else "softmax"})
        return info

    def _width_says(self) -> str:
        return f"the bundle has {len(self.labels)} labels {list(self.labels)}"

    def _check_golden_predictions(self) -> None:
        expected = golden_expectations(self.bundle.manifest, self.spec)
        if not expected:
            raise BundleIntegrityError(
                f"the bundle has no golden predictions for {self.spec.file} (no single-text golden entry with a "
                "label), so this host cannot check that it runs the model the bundle was built with: rebuild the "
                "bundle with golden texts, or pass check_golden=False to load it unchecked")
        problems = self.golden_problems(_load_sample(expected, LOAD_GOLDEN_TEXTS))
        if problems:
            raise BundleIntegrityError("golden predictions differ at load (the model, its labels or its file were "
                                       "changed, or it is not for this host): " + "; ".join(problems[:3]))
        self.golden_checked = len(_load_sample(expected, LOAD_GOLDEN_TEXTS))

    def golden_problems(self, expected: list[Golden] | None = None) -> list[str]:
        """Where this model disagrees with golden labels / scores (all of them by default), one text per
        run: dynamically quantized (int8) models scale activations per batch, so a text's scores depend
        on its batch-mates; goldens are recorded one text at a time."""
        if expected is None:
            expected = golden_expectations(self.bundle.manifest, self.spec)
        if not expected:
            return []
        pairs = [p or "" for _, _, p, _ in expected] if self.text_pairs else None  # manifest: all str here
        tol = SCORE_TOLERANCE[self.spec.precision]
        if self.multi_label:
            return self._multi_label_golden_problems(expected, pairs, tol)
        results = self._categories([t for _, t, _, _ in expected], pairs, len(self.labels), 1)
        problems = []
        for (i, _, _, expect), res in zip(expected, results):
            got = res[0]
            if got.label != expect["label"]:
                # a near-tie at this precision (the expected label within `tol` of the top and of its recorded
                # score) is not a different model: argmax is not defined closer than the precision's tolerance
                mine = next((c.score for c in res if c.label == expect["label"]), 0.0)
                tie = got.score - mine <= tol and abs(mine - expect.get("score", mine)) <= tol
                if not tie:
                    problems.append(f"{self.spec.file}: golden[{i}] predicts {got.label!r} ({got.score:.4f}), "
                                    f"expected {expect['label']!r}")
            elif "score" in expect and abs(got.score - expect["score"]) > tol:
                problems.append(f"{self.spec.file}: golden[{i}] score {got.score:.4f}, expected "
                                f"{expect['score']:.4f} (tolerance {tol} for {self.spec.precision})")
        return problems

    def _multi_label_golden_problems(self, expected: list[Golden], pairs: list[str] | None,
                                     tol: float) -> list[str]:
        """Multi-label golden check: the decided label set, and the recorded label's probability within `tol`.
        A label whose probability lies within `tol` of its threshold may go either way at this precision."""
        logits = self._logits_of([t for _, t, _, _ in expected], pairs, 1)
        probs = self._post.scores(logits)
        assert self.thresholds is not None
        problems = []
        for (i, _, _, expect), row, got in zip(expected, probs, self._post.decisions(logits)):
            want = set(expect.get("labels") or ())
            have = {self.labels[j] for j in np.flatnonzero(got)}
            flipped = [lab for lab in sorted(want ^ have)
                       if abs(float(row[self.labels.index(lab)]) - self.thresholds[self.labels.index(lab)]) > tol]
            if flipped:
                problems.append(f"{self.spec.file}: golden[{i}] predicts the labels {sorted(have)}, expected "
                                f"{sorted(want)}")
            lab = expect.get("label")
            if lab in self.labels and "score" in expect and abs(float(row[self.labels.index(lab)]) - expect["score"]) > tol:
                problems.append(f"{self.spec.file}: golden[{i}] score of {lab!r} {float(row[self.labels.index(lab)]):.4f}, "
                                f"expected {expect['score']:.4f} (tolerance {tol} for {self.spec.precision})")
        return problems

    # -- public API -----------------------------------------------------------------------------
    def classify(self, text: str, top_k: int | None = None, *, text_pair: str | None = None,
                 score_threshold: float | None = None) -> list[Category]:
        """The categories of one text (or of the pair text, text_pair for a text-pair bundle), best first.

        Single-label bundles: the ``top_k`` best (default 1; softmax scores), without those scoring below
        ``score_threshold`` (default: none dropped). Multi-label bundles (``multi_label``): every label whose
        sigmoid probability is >= its threshold (the bundle's ``thresholds``; ``score_threshold`` replaces them
        all), at most ``top_k`` (default: all); an empty list when no label applies."""
        if text_pair is None:
            self._check_pairs(None, "text_pair=")
            return self._categories([check_text(text)], None, top_k, 1, score_threshold)[0]
        self._check_pairs(text_pair, "text_pair=")
        return self._categories([check_text(text)], [check_text(text_pair)], top_k, 1, score_threshold)[0]

    def classify_batch(self, texts: Sequence[str], top_k: int | None = None, batch_size: int = 32, *,
                       text_pairs: Sequence[str] | None = None,
                       score_threshold: float | None = None) -> list[list[Category]]:
        """:meth:`classify` of every text (pair: texts[i], text_pairs[i]), in the caller's order."""
        texts = check_texts(texts)
        self._check_pairs(text_pairs, "text_pairs=")
        return self._categories(texts, None if text_pairs is None else check_pairs(texts, text_pairs), top_k,
                                batch_size, score_threshold)

    def scores(self, texts: str | Sequence[str], batch_size: int = 32, *,
               text_pairs: str | Sequence[str] | None = None) -> np.ndarray:
        """Every label's score [N, C] float32: softmax rows, or a multi-label bundle's per-label sigmoid
        probabilities (what its thresholds apply to)."""
        return self._post.scores(self.logits(texts, batch_size, text_pairs=text_pairs))

    def logits(self, texts: str | Sequence[str], batch_size: int = 32, *,
               text_pairs: str | Sequence[str] | None = None) -> np.ndarray:
        """Raw logits [N, C] float32 (a str is a batch of one; so is a str text_pairs)."""
        one = isinstance(texts, str)
        texts = [check_text(texts)] if one else check_texts(texts)
        self._check_pairs(text_pairs, "text_pairs=")
        if text_pairs is None:
            return self.run_ids(self.encode(texts), batch_size=batch_size)
        pairs = [check_text(text_pairs)] if one and isinstance(text_pairs, str) else check_pairs(texts, text_pairs)
        ids, types = self.encode_pairs(texts, pairs)
        return self.run_ids(ids, batch_size=batch_size, type_ids=types)

    def decide(self, logits: np.ndarray) -> np.ndarray:
        """A multi-label bundle's decisions [N, C] bool for logits (probability >= each label's threshold);
        a single-label bundle's one-hot argmax."""
        logits = np.asarray(logits)
        if self.multi_label:
            return self._post.decisions(logits)
        out = np.zeros(logits.shape, dtype=bool)
        out[np.arange(len(logits)), logits.argmax(axis=1)] = True
        return out

    def _categories(self, texts: list[str], pairs: list[str] | None, top_k: int | None,
                    batch_size: int, score_threshold: float | None = None) -> list[list[Category]]:
        top_k = _check_positive_int(top_k, "top_k", allow_none=True)
        score_threshold = _check_probability(score_threshold, "score_threshold")
        return self._post(self._logits_of(texts, pairs, batch_size), top_k, score_threshold)

    def _logits_of(self, texts: list[str], pairs: list[str] | None, batch_size: int) -> np.ndarray:
        if pairs is None:
            return self.run_ids(self.encode(texts), batch_size=batch_size)
        ids, types = self.encode_pairs(texts, pairs)
        return self.run_ids(ids, batch_size=batch_size, type_ids=types)
