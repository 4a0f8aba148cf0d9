"""A PaddleNLP-compatible ERNIE 3.0 / BERT sequence classifier in plain Paddle 2.6.2.

No ``paddlenlp`` install is needed. The layer structure, the state-dict parameter
names and the exported inference graph follow PaddleNLP's
``ErnieForSequenceClassification`` / ``BertForSequenceClassification``::

    ernie.embeddings.word_embeddings.weight          [vocab, hidden]
    ernie.embeddings.position_embeddings.weight      [max_position_embeddings, hidden]
    ernie.embeddings.token_type_embeddings.weight    [type_vocab_size, hidden]
    ernie.embeddings.task_type_embeddings.weight     [task_type_vocab_size, hidden]   (use_task_id)
    ernie.embeddings.layer_norm.{weight,bias}
    ernie.encoder.layers.N.self_attn.{q,k,v,out}_proj.{weight,bias}   (Paddle Linear: weight is [in, out])
    ernie.encoder.layers.N.{linear1,linear2,norm1,norm2}.{weight,bias}
    ernie.pooler.dense.{weight,bias}
    classifier.{weight,bias}

(``bert.`` instead of ``ernie.`` when ``config.model_type == "bert"``.)

Typical use (training a student, then handing it to the converters)::

    import zlib  # before paddle: libpaddle carries its own zlib (converters README, Facts)
    from edgetext_converters.paddle_ernie import ErnieConfig, ErnieForSequenceClassification, \
        export_inference_model, save_checkpoint
    cfg = ErnieConfig.preset("ernie-3.0-tiny-nano-v2-zh", num_labels=2, id2label={0: "negative", 1: "positive"})
    model = ErnieForSequenceClassification(cfg)
    ...train...
    save_checkpoint(model, "vocab.txt", "ckpt/")                    # PaddleNLP checkpoint folder
    export_inference_model(model, "infer/model", scalar_mask=True)  # infer/model.pdmodel + .pdiparams

``scalar_mask=True`` reproduces PaddleNLP's export graph exactly: the attention
mask is built from ``input_ids == pad_token_id`` against a Python scalar, which
Paddle 2.6 exports as a 0-D ``fill_constant`` that the Paddle Lite runtime
rejects (the converters repair it). ``scalar_mask=False`` compares against
``paddle.full_like`` and exports a Lite-friendly graph.
"""
from __future__ import annotations

import zlib  # noqa: F401  (must be loaded before libpaddle, which carries its own zlib: converters README)

import copy
import json
import os
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import paddle
import paddle.nn as nn

__all__ = [
    "ErnieConfig",
    "ErnieEmbeddings",
    "ErniePooler",
    "ErnieModel",
    "ErnieForSequenceClassification",
    "PRESETS",
    "export_inference_model",
    "save_checkpoint",
    "load_checkpoint",
    "INPUT_NAMES",
    "OUTPUT_NAME",
]

INPUT_NAMES = ("input_ids", "token_type_ids")
OUTPUT_NAME = "logits"

_ERNIE3 = dict(
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    max_position_embeddings=2048,
    type_vocab_size=4,
    task_type_vocab_size=16,
    use_task_id=True,
    vocab_size=40000,
    initializer_range=0.02,
    pad_token_id=0,
    model_type="ernie",
)

#: ERNIE 3.0 (Tiny) family shapes, as in PaddleNLP's ERNIE_PRETRAINED_INIT_CONFIGURATION.
PRESETS: dict[str, dict[str, Any]] = {
    "ernie-3.0-tiny-base-v2-zh": dict(_ERNIE3, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                      intermediate_size=3072),
    "ernie-3.0-tiny-medium-v2-zh": dict(_ERNIE3, hidden_size=768, num_hidden_layers=6, num_attention_heads=12,
                                        intermediate_size=3072),
    "ernie-3.0-tiny-mini-v2-zh": dict(_ERNIE3, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                                      intermediate_size=1536),
    "ernie-3.0-tiny-micro-v2-zh": dict(_ERNIE3, hidden_size=384, num_hidden_layers=4, num_attention_heads=12,
                                       intermediate_size=1536),
    "ernie-3.0-tiny-nano-v2-zh": dict(_ERNIE3, hidden_size=312, num_hidden_layers=4, num_attention_heads=12,
                                      intermediate_size=1248),
}
# short aliases and the v1 names
for _size in ("base", "medium", "mini", "micro", "nano"):
    PRESETS[_size] = PRESETS[f"ernie-3.0-tiny-{_size}-v2-zh"]
    PRESETS[f"ernie-3.0-tiny-{_size}-v1-zh"] = PRESETS[f"ernie-3.0-tiny-{_size}-v2-zh"]
