"""edgetext_converters.paddle_ernie: PaddleNLP-compatible ERNIE/BERT in plain Paddle 2.6.

These checks import paddle, so they run in a child pytest process started by
tests/test_convert_paddle_ernie.py (the main test process never loads libpaddle)."""
from __future__ import annotations

import zlib  # noqa: F401  (before paddle)
import json

from support import convert_helpers  # noqa: F401  (source-tree imports)

import numpy as np
import pytest

paddle = pytest.importorskip("paddle")
from edgetext_converters.paddle_ernie import (  # noqa: E402
    PRESETS,
    ErnieConfig,
    ErnieForSequenceClassification,
    export_inference_model,
    load_checkpoint,
    save_checkpoint,
)


def _tiny(model_type="ernie", **kw):
    cfg = ErnieConfig.preset("nano", num_labels=3, num_hidden_layers=1, vocab_size=500,
                             max_position_embeddings=64, **kw)
    if model_type == "bert":
        cfg = cfg.copy(model_type="bert", use_task_id=False, type_vocab_size=2)
    paddle.seed(0)
    m = ErnieForSequenceClassification(cfg)
    m.eval()
    return m


def _ids(vocab=500, b=2, n=9):
    rng = np.random.default_rng(0)
    ids = rng.integers(1, vocab, (b, n)).astype("int64")
    ids[1, 5:] = 0
    return ids, np.zeros_like(ids)


def test_presets_and_names():
    for name, want in [("nano", (4, 312, 1248)), ("micro", (4, 384, 1536)), ("mini", (6, 384, 1536)),
                       ("medium", (6, 768, 3072)), ("base", (12, 768, 3072))]:
        c = ErnieConfig.preset(name)
        assert (c.num_hidden_layers, c.hidden_size, c.intermediate_size) == want
        assert c.use_task_id and c.task_type_vocab_size == 16 and c.vocab_size == 40000
    assert "ernie-3.0-tiny-nano-v2-zh" in PRESETS
    keys = list(_tiny().state_dict())
    for k in ["ernie.embeddings.word_embeddings.weight", "ernie.embeddings.task_type_embeddings.weight",
              "ernie.encoder.layers.0.self_attn.q_proj.weight", "ernie.encoder.layers.0.linear1.bias",
              "ernie.encoder.layers.0.norm2.weight", "ernie.pooler.dense.weight", "classifier.weight"]:
        assert k in keys
    assert "bert.pooler.dense.bias" in _tiny("bert").state_dict()


def test_config_from_dict_styles():
    old = {"init_args": [{"vocab_size": 100, "hidden_size": 24, "num_attention_heads": 2,
                          "init_class": "ErnieModel"}], "init_class": "ErnieForSequenceClassification",
           "num_classes": 3}
    c = ErnieConfig.from_dict(old)
    assert (c.vocab_size, c.hidden_size, c.num_labels, c.model_type) == (100, 24, 3, "ernie")
    hf = {"model_type": "bert", "vocab_size": 30522, "hidden_size": 384, "num_attention_heads": 12,
          "id2label": {"0": "neg", "1": "pos"}}
    c = ErnieConfig.from_dict(hf)
    assert c.model_type == "bert" and c.labels == ["neg", "pos"] and not c.use_task_id


def test_checkpoint_roundtrip(tmp_path):
    m = _tiny(id2label={0: "a", 1: "b", 2: "c"})
    vocab = [f"[unused{i}]" for i in range(500)]
    save_checkpoint(m, vocab, tmp_path / "ckpt")
    for f in ["model_config.json", "model_state.pdparams", "vocab.txt", "tokenizer_config.json"]:
        assert (tmp_path / "ckpt" / f).is_file()
    cfg = json.loads((tmp_path / "ckpt" / "model_config.json").read_text())
    assert cfg["architectures"] == ["ErnieForSequenceClassification"] and cfg["id2label"]["2"] == "c"
    m2 = load_checkpoint(tmp_path / "ckpt")
    ids, tt = _ids()
    a = m(paddle.to_tensor(ids), paddle.to_tensor(tt)).numpy()
    b = m2(paddle.to_tensor(ids), paddle.to_tensor(tt)).numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("scalar_mask", [True, False])
