"""Readers: a source folder -> one :class:`ModelDescription`.

(a) Paddle inference model folder: ``*.pdmodel`` + ``*.pdiparams`` + vocab.txt (+ tokenizer_config.json)
(b) PaddleNLP checkpoint folder: ``model_config.json``/``config.json`` + ``model_state.pdparams`` + tokenizer
(c) Hugging Face BERT-family folder: ``config.json`` + ``model.safetensors`` + vocab.txt / tokenizer.json

Every problem is a :class:`ConversionError` naming the file and what to do.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from edgetext.errors import ConversionError

from .description import ModelDescription, TokenizerAssets, load_json_object

HF_ARCHS = ("bert", "ernie")
HF_LINEAR_MAP = {
    "attention.self.query": "self_attn.q_proj",
    "attention.self.key": "self_attn.k_proj",
    "attention.self.value": "self_attn.v_proj",
    "attention.output.dense": "self_attn.out_proj",
    "intermediate.dense": "linear1",
    "output.dense": "linear2",
}
HF_NORM_MAP = {"attention.output.LayerNorm": "norm1", "output.LayerNorm": "norm2"}



def detect(src: str | os.PathLike) -> str:
    p = Path(src)
    if not p.exists():
        raise ConversionError(f"{src}: no such file or folder")
    if p.is_file():
        if p.suffix == ".pdmodel":
            return "paddle-inference"
        raise ConversionError(f"{src}: expected a model folder (Paddle inference model, PaddleNLP checkpoint or "
                              "Hugging Face folder), or a .pdmodel file")
    if list(p.glob("*.pdmodel")):
        return "paddle-inference"
    if (p / "model_state.pdparams").is_file() or list(p.glob("*.pdparams")):
        return "paddlenlp-checkpoint"
    if (p / "model.safetensors").is_file() or list(p.glob("*.safetensors")):
        return "hf-bert"
    if (p / "pytorch_model.bin").is_file():
        raise ConversionError(f"{src}: only pytorch_model.bin found; torch checkpoints are not read (no torch): "
                              "save the model with safetensors (model.safetensors)")
    raise ConversionError(f"{src}: not a recognised model folder: expected *.pdmodel + *.pdiparams, "
                          "model_state.pdparams + model_config.json, or config.json + model.safetensors")


def read(src: str | os.PathLike, labels: list[str] | None = None) -> ModelDescription:
    kind = detect(src)
    desc = {"paddle-inference": read_paddle_inference, "paddlenlp-checkpoint": read_paddlenlp_checkpoint,
            "hf-bert": read_hf_bert}[kind](src)
    return apply_labels(desc, labels)


def apply_labels(desc: ModelDescription, labels: list[str] | None) -> ModelDescription:
    if labels is not None:
        labels = [str(x).strip() for x in labels]
        if any(not x for x in labels) or len(set(labels)) != len(labels):
            raise ConversionError(f"labels must be non-empty and unique, got {labels}")
        if len(labels) != desc.num_labels:
            raise ConversionError(f"{len(labels)} labels given ({', '.join(labels)}) but the model has "
                                  f"{desc.num_labels} outputs")
        desc.labels = labels
    return desc


def _tokenizer(folder: Path, what: str) -> TokenizerAssets:
    try:
        return TokenizerAssets.from_folder(folder)
    except ConversionError as e:
        raise ConversionError(f"{what}: {e}") from None


def _check_vocab(tok: TokenizerAssets, rows: int, where: str) -> list[str]:
    """The vocabulary must address exactly the embedding rows (rows padded to a multiple of 8 are allowed)."""
    n = tok.vocab_size
    if n == rows:
        return []
    if n < rows and rows % 8 == 0 and rows - n < 128:
        return [f"the word embedding has {rows} rows for {n} vocabulary tokens (padding rows kept)"]
    raise ConversionError(f"{where}: the vocabulary has {n} tokens but the word embedding has {rows} rows: "
                          "wrong vocab.txt for this model?")


def _labels_from_config(cfg: dict[str, Any] | None, n: int) -> list[str]:
    if cfg:
        id2label = cfg.get("id2label")
        if isinstance(id2label, dict) and len(id2label) == n:
            try:
                return [str(id2label.get(str(i), id2label.get(i))) for i in range(n)]
            except Exception:  # noqa: BLE001
                pass
        label2id = cfg.get("label2id")
        if isinstance(label2id, dict) and len(label2id) == n:
            inv = {int(v): k for k, v in label2id.items()}
            if sorted(inv) == list(range(n)):
                return [inv[i] for i in range(n)]
    return [f"LABEL_{i}" for i in range(n)]


def _file_size(*paths: Path) -> int:
    return sum(p.stat().st_size for p in paths if p.is_file())


# ----------------------------------------------------------------------------- (a) Paddle inference
def read_paddle_inference(src: str | os.PathLike) -> ModelDescription:
    from .paddle_graph import ProgramEditor, feed_role, find_model_files, load_graph

    model_file, params_file = find_model_files(src)
    folder = model_file.parent
    graph = load_graph(model_file, params_file)
    for name in graph.feed_names:
        feed_role(name)  # raises on unknown inputs
    if len(graph.fetch_names) != 1:
        raise ConversionError(f"{model_file}: {len(graph.fetch_names)} outputs; a classifier has one (logits)")
    with ProgramEditor(graph) as ed:
        emb = ed.embeddings()
        block = ed.block
        out_var = block.var(graph.fetch_names[0])
        out_shape = list(out_var.shape)
        supported = SUPPORTED_PADDLE_OPS
        unknown = sorted({op.type for op in ed.ops()} - supported)
    if unknown:
        raise ConversionError(f"{model_file}: unsupported operators {', '.join(unknown)} (supported: BERT/ERNIE "
                              "encoders exported by Paddle 2.x)")
    if "word" not in emb:
        raise ConversionError(f"{model_file}: no embedding table is fed by input_ids: not a BERT/ERNIE classifier")
    if len(out_shape) != 2 or out_shape[-1] is None or out_shape[-1] < 1:
        raise ConversionError(f"{model_file}: the output {graph.fetch_names[0]} has shape {out_shape}; expected "
                              "[batch, num_labels] logits")
    num_labels = int(out_shape[-1])
    tok = _tokenizer(folder, str(folder))
    notes = _check_vocab(tok, graph.params[emb["word"]].shape[0], str(model_file))
    cfg = None
    for name in ("model_config.json", "config.json"):
        if (folder / name).is_file():
            try:
                cfg = json.loads((folder / name).read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                cfg = None
            break
    labels = _labels_from_config(cfg, num_labels)
    pos = graph.params.get(emb.get("position", ""), None)
    desc = ModelDescription(source_kind="paddle-inference", source_path=str(model_file), tokenizer=tok,
                            labels=labels, num_labels=num_labels, graph=graph,
                            source_size=_file_size(model_file, params_file), notes=notes)
    if pos is not None:
        desc.notes.append(f"position table: {pos.shape[0]} positions")
    desc.max_positions = int(pos.shape[0]) if pos is not None else None  # type: ignore[attr-defined]
    return desc


SUPPORTED_PADDLE_OPS = frozenset({
    "feed", "fetch", "cast", "cumsum", "dropout", "elementwise_add", "elementwise_sub", "elementwise_mul",
    "elementwise_div", "equal", "not_equal", "fill_constant", "fill_any_like", "gelu", "relu", "layer_norm",
    "lookup_table_v2", "lookup_table", "matmul_v2", "matmul", "mul", "reshape2", "scale", "shape", "slice",
    "softmax", "tanh", "transpose2", "unsqueeze2", "squeeze2", "range", "full_like", "assign", "expand_v2",
    "where", "logical_not", "fused_multi_transformer", "stack", "concat", "gather", "strided_slice",
    "set_value", "expand_as_v2", "tile", "sigmoid", "fill_constant_batch_size_like",
})


# ----------------------------------------------------------------------------- (b) PaddleNLP checkpoint
def read_paddlenlp_checkpoint(src: str | os.PathLike) -> ModelDescription:
    import zlib  # noqa: F401

    from .paddle_ernie import ErnieConfig

    folder = Path(src)
    cfg_file = next((folder / n for n in ("model_config.json", "config.json") if (folder / n).is_file()), None)
    if cfg_file is None:
        raise ConversionError(f"{folder}: no model_config.json or config.json next to the .pdparams")
    raw_cfg = load_json_object(cfg_file)
    archs = " ".join(raw_cfg.get("architectures") or [raw_cfg.get("init_class", "")]).lower()
    mt = str(raw_cfg.get("model_type", "")).lower()
    if (mt and mt not in ("ernie", "bert")) or (archs and not any(a in archs for a in ("ernie", "bert"))):
        raise ConversionError(f"{cfg_file}: unsupported architecture {mt or archs!r} (ERNIE and BERT only)")
    if archs and "sequenceclassification" not in archs and "forsequence" not in archs:
        raise ConversionError(f"{cfg_file}: architecture {archs!r} is not a sequence classifier "
                              "(ErnieForSequenceClassification / BertForSequenceClassification)")
    try:
        cfg = ErnieConfig.from_dict(raw_cfg)
    except (TypeError, ValueError) as e:
        raise ConversionError(f"{cfg_file}: {e}") from None
    if cfg.hidden_act not in ("gelu", "relu"):
        raise ConversionError(f"{cfg_file}: hidden_act {cfg.hidden_act!r} is not supported (gelu, relu)")
    params_file = folder / "model_state.pdparams"
    if not params_file.is_file():
        cands = sorted(folder.glob("*.pdparams"))
        if len(cands) != 1:
            raise ConversionError(f"{folder}: expected model_state.pdparams")
        params_file = cands[0]
    weights = _load_pdparams(params_file)
    prefix = cfg.model_type
    if not any(k.startswith(prefix + ".") for k in weights):
        other = "bert" if prefix == "ernie" else "ernie"
        if any(k.startswith(other + ".") for k in weights):
            cfg = cfg.copy(model_type=other)
            prefix = other
    has_task = f"{prefix}.embeddings.task_type_embeddings.weight" in weights
    if "use_task_id" not in raw_cfg and has_task != cfg.use_task_id:
        cfg = cfg.copy(use_task_id=has_task)  # the config is silent: the weights decide
    # the classifier size decides num_labels when the config is silent or disagrees
    cw = weights.get("classifier.weight")
    if cw is None:
        raise ConversionError(f"{params_file}: no classifier.weight: not a sequence-classification checkpoint")
    if cw.ndim != 2 or cw.shape[0] != cfg.hidden_size:
        raise ConversionError(f"{params_file}: classifier.weight has shape {list(cw.shape)}, expected "
                              f"[{cfg.hidden_size}, num_labels]")
    if cfg.num_labels != cw.shape[1]:
        if raw_cfg.get("id2label") and len(raw_cfg["id2label"]) != cw.shape[1]:
            raise ConversionError(f"{cfg_file}: id2label has {len(raw_cfg['id2label'])} labels but the classifier "
                                  f"has {cw.shape[1]} outputs")
        cfg = cfg.copy(num_labels=int(cw.shape[1]), id2label=None)
    _check_weights(weights, cfg, str(params_file))
    tok = _tokenizer(folder, str(folder))
    notes = _check_vocab(tok, weights[f"{prefix}.embeddings.word_embeddings.weight"].shape[0], str(params_file))
    return ModelDescription(source_kind="paddlenlp-checkpoint", source_path=str(folder), tokenizer=tok,
                            labels=cfg.labels, num_labels=cfg.num_labels, config=cfg, weights=weights,
                            source_size=_file_size(params_file), notes=notes)


def _load_pdparams(path: Path) -> dict[str, np.ndarray]:
    import paddle

    try:
        state = paddle.load(str(path), return_numpy=True)
    except Exception as e:  # noqa: BLE001
        raise ConversionError(f"{path}: cannot read the parameters (corrupt or not a .pdparams): "
                              f"{str(e).splitlines()[0][:200] if str(e) else type(e).__name__}") from None
    if not isinstance(state, dict) or not state:
        raise ConversionError(f"{path}: not a state dict")
    out = {}
    for k, v in state.items():
        if isinstance(v, np.ndarray):
            out[str(k)] = v
        elif hasattr(v, "numpy"):
            out[str(k)] = v.numpy()
    return out


def expected_shapes(cfg: Any) -> dict[str, tuple[int, ...]]:
    p, h, i = cfg.model_type, cfg.hidden_size, cfg.intermediate_size
    shapes: dict[str, tuple[int, ...]] = {
        f"{p}.embeddings.word_embeddings.weight": (cfg.vocab_size, h),
        f"{p}.embeddings.position_embeddings.weight": (cfg.max_position_embeddings, h),
        f"{p}.embeddings.layer_norm.weight": (h,),
        f"{p}.embeddings.layer_norm.bias": (h,),
        f"{p}.pooler.dense.weight": (h, h),
        f"{p}.pooler.dense.bias": (h,),
        "classifier.weight": (h, cfg.num_labels),
        "classifier.bias": (cfg.num_labels,),
    }
    if cfg.type_vocab_size > 0:
        shapes[f"{p}.embeddings.token_type_embeddings.weight"] = (cfg.type_vocab_size, h)
    if cfg.use_task_id:
        shapes[f"{p}.embeddings.task_type_embeddings.weight"] = (cfg.task_type_vocab_size, h)
    for n in range(cfg.num_hidden_layers):
        L = f"{p}.encoder.layers.{n}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes[L + f"self_attn.{proj}.weight"] = (h, h)
            shapes[L + f"self_attn.{proj}.bias"] = (h,)
        shapes[L + "linear1.weight"] = (h, i)
        shapes[L + "linear1.bias"] = (i,)
        shapes[L + "linear2.weight"] = (i, h)
        shapes[L + "linear2.bias"] = (h,)
        for norm in ("norm1", "norm2"):
            shapes[L + f"{norm}.weight"] = (h,)
            shapes[L + f"{norm}.bias"] = (h,)
    return shapes


def _check_weights(weights: dict[str, np.ndarray], cfg: Any, where: str) -> None:
    want = expected_shapes(cfg)
    missing = [k for k in want if k not in weights]
    if missing:
        more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        raise ConversionError(f"{where}: missing parameters {', '.join(missing[:6])}{more}")
    for k, shape in want.items():
        got = tuple(weights[k].shape)
        if got != shape:
            raise ConversionError(f"{where}: parameter {k} has shape {list(got)}, the config implies {list(shape)}")
        if not np.issubdtype(weights[k].dtype, np.floating):
            raise ConversionError(f"{where}: parameter {k} has dtype {weights[k].dtype}, expected floating point")
        if not np.all(np.isfinite(weights[k])):
            raise ConversionError(f"{where}: parameter {k} contains NaN or Inf")
    extra = sorted(set(weights) - set(want))
    layer_extra = [k for k in extra if ".encoder.layers." in k]
    if layer_extra:
        raise ConversionError(f"{where}: parameters for more layers than num_hidden_layers="
                              f"{cfg.num_hidden_layers}: {', '.join(layer_extra[:3])}")


# ----------------------------------------------------------------------------- (c) Hugging Face
def read_hf_bert(src: str | os.PathLike) -> ModelDescription:
    from .paddle_ernie import ErnieConfig

    folder = Path(src)
    cfg_file = folder / "config.json"
    if not cfg_file.is_file():
        raise ConversionError(f"{folder}: no config.json")
    hf_cfg = load_json_object(cfg_file)
    mt = str(hf_cfg.get("model_type", "")).lower()
    if mt not in HF_ARCHS:
        raise ConversionError(f"{cfg_file}: model_type {mt or '(none)'!r} is not supported; BERT-family "
                              f"encoders only ({', '.join(HF_ARCHS)})")
    if hf_cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ConversionError(f"{cfg_file}: position_embedding_type {hf_cfg['position_embedding_type']!r} is not "
                              "supported (absolute only)")
    act = hf_cfg.get("hidden_act", "gelu")
    if act not in ("gelu", "relu"):
        raise ConversionError(f"{cfg_file}: hidden_act {act!r} is not supported (gelu, relu)")
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "max_position_embeddings"):
        if not isinstance(hf_cfg.get(key), int) or hf_cfg[key] <= 0:
            raise ConversionError(f"{cfg_file}: {key} must be a positive integer, got {hf_cfg.get(key)!r}")
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ConversionError(f"{folder}: no model.safetensors")
    from safetensors.numpy import load_file

    hf: dict[str, np.ndarray] = {}
    for f in files:
        try:
            hf.update(load_file(str(f)))
        except Exception as e:  # noqa: BLE001
            raise ConversionError(f"{f}: cannot read safetensors ({str(e).splitlines()[0][:200]})") from None
    hf = {k: (v.astype(np.float32) if v.dtype in (np.float16, np.float64) else v) for k, v in hf.items()}
    prefix = next((p for p in (f"{mt}.", "bert.", "") if f"{p}embeddings.word_embeddings.weight" in hf), None)
    if prefix is None:
        raise ConversionError(f"{folder}: no embeddings.word_embeddings.weight (with or without a '{mt}.' prefix): "
                              "not a BERT-family state dict")
    if "classifier.weight" not in hf or "classifier.bias" not in hf:
        raise ConversionError(f"{folder}: no classifier head (classifier.weight/bias): this is a bare encoder "
                              "(e.g. a sentence embedding model); attach a sequence-classification head first")
    cw = hf["classifier.weight"]
    if cw.ndim != 2 or cw.shape[1] != hf_cfg["hidden_size"]:
        raise ConversionError(f"{folder}: classifier.weight has shape {list(cw.shape)}, expected "
                              f"[num_labels, {hf_cfg['hidden_size']}]")
    num_labels = int(cw.shape[0])
    if f"{prefix}pooler.dense.weight" not in hf:
        raise ConversionError(f"{folder}: no pooler ({prefix}pooler.dense.weight): BertForSequenceClassification "
                              "classifies the pooled [CLS] state")
    cfg = ErnieConfig(
        vocab_size=hf_cfg["vocab_size"], hidden_size=hf_cfg["hidden_size"],
        num_hidden_layers=hf_cfg["num_hidden_layers"], num_attention_heads=hf_cfg["num_attention_heads"],
        intermediate_size=hf_cfg["intermediate_size"], hidden_act=act,
        hidden_dropout_prob=float(hf_cfg.get("hidden_dropout_prob", 0.1)),
        attention_probs_dropout_prob=float(hf_cfg.get("attention_probs_dropout_prob", 0.1)),
        max_position_embeddings=hf_cfg["max_position_embeddings"],
        type_vocab_size=int(hf_cfg.get("type_vocab_size", 2)),
        task_type_vocab_size=int(hf_cfg.get("task_type_vocab_size", 3)),
        use_task_id=bool(hf_cfg.get("use_task_id", False)) and mt == "ernie",
        pad_token_id=int(hf_cfg.get("pad_token_id", 0) or 0),
        layer_norm_eps=float(hf_cfg.get("layer_norm_eps", 1e-12)),
        num_labels=num_labels, id2label=None, model_type="bert" if mt == "bert" else "ernie",
    )
    weights = hf_to_paddlenlp(hf, prefix, cfg, str(folder))
    _check_weights(weights, cfg, str(folder))
    tok = _tokenizer(folder, str(folder))
    notes = _check_vocab(tok, cfg.vocab_size, str(folder))
    labels = _labels_from_config(hf_cfg, num_labels)
    ref_cfg = dict(hf_cfg)
    ref_cfg["use_task_id"] = cfg.use_task_id
    return ModelDescription(source_kind="hf-bert", source_path=str(folder), tokenizer=tok, labels=labels,
                            num_labels=num_labels, config=cfg, weights=weights, hf_weights=hf, hf_config=ref_cfg,
                            source_size=_file_size(*files), notes=notes)


def hf_to_paddlenlp(hf: dict[str, np.ndarray], prefix: str, cfg: Any, where: str) -> dict[str, np.ndarray]:
    """HF BERT names/layout -> PaddleNLP names/layout (Linear weights transposed to [in, out])."""
    P = cfg.model_type

    def get(name: str) -> np.ndarray:
        for cand in (prefix + name, prefix + name.replace("LayerNorm.weight", "LayerNorm.gamma")
                     .replace("LayerNorm.bias", "LayerNorm.beta")):
            if cand in hf:
                return np.asarray(hf[cand], dtype=np.float32)
        raise ConversionError(f"{where}: missing parameter {prefix + name}")

    out: dict[str, np.ndarray] = {
        f"{P}.embeddings.word_embeddings.weight": get("embeddings.word_embeddings.weight"),
        f"{P}.embeddings.position_embeddings.weight": get("embeddings.position_embeddings.weight"),
        f"{P}.embeddings.layer_norm.weight": get("embeddings.LayerNorm.weight"),
        f"{P}.embeddings.layer_norm.bias": get("embeddings.LayerNorm.bias"),
        f"{P}.pooler.dense.weight": get("pooler.dense.weight").T.copy(),
        f"{P}.pooler.dense.bias": get("pooler.dense.bias"),
        "classifier.weight": np.asarray(hf["classifier.weight"], dtype=np.float32).T.copy(),
        "classifier.bias": np.asarray(hf["classifier.bias"], dtype=np.float32),
    }
    if cfg.type_vocab_size > 0:
        out[f"{P}.embeddings.token_type_embeddings.weight"] = get("embeddings.token_type_embeddings.weight")
    if cfg.use_task_id:
        out[f"{P}.embeddings.task_type_embeddings.weight"] = get("embeddings.task_type_embeddings.weight")
    for n in range(cfg.num_hidden_layers):
        src, dst = f"encoder.layer.{n}.", f"{P}.encoder.layers.{n}."
        for hf_name, pd_name in HF_LINEAR_MAP.items():
            out[dst + pd_name + ".weight"] = get(src + hf_name + ".weight").T.copy()
            out[dst + pd_name + ".bias"] = get(src + hf_name + ".bias")
        for hf_name, pd_name in HF_NORM_MAP.items():
            out[dst + pd_name + ".weight"] = get(src + hf_name + ".weight")
            out[dst + pd_name + ".bias"] = get(src + hf_name + ".bias")
    if any(k.startswith(f"{prefix}encoder.layer.{cfg.num_hidden_layers}.") for k in hf):
        raise ConversionError(f"{where}: the state dict has more layers than num_hidden_layers="
                              f"{cfg.num_hidden_layers}")
    return out
