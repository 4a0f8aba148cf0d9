"""TextEmbedder: sentence embeddings from a text-embedding bundle, over every backend.

    emb = TextEmbedder("minilm-embed.etb", backend="auto", threads=2)
    v = emb.embed("how do I reset my password")       # np.ndarray [D] float32 (a str gives one vector)
    m = emb.embed(["first text", "second text"])      # np.ndarray [N, D] float32, the caller's order
    emb.similarity("a cat sat", "a cat was sitting")  # cosine, float
    emb.describe()                                    # backend, model, task, pooling, normalize, dim, why

The same composition as TextClassifier (predictor.BundleModel: the bundle's tokenizer, truncation to
max_length, length-bucketed batches, the backend the table picks, fork and NaN checks); the model
itself pools (mean over the attention mask, [CLS] or the pooler, as the manifest's ``embedding`` says)
and L2-normalizes when ``normalize`` is set, so every backend returns the same [B, D] embeddings. With
``normalize`` the runtime renormalizes each row once more (exact unit vectors from int8 models too).

At load (``check_golden=True``): golden token ids, one probe run (width == ``embedding.dim``, finite),
and the golden embeddings of the chosen model (cosine >= COSINE_TOLERANCE[precision] to what the
converter measured for that file, one text per run).

May import: numpy, the standard library, edgetext.errors, edgetext.manifest, edgetext.preprocess,
edgetext.predictor (BundleModel), edgetext.backends.registry.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import BundleIntegrityError, InputTypeError
from .manifest import Manifest, ModelSpec
from .predictor import BundleModel
from .preprocess import check_text, check_texts

__all__ = ["TextEmbedder", "cosine_similarity", "embedding_expectations", "COSINE_TOLERANCE"]

#: minimum cosine of a model's golden embedding to the one recorded for its file (same file, other host)
COSINE_TOLERANCE = {"fp32": 0.9999, "fp16": 0.999, "int8": 0.995}
LOAD_GOLDEN_TEXTS = 4  # golden texts run at load (all of them by golden_problems())


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of the rows of `a` [N, D] (or [D]) with the rows of `b` [M, D] (or [D]): [N, M], or a
    scalar array for two vectors. A zero vector has cosine 0 with everything."""
    a2, b2 = np.atleast_2d(np.asarray(a, dtype=np.float64)), np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a2.shape[-1] != b2.shape[-1]:
        raise InputTypeError(f"cannot compare vectors of {a2.shape[-1]} and {b2.shape[-1]} values")
    a2 = a2 / np.maximum(np.linalg.norm(a2, axis=1, keepdims=True), 1e-300)
    b2 = b2 / np.maximum(np.linalg.norm(b2, axis=1, keepdims=True), 1e-300)
    sim = a2 @ b2.T
    return sim[0, 0] if np.ndim(a) == 1 and np.ndim(b) == 1 else sim


def embedding_expectations(manifest: Manifest, spec: ModelSpec) -> list[tuple[int, str, list[float]]]:
    """(golden index, text, expected embedding) of every single-text golden entry with an embedding for
    `spec`'s model (its ``per_model`` entry overriding the reference's)."""
    found = []
    for i, g in enumerate(manifest.golden):
        if g.get("text_pair") is not None:
            continue
        expect = (g.get("per_model") or {}).get(spec.file, g)
        if expect.get("embedding") is not None:
            found.append((i, g["text"], expect["embedding"]))
    return found


class TextEmbedder(BundleModel):
    """Embed texts with a text-embedding bundle. See the module docstring; arguments as TextClassifier's.

    A text-classification bundle is refused (TaskMismatchError), as TextClassifier refuses this one.
    """

    TASK = "text-embedding"
    _WIDTH_WHAT = "embedding values"

    def _setup(self, manifest: Manifest) -> None:
        assert manifest.embedding is not None  # the manifest rules: task text-embedding has its settings
        self.embedding = manifest.embedding
        self.dim = manifest.embedding.dim

    def _output_width(self) -> int:
        return self.dim

    def _width_says(self) -> str:
        return f"the bundle's embedding dim is {self.dim}"

    def _check_golden_predictions(self) -> None:
        expected = embedding_expectations(self.bundle.manifest, self.spec)
        if not expected:
            raise BundleIntegrityError(
                f"the bundle has no golden embeddings for {self.spec.file}, so this host cannot check that it runs "
                "the model the bundle was built with: rebuild the bundle, or pass check_golden=False")
        sample = expected[:LOAD_GOLDEN_TEXTS]
        problems = self.golden_problems(sample)
        if problems:
            raise BundleIntegrityError("golden embeddings differ at load (the model or its file were changed, or it "
                                       "is not for this host): " + "; ".join(problems[:3]))
        self.golden_checked = len(sample)

    def golden_problems(self, expected: list[tuple[int, str, list[float]]] | None = None) -> list[str]:
        """Golden texts (all by default) whose embedding here is less cosine-similar to the recorded one than
        COSINE_TOLERANCE[precision]; one text per run (int8 activations are scaled per batch)."""
        if expected is None:
            expected = embedding_expectations(self.bundle.manifest, self.spec)
        tol = COSINE_TOLERANCE[self.spec.precision]
        problems = []
        for i, text, vec in expected:
            got = self._embed([text], 1)[0]
            cos = float(cosine_similarity(got, np.asarray(vec, dtype=np.float64)))
            if not cos >= tol:
                problems.append(f"{self.spec.file}: golden[{i}] embedding has cosine {cos:.6f} to the recorded one "
                                f"(at least {tol} for {self.spec.precision})")
        return problems

    # -- public API -----------------------------------------------------------------------------
    def embed(self, texts: str | Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embeddings float32: [N, D] for a list of texts (caller's order), [D] for one str."""
        if isinstance(texts, str):
            return self._embed([check_text(texts)], 1)[0]
        return self._embed(check_texts(texts), batch_size)

    def similarity(self, a: str | np.ndarray, b: str | np.ndarray) -> float:
        """Cosine similarity of two texts (or embeddings, e.g. from :meth:`embed`)."""
        va = self.embed(a) if isinstance(a, str) else np.asarray(a)
        vb = self.embed(b) if isinstance(b, str) else np.asarray(b)
        if va.ndim != 1 or vb.ndim != 1:
            raise InputTypeError("similarity(a, b) compares two texts or two [D] vectors; for many use "
                                 "edgetext.embedder.cosine_similarity(embed(texts_a), embed(texts_b))")
        return float(cosine_similarity(va, vb))

    def _embed(self, texts: list[str], batch_size: int) -> np.ndarray:
        out = self.run_ids(self.encode(texts), batch_size=batch_size)
        if self.embedding.normalize and len(out):
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12).astype(np.float32)
        return out

    def describe(self) -> dict:
        """TextClassifier's description (backend, model, why, threads, ...) with the embedding settings."""
        info = super().describe()
        info.pop("labels", None)
        info["embedding"] = self.embedding.as_dict()
        return info