def test_export_matches_dygraph(tmp_path, scalar_mask):
    m = _tiny()
    ids, tt = _ids()
    ref = m(paddle.to_tensor(ids), paddle.to_tensor(tt)).numpy()
    export_inference_model(m, tmp_path / "m" / "model", scalar_mask=scalar_mask)
    from paddle import inference

    config = inference.Config(str(tmp_path / "m" / "model.pdmodel"), str(tmp_path / "m" / "model.pdiparams"))
    config.disable_glog_info()
    pred = inference.create_predictor(config)
    assert pred.get_input_names() == ["input_ids", "token_type_ids"]
    assert pred.get_output_names() == ["logits"]
    for name, arr in [("input_ids", ids), ("token_type_ids", tt)]:
        pred.get_input_handle(name).copy_from_cpu(arr)
    pred.run()
    out = pred.get_output_handle("logits").copy_to_cpu()
    np.testing.assert_allclose(out, ref, atol=1e-5)
    # the PaddleNLP pitfall: exactly one input-less 0-D fill_constant with the scalar mask
    paddle.enable_static()
    try:
        prog = paddle.static.Program.parse_from_string((tmp_path / "m" / "model.pdmodel").read_bytes())
        zero_d = [op for op in prog.global_block().ops if op.type == "fill_constant" and op.attr("shape") == []
                  and not any(op.input(n) for n in op.input_names)]
    finally:
        paddle.disable_static()
    assert len(zero_d) == (1 if scalar_mask else 0)


# ----------------------------------------------------------------------------- HF reader (tiny)
def _tiny_hf_folder(folder, prefix="bert.", legacy_ln=False, n_layers=2, h=32, vocab=None):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(1)
    tokens = vocab or (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(95)])
    v, i = len(tokens), 4 * h
    w = {}

    def put(name, *shape):
        w[name] = rng.normal(0, 0.2, shape).astype(np.float32)

    ln = ("gamma", "beta") if legacy_ln else ("weight", "bias")
    put(prefix + "embeddings.word_embeddings.weight", v, h)
    put(prefix + "embeddings.position_embeddings.weight", 64, h)
    put(prefix + "embeddings.token_type_embeddings.weight", 2, h)
    w[prefix + f"embeddings.LayerNorm.{ln[0]}"] = np.ones(h, np.float32)
    w[prefix + f"embeddings.LayerNorm.{ln[1]}"] = np.zeros(h, np.float32)
    for n in range(n_layers):
        L = f"{prefix}encoder.layer.{n}."
        for lin, (o, i_) in {"attention.self.query": (h, h), "attention.self.key": (h, h),
                             "attention.self.value": (h, h), "attention.output.dense": (h, h),
                             "intermediate.dense": (i, h), "output.dense": (h, i)}.items():
            put(L + lin + ".weight", o, i_)
            put(L + lin + ".bias", o)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[L + f"{norm}.{ln[0]}"] = (1 + rng.normal(0, 0.1, h)).astype(np.float32)
            w[L + f"{norm}.{ln[1]}"] = rng.normal(0, 0.1, h).astype(np.float32)
    put(prefix + "pooler.dense.weight", h, h)
    put(prefix + "pooler.dense.bias", h)
    put("classifier.weight", 3, h)
    put("classifier.bias", 3)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(w, str(folder / "model.safetensors"))
    cfg = {"model_type": "bert", "vocab_size": v, "hidden_size": h, "num_hidden_layers": n_layers,
           "num_attention_heads": 4, "intermediate_size": i, "max_position_embeddings": 64, "type_vocab_size": 2,
           "hidden_act": "gelu", "layer_norm_eps": 1e-12, "id2label": {"0": "a", "1": "b", "2": "c"}}
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n")
    return folder


