"""Things that turn token-id batches into logits: the references and the converted targets.

- :class:`NumpyBert`: a float64 numpy forward pass of a Hugging Face BERT-family
  ``*ForSequenceClassification`` state dict (HF names, HF semantics: post-LN encoder,
  exact erf GELU, additive ``finfo.min`` attention mask from ``attention_mask``, tanh pooler
  on [CLS], linear classifier), or with ``embedding`` of a bare encoder's sentence embeddings
  (sentence-transformers mean / CLS / pooler pooling, optional L2 norm). The reference for HF inputs.
- :class:`PaddleInferenceRunner`: Paddle Inference on a ``.pdmodel`` (the reference for
  Paddle inputs).
- :class:`OrtRunner`: ONNX Runtime CPU. :class:`LiteRunner`: Paddle Lite x86 in a child process.
  :class:`OpenVinoRunner`: OpenVINO CPU.

All take ``{"input_ids", "token_type_ids", "attention_mask"}`` int64 [B, L] batches and return
float32 logits [B, C]. :func:`reference_runner` picks the reference for a description.

May import: numpy, edgetext.errors, .io_names, .description, .paddle_graph; paddle,
onnxruntime and openvino lazily (Paddle Lite only in child processes, via lite_tool.py).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgetext.errors import ConversionError

from .description import ModelDescription
from .io_names import feed_role


# ----------------------------------------------------------------------------- numpy BERT
def _erf(x: np.ndarray) -> np.ndarray:
    """erf with |error| < 1.2e-7 (Numerical Recipes erfc, Chebyshev fit)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    r = t * np.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
    return np.where(x >= 0, 1.0 - r, r - 1.0)


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))


def _act(name: str):
    if name == "gelu":
        return gelu
    if name == "relu":
        return lambda x: np.maximum(x, 0)
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    raise ConversionError(f"unsupported activation {name!r}")


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


