"""Read a Paddle inference model's weights back by meaning: the ERNIE/BERT config and ``{PaddleNLP name:
ndarray}`` of a graph-form description, so passes that need named weights (``--prune``) work on exported
models too.

The program of a PaddleNLP / paddle_ernie export is walked in execution order: the lookup tables by their role
(``ProgramEditor.embeddings``), then every ``matmul_v2``/``matmul``/``mul`` whose second input is a 2-D parameter
(followed by the ``elementwise_add`` of its 1-D bias) and every ``layer_norm``. An encoder layer is six linears
(query, key, value, output, FFN in, FFN out) and two layer norms; then the pooler and the classifier. Heads per
layer come from the ``reshape2`` that splits the query into ``[0, 0, heads, head_dim]``. Nothing is trusted: the
rebuilt model is lowered again and must give the graph's own logits on probe inputs (fp32 tolerance), else
the model is refused as not readable.

May import: numpy, edgetext.errors, .description, .paddle_graph, .paddle_ernie (paddle).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgetext.errors import ConversionError

from .description import ModelDescription

PROBE_TOL = 1e-4  # x max(1, max |logit|): the rebuilt model is the same computation, fp32 rounding apart


@dataclass
class _Linear:
    weight: str
    bias: str | None
    out: str  # the variable the bias add (or the matmul) writes


def weights_from_graph(desc: ModelDescription) -> ModelDescription:
    """``desc`` (graph form) with ``config`` and ``weights`` filled in (module docstring); ConversionError when the
    program is not a plain BERT/ERNIE classifier export or the rebuilt model computes something else."""
    from .paddle_ernie import ErnieConfig
    from .paddle_graph import ProgramEditor

    assert desc.graph is not None
    where = desc.source_path
    params = desc.graph.params
    with ProgramEditor(desc.graph) as ed:
        ops = list(ed.ops())
        emb = ed.embeddings()
        pad = ed.pad_compare_constants()
        if any(op.type == "fused_multi_transformer" for op in ops):
            raise ConversionError(f"{where}: a fused_multi_transformer export cannot be read back by layer")
        linears, norms, heads, acts = [], [], [], set()
        for i, op in enumerate(ops):
            if op.type in ("matmul_v2", "matmul", "mul"):
                y = op.input("Y")[0]
                if y in params and params[y].ndim == 2:
                    linears.append(_linear(ops, i, op.output("Out")[0], y, params))
            elif op.type == "layer_norm":
                norms.append((op.input("Scale")[0], op.input("Bias")[0], float(op.attr("epsilon"))))
            elif op.type == "reshape2":
                shape = [int(x) for x in op.attr("shape")]
                if len(shape) == 4 and shape[2] > 0 and shape[3] > 0:
                    heads.append(shape[2])
            elif op.type in ("gelu", "relu"):
                acts.add(op.type)
    if "word" not in emb or "position" not in emb:
        raise ConversionError(f"{where}: no word and position embedding tables found: not a BERT/ERNIE export")
    layers, extra = divmod(len(linears) - 2, 6)
    if layers < 1 or extra or len(norms) != 2 * layers + 1 or len(acts) != 1:
        raise ConversionError(f"{where}: {len(linears)} linear layers, {len(norms)} layer norms and activations "
                              f"{sorted(acts) or 'none'}: not the layer structure of a BERT/ERNIE encoder export")
    # three reshapes split q, k and v per layer (then one merges): the query's is the first of each layer
    per_layer = [heads[3 * n] for n in range(layers)] if len(heads) >= 3 * layers else []
    word = params[emb["word"]]
    hidden = int(word.shape[1])
    if not per_layer or any(params[linears[6 * n].weight].shape[1] % h for n, h in enumerate(per_layer)):
        raise ConversionError(f"{where}: the attention heads of each layer could not be read from the program")
    head_dim = int(params[linears[0].weight].shape[1]) // per_layer[0]
    if hidden % head_dim:
        raise ConversionError(f"{where}: head width {head_dim} does not divide the hidden size {hidden}")
    full_heads = hidden // head_dim
    ffn = [int(params[linears[6 * n + 4].weight].shape[1]) for n in range(layers)]
    p = "ernie"
    w: dict[str, np.ndarray] = {f"{p}.embeddings.word_embeddings.weight": word,
                                f"{p}.embeddings.position_embeddings.weight": params[emb["position"]],
                                f"{p}.embeddings.layer_norm.weight": params[norms[0][0]],
                                f"{p}.embeddings.layer_norm.bias": params[norms[0][1]]}
    for role, name in (("token_type", "token_type_embeddings"), ("task_type", "task_type_embeddings")):
        if role in emb:
            w[f"{p}.embeddings.{name}.weight"] = params[emb[role]]
    for n in range(layers):
        L = f"{p}.encoder.layers.{n}."
        for k, name in enumerate(("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
                                  "linear1", "linear2")):
            lin = linears[6 * n + k]
            if lin.bias is None:
                raise ConversionError(f"{where}: layer {n} {name} has no bias add: not a BERT/ERNIE export")
            w[L + name + ".weight"], w[L + name + ".bias"] = params[lin.weight], params[lin.bias]
        for k, name in enumerate(("norm1", "norm2")):
            scale, bias, _ = norms[1 + 2 * n + k]
            w[L + name + ".weight"], w[L + name + ".bias"] = params[scale], params[bias]
    for lin, name in ((linears[-2], f"{p}.pooler.dense"), (linears[-1], "classifier")):
        if lin.bias is None:
            raise ConversionError(f"{where}: {name} has no bias add: not a BERT/ERNIE classifier export")
        w[name + ".weight"], w[name + ".bias"] = params[lin.weight], params[lin.bias]
    pad_id = int(float(pad[0].attr("value"))) if pad else 0
    base = dict(vocab_size=int(word.shape[0]), hidden_size=hidden, num_hidden_layers=layers,
                num_attention_heads=full_heads, intermediate_size=max(ffn), hidden_act=acts.pop(),
                max_position_embeddings=int(params[emb["position"]].shape[0]),
                type_vocab_size=int(params[emb["token_type"]].shape[0]) if "token_type" in emb else 0,
                use_task_id="task_type" in emb,
                task_type_vocab_size=int(params[emb["task_type"]].shape[0]) if "task_type" in emb else 3,
                pad_token_id=pad_id, layer_norm_eps=norms[0][2], num_labels=desc.num_labels,
                id2label=dict(enumerate(desc.labels)), model_type="ernie",
                layer_heads=per_layer if any(h != full_heads for h in per_layer) else None,
                layer_intermediate=ffn if any(f != max(ffn) for f in ffn) else None)
    # the task-type row an ERNIE export adds is a constant the program builds; try each until the logits match
    task_ids = range(base["task_type_vocab_size"]) if base["use_task_id"] else [0]
    worst = float("inf")
    for task_id in task_ids:
        cfg = ErnieConfig(**base, task_id=task_id)
        worst = min(worst, _probe(desc, cfg, w))
        if worst <= PROBE_TOL:
            desc.config, desc.weights = cfg, w
            desc.notes.append(f"weights read back from the inference program ({layers} layers, heads {per_layer}, "
                              f"FFN {ffn}; rebuilt model matches the graph within {worst:.1e})")
            return desc
    raise ConversionError(f"{where}: the weights read back from the program do not rebuild the same model (max "
                          f"relative |logit diff| {worst:.3g}); convert its PaddleNLP checkpoint instead")


def _linear(ops: list, i: int, out: str, weight: str, params: dict) -> _Linear:
    for op in ops[i + 1:i + 4]:  # the bias add follows its matmul
        if op.type == "elementwise_add" and op.input("X")[0] == out:
            y = op.input("Y")[0]
            if y in params and params[y].ndim == 1 and params[y].shape[0] == params[weight].shape[1]:
                return _Linear(weight, y, op.output("Out")[0])
    return _Linear(weight, None, out)


def _probe(desc: ModelDescription, cfg, weights: dict[str, np.ndarray]) -> float:
    """Max relative |logit diff| between the model rebuilt from ``weights`` and the original graph, on fixed
    probe rows (lengths 1-24, random ids, a padded row)."""
    import tempfile
    from pathlib import Path

    from .paddle_ernie import ErnieForSequenceClassification, export_inference_model
    from .paddle_graph import dygraph_mode, save_graph
    from .runners import PaddleInferenceRunner

    assert desc.graph is not None
    rng = np.random.default_rng(0)
    ids = rng.integers(0, cfg.vocab_size, (4, 24)).astype(np.int64)
    ids[ids == cfg.pad_token_id] = (cfg.pad_token_id + 1) % cfg.vocab_size
    ids[1, 9:] = cfg.pad_token_id
    ids[2, 1:] = cfg.pad_token_id
    feeds = {"input_ids": ids, "token_type_ids": np.zeros_like(ids)}
    with dygraph_mode():
        model = ErnieForSequenceClassification(cfg)
        try:
            model.load_numpy_state_dict(weights)
        except (KeyError, ValueError) as e:
            raise ConversionError(f"{desc.source_path}: weights read back from the program do not fit: {e}") from None
        model.eval()
        with tempfile.TemporaryDirectory(prefix="edgetext-readback-") as tmp:
            export_inference_model(model, Path(tmp) / "model", scalar_mask=False)
            mine = PaddleInferenceRunner(Path(tmp) / "model.pdmodel", Path(tmp) / "model.pdiparams")(feeds)
            orig_files = save_graph(desc.graph, Path(tmp) / "orig" / "model")
            theirs = PaddleInferenceRunner(*orig_files)(feeds)
    mine, theirs = np.asarray(mine, np.float64), np.asarray(theirs, np.float64).reshape(np.shape(mine))
    return float(np.abs(mine - theirs).max() / max(1.0, np.abs(theirs).max()))
