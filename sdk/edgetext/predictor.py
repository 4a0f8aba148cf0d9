"""TextClassifier: the one predictor API over every backend.

    clf = TextClassifier("reviews.etb", backend="auto", threads=2)
    clf.classify("这家店的菜很好吃")        # [Category(label='positive', score=0.97, index=1)]
    clf.classify_batch(texts, top_k=2)     # list[list[Category]], caller's order
    clf.logits(texts)                      # np.ndarray [N, C] float32
    clf.describe()                         # backend, model file, precision, target, threads, why

Composition (tflite-support style): pre-processing (the bundle's tokenizer) ->
inference (a backend from edgetext.backends, picked by the table in
backends/registry.py) -> post-processing (softmax, top-k). The predictor owns
tokenization, truncation to the manifest max_length, length-bucketed batching
(sort by length, pad each batch only to its longest text, restore order),
casting to the dtypes the manifest declares, and the one `threads` setting
shared by tokenizer and backend, so every backend sees identical inputs.
A classifier is safe to share between threads.
"""
from __future__ import annotations

import os
from typing import NamedTuple, Sequence

import numpy as np

from .bundle import Bundle
from .backends import registry
from .errors import (BackendError, EdgeTextError, InputTypeError, InvalidInputError, ManifestError,
                     TokenizerError)

_DTYPES = {"int64": np.int64, "int32": np.int32}


class Category(NamedTuple):
    """One class of a result: its label, softmax score and index in the bundle's labels."""

    label: str
    score: float
    index: int


