"""Bulk classification and embedding on Ray Data (extra ``ray``: ``pip install edgetext[ray]``).

    import ray, edgetext.integrations.ray as er
    ray.init(address="auto")
    out = er.classify_dataset(ray.data.read_parquet("reviews/"), "reviews-zh.etb", workers=4, threads=2)
    out = er.embed_dataset(ds, "minilm-embed.etb", text_column="sentence")
    out = er.classify_dataset(ds, "tags.etb")                   # multi-label: labels / scores / indices lists
    out = er.classify_dataset(ds, "nli.etb", pair_column="hypothesis")   # a text-pair bundle: the second texts

The bundle travels once: :func:`share_bundle` puts its bytes in the object store (or names a path every node can
read) with their sha256; each actor of the pool writes them to a node-local cache, checks the sha256, then opens
one ``TextClassifier`` / ``TextEmbedder`` (which checks every member's checksum and the golden vectors at load)
and keeps it for all its batches. Each actor reserves ``threads`` CPUs and runs its engine with ``threads``
threads, and ``workers x threads`` may not exceed the cluster's CPUs (:func:`plan_workers`), so Ray never places
more engine threads on a node than it has cores.

Each Ray batch is one ``classify_batch(texts, batch_size=engine_batch)`` call, so a row's result is bit-identical
to that call in one process (int8 engines scale activations per batch: the batch's texts matter, not where it ran).
A multi-label bundle's rows get list columns instead of one label: ``labels``, ``scores``, ``indices`` (every label
at/above its threshold, best first, at most top_k; an empty list when none applies); a text-pair bundle reads its
second texts from ``pair_column``.
:func:`classify_files` (``edgetext classify-dataset``) fixes the batches itself (chunks of ``chunk_rows``
consecutive rows of a shard), reads and writes the shards in the driver, and checks that every chunk comes back
exactly once, whatever actors died and were retried.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray

from ..bundle import Bundle, pack
from ..embedder import TextEmbedder
from ..errors import BackendError, BundleIntegrityError, BundleNotFoundError, InvalidInputError, PairInputError
from ..limits import check_threads
from ..predictor import TextClassifier
from .shards import check_run_record, chunk_bounds, find_inputs, plan_shards, read_column, read_shard, write_shard

log = logging.getLogger(__name__)

EMBEDDING_TASK = "text-embedding"
VIA = ("object-store", "path")
ADDRESS_LOCAL = "local"


# -- the bundle, once per cluster ------------------------------------------------------------------
@dataclass(frozen=True)
class SharedBundle:
    """A bundle every worker can get: its bytes in the object store (``ref``) or a path all nodes read."""

    name: str
    sha256: str
    size: int
    task: str
    via: str
    path: str | None = None
    ref: Any = None  # an ObjectRef inside a dataclass: Ray resolves only top-level arguments, the actor ray.get()s it
    multi_label: bool = False  # the manifest's: checked in the driver, before any actor starts
    text_pairs: bool = False


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def share_bundle(bundle: str | os.PathLike, via: str = "object-store") -> SharedBundle:
    """Make `bundle` (an .etb file, or a folder, packed here first) available to the workers of the connected
    cluster, ``via`` the object store (one copy, fetched by each node) or a ``path`` every node can read."""
    if via not in VIA:
        raise InvalidInputError(f"via={via!r}: expected one of {VIA}")
    path = Path(bundle)
    if not path.exists():
        raise BundleNotFoundError(f"bundle {path} does not exist")
    if path.is_dir():  # one file to ship and hash: pack the folder (which checks it) next to the temp files
        if via == "path":
            raise InvalidInputError(f"via='path' needs a bundle file on a shared filesystem; {bundle} is a folder")
        path = pack(path, Path(tempfile.mkdtemp(prefix="edgetext-pack-")) / (path.name + ".etb"))
    with Bundle.open(path) as b:  # a bundle that does not open here is refused before any worker starts
        task, multi, pairs = b.manifest.task, bool(b.manifest.multi_label), bool(b.manifest.text_pairs)
    digest = _file_sha256(path)
    size = path.stat().st_size
    if via == "path":
        return SharedBundle(path.name, digest, size, task, via, path=str(path.resolve()), multi_label=multi,
                            text_pairs=pairs)
    if not ray.is_initialized():
        raise InvalidInputError("share_bundle(via='object-store') needs a connected Ray cluster: ray.init() first")
    return SharedBundle(path.name, digest, size, task, via, ref=ray.put(path.read_bytes()), multi_label=multi,
                        text_pairs=pairs)


def check_pair_column(name: str, text_pairs: bool, pair_column: str | None, option: str = "pair_column") -> None:
    """InvalidInputError (a PairInputError) when a text-pair bundle gets no second-text column, or another one does."""
    if text_pairs and not pair_column:
        raise PairInputError(f"{name} classifies text pairs: name the column of the second texts ({option}=...)")
    if pair_column and not text_pairs:
        raise PairInputError(f"{name} classifies single texts, not pairs: drop {option}={pair_column!r}")


def local_bundle(shared: SharedBundle) -> Path:
    """On a worker: a local file holding exactly the shared bundle (sha256 checked; BundleIntegrityError if not)."""
    if shared.via == "path":
        path = Path(shared.path or "")
        if not path.is_file():
            raise BundleNotFoundError(f"{path} is not readable on node {socket.gethostname()}: via='path' needs a "
                                      "filesystem every node shares")
        if _file_sha256(path) != shared.sha256:
            raise BundleIntegrityError(f"{path} on node {socket.gethostname()} differs from the driver's bundle "
                                       "(sha256): a stale or altered copy")
        return path
    cache = Path(tempfile.gettempdir()) / "edgetext-bundles"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{shared.sha256}.etb"  # named by content: actors of one node share one copy
    if path.is_file() and _file_sha256(path) == shared.sha256:
        return path
    data = ray.get(shared.ref)
    if hashlib.sha256(data).hexdigest() != shared.sha256 or len(data) != shared.size:
        raise BundleIntegrityError(f"the bundle {shared.name} arrived altered on node {socket.gethostname()}")
    tmp = cache / f".{shared.sha256}.{os.getpid()}.partial"
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


# -- the actors ------------------------------------------------------------------------------------
class _Predictor:
    """One actor of the pool: one verified model, loaded once, for all the batches it is given."""

    def __init__(self, shared: SharedBundle, backend: str, threads: int, top_k: int | None, engine_batch: int,
                 text_column: str, prefix: str, pair_column: str | None = None):
        path = local_bundle(shared)
        cls = TextEmbedder if shared.task == EMBEDDING_TASK else TextClassifier
        self.model: Any = cls(path, backend=backend, threads=threads)
        self.embedding = shared.task == EMBEDDING_TASK
        self.multi_label = bool(getattr(self.model, "multi_label", False))
        # top_k None: the library's default (1; a multi-label bundle: every label at/above its threshold)
        self.top_k, self.engine_batch, self.text_column, self.prefix = top_k, engine_batch, text_column, prefix
        self.pair_column = pair_column
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def _texts(self, values: Any) -> list[str]:
        return [str(t) for t in values]

    def _classify(self, texts: list[str], pairs: list[str] | None) -> list:
        return self.model.classify_batch(texts, top_k=self.top_k, batch_size=self.engine_batch, text_pairs=pairs)


class RowPredictor(_Predictor):
    """A Dataset of rows with a text column -> the same rows plus result columns (label/score/index, with
    top_k > 1 also top_labels/top_scores/top_indices; a multi-label bundle: labels/scores/indices lists; or
    embedding)."""

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = self._texts(batch[self.text_column])
        p = self.prefix
        if self.embedding:
            batch[p + "embedding"] = self.model.embed(texts, batch_size=self.engine_batch)
            return batch
        results = self._classify(texts, self._texts(batch[self.pair_column]) if self.pair_column else None)
        if self.multi_label:  # a set of labels per row (maybe empty), not one label
            batch[p + "labels"] = _objects([[c.label for c in r] for r in results])
            batch[p + "scores"] = _objects([[c.score for c in r] for r in results])
            batch[p + "indices"] = _objects([[c.index for c in r] for r in results])
            return batch
        batch[p + "label"] = np.array([r[0].label for r in results], dtype=object)
        batch[p + "score"] = np.array([r[0].score for r in results], dtype=np.float64)
        batch[p + "index"] = np.array([r[0].index for r in results], dtype=np.int64)
        if (self.top_k or 1) > 1:
            batch[p + "top_labels"] = _objects([[c.label for c in r] for r in results])
            batch[p + "top_scores"] = _objects([[c.score for c in r] for r in results])
            batch[p + "top_indices"] = _objects([[c.index for c in r] for r in results])
        return batch


class ChunkPredictor(_Predictor):
    """Rows that are chunks ``{shard, chunk, texts: list[str]}`` (a text-pair bundle: ``pairs`` too) ->
    ``{shard, chunk, n, worker, index, score, count}`` (index/score flattened over the rows' categories, count: how
    many each row has) or ``{..., embedding: float32 bytes n x dim}``: one engine call per chunk."""

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        index, score, count, emb, n = [], [], [], [], []
        pairs_of = batch["pairs"] if "pairs" in batch else [None] * len(batch["texts"])
        for texts, pairs in zip(batch["texts"], pairs_of):
            texts = self._texts(texts)
            n.append(len(texts))
            if self.embedding:
                emb.append(np.ascontiguousarray(self.model.embed(texts, batch_size=self.engine_batch),
                                                dtype=np.float32).tobytes())
                continue
            results = self._classify(texts, None if pairs is None else self._texts(pairs))
            index.append([c.index for r in results for c in r])
            score.append([c.score for r in results for c in r])
            count.append([len(r) for r in results])  # multi-label rows differ in length
        out = {"shard": batch["shard"], "chunk": batch["chunk"], "n": np.array(n, dtype=np.int64),
               "worker": np.array([self.worker] * len(n), dtype=object)}
        if self.embedding:
            out["embedding"] = np.array(emb, dtype=object)
        else:
            out["index"], out["score"], out["count"] = _objects(index), _objects(score), _objects(count)
        return out


def _objects(rows: list) -> np.ndarray:
    """A 1-D object array of lists (np.array would make a 2-D array of equal-length rows)."""
    arr = np.empty(len(rows), dtype=object)
    arr[:] = rows
    return arr


# -- the pool ----------------------------------------------------------------------------------------
def cluster_cpus() -> int:
    """The CPUs of the connected cluster (Ray's accounting: the sum of every node's --num-cpus)."""
    return int(ray.cluster_resources().get("CPU", 0))


def plan_workers(cpus: int, threads: int, workers: int | None = None) -> int:
    """Actors for `cpus` CPUs at `threads` threads each: all that fit by default; InvalidInputError when
    ``workers x threads`` would be more than the CPUs (more engine threads than cores only slows every one)."""
    check_threads(threads, "threads")
    fit = cpus // threads
    if fit < 1:
        raise InvalidInputError(f"threads={threads} is more than the cluster's {cpus} CPUs: pass --threads <= {cpus}")
    if workers is None:
        return fit
    if workers < 1:
        raise InvalidInputError(f"workers must be >= 1, got {workers}")
    if workers * threads > cpus:
        raise InvalidInputError(f"workers={workers} x threads={threads} = {workers * threads} engine threads for "
                                f"{cpus} CPUs: at most {fit} workers at {threads} threads, or fewer threads")
    return workers


def _map(ds: Any, cls: type, shared: SharedBundle, *, workers: int | None, threads: int, batch_size: int,
         engine_batch: int, top_k: int | None = None, text_column: str = "text", backend: str = "auto",
         prefix: str = "", pair_column: str | None = None) -> Any:
    n = plan_workers(cluster_cpus(), threads, workers)
    kwargs = dict(shared=shared, backend=backend, threads=threads, top_k=top_k, engine_batch=engine_batch,
                  text_column=text_column, prefix=prefix, pair_column=pair_column)
    # num_cpus=threads: Ray places an actor only where `threads` CPUs are free (the no-oversubscription rule);
    # Ray Data already restarts dead actors and retries their batches (max_restarts / max_task_retries -1).
    return ds.map_batches(cls, fn_constructor_kwargs=kwargs, batch_size=batch_size, batch_format="numpy",
                          compute=ray.data.ActorPoolStrategy(size=n), num_cpus=threads)


def _shared(bundle: SharedBundle | str | os.PathLike, via: str) -> SharedBundle:
    return bundle if isinstance(bundle, SharedBundle) else share_bundle(bundle, via)


def classify_dataset(ds: Any, bundle: SharedBundle | str | os.PathLike, *, text_column: str = "text",
                     top_k: int | None = None, workers: int | None = None, threads: int = 1, batch_size: int = 256,
                     engine_batch: int = 32, backend: str = "auto", via: str = "object-store",
                     prefix: str = "", pair_column: str | None = None) -> Any:
    """`ds` plus the columns label, score, index (and top_labels/top_scores/top_indices for top_k > 1), lazily.
    A multi-label bundle adds list columns instead: labels, scores, indices (every label at/above its threshold,
    best first, at most top_k; default all). A text-pair bundle needs `pair_column` (the second texts).

    An actor pool of `workers` (default: as many as fit) x `threads`; each Ray batch of `batch_size` rows is one
    ``classify_batch(..., batch_size=engine_batch)``. Leave CPUs for upstream read tasks, or materialize first:
    a pool that holds every CPU starves them."""
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise InvalidInputError(f"top_k must be an int >= 1 or None, got {top_k!r}")
    shared = _shared(bundle, via)
    if shared.task == EMBEDDING_TASK:
        raise InvalidInputError(f"{shared.name} is a text-embedding bundle: use embed_dataset")
    check_pair_column(shared.name, shared.text_pairs, pair_column)
    return _map(ds, RowPredictor, shared, workers=workers, threads=threads, batch_size=batch_size,
                engine_batch=engine_batch, top_k=top_k, text_column=text_column, backend=backend, prefix=prefix,
                pair_column=pair_column)


def embed_dataset(ds: Any, bundle: SharedBundle | str | os.PathLike, *, text_column: str = "text",
                  workers: int | None = None, threads: int = 1, batch_size: int = 256, engine_batch: int = 32,
                  backend: str = "auto", via: str = "object-store", prefix: str = "") -> Any:
    """`ds` plus a float32 ``embedding`` column [dim] from a text-embedding bundle, lazily (as classify_dataset)."""
    shared = _shared(bundle, via)
    if shared.task != EMBEDDING_TASK:
        raise InvalidInputError(f"{shared.name} is a {shared.task} bundle: use classify_dataset")
    return _map(ds, RowPredictor, shared, workers=workers, threads=threads, batch_size=batch_size,
                engine_batch=engine_batch, text_column=text_column, backend=backend, prefix=prefix)


# -- files: edgetext classify-dataset -----------------------------------------------------------------
def connect(address: str | None, object_store_bytes: int | None = None) -> bool:
    """Connect this process to Ray: ``local`` starts a single-node cluster here (this host's CPUs), ``auto`` finds
    the running one, ``host:port`` / ``ray://host:port`` name one. True when this call connected (and so the
    caller disconnects); an already connected process is left as it is."""
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its per-dataset INFO lines; ours is the summary
    if ray.is_initialized():
        return False
    opts: dict[str, Any] = dict(logging_level=logging.WARNING, configure_logging=True)
    if address in (None, ADDRESS_LOCAL):
        ray.init(num_cpus=len(os.sched_getaffinity(0)), include_dashboard=False,
                 object_store_memory=object_store_bytes, **opts)
    else:
        ray.init(address=address, **opts)
    return True


def classify_files(bundle: str | os.PathLike, inputs: str, output: str | os.PathLike, *,
                   address: str | None = ADDRESS_LOCAL, workers: int | None = None, threads: int = 1,
                   top_k: int | None = None, text_column: str = "text", out_format: str | None = None,
                   chunk_rows: int = 256, engine_batch: int = 32, backend: str = "auto", via: str = "object-store",
                   prefix: str = "", object_store_bytes: int | None = None, progress: bool = True,
                   pair_column: str | None = None) -> dict[str, Any]:
    """Classify (or embed, for a text-embedding bundle) the JSON-lines / Parquet shards of `inputs` into one output
    shard each in `output`; shards already written there are skipped (resume). Returns the run's numbers.
    `top_k` None: 1, or for a multi-label bundle every label at/above its threshold (list columns labels, scores,
    indices); a text-pair bundle reads its second texts from `pair_column`."""
    for name, value in (("chunk_rows", chunk_rows), ("engine_batch", engine_batch), ("top_k", top_k)):
        if value is None and name == "top_k":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"{name} must be an int >= 1, got {value!r}")
    check_threads(threads, "threads")
    out_dir = Path(output)
    shards = plan_shards(find_inputs(inputs), out_dir, out_format)
    bundle_path = Path(bundle)
    if not bundle_path.exists():
        raise BundleNotFoundError(f"bundle {bundle_path} does not exist")
    with Bundle.open(bundle_path) as b:
        task, labels = b.manifest.task, tuple(b.manifest.labels or ())
        multi, pairs = bool(b.manifest.multi_label), bool(b.manifest.text_pairs)
    check_pair_column(bundle_path.name, pairs, pair_column, "--pair-column")
    digest = _file_sha256(bundle_path) if bundle_path.is_file() else None
    # single-label: top_k None is 1, recorded as 1 so that runs written before the default changed still resume
    record = {"bundle_sha256": digest, "task": task,
              "top_k": None if task == EMBEDDING_TASK else top_k if multi else (top_k or 1),
              "text_column": text_column, "chunk_rows": chunk_rows, "engine_batch": engine_batch, "backend": backend,
              "prefix": prefix}
    if pair_column:  # only when set, so that the records of earlier runs stay valid
        record["pair_column"] = pair_column
    check_run_record(out_dir, record)
    pending = [s for s in shards if not s.done]
    stats: dict[str, Any] = {"shards": len(shards), "skipped": len(shards) - len(pending), "written": 0, "rows": 0,
                             "seconds": 0.0, "rows_per_s": 0.0, "task": task}
    if not pending:
        return stats
    owns = connect(address, object_store_bytes)
    try:
        return _run(bundle_path, pending, stats, labels=labels, workers=workers, threads=threads, top_k=top_k,
                    text_column=text_column, chunk_rows=chunk_rows, engine_batch=engine_batch, backend=backend,
                    via=via, prefix=prefix, progress=progress, multi_label=multi, pair_column=pair_column)
    finally:
        if owns:
            ray.shutdown()


def _run(bundle_path: Path, pending: list, stats: dict[str, Any], *, labels: tuple[str, ...], workers: int | None,
         threads: int, top_k: int | None, text_column: str, chunk_rows: int, engine_batch: int, backend: str,
         via: str, prefix: str, progress: bool, multi_label: bool = False,
         pair_column: str | None = None) -> dict[str, Any]:
    import pyarrow as pa

    cpus = cluster_cpus()
    n_workers = plan_workers(cpus, threads, workers)
    shared = share_bundle(bundle_path, via)
    embedding = shared.task == EMBEDDING_TASK
    result_cols = ["embedding"] if embedding else ["labels", "scores", "indices"] if multi_label else \
        ["label", "score", "index"] + (["categories"] if (top_k or 1) > 1 else [])
    tables, n_chunks, items = [], [], []
    for si, shard in enumerate(pending):
        table, texts = read_shard(shard, text_column)
        second = read_column(table, shard, pair_column, "--pair-column") if pair_column else None
        clash = [prefix + c for c in result_cols if prefix + c in table.column_names]
        if clash:
            raise InvalidInputError(f"{shard.input} already has the column(s) {clash}: pass a --prefix (e.g. pred_)")
        tables.append(table)
        bounds = list(chunk_bounds(len(texts), chunk_rows))
        n_chunks.append(len(bounds))
        items += [{"shard": si, "chunk": ci, "texts": texts[a:b], **({} if second is None else {"pairs": second[a:b]})}
                  for ci, (a, b) in enumerate(bounds)]
    total = sum(t.num_rows for t in tables)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # ours counts rows written per shard, not Ray's operators
    ctx.execution_options.preserve_order = True  # shards complete in order: the driver holds few at a time
    t0 = time.perf_counter()
    bar = _progress(total, progress)
    got: dict[int, dict[int, dict[str, Any]]] = {}
    workers_seen: set[str] = set()
    for si, table in enumerate(tables):
        if table.num_rows == 0:  # no chunks: written as it is (its schema plus empty result columns)
            _write(pa, pending[si], table, [], result_cols, labels, top_k, prefix, embedding, multi_label)
            stats["written"] += 1
    if items:
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        ds = _map(ds, ChunkPredictor, shared, workers=n_workers, threads=threads, batch_size=1,
                  engine_batch=engine_batch, top_k=top_k, backend=backend)
        for row in ds.iter_rows():
            si, ci = int(row["shard"]), int(row["chunk"])
            chunks = got.setdefault(si, {})
            if ci in chunks:  # Ray returns a retried batch's output once; were it twice, rows would double
                raise BackendError(f"chunk {ci} of {pending[si].input} came back twice from the cluster")
            chunks[ci] = row
            workers_seen.add(str(row["worker"]))
            bar.update(int(row["n"]))
            if len(chunks) == n_chunks[si]:
                _write(pa, pending[si], tables[si], [chunks[c] for c in range(n_chunks[si])], result_cols, labels,
                       top_k, prefix, embedding, multi_label)
                stats["written"] += 1
                tables[si] = None  # type: ignore[call-overload]  # written: free it
                del got[si]
    bar.close()
    missing = [str(pending[si].input) for si, t in enumerate(tables) if t is not None and n_chunks[si]]
    if missing:
        raise BackendError(f"the cluster returned no results for part of {missing}: rerun to resume")
    seconds = time.perf_counter() - t0
    stats.update(rows=total, seconds=round(seconds, 3), rows_per_s=round(total / seconds, 1) if seconds else 0.0,
                 workers=n_workers, threads=threads, cluster_cpus=cpus, workers_seen=sorted(workers_seen))
    return stats


def _write(pa: Any, shard: Any, table: Any, chunks: list[dict[str, Any]], result_cols: list[str],
           labels: tuple[str, ...], top_k: int | None, prefix: str, embedding: bool, multi_label: bool = False) -> None:
    """The input table plus the result columns, rows in input order; every row's result checked present."""
    n = table.num_rows
    if sum(int(c["n"]) for c in chunks) != n:
        raise BackendError(f"{shard.input}: {sum(int(c['n']) for c in chunks)} results for {n} rows")
    if embedding:
        vecs = [np.frombuffer(c["embedding"], dtype=np.float32).reshape(int(c["n"]), -1) for c in chunks]
        dim = vecs[0].shape[1] if vecs else 0
        flat = np.concatenate(vecs).reshape(-1) if vecs else np.empty(0, np.float32)
        col = pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float32()), dim) if dim else \
            pa.array([], type=pa.list_(pa.float32()))
        table = table.append_column(prefix + "embedding", col)
    elif multi_label:  # rows of `count` categories each, flattened per chunk
        flat_index = [int(i) for c in chunks for i in c["index"]]
        flat_score = [float(x) for c in chunks for x in c["score"]]
        counts = [int(k) for c in chunks for k in c["count"]]
        ends = np.cumsum([0] + counts)
        rows = [slice(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:])]
        table = table.append_column(prefix + "labels", pa.array([[labels[i] for i in flat_index[r]] for r in rows],
                                                                 type=pa.list_(pa.string())))
        table = table.append_column(prefix + "scores", pa.array([flat_score[r] for r in rows], type=pa.list_(pa.float64())))
        table = table.append_column(prefix + "indices", pa.array([flat_index[r] for r in rows], type=pa.list_(pa.int64())))
    else:
        k = min(top_k or 1, len(labels))
        index = np.concatenate([np.asarray(c["index"], dtype=np.int64) for c in chunks]) if chunks else \
            np.empty(0, np.int64)
        score = np.concatenate([np.asarray(c["score"], dtype=np.float64) for c in chunks]) if chunks else \
            np.empty(0, np.float64)
        index, score = index.reshape(n, k) if n else index.reshape(0, k), score.reshape(n, k) if n else \
            score.reshape(0, k)
        table = table.append_column(prefix + "label", pa.array([labels[i] for i in index[:, 0]], type=pa.string()))
        table = table.append_column(prefix + "score", pa.array(score[:, 0], type=pa.float64()))
        table = table.append_column(prefix + "index", pa.array(index[:, 0], type=pa.int64()))
        if (top_k or 1) > 1:
            cats = [[{"label": labels[i], "score": float(s), "index": int(i)} for i, s in zip(ri, rs)]
                    for ri, rs in zip(index, score)]
            table = table.append_column(prefix + "categories", pa.array(cats))
    write_shard(table, shard)


class _Progress:
    """tqdm when it is installed and asked for, else nothing."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="rows", file=sys.stderr, dynamic_ncols=True)
            except ImportError:
                self.bar = None

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress(total: int, enabled: bool) -> _Progress:
    return _Progress(total, enabled)


__all__ = ["SharedBundle", "share_bundle", "local_bundle", "classify_dataset", "embed_dataset", "classify_files",
           "plan_workers", "cluster_cpus", "connect", "RowPredictor", "ChunkPredictor"]
