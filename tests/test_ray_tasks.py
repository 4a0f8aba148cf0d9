"""classify_dataset and classify_files (edgetext classify-dataset) with a multi-label bundle and a text-pair bundle
(issue 11), on a local one-node Ray started in this process: every row compared with ``TextClassifier.classify_batch``
on the batch it ran in (one text per Ray batch for the Dataset API, the command's chunks for the files).

The bundles are the small ones tests/test_multilabel.py and tests/test_pairs.py build, cached once per machine.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("pyarrow")

import edgetext  # noqa: E402
from edgetext.errors import PairInputError  # noqa: E402
from edgetext.integrations import shards  # noqa: E402
from support import task_bundles  # noqa: E402
from support.convert_helpers import ASSETS  # noqa: E402

pytestmark = pytest.mark.skipif(not (ASSETS / "bert-base-chinese" / "vocab.txt").is_file() or
                                not (ASSETS / "tnews" / "train.json").is_file(),
                                reason="needs the assets (make assets)")
SINGLE = Path(__file__).resolve().parent.parent / "bundles" / "reviews-zh.etb"
CHUNK, ENGINE_BATCH = 16, 4


def _multilabel(tuned: bool = True) -> tuple[Path, list[str]]:
    """The tuned multi-label bundle (int8, per-label thresholds) or the fp32 one (every threshold 0.5: many
    messages get no label), and the held-out messages."""
    return task_bundles.multilabel("tuned" if tuned else "fp32")


def _pairs() -> tuple[Path, list[tuple[str, str]]]:
    """The fp32 text-pair bundle and its held-out (text, pair) rows."""
    bundle, rows = task_bundles.pairs("fp32")
    return bundle, [(r[0], r[1]) for r in rows]


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 << 20, logging_level="WARNING")
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


def _cats(cats) -> list[tuple]:
    return [(c.label, c.score, c.index) for c in cats]


def test_classify_dataset_gives_a_multi_label_bundle_list_columns(local_ray):
    from edgetext.integrations.ray import classify_dataset

    bundle, texts = _multilabel()
    texts = texts[:30]
    ds = local_ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    out = classify_dataset(ds, bundle, workers=1, batch_size=1, engine_batch=1).take_all()
    capped = classify_dataset(ds, bundle, workers=1, batch_size=1, engine_batch=1, top_k=2).take_all()
    with edgetext.TextClassifier(bundle, threads=1) as clf:
        for rows, top_k in ((out, None), (capped, 2)):
            by_id = {int(r["id"]): r for r in rows}
            assert sorted(by_id) == list(range(len(texts)))
            sizes = set()
            for i, t in enumerate(texts):
                (want,) = clf.classify_batch([t], top_k=top_k, batch_size=1)
                r = by_id[i]
                assert "label" not in r and "score" not in r  # no single-label columns for a label set
                got = list(zip(list(r["labels"]), map(float, r["scores"]), map(int, r["indices"])))
                assert got == _cats(want)
                sizes.add(len(want))
            assert len(sizes) >= (2 if top_k else 3), sizes  # label sets of several sizes
    # no label at all for many messages (whole Ray batches of empty lists among the others)
    bundle, _ = _multilabel(tuned=False)
    out = classify_dataset(ds, bundle, workers=1, batch_size=1, engine_batch=1).take_all()
    with edgetext.TextClassifier(bundle, threads=1) as clf:
        want = [_cats(clf.classify_batch([t], batch_size=1)[0]) for t in texts]
        got = {int(r["id"]): list(zip(list(r["labels"]), map(float, r["scores"]), map(int, r["indices"])))
               for r in out}
        assert [got[i] for i in range(len(texts))] == want and [] in want and any(want)


def test_classify_dataset_reads_the_pair_column_of_a_pair_bundle(local_ray):
    from edgetext.integrations.ray import classify_dataset, share_bundle

    bundle, pairs = _pairs()
    pairs = pairs[:20]
    ds = local_ray.data.from_items([{"id": i, "a": a, "b": b} for i, (a, b) in enumerate(pairs)])
    out = classify_dataset(ds, bundle, text_column="a", pair_column="b", top_k=2, workers=1, batch_size=1,
                           engine_batch=1).take_all()
    with edgetext.TextClassifier(bundle, threads=1) as clf:
        for r in out:
            a, b = pairs[int(r["id"])]
            (want,) = clf.classify_batch([a], top_k=2, batch_size=1, text_pairs=[b])
            assert (r["label"], float(r["score"]), int(r["index"])) == _cats(want)[0]
            assert list(zip(r["top_labels"], map(float, r["top_scores"]), map(int, r["top_indices"]))) == \
                _cats(want)
    # refused in the driver, before any actor starts
    with pytest.raises(PairInputError, match="classifies text pairs: name the column of the second texts"):
        classify_dataset(ds, share_bundle(bundle), text_column="a")
    with pytest.raises(PairInputError, match="classifies single texts, not pairs: drop pair_column='b'"):
        classify_dataset(ds, share_bundle(SINGLE), text_column="a", pair_column="b")


def _write_shards(folder: Path, rows: list[dict], per_shard: int) -> dict[str, list[dict]]:
    """JSON-lines shards, the last as Parquet; {stem: rows}."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    out = {}
    starts = list(range(0, len(rows), per_shard))
    for s, start in enumerate(starts):
        part, stem = rows[start:start + per_shard], f"part-{s:03d}"
        if s == len(starts) - 1:
            pq.write_table(pa.Table.from_pylist(part), folder / f"{stem}.parquet")
        else:
            (folder / f"{stem}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part),
                                                  encoding="utf-8")
        out[stem] = part
    return out