class NumpyBert:
    """HF ``BertForSequenceClassification`` semantics over HF-named weights (prefix detected)."""

    name = "numpy-bert"

    def __init__(self, weights: dict[str, np.ndarray], config: dict[str, Any], dtype=np.float64,
                 embedding: dict[str, Any] | None = None):
        self.cfg = config
        self.embedding = embedding  # {"pooling", "normalize"}: return sentence embeddings, not logits
        prefix = ""
        for p in ("bert.", "ernie.", ""):
            if f"{p}embeddings.word_embeddings.weight" in weights:
                prefix = p
                break
        self.p = prefix
        self.w = {k: np.asarray(v, dtype=dtype) for k, v in weights.items()
                  if np.issubdtype(np.asarray(v).dtype, np.floating)}
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.act = _act(config.get("hidden_act", "gelu"))
        self.use_task_id = bool(config.get("use_task_id", False))

    def _g(self, name: str) -> np.ndarray:
        for cand in (self.p + name, self.p + name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
                "LayerNorm.bias", "LayerNorm.beta")):
            if cand in self.w:
                return self.w[cand]
        raise ConversionError(f"missing parameter {self.p + name}")

    def _lin(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self._g(name + ".weight").T + self._g(name + ".bias")

    def encode(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Last hidden state [B, L, H] (float64)."""
        ids = batch["input_ids"]
        tt = batch.get("token_type_ids")
        mask = batch.get("attention_mask")
        if mask is None:
            mask = (ids != int(self.cfg.get("pad_token_id", 0))).astype(np.int64)
        b, n = ids.shape
        x = self._g("embeddings.word_embeddings.weight")[ids]
        x = x + self._g("embeddings.position_embeddings.weight")[np.arange(n)][None]
        if tt is None:
            tt = np.zeros_like(ids)
        if self.p + "embeddings.token_type_embeddings.weight" in self.w:
            x = x + self._g("embeddings.token_type_embeddings.weight")[tt]
        if self.use_task_id and self.p + "embeddings.task_type_embeddings.weight" in self.w:
            x = x + self._g("embeddings.task_type_embeddings.weight")[np.zeros_like(ids)]
        x = _layer_norm(x, self._g("embeddings.LayerNorm.weight"), self._g("embeddings.LayerNorm.bias"), self.eps)
        h = self.heads
        d = x.shape[-1] // h
        add_mask = (1.0 - mask[:, None, None, :].astype(np.float64)) * np.finfo(np.float32).min
        for i in range(self.layers):
            L = f"encoder.layer.{i}."

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(b, n, h, d).transpose(0, 2, 1, 3)

            q = split(self._lin(x, L + "attention.self.query"))
            k = split(self._lin(x, L + "attention.self.key"))
            v = split(self._lin(x, L + "attention.self.value"))
            s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + add_mask
            s = s - s.max(-1, keepdims=True)
            p = np.exp(s)
            p = p / p.sum(-1, keepdims=True)
            ctx = (p @ v).transpose(0, 2, 1, 3).reshape(b, n, h * d)
            a = self._lin(ctx, L + "attention.output.dense")
            x = _layer_norm(x + a, self._g(L + "attention.output.LayerNorm.weight"),
                            self._g(L + "attention.output.LayerNorm.bias"), self.eps)
            f = self._lin(self.act(self._lin(x, L + "intermediate.dense")), L + "output.dense")
            x = _layer_norm(x + f, self._g(L + "output.LayerNorm.weight"), self._g(L + "output.LayerNorm.bias"),
                            self.eps)
        return x

    def pooled(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        x = self.encode(batch)
        return np.tanh(self._lin(x[:, 0], "pooler.dense"))

    def embed(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Sentence embeddings [B, H] (float64): sentence-transformers' mean pooling over the attention mask
        (divisor clamped at 1e-9), the [CLS] state, or the pooler; then L2 normalization when asked."""
        assert self.embedding is not None
        pooling = self.embedding["pooling"]
        if pooling == "pooler":
            x = self.pooled(batch)
        else:
            hidden = self.encode(batch)
            if pooling == "cls":
                x = hidden[:, 0]
            else:
                mask = batch.get("attention_mask")
                if mask is None:
                    mask = (batch["input_ids"] != int(self.cfg.get("pad_token_id", 0))).astype(np.int64)
                m = mask[:, :, None].astype(np.float64)
                x = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        if self.embedding.get("normalize"):
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return x

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        if self.embedding is not None:
            return self.embed(batch).astype(np.float32)
        pooled = self.pooled(batch)
        w, bias = self.w["classifier.weight"], self.w["classifier.bias"]
        return (pooled @ w.T + bias).astype(np.float32)


# ----------------------------------------------------------------------------- Paddle Inference
class PaddleInferenceRunner:
    name = "paddle-inference"

    def __init__(self, model_file: str | os.PathLike, params_file: str | os.PathLike, threads: int = 1):
        import zlib  # noqa: F401
        from paddle import inference

        cfg = inference.Config(str(model_file), str(params_file))
        cfg.disable_glog_info()
        cfg.set_cpu_math_library_num_threads(threads)
        cfg.switch_ir_optim(True)
        self.pred = inference.create_predictor(cfg)
        self.inputs = list(self.pred.get_input_names())
        self.output = self.pred.get_output_names()[0]

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        for name in self.inputs:
            h = self.pred.get_input_handle(name)
            arr = batch[feed_role(name)]
            if "INT32" in str(h.type()).upper():
                arr = arr.astype(np.int32)
            h.copy_from_cpu(np.ascontiguousarray(arr))
        self.pred.run()
        return np.asarray(self.pred.get_output_handle(self.output).copy_to_cpu(), dtype=np.float32)


def reference_runner(desc: ModelDescription, work: Path) -> "NumpyBert | PaddleInferenceRunner":
    """The model every target is gated against: the numpy forward pass of the untouched safetensors
    for Hugging Face inputs, else Paddle Inference on the graph as it is now (call it right after
    lowering, before any pass that changes predictions)."""
    if desc.hf_weights is not None:
        assert desc.hf_config is not None
        return NumpyBert(desc.hf_weights, desc.hf_config, embedding=desc.embedding if desc.is_embedding else None)
    from .paddle_graph import save_graph

    assert desc.graph is not None
    return PaddleInferenceRunner(*save_graph(desc.graph, work / "reference" / "model"))


# ----------------------------------------------------------------------------- ONNX Runtime
class OrtRunner:
    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike, threads: int = 1, providers: Sequence[str] = ("CPUExecutionProvider",),
                 basic_optimizations: bool = False):
        import onnxruntime as ort

        so = ort.SessionOptions()
        if basic_optimizations:  # fp16 graphs on the CPU provider: avoid the extended fusions
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            self.sess = ort.InferenceSession(str(path), so, providers=list(providers))
        except Exception as e:  # noqa: BLE001  (ORT raises its own error types: one clear error)
            raise ConversionError(f"ONNX Runtime cannot load {path}: {str(e).splitlines()[0][:300]}") from None
        self.inputs = [(i.name, i.type) for i in self.sess.get_inputs()]

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        feeds = {}
        for name, typ in self.inputs:
            arr = batch[feed_role(name)]
            feeds[name] = arr.astype(np.int32) if "int32" in typ else arr.astype(np.int64)
        out = self.sess.run(None, feeds)[0]
        return np.asarray(out, dtype=np.float32)


# ----------------------------------------------------------------------------- Paddle Lite
LITE_TOOL = Path(__file__).with_name("lite_tool.py")


def lite_subprocess(args: list[str], timeout: float = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    env.setdefault("GLOG_minloglevel", "2")
    return subprocess.run([sys.executable, str(LITE_TOOL), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


class LiteRunner:
    """Runs every batch of an evaluation in one child process (see lite_tool.py)."""

    name = "paddlelite"

    def __init__(self, nb_file: str | os.PathLike, input_names: Sequence[str],
                 dtypes: dict[str, str] | None = None):
        self.nb = str(nb_file)
        self.input_names = list(input_names)
        self.dtypes = dict(dtypes or {})

    def run_many(self, batches: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        with tempfile.TemporaryDirectory(prefix="edgetext-lite-") as tmp:
            arrays = {}
            for i, b in enumerate(batches):
                for name in self.input_names:
                    dt = np.int32 if self.dtypes.get(name) == "int32" else np.int64
                    arrays[f"b{i}_{name}"] = np.ascontiguousarray(b[feed_role(name)].astype(dt))
            np.savez(os.path.join(tmp, "in.npz"), **arrays)
            proc = lite_subprocess(["run", self.nb, os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")])
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()
                why = next((line for line in reversed(tail) if "Check failed" in line or "[F " in line),
                           tail[-1] if tail else "")
                raise ConversionError(f"Paddle Lite failed to run {Path(self.nb).name} (exit {proc.returncode}): "
                                      f"{why[:300]}")
            out = np.load(os.path.join(tmp, "out.npz"))
            return [np.asarray(out[f"b{i}"], dtype=np.float32) for i in range(len(batches))]

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        return self.run_many([batch])[0]


# ----------------------------------------------------------------------------- OpenVINO
class OpenVinoRunner:
    """OpenVINO CPU, one thread, f32 inference precision (what edgetext.backends.openvino sets)."""

    name = "openvino"

    def __init__(self, path: str | os.PathLike, threads: int = 1):
        import openvino as ov

        try:
            core = ov.Core()
            self.compiled = core.compile_model(core.read_model(str(path)), "CPU",
                                               {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32",
                                                "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"})
        except Exception as e:  # noqa: BLE001  (OpenVINO raises its own error types: one clear error)
            raise ConversionError(f"OpenVINO cannot load {path}: {str(e).splitlines()[0][:300]}") from None
        self.inputs = [(p.get_any_name(), p.get_element_type().get_type_name()) for p in self.compiled.inputs]
        self.request = self.compiled.create_infer_request()

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        feeds = {name: batch[feed_role(name)].astype(np.int32 if kind == "i32" else np.int64)
                 for name, kind in self.inputs}
        self.request.infer(feeds)
        return np.array(self.request.get_output_tensor(0).data, dtype=np.float32)