PRESETS["ernie-3.0-medium-zh"] = PRESETS["medium"]
PRESETS["ernie-3.0-mini-zh"] = PRESETS["mini"]
PRESETS["ernie-3.0-micro-zh"] = PRESETS["micro"]
PRESETS["ernie-3.0-nano-zh"] = PRESETS["nano"]
PRESETS["ernie-3.0-base-zh"] = dict(PRESETS["base"], task_type_vocab_size=3)


@dataclass
class ErnieConfig:
    """Model hyper-parameters; field names follow PaddleNLP's ``ErnieConfig`` / ``BertConfig``."""

    vocab_size: int = 40000
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    task_type_vocab_size: int = 3
    use_task_id: bool = False
    task_id: int = 0
    pad_token_id: int = 0
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12  # PaddleNLP's init_weights sets every LayerNorm's epsilon to this
    classifier_dropout: float | None = None
    num_labels: int = 2
    id2label: dict[int, str] | None = None
    model_type: str = "ernie"  # "ernie" | "bert": the state-dict prefix
    #: width pruning (issue 8): attention heads and FFN neurons kept in each layer (None: num_attention_heads
    #: and intermediate_size in every layer); a kept head keeps its width, hidden_size // num_attention_heads
    layer_heads: list[int] | None = None
    layer_intermediate: list[int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys kept for round trips

    def __post_init__(self) -> None:
        if self.id2label is not None:
            self.id2label = {int(k): str(v) for k, v in dict(self.id2label).items()}
            if self.num_labels != len(self.id2label):
                self.num_labels = len(self.id2label)
        if self.model_type not in ("ernie", "bert"):
            raise ValueError(f"model_type must be 'ernie' or 'bert', not {self.model_type!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads "
                             f"{self.num_attention_heads}")
        for name, limit in (("layer_heads", self.num_attention_heads), ("layer_intermediate", None)):
            sizes = getattr(self, name)
            if sizes is None:
                continue
            sizes = [int(x) for x in sizes]
            if len(sizes) != self.num_hidden_layers or any(x < 1 or (limit and x > limit) for x in sizes):
                raise ValueError(f"{name} must give one size >= 1{f' and <= {limit}' if limit else ''} per layer "
                                 f"({self.num_hidden_layers}), got {sizes}")
            setattr(self, name, sizes)

    # ------------------------------------------------------------------ widths
    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def heads_in(self, layer: int) -> int:
        """Attention heads of ``layer`` (fewer than num_attention_heads once pruned)."""
        return self.layer_heads[layer] if self.layer_heads is not None else self.num_attention_heads

    def ffn_in(self, layer: int) -> int:
        """FFN width of ``layer`` (less than intermediate_size once pruned)."""
        return self.layer_intermediate[layer] if self.layer_intermediate is not None else self.intermediate_size

    @property
    def is_pruned(self) -> bool:
        return any(self.heads_in(n) != self.num_attention_heads or self.ffn_in(n) != self.intermediate_size
                   for n in range(self.num_hidden_layers))

    # ------------------------------------------------------------------ labels
    @property
    def labels(self) -> list[str]:
        if self.id2label:
            return [self.id2label[i] for i in range(self.num_labels)]
        return [f"LABEL_{i}" for i in range(self.num_labels)]

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    # ------------------------------------------------------------- construction
    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "ErnieConfig":
        """An ERNIE 3.0 Tiny shape: base, medium, mini, micro, nano (or PaddleNLP's full names)."""
        if name not in PRESETS:
            raise KeyError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
        return cls.from_dict({**PRESETS[name], **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ErnieConfig":
        """Read a PaddleNLP ``model_config.json`` / ``config.json`` dict (new flat style or the old
        ``{"init_args": [...], "init_class": ...}`` style), or an HF BERT ``config.json`` dict."""
        data = dict(data)
        if "init_args" in data and isinstance(data["init_args"], list):  # PaddleNLP <= 2.4
            inner: dict[str, Any] = {}
            for arg in data["init_args"]:
                if isinstance(arg, dict):
                    nested = arg.get("init_args")
                    if isinstance(nested, list):
                        for a in nested:
                            if isinstance(a, dict):
                                inner.update(a)
                    inner.update({k: v for k, v in arg.items() if k not in ("init_class", "init_args")})
            top = {k: v for k, v in data.items() if k not in ("init_args", "init_class")}
            if "init_class" in data:
                top.setdefault("architectures", [data["init_class"]])
            data = {**inner, **top}
        known = {f.name for f in fields(cls)} - {"extra", "id2label", "num_labels", "model_type"}
        kwargs: dict[str, Any] = {k: data[k] for k in known if k in data and data[k] is not None}
        id2label = data.get("id2label")
        num_labels = data.get("num_labels", data.get("num_classes"))
        if id2label:
            kwargs["id2label"] = {int(k): v for k, v in id2label.items()}
        elif data.get("label2id"):
            kwargs["id2label"] = {int(v): k for k, v in data["label2id"].items()}
        if num_labels is not None:
            kwargs["num_labels"] = int(num_labels)
        if "dropout" in data and "classifier_dropout" not in data:
            kwargs["classifier_dropout"] = data["dropout"]
        mt = str(data.get("model_type") or "").lower()
        archs = " ".join(data.get("architectures") or []).lower()
        kwargs["model_type"] = "bert" if (mt == "bert" or (not mt and "bert" in archs and "ernie" not in archs)) \
            else "ernie"
        if kwargs["model_type"] == "bert":
            kwargs.setdefault("use_task_id", False)
        else:
            # PaddleNLP's ErnieConfig defaults use_task_id=True; an ERNIE config without the key means True
            kwargs.setdefault("use_task_id", True)
        used = known | {"id2label", "label2id", "num_labels", "num_classes", "model_type", "dropout"}
        kwargs["extra"] = {k: v for k, v in data.items() if k not in used}
        return cls(**kwargs)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "ErnieConfig":
        """``path``: a config file or a checkpoint folder holding model_config.json or config.json."""
        p = Path(path)
        if p.is_dir():
            for name in ("model_config.json", "config.json"):
                if (p / name).is_file():
                    p = p / name
                    break
            else:
                raise FileNotFoundError(f"no model_config.json or config.json in {path}")
        with open(p, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def to_dict(self) -> dict[str, Any]:
        """PaddleNLP (>= 2.5) flat config dict."""
        d = asdict(self)
        extra = d.pop("extra") or {}
        d["id2label"] = {str(i): label for i, label in enumerate(self.labels)}
        d["label2id"] = self.label2id
        arch = "BertForSequenceClassification" if self.model_type == "bert" else "ErnieForSequenceClassification"
        out = {"architectures": [arch], **{k: v for k, v in extra.items() if k != "architectures"}, **d}
        for key in ("classifier_dropout", "layer_heads", "layer_intermediate"):
            if out.get(key) is None:  # PaddleNLP's own configs have none of these
                out.pop(key, None)
        return out

    def copy(self, **changes: Any) -> "ErnieConfig":
        c = copy.deepcopy(self)
        for k, v in changes.items():
            setattr(c, k, v)
        c.__post_init__()
        return c


# ---------------------------------------------------------------------------- layers
class ErnieEmbeddings(nn.Layer):
    def __init__(self, config: ErnieConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.type_vocab_size = config.type_vocab_size
        if config.type_vocab_size > 0:
            self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.use_task_id = config.use_task_id
        self.task_id = config.task_id
        if self.use_task_id:
            self.task_type_embeddings = nn.Embedding(config.task_type_vocab_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids=None, position_ids=None, task_type_ids=None):
        input_shape = paddle.shape(input_ids)
        input_embeddings = self.word_embeddings(input_ids)
        if position_ids is None:
            ones = paddle.ones(input_shape, dtype="int64")
            seq_length = paddle.cumsum(ones, axis=1)
            position_ids = seq_length - ones
            position_ids.stop_gradient = True
        embeddings = input_embeddings + self.position_embeddings(position_ids)
        if self.type_vocab_size > 0:
            if token_type_ids is None:
                token_type_ids = paddle.zeros(input_shape, dtype="int64")
            embeddings = embeddings + self.token_type_embeddings(token_type_ids)
        if self.use_task_id:
            if task_type_ids is None:
                task_type_ids = paddle.ones(input_shape, dtype="int64") * self.task_id
            embeddings = embeddings + self.task_type_embeddings(task_type_ids)
        embeddings = self.layer_norm(embeddings)
        return self.dropout(embeddings)


class ErniePooler(nn.Layer):
    def __init__(self, config: ErnieConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        return self.activation(self.dense(hidden_states[:, 0]))


def _init_weights(layer: nn.Layer, config: ErnieConfig) -> None:
    """PaddleNLP's init: normal(0, initializer_range) for Linear/Embedding weights, LayerNorm eps."""
    for sub in layer.sublayers(include_self=True):
        if isinstance(sub, (nn.Linear, nn.Embedding)):
            sub.weight.set_value(paddle.normal(mean=0.0, std=config.initializer_range, shape=sub.weight.shape))
        elif isinstance(sub, nn.LayerNorm):
            sub._epsilon = config.layer_norm_eps


def _narrow_layers(encoder: nn.TransformerEncoder, config: ErnieConfig) -> None:
    """Give each layer its pruned widths: Paddle's MultiHeadAttention reshapes by its ``num_heads`` and
    ``head_dim`` attributes, so fewer heads of the same width only need narrower projections."""
    h, hd = config.hidden_size, config.head_dim
    for n, layer in enumerate(encoder.layers):
        heads, ffn = config.heads_in(n), config.ffn_in(n)
        attn = layer.self_attn
        attn.num_heads = heads
        attn.q_proj, attn.k_proj, attn.v_proj = (nn.Linear(h, heads * hd) for _ in range(3))
        attn.out_proj = nn.Linear(heads * hd, h)
        layer.linear1, layer.linear2 = nn.Linear(h, ffn), nn.Linear(ffn, h)


class ErnieModel(nn.Layer):
    """Embeddings + post-norm Transformer encoder (``nn.TransformerEncoder``) + tanh pooler."""

    def __init__(self, config: ErnieConfig):
        super().__init__()
        self.config = config
        self.pad_token_id = config.pad_token_id
        self.scalar_mask = True  # PaddleNLP's mask: input_ids == <python int>
        self.embeddings = ErnieEmbeddings(config)
        encoder_layer = nn.TransformerEncoderLayer(
            config.hidden_size,
            config.num_attention_heads,
            config.intermediate_size,
            dropout=config.hidden_dropout_prob,
            activation=config.hidden_act,
            attn_dropout=config.attention_probs_dropout_prob,
            act_dropout=0,
            normalize_before=False,
        )
        self.encoder = nn.TransformerEncoder(encoder_layer, config.num_hidden_layers)
        if config.is_pruned:
            _narrow_layers(self.encoder, config)
        self.pooler = ErniePooler(config)
        _init_weights(self, config)

    def forward(self, input_ids, token_type_ids=None, position_ids=None, attention_mask=None, task_type_ids=None):
        if attention_mask is None:
            if self.scalar_mask:
                is_pad = input_ids == self.pad_token_id
            else:
                is_pad = input_ids == paddle.full_like(input_ids, self.pad_token_id)
            attention_mask = paddle.unsqueeze(is_pad.astype(self.pooler.dense.weight.dtype) * -1e4, axis=[1, 2])
        elif attention_mask.ndim == 2:  # 1 = keep, 0 = pad (tokenizer style)
            attention_mask = paddle.unsqueeze(attention_mask, axis=[1, 2]).astype(paddle.get_default_dtype())
            attention_mask = (1.0 - attention_mask) * -1e4
        attention_mask.stop_gradient = True
        embedding_output = self.embeddings(input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                                           task_type_ids=task_type_ids)
        sequence_output = self.encoder(embedding_output, src_mask=attention_mask)
        return sequence_output, self.pooler(sequence_output)


class ErnieForSequenceClassification(nn.Layer):
    """``ernie`` (or ``bert``) + dropout + ``classifier`` Linear(hidden, num_labels); forward returns logits."""

    def __init__(self, config: ErnieConfig):
        super().__init__()
        self.config = config
        self.base_model_prefix = config.model_type
        setattr(self, config.model_type, ErnieModel(config))
        p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        _init_weights(self.classifier, config)

    @property
    def base_model(self) -> ErnieModel:
        return getattr(self, self.base_model_prefix)

    @property
    def num_labels(self) -> int:
        return self.config.num_labels

    def forward(self, input_ids, token_type_ids=None, position_ids=None, attention_mask=None, task_type_ids=None):
        _, pooled = self.base_model(input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                                    attention_mask=attention_mask, task_type_ids=task_type_ids)
        return self.classifier(self.dropout(pooled))

    # -------------------------------------------------------------- weights
    def load_numpy_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        """Set weights from a {name: ndarray} dict with PaddleNLP names; checks names and shapes."""
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and missing:
            raise KeyError(f"missing parameters: {', '.join(missing[:8])}" + (" ..." if len(missing) > 8 else ""))
        for k, v in own.items():
            if k not in state:
                continue
            arr = np.asarray(state[k])
            if tuple(arr.shape) != tuple(v.shape):
                raise ValueError(f"parameter {k}: expected shape {list(v.shape)}, got {list(arr.shape)}")
            v.set_value(arr.astype(np.float32) if arr.dtype != np.float32 else arr)
        if strict and unexpected:
            raise KeyError(f"unexpected parameters: {', '.join(unexpected[:8])}")

    def numpy_state_dict(self) -> dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in self.state_dict().items()}


# ---------------------------------------------------------------------------- export
class _ExportWrapper(nn.Layer):
    def __init__(self, model: ErnieForSequenceClassification):
        super().__init__()
        self.model = model

    def forward(self, input_ids, token_type_ids):
        return self.model(input_ids, token_type_ids=token_type_ids)


def _rename_output(path_prefix: str, new_name: str) -> None:
    """Rename the single fetched variable of a saved inference model in place (the program
    desc only: the parameters file is untouched because only a non-persistable var changes)."""
    model_file = path_prefix + ".pdmodel"
    was_dygraph = paddle.in_dynamic_mode()
    paddle.enable_static()
    try:
        with open(model_file, "rb") as f:
            program = paddle.static.Program.parse_from_string(f.read())
        block = program.global_block()
        fetched = [op.input("X")[0] for op in block.ops if op.type == "fetch"]
        if len(fetched) != 1 or fetched[0] == new_name:
            return
        if block.has_var(new_name):
            raise RuntimeError(f"cannot rename output to {new_name!r}: the name is taken")
        block._rename_var(fetched[0], new_name)
        with open(model_file, "wb") as f:
            f.write(program.desc.serialize_to_string())
    finally:
        if was_dygraph:
            paddle.disable_static()


def export_inference_model(model: ErnieForSequenceClassification, path_prefix: str | os.PathLike,
                           scalar_mask: bool = True, rename_output: bool = True) -> dict[str, str]:
    """Write ``<path_prefix>.pdmodel`` + ``<path_prefix>.pdiparams`` (legacy format, Paddle 2.6).

    Inputs ``input_ids`` and ``token_type_ids`` (int64, [-1, -1]); one output, renamed to
    ``logits`` (PaddleNLP leaves an auto name such as ``linear_75.tmp_1``; pass
    ``rename_output=False`` to keep it). ``scalar_mask=True`` reproduces PaddleNLP's
    0-D ``fill_constant`` mask graph; ``False`` writes a Lite-friendly one.
    Returns ``{"model": ..., "params": ...}`` paths.
    """
    if not paddle.in_dynamic_mode():
        raise RuntimeError("export_inference_model needs dygraph mode (call paddle.disable_static())")
    path_prefix = str(path_prefix)
    os.makedirs(os.path.dirname(os.path.abspath(path_prefix)), exist_ok=True)
    base = model.base_model
    old_flag, was_training = base.scalar_mask, model.training
    base.scalar_mask = bool(scalar_mask)
    model.eval()
    try:
        wrapper = _ExportWrapper(model)
        spec = [paddle.static.InputSpec(shape=[None, None], dtype="int64", name=n) for n in INPUT_NAMES]
        static = paddle.jit.to_static(wrapper, input_spec=spec)
        paddle.jit.save(static, path_prefix)
    finally:
        base.scalar_mask = old_flag
        if was_training:
            model.train()
    if rename_output:
        _rename_output(path_prefix, OUTPUT_NAME)
    return {"model": path_prefix + ".pdmodel", "params": path_prefix + ".pdiparams"}


# ---------------------------------------------------------------------------- checkpoints
def save_checkpoint(model: ErnieForSequenceClassification, tokenizer_vocab: str | os.PathLike | Iterable[str],
                    folder: str | os.PathLike, *, do_lower_case: bool = True,
                    model_max_length: int | None = None, tokenizer_config: dict[str, Any] | None = None) -> Path:
    """Write a PaddleNLP checkpoint folder: model_config.json + model_state.pdparams + vocab.txt +
    tokenizer_config.json. ``tokenizer_vocab``: a vocab.txt path or a list of tokens."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    if isinstance(tokenizer_vocab, (str, os.PathLike)):
        src = Path(tokenizer_vocab)
        if src.resolve() != (out / "vocab.txt").resolve():
            shutil.copyfile(src, out / "vocab.txt")
        n_tokens = sum(1 for _ in open(out / "vocab.txt", encoding="utf-8"))
    else:
        tokens = [str(t) for t in tokenizer_vocab]
        (out / "vocab.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
        n_tokens = len(tokens)
    if n_tokens > cfg.vocab_size:
        raise ValueError(f"vocabulary has {n_tokens} tokens but the model's embedding has {cfg.vocab_size} rows")
    with open(out / "model_config.json", "w", encoding="utf-8") as f:
        json.dump(cfg.to_dict(), f, ensure_ascii=False, indent=2)
    paddle.save(model.state_dict(), str(out / "model_state.pdparams"))
    tok_cls = "BertTokenizer" if cfg.model_type == "bert" else "ErnieTokenizer"
    tcfg = {
        "tokenizer_class": tok_cls,
        "do_lower_case": bool(do_lower_case),
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "model_max_length": int(model_max_length or cfg.max_position_embeddings),
    }
    tcfg.update(tokenizer_config or {})
    with open(out / "tokenizer_config.json", "w", encoding="utf-8") as f:
        json.dump(tcfg, f, ensure_ascii=False, indent=2)
    return out


def load_checkpoint(folder: str | os.PathLike) -> ErnieForSequenceClassification:
    """Inverse of :func:`save_checkpoint` (also reads PaddleNLP's own checkpoint folders)."""
    folder = Path(folder)
    cfg = ErnieConfig.from_file(folder)
    model = ErnieForSequenceClassification(cfg)
    from .readers.paddle_pickle import load_state_dict  # never paddle.load (pickle.load) a user's file

    state = load_state_dict(folder / "model_state.pdparams")
    model.load_numpy_state_dict(state)
    model.eval()
    return model