def _by_chunk(clf, rows: list[dict], top_k, pair: bool) -> list[list[tuple]]:
    """The library on each chunk of CHUNK consecutive rows (the command's unit of work)."""
    res = []
    for a in range(0, len(rows), CHUNK):
        part = rows[a:a + CHUNK]
        res += clf.classify_batch([r["text"] for r in part], top_k=top_k, batch_size=ENGINE_BATCH,
                                  text_pairs=[r["pair"] for r in part] if pair else None)
    return [_cats(c) for c in res]


def test_classify_files_writes_label_set_columns_and_reads_pairs(local_ray, tmp_path: Path):
    from edgetext.integrations.ray import classify_files

    bundle, texts = _multilabel()
    rows = _write_shards(tmp_path / "in", [{"id": i, "text": t} for i, t in enumerate(texts[:70])], per_shard=30)
    stats = classify_files(bundle, str(tmp_path / "in"), tmp_path / "out", workers=1, chunk_rows=CHUNK,
                           engine_batch=ENGINE_BATCH, progress=False)
    assert (stats["written"], stats["rows"]) == (3, 70)
    with edgetext.TextClassifier(bundle, threads=1) as clf:
        for stem, part in rows.items():
            (path,) = (tmp_path / "out").glob(f"{stem}.*")
            got = shards.read_output(path)
            assert [r["id"] for r in got] == [r["id"] for r in part]
            assert [list(zip(r["labels"], r["scores"], r["indices"])) for r in got] == \
                _by_chunk(clf, part, None, pair=False)
            assert "label" not in got[0]

    bundle, pairs = _pairs()
    rows = _write_shards(tmp_path / "pin", [{"id": i, "text": a, "pair": b} for i, (a, b) in enumerate(pairs[:40])],
                         per_shard=25)
    stats = classify_files(bundle, str(tmp_path / "pin"), tmp_path / "pout", workers=1, top_k=2, chunk_rows=CHUNK,
                           engine_batch=ENGINE_BATCH, progress=False, pair_column="pair")
    assert (stats["written"], stats["rows"]) == (2, 40)
    with edgetext.TextClassifier(bundle, threads=1) as clf:
        for stem, part in rows.items():
            (path,) = (tmp_path / "pout").glob(f"{stem}.*")
            got = shards.read_output(path)
            assert [[(c["label"], c["score"], c["index"]) for c in r["categories"]] for r in got] == \
                _by_chunk(clf, part, 2, pair=True)
    with pytest.raises(PairInputError, match="name the column of the second texts \\(--pair-column=...\\)"):
        classify_files(bundle, str(tmp_path / "pin"), tmp_path / "pout2", progress=False)
