"""Real test models for the runtime SDK, built from scratch (no hub, no download).

A small BERT/ERNIE-shaped classifier (embeddings over the real bert-base-chinese
vocabulary, a couple of transformer layers, pooler, classifier head) with random
weights is written with Paddle 2.6.2 (`paddle.jit.save`, legacy .pdmodel) and
converted the ways the converters do it:

- Paddle Lite `.nb` for x86 via `paddlelite.lite.Opt`;
- ONNX via paddle2onnx 1.3.1, folded by an ONNX Runtime basic-optimized session;
- ONNX int8 via `onnxruntime.quantization.quantize_dynamic`.

The Paddle part runs in a child process (``python tests/support/runtime_models.py build
OUT``) so that test processes never load libpaddle (its zlib and OpenMP would
leak into the runtime under test). :func:`make_bundle` then writes a bundle
directory with a manifest, golden vectors computed with the reference tokenizer
(Hugging Face ``tokenizers``) and the fp32 ONNX model, and packs it with
``edgetext.bundle.pack``.

Used by the tests (session fixtures in tests/test_predictor.py etc.) and by
bench/classifier.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

LABELS = ["negative", "neutral", "positive"]
MAX_LENGTH = 64
HIDDEN = 32

GOLDEN_TEXTS = [
    "这家店的菜很好吃，服务也很周到。",
    "房间太小了，隔音很差，不会再来。",
    "物流很快，包装完好。",
    "Hello world! This is an English sentence, mixed with 中文 and numbers 12345.",
    "",
    "差评",
    "酒店的位置不错，早餐一般般，性价比还可以吧，下次出差也许还会考虑。" * 3,
]

# Variants: name -> (ids dtype, inputs the exported graph takes, (hidden, layers, heads, ffn))
VARIANTS = {
    "base": ("int64", ["input_ids", "token_type_ids"], (HIDDEN, 2, 2, 64)),
    "int32mask": ("int32", ["input_ids", "token_type_ids", "attention_mask"], (HIDDEN, 2, 2, 64)),
}
# ERNIE-3.0-Nano-shaped (hidden 312, 4 layers, 12 heads, ffn 1248): for bench/classifier.py, not for tests
BENCH_VARIANTS = {"nano": ("int64", ["input_ids", "token_type_ids"], (312, 4, 12, 1248))}
# built without Paddle (build_onnx_only): ONNX fp32 + int8 only
ONNX_ONLY = {"onnxonly": ("int64", ["input_ids", "token_type_ids"], None)}
ALL_VARIANTS = {**VARIANTS, **BENCH_VARIANTS, **ONNX_ONLY}


# ----------------------------------------------------------------------------------------------
# child process: Paddle model -> .pdmodel -> .nb / .onnx / int8 .onnx
# ----------------------------------------------------------------------------------------------
def _build_paddle(out: Path, vocab_size: int, dtype: str, inputs: list[str], dims: tuple, seed: int = 7) -> Path:
    import zlib  # noqa: F401  (before libpaddle's own zlib: docs/environment.md, Python and packages)

    import numpy as np
    import paddle
    import paddle.nn as nn

    paddle.seed(seed)
    np.random.seed(seed)

    hidden, layers, heads, ffn = dims

    class TinyBert(nn.Layer):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(vocab_size, hidden)
            self.pos = nn.Embedding(512, hidden)
            self.type = nn.Embedding(2, hidden)
            self.norm = nn.LayerNorm(hidden)
            layer = nn.TransformerEncoderLayer(hidden, heads, ffn, dropout=0.0, activation="gelu")
            self.encoder = nn.TransformerEncoder(layer, layers)
            self.pool = nn.Linear(hidden, hidden)
            self.cls = nn.Linear(hidden, len(LABELS))

        def forward(self, input_ids, token_type_ids, attention_mask=None):
            ones = paddle.ones_like(input_ids)
            position_ids = paddle.cumsum(ones, axis=-1) - ones
            h = self.word(input_ids) + self.pos(position_ids) + self.type(token_type_ids)
            h = self.norm(h)
            if attention_mask is None:
                # compare against a full tensor, not a Python scalar: Lite aborts on a 0-D fill_constant
                keep = paddle.cast(input_ids != paddle.full_like(input_ids, 0), "float32")
            else:
                keep = paddle.cast(attention_mask, "float32")
            mask = paddle.unsqueeze((1.0 - keep) * -1e4, axis=[1, 2])
            h = self.encoder(h, mask)
            # masked mean pooling: with random weights the [CLS] state alone barely depends on the text
            summed = paddle.sum(h * paddle.unsqueeze(keep, axis=[2]), axis=1)
            pooled = paddle.tanh(self.pool(summed / paddle.sum(keep, axis=1, keepdim=True)))
            return self.cls(pooled)

    model = TinyBert()
    model.eval()
    with paddle.no_grad():
        # calibrate the head on random texts so every label occurs and logits are well spread
        # (labels are then not coin flips between backends)
        ids = paddle.to_tensor(np.random.randint(106, vocab_size, size=(256, 24)), dtype=dtype)
        feeds = [ids, paddle.zeros_like(ids)] + ([paddle.ones_like(ids)] if len(inputs) == 3 else [])
        logits = model(*feeds)
        mean, std = paddle.mean(logits, axis=0), paddle.std(logits, axis=0)
        model.cls.weight.set_value(model.cls.weight / std * 1.5)
        model.cls.bias.set_value((model.cls.bias - mean) / std * 1.5)
    spec = [paddle.static.InputSpec([None, None], dtype, name) for name in inputs]
    static = paddle.jit.to_static(model, input_spec=spec)
    prefix = out / "paddle" / "model"
    paddle.jit.save(static, str(prefix))
    return prefix


def _to_nb(prefix: Path, out_file: Path) -> None:
    import paddlelite.lite as lite

    opt = lite.Opt()
    opt.set_model_file(str(prefix) + ".pdmodel")
    opt.set_param_file(str(prefix) + ".pdiparams")
    opt.set_valid_places("x86")
    opt.set_model_type("naive_buffer")
    opt.set_optimize_out(str(out_file.with_suffix("")))
    opt.run()
    if not out_file.is_file():
        raise RuntimeError(f"paddle lite opt wrote no {out_file}")


def _to_onnx(prefix: Path, fp32_file: Path, int8_file: Path | None) -> None:
    import paddle2onnx
    import onnxruntime as ort

    raw = fp32_file.with_suffix(".raw.onnx")
    paddle2onnx.export(str(prefix) + ".pdmodel", str(prefix) + ".pdiparams", save_file=str(raw),
                       opset_version=14, verbose=False, enable_onnx_checker=True)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(fp32_file)
    ort.InferenceSession(str(raw), so, providers=["CPUExecutionProvider"])
    raw.unlink()
    if int8_file is not None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32_file), str(int8_file), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True)


def build_variant(out: Path, variant: str, vocab_size: int) -> None:
    dtype, inputs, dims = ALL_VARIANTS[variant]
    out.mkdir(parents=True, exist_ok=True)
    prefix = _build_paddle(out, vocab_size, dtype, inputs, dims)
    _to_onnx(prefix, out / "model.x86_64.fp32.onnx", out / "model.x86_64.int8.onnx" if dtype == "int64" else None)
    _to_nb(prefix, out / "model.x86_64.fp32.nb")
    shutil.rmtree(out / "paddle")
    import onnxruntime as ort

    sess = ort.InferenceSession(str(out / "model.x86_64.fp32.onnx"), providers=["CPUExecutionProvider"])
    (out / "io.json").write_text(json.dumps({"outputs": [o.name for o in sess.get_outputs()]}))


# ----------------------------------------------------------------------------------------------
# no Paddle: an ONNX-only model (onnx.helper + numpy), for Python 3.11-3.13 with ONNX Runtime only
# ----------------------------------------------------------------------------------------------
def build_onnx_only(out: Path, vocab_size: int, seed: int = 11) -> Path:
    """A bag-of-embeddings classifier written directly as ONNX (opset 13), fp32 and dynamic int8.

    Gather(word) + Gather(type) -> masked mean over real tokens (mask from input_ids != [PAD]) ->
    Tanh(Dense) -> Dense -> logits [B, 3]. Small, real, and built without Paddle.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    h = HIDDEN
    weights = {
        "word": rng.normal(0, 1.0, (vocab_size, h)).astype(np.float32),
        "type": rng.normal(0, 0.1, (2, h)).astype(np.float32),
        "wp": rng.normal(0, 1.0 / np.sqrt(h), (h, h)).astype(np.float32),
        "bp": np.zeros(h, np.float32),
        "wc": rng.normal(0, 3.0 / np.sqrt(h), (h, len(LABELS))).astype(np.float32),
        "bc": np.zeros(len(LABELS), np.float32),
        "pad": np.zeros((), np.int64), "axis1": np.array([1], np.int64), "axis_last": np.array([-1], np.int64),
    }
    nodes = [
        helper.make_node("Gather", ["word", "input_ids"], ["w"]),
        helper.make_node("Gather", ["type", "token_type_ids"], ["t"]),
        helper.make_node("Add", ["w", "t"], ["e"]),
        helper.make_node("Equal", ["input_ids", "pad"], ["is_pad"]),
        helper.make_node("Not", ["is_pad"], ["keep_b"]),
        helper.make_node("Cast", ["keep_b"], ["keep"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["keep", "axis_last"], ["keep3"]),
        helper.make_node("Mul", ["e", "keep3"], ["em"]),
        helper.make_node("ReduceSum", ["em", "axis1"], ["s"], keepdims=0),
        helper.make_node("ReduceSum", ["keep", "axis1"], ["n"], keepdims=1),
        helper.make_node("Div", ["s", "n"], ["mean"]),
        helper.make_node("MatMul", ["mean", "wp"], ["p0"]),
        helper.make_node("Add", ["p0", "bp"], ["p1"]),
        helper.make_node("Tanh", ["p1"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "wc"], ["l0"]),
        helper.make_node("Add", ["l0", "bc"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "edgetext_test_bag",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"]) for n in ("input_ids", "token_type_ids")],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(LABELS)])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgetext-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    out.mkdir(parents=True, exist_ok=True)
    fp32 = out / "model.x86_64.fp32.onnx"
    onnx.save(model, str(fp32))
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(out / "model.x86_64.int8.onnx"), weight_type=QuantType.QInt8)
    (out / "io.json").write_text(json.dumps({"outputs": ["logits"]}))
    return out


# ----------------------------------------------------------------------------------------------
# parent process: build (cached), then write + pack bundles
# ----------------------------------------------------------------------------------------------
def _cache_key(variant: str, vocab: Path) -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(variant.encode())
    h.update(hashlib.sha256(vocab.read_bytes()).digest())
    return h.hexdigest()[:16]


def build_models(cache_dir: Path, vocab: Path, variant: str = "base", python: str | None = None) -> Path:
    """The models of `variant`, built once per builder version into `cache_dir/<variant>-<key>/`."""
    out = Path(cache_dir) / f"{variant}-{_cache_key(variant, vocab)}"
    if (out / ".done").is_file():
        return out
    if out.exists():
        shutil.rmtree(out)
    vocab_size = sum(1 for _ in vocab.open(encoding="utf-8"))
    if variant in ONNX_ONLY:  # no Paddle: build in-process
        build_onnx_only(out, vocab_size)
        (out / ".done").write_text("ok")
        return out
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", GLOG_minloglevel="2")
    proc = subprocess.run([python or sys.executable, __file__, "build", str(out), variant, str(vocab_size)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building test model {variant} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    (out / ".done").write_text("ok")
    return out


def reference_tokenizer(vocab: Path, max_length: int = MAX_LENGTH):
    """Hugging Face's BertWordPiece: the reference EdgeText's tokenizer matches id for id."""
    from tokenizers import BertWordPieceTokenizer

    tok = BertWordPieceTokenizer(str(vocab), lowercase=True, strip_accents=None, handle_chinese_chars=True,
                                 clean_text=True)
    tok.enable_truncation(max_length)
    return tok


def _ort_logits(model: Path, ids: list[list[int]], dtype: str, inputs: list[str]):
    import numpy as np
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    rows = []
    for seq in ids:
        arr = np.asarray([seq], dtype=dtype)
        feeds = {"input_ids": arr, "token_type_ids": np.zeros_like(arr), "attention_mask": np.ones_like(arr)}
        rows.append(sess.run(None, {k: feeds[k] for k in inputs})[0][0])
    return np.asarray(rows, dtype=np.float32)


def model_entries(models_dir: Path, variant: str = "base") -> list[dict]:
    dtype, inputs, _ = ALL_VARIANTS[variant]
    ins = [{"name": n, "role": n, "dtype": dtype, "shape": [-1, -1]} for n in inputs]
    out_names = json.loads((models_dir / "io.json").read_text())["outputs"]
    outs = [{"name": out_names[0], "dtype": "float32", "shape": [-1, len(LABELS)]}]
    entries = []
    for f in sorted(models_dir.iterdir()):
        if f.suffix not in (".onnx", ".nb"):
            continue
        _, target, precision = f.stem.split(".")
        backend = "onnxruntime" if f.suffix == ".onnx" else "paddlelite"
        entry = {"file": f.name, "backend": backend, "target": target, "precision": precision,
                 "inputs": ins, "outputs": outs,
                 "verified": precision == "fp32",
                 "quantization": ({"method": "dynamic", "per_channel": True, "reduce_range": True}
                                  if precision == "int8" else None),
                 "accuracy": None}
        entries.append(entry)
    return entries


def make_bundle(models_dir: Path, vocab: Path, out: Path, variant: str = "base", name: str = "tiny-zh",
                archive: bool = False, models: list[str] | None = None, max_length: int = MAX_LENGTH) -> Path:
    """Write a bundle folder (members + manifest without `files`) and pack it (folder or .etb)."""
    from edgetext.bundle import pack

    import numpy as np

    dtype, inputs, _ = ALL_VARIANTS[variant]
    src = Path(str(out) + ".src") if archive else Path(out)
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    shutil.copyfile(vocab, src / "vocab.txt")
    entries = [e for e in model_entries(models_dir, variant) if models is None or e["file"] in models]
    for e in entries:
        shutil.copyfile(models_dir / e["file"], src / e["file"])
    tok = reference_tokenizer(vocab, max_length)
    ids = [enc.ids for enc in tok.encode_batch(GOLDEN_TEXTS)]

    def expect(model_file: str) -> list[dict]:
        logits = _ort_logits(models_dir / model_file, ids, dtype, inputs)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
        return [{"label": LABELS[int(p.argmax())], "score": round(float(p.max()), 6),
                 "logits": [round(float(x), 6) for x in lg]} for p, lg in zip(probs, logits)]

    golden = [{"text": t, "text_pair": None, "input_ids": i, **x}
              for t, i, x in zip(GOLDEN_TEXTS, ids, expect("model.x86_64.fp32.onnx"))]
    for e in entries:  # a quantized model has its own expectations (its labels may flip on near-ties)
        if e["precision"] == "int8" and e["backend"] == "onnxruntime":
            for g, x in zip(golden, expect(e["file"])):
                g.setdefault("per_model", {})[e["file"]] = x
    manifest = {
        "format": "edgetext-bundle", "format_version": 1, "name": name, "task": "text-classification",
        "created_by": "tests/support/runtime_models.py", "labels": LABELS,
        "tokenizer": {"vocab": "vocab.txt", "lowercase": True, "strip_accents": None, "tokenize_chinese_chars": True,
                      "clean_text": True, "max_length": max_length, "max_input_chars_per_word": 100,
                      "wordpieces_prefix": "##",
                      "special_tokens": {"unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]",
                                         "mask": "[MASK]"}},
        "models": entries, "golden": golden, "report": {"note": "random weights, test model"},
    }
    (src / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    if not archive:
        pack(src, src)
        return src
    target = Path(out)
    pack(src, target)
    shutil.rmtree(src)
    return target


def repack(etb: Path, out: Path, change) -> Path:
    """A copy of bundle `etb` with `change(manifest_dict, folder)` applied, packed to `out` (tests of bad bundles)."""
    import tempfile
    import zipfile

    from edgetext.bundle import pack

    with tempfile.TemporaryDirectory(prefix="repack-") as tmp:
        src = Path(tmp)
        with zipfile.ZipFile(etb) as zf:
            zf.extractall(src)
        manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
        change(manifest, src)
        (src / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        return pack(src, out)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "build":
        build_variant(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        print("usage: python tests/support/runtime_models.py build OUT VARIANT VOCAB_SIZE", file=sys.stderr)
        raise SystemExit(2)