@pytest.mark.parametrize("prefix,legacy", [("bert.", False), ("", True)])
def test_hf_reader_lowering_matches_numpy_reference(tmp_path, prefix, legacy):
    from edgetext_converters import passes, readers
    from edgetext_converters.paddle_graph import save_graph
    from edgetext_converters.runners import NumpyBert, PaddleInferenceRunner

    desc = readers.read(_tiny_hf_folder(tmp_path / "hf", prefix=prefix, legacy_ln=legacy))
    assert desc.labels == ["a", "b", "c"] and desc.source_kind == "hf-bert"
    ref = NumpyBert(desc.hf_weights, desc.hf_config)
    ctx = passes.PassContext()
    passes.run_passes(desc, ctx, (passes.lower_to_graph, passes.normalize_io))
    assert ctx.summaries()[0].startswith("lower_to_graph:")
    mf, pf = save_graph(desc.graph, tmp_path / "g" / "model")
    run = PaddleInferenceRunner(mf, pf)
    ids = np.array([[2, 10, 11, 12, 3, 0, 0], [2, 50, 60, 70, 80, 90, 3]], dtype=np.int64)
    batch = {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": (ids != 0).astype(np.int64)}
    np.testing.assert_allclose(run(batch), ref(batch), atol=1e-4)


def test_checkpoint_without_task_embeddings(tmp_path):
    """An ERNIE checkpoint whose config does not say use_task_id: the weights decide."""
    from edgetext_converters import readers

    m = _tiny(use_task_id=False)
    save_checkpoint(m, [f"[unused{i}]" for i in range(495)] + ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                    tmp_path / "ck")
    cfg = json.loads((tmp_path / "ck" / "model_config.json").read_text())
    cfg.pop("use_task_id")
    (tmp_path / "ck" / "model_config.json").write_text(json.dumps(cfg))
    desc = readers.read(tmp_path / "ck")
    assert desc.config.use_task_id is False and desc.num_labels == 3


def test_trim_vocab_moves_pad_and_keeps_predictions(tmp_path):
    """[PAD] last in the vocabulary: trimming moves it, the graph's scalar pad-mask constant follows."""
    from edgetext.preprocess import pad_rows

    from edgetext_converters import passes, readers
    from edgetext_converters.options import ConvertOptions
    from edgetext_converters.paddle_graph import save_graph
    from edgetext_converters.runners import PaddleInferenceRunner

    words = [f"w{i}" for i in range(95)]
    tokens = words + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "[PAD]"]
    cfg = ErnieConfig.preset("nano", num_labels=2, num_hidden_layers=1, vocab_size=len(tokens),
                             max_position_embeddings=64, pad_token_id=99)
    paddle.seed(3)
    m = ErnieForSequenceClassification(cfg)
    m.eval()
    d = tmp_path / "inf"
    export_inference_model(m, d / "model", scalar_mask=True)
    (d / "vocab.txt").write_text("\n".join(tokens) + "\n")
    (d / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))

    def read():
        return passes.normalize_io(readers.read(d), passes.PassContext())

    desc = read()
    corpus = ["w1 w2 w3", "w3 w4 w5 w5", "w7"]
    enc = desc.tokenizer.encoder()
    before = enc.encode_batch(corpus, 64)
    # the pass: corpus and floor from the context, the result recorded (no hand threading)
    ctx = passes.PassContext(ConvertOptions(trim_vocab=corpus + ["w9"], min_freq=2), trim_texts=corpus + ["w9"] * 1)
    passes.trim_vocab(desc, ctx)  # w9 once, w1.. once: floor drops them
    res = ctx.result("trim_vocab")
    assert ctx.summaries() == ["trim_vocab: 100 -> 7 tokens (4 corpus texts, min_freq 2)"]
    kept = {desc.tokenizer.tokens[i] for i in range(desc.tokenizer.vocab_size)}
    assert kept == {"w3", "w5", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[PAD]"}
    assert res.vocab_after == 7 and desc.tokenizer.pad_id == 6
    # a text whose tokens were all kept: same ids (remapped) and the same logits, padding included
    res = passes.trim_vocabulary(read(), corpus, min_freq=1)
    desc2 = read()
    passes.trim_vocabulary(desc2, corpus, min_freq=1)
    new = desc2.tokenizer.encoder().encode_batch(corpus, 64)
    assert [[int(res.old_to_new[t]) for t in ids] for ids in before] == new

    ref = PaddleInferenceRunner(d / "model.pdmodel", d / "model.pdiparams")(pad_rows(before, 99))
    mf, pf = save_graph(desc2.graph, tmp_path / "trimmed" / "model")
    out = PaddleInferenceRunner(mf, pf)(pad_rows(new, desc2.tokenizer.pad_id))
    np.testing.assert_allclose(out, ref, atol=1e-5)


# ----------------------------------------------------------------------------- position tables
class _BufferPositions(paddle.nn.Layer):
    """Position ids sliced from a persistable ``position_ids`` buffer (Hugging Face's layout), not built
    with cumsum/range: the graph's position table is one the editor does not recognise by its ids."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        n = model.config.max_position_embeddings
        self.register_buffer("position_ids", paddle.arange(n, dtype="int64").unsqueeze(0), persistable=True)

    def forward(self, input_ids, token_type_ids):
        pos = self.position_ids[:, : paddle.shape(input_ids)[1]]
        return self.model(input_ids, token_type_ids=token_type_ids, position_ids=pos)


def test_unrecognised_position_ids_still_find_the_position_table(tmp_path):
    """Regression (issue 7, defect 2): the largest unrecognised lookup table is the position table, so
    trim_positions runs and --max-length is checked against it (it was labelled task_type before)."""
    from edgetext.errors import ConversionError

    from edgetext_converters import passes, readers
    from edgetext_converters.paddle_graph import ProgramEditor, save_graph
    from edgetext_converters.runners import PaddleInferenceRunner

    m = _tiny()  # ERNIE with task-type embeddings (16 rows) and 64 positions
    wrapper = _BufferPositions(m)
    wrapper.eval()
    spec = [paddle.static.InputSpec(shape=[None, None], dtype="int64", name=n)
            for n in ("input_ids", "token_type_ids")]
    paddle.jit.save(paddle.jit.to_static(wrapper, input_spec=spec), str(tmp_path / "inf" / "model"))
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(495)]
    (tmp_path / "inf" / "vocab.txt").write_text("\n".join(tokens) + "\n")
    desc = passes.normalize_io(readers.read(tmp_path / "inf"), passes.PassContext())
    with ProgramEditor(desc.graph) as ed:
        emb = ed.embeddings()
    shapes = {k: desc.graph.params[v].shape[0] for k, v in emb.items()}
    assert shapes == {"word": 500, "token_type": 4, "position": 64, "task_type": 16}
    assert any(n.startswith("position table: 64") for n in desc.notes)
    assert passes.position_count(desc) == 64
    with pytest.raises(ConversionError, match="exceeds the model's 64 position embeddings"):
        passes.resolve_max_length(desc, 100)
    ids, tt = _ids()
    batch = {"input_ids": ids, "token_type_ids": tt, "attention_mask": (ids != 0).astype("int64")}
    before = PaddleInferenceRunner(*save_graph(desc.graph, tmp_path / "g0" / "model"))(batch)
    ctx = passes.PassContext(max_length=16)
    passes.trim_positions(desc, ctx)
    assert ctx.summaries() == ["trim_positions: 64 -> 16"]
    after = PaddleInferenceRunner(*save_graph(desc.graph, tmp_path / "g1" / "model"))(batch)
    np.testing.assert_allclose(after, before, atol=1e-5)