def _check_positive_int(value, what: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputTypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 1:
        raise InvalidInputError(f"{what} must be >= 1, got {value}")
    return int(value)


def _check_text(text, i: int | None = None) -> str:
    where = "text" if i is None else f"texts[{i}]"
    if isinstance(text, str):
        return text
    if text is None:
        raise InvalidInputError(f"{where} is None: pass a str")
    if isinstance(text, (bytes, bytearray, memoryview)):
        raise InputTypeError(f"{where} is bytes: decode it first, e.g. data.decode('utf-8')")
    raise InputTypeError(f"{where} must be a str, not {type(text).__name__}")


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise InputTypeError("texts must be a list of str; for one text use classify(text)")
    if texts is None or isinstance(texts, (bytes, bytearray, dict)) or not hasattr(texts, "__iter__"):
        raise InputTypeError(f"texts must be a list of str, not {type(texts).__name__}")
    return [_check_text(t, i) for i, t in enumerate(texts)]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


class TextClassifier:
    """Classify texts with a bundle. See the module docstring.

    bundle_or_path: a :class:`Bundle` or a path to a bundle folder / .etb.
    backend: "auto" (the best model for this host, by the table in backends/registry.py),
        "onnxruntime" or "paddlelite". An explicit backend the bundle or host cannot serve
        raises BackendUnavailableError listing what is available.
    device: "cpu", "cuda" or "cuda:N".
    threads: one setting for the tokenizer and the backend (None: each library's default).
    model: a model file of the bundle to use instead of the table's choice.
    check_golden: check the bundle's golden token ids with this host's tokenizer at load time.
    """

    def __init__(self, bundle_or_path, backend: str = "auto", device: str = "cpu", threads: int | None = None,
                 *, model: str | None = None, check_golden: bool = True):
        self.threads = _check_positive_int(threads, "threads", allow_none=True)
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
        self._choice = registry.choose(manifest, backend, device, model)
        self.spec = self._choice.spec
        self.labels = manifest.labels
        self.max_length = manifest.max_length
        self.tokenizer = self.bundle.tokenizer(self.threads)
        if check_golden:
            self.bundle.check_golden_ids(self.tokenizer)
        pad = (manifest.tokenizer.get("special_tokens") or {}).get("pad", "[PAD]")
        pad_id = self.tokenizer.token_to_id(pad)
        self._pad_id = 0 if pad_id is None else int(pad_id)
        self._inputs = [(i.role, _DTYPES[i.dtype]) for i in self.spec.inputs]
        cls = registry.backend_class(self.spec.backend)
        self._backend = cls(self.bundle.read(self.spec.file), self.spec, self.threads, device)
        self._check_output()

    def _check_output(self) -> None:
        """One tiny run at load: warms the backend up and proves the model emits one logit per label."""
        probe = self.tokenizer.encode("", max_length=self.max_length, truncation=True)
        out = self._backend.run(self._feeds([probe]))
        if out.ndim != 2 or out.shape[1] != len(self.labels):
            raise ManifestError(f"{self.spec.file} outputs shape {tuple(out.shape)} but the bundle has "
                                f"{len(self.labels)} labels {list(self.labels)}")

    # -- public API -----------------------------------------------------------------------------
    def classify(self, text: str, top_k: int = 1) -> list[Category]:
        """The top_k categories of one text, best first (softmax scores)."""
        return self._categories([_check_text(text)], top_k, 1)[0]

    def classify_batch(self, texts: Sequence[str], top_k: int = 1, batch_size: int = 32) -> list[list[Category]]:
        """The top_k categories of every text, in the caller's order."""
        return self._categories(_check_texts(texts), top_k, batch_size)

    def logits(self, texts: str | Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Raw logits [N, C] float32 (a str is a batch of one)."""
        texts = [_check_text(texts)] if isinstance(texts, str) else _check_texts(texts)
        return self.run_ids(self.encode(texts), batch_size=batch_size)

    def _categories(self, texts: list[str], top_k: int, batch_size: int) -> list[list[Category]]:
        top_k = min(_check_positive_int(top_k, "top_k"), len(self.labels))
        probs = softmax(self.run_ids(self.encode(texts), batch_size=batch_size))
        order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
        labels = self.labels
        return [[Category(labels[j], float(p[j]), int(j)) for j in row] for p, row in zip(probs, order)]

    # -- the two stages (public so that benchmarks can time them apart) --------------------------
    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, truncated to the bundle's max_length."""
        if not texts:
            return []
        try:
            return self.tokenizer.encode_batch(texts, max_length=self.max_length, truncation=True,
                                               threads=self.threads)
        except EdgeTextError:
            raise
        except (UnicodeError, TypeError, ValueError) as e:
            for i, text in enumerate(texts):  # diagnose only on failure: no extra pass on the hot path
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as u:
                    raise InvalidInputError(f"texts[{i}] is not valid Unicode: lone surrogate "
                                            f"{text[u.start]!r} at character {u.start}") from None
            raise TokenizerError(f"the tokenizer failed: {e}") from e

    def run_ids(self, ids: list[list[int]], batch_size: int = 32) -> np.ndarray:
        """Logits of pre-tokenized texts: length-bucketed batches, each padded to its longest."""
        batch_size = _check_positive_int(batch_size, "batch_size")
        n_labels = len(self.labels)
        out = np.empty((len(ids), n_labels), dtype=np.float32)
        if not ids:
            return out
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(ids), batch_size):
            idx = order[start:start + batch_size]
            logits = self._backend.run(self._feeds([ids[i] for i in idx]))
            if logits.ndim != 2 or logits.shape != (len(idx), n_labels):
                raise BackendError(f"{self.spec.file} returned logits of shape {logits.shape}, expected "
                                   f"({len(idx)}, {n_labels}) for {n_labels} labels")
            out[idx] = logits
        return out

    def _feeds(self, rows: list[list[int]]) -> dict[str, np.ndarray]:
        width = max(1, max(len(r) for r in rows))
        ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, row in enumerate(rows):
            ids[r, :len(row)] = row
            mask[r, :len(row)] = 1
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return {role: arrays[role].astype(dtype, copy=False) for role, dtype in self._inputs}

    def describe(self) -> dict:
        """What runs and why: backend, model file, precision, target, threads, the table's reason."""
        info = self._backend.describe()
        return {
            "bundle": str(self.bundle.path), "name": self.bundle.manifest.name,
            "backend": self.spec.backend, "model": self.spec.file, "precision": self.spec.precision,
            "target": self.spec.target, "device": self.device, "host": registry.host_arch(),
            "threads": {"requested": self.threads, "tokenizer": self.threads or "tokenizer default",
                        "backend": info.get("threads"), "how": info.get("threads_how"),
                        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()},
            "why": self._choice.reason, "not_chosen": list(self._choice.rejected),
            "engine": info, "labels": list(self.labels), "max_length": self.max_length,
            "inputs": [{"name": i.name, "role": i.role, "dtype": i.dtype} for i in self.spec.inputs],
        }

    def close(self) -> None:
        """Close the bundle if this classifier opened it (the loaded model keeps working)."""
        if self._owns_bundle:
            self.bundle.close()

    def __enter__(self) -> "TextClassifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"TextClassifier({str(self.bundle.path)!r}, backend={self.spec.backend!r}, "
                f"model={self.spec.file!r}, threads={self.threads})")
