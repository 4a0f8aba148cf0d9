"""Head / neuron importance and distillation for width pruning, in Paddle dygraph (issue 8).

- :func:`importance`: first-order importance of every attention head and FFN neuron (Michel et al. 2019;
  the score DynaBERT and PaddleNLP's ``compress()`` prune by): a mask of ones multiplies each head's output
  and each FFN activation, and a neuron's score is ``sum over batches |dL/dmask|``. No labels are needed:
  ``L`` is the cross-entropy against the unpruned model's own predictions on the texts.
- :func:`distill`: trains the pruned student (all but its word table) to match the unpruned teacher on unlabelled texts: soft
  cross-entropy on the logits at temperature ``T`` (scaled by T^2) plus the mean squared error of every
  layer's output on real (non-[PAD]) tokens. Width pruning keeps the hidden size, so the student's layers
  line up with the teacher's with no projection. Dropout stays off (the student should copy the teacher,
  not regularise); a fixed seed makes runs reproducible.

Both work on :class:`paddle_ernie.ErnieForSequenceClassification`; batches are lists of token-id rows
(the runtime's tokenizer output), padded here with the model's pad id.

May import: numpy, paddle, .paddle_ernie.
"""
from __future__ import annotations

import zlib  # noqa: F401  (before paddle: libpaddle carries its own zlib; converters README)

import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import paddle
import paddle.nn.functional as F

from .paddle_ernie import ErnieForSequenceClassification

log = logging.getLogger(__name__)

Rows = Sequence[Sequence[int]]


def length_batches(rows: Rows, batch_size: int, rng: np.random.Generator | None = None) -> list[list[int]]:
    """Indices of ``rows`` in batches of similar length (little padding); shuffled batch order with ``rng``."""
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i]), i))
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(chunks)  # type: ignore[arg-type]
    return chunks


def _pad(rows: Rows, idx: Sequence[int], pad_id: int) -> tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
    width = max(len(rows[i]) for i in idx)
    ids = np.full((len(idx), width), pad_id, dtype=np.int64)
    for r, i in enumerate(idx):
        ids[r, :len(rows[i])] = rows[i]
    real = (ids != pad_id).astype(np.float32)
    return paddle.to_tensor(ids), paddle.zeros(ids.shape, dtype="int64"), paddle.to_tensor(real)


def _forward(model: ErnieForSequenceClassification, ids: paddle.Tensor, types: paddle.Tensor
             ) -> tuple[paddle.Tensor, list[paddle.Tensor]]:
    """(logits, every layer's output): ErnieModel.forward unrolled so the hidden states are visible."""
    base = model.base_model
    is_pad = ids == paddle.full_like(ids, base.pad_token_id)
    mask = paddle.unsqueeze(is_pad.astype("float32") * -1e4, axis=[1, 2])
    x = base.embeddings(ids, token_type_ids=types)
    states = []
    for layer in base.encoder.layers:
        x = layer(x, src_mask=mask)
        states.append(x)
    return model.classifier(model.dropout(base.pooler(x))), states


def predict(model: ErnieForSequenceClassification, rows: Rows, pad_id: int, batch_size: int = 64) -> np.ndarray:
    """Logits of every row (model in eval mode, no gradients)."""
    model.eval()
    out = np.zeros((len(rows), model.num_labels), dtype=np.float32)
    with paddle.no_grad():
        for idx in length_batches(rows, batch_size):
            ids, types, _ = _pad(rows, idx, pad_id)
            out[idx] = _forward(model, ids, types)[0].numpy()
    return out


def importance(model: ErnieForSequenceClassification, rows: Rows, pad_id: int, batch_size: int = 32
               ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per layer: |dL/d head mask| [heads] and |dL/d neuron mask| [ffn], summed over batches of ``rows``."""
    model.eval()
    layers = list(model.base_model.encoder.layers)
    head_masks, ffn_masks, hooks = [], [], []
    for layer in layers:
        attn = layer.self_attn
        hm = paddle.ones([attn.num_heads], dtype="float32")
        fm = paddle.ones([layer.linear2.weight.shape[0]], dtype="float32")
        hm.stop_gradient = fm.stop_gradient = False
        head_masks.append(hm)
        ffn_masks.append(fm)
        hooks.append(attn.out_proj.register_forward_pre_hook(_head_mask_hook(hm, attn.head_dim)))
        hooks.append(layer.linear2.register_forward_pre_hook(_scale_hook(fm)))
    heads = [np.zeros(int(m.shape[0])) for m in head_masks]
    ffn = [np.zeros(int(m.shape[0])) for m in ffn_masks]
    try:
        for idx in length_batches(rows, batch_size):
            ids, types, _ = _pad(rows, idx, pad_id)
            logits, _ = _forward(model, ids, types)
            loss = F.cross_entropy(logits, logits.argmax(-1).detach())
            grads = paddle.grad(loss, head_masks + ffn_masks)
            for n in range(len(layers)):
                heads[n] += np.abs(grads[n].numpy())
                ffn[n] += np.abs(grads[len(layers) + n].numpy())
    finally:
        for h in hooks:
            h.remove()
    return heads, ffn


def _head_mask_hook(mask: paddle.Tensor, head_dim: int) -> Callable:
    def hook(layer, inputs):  # out_proj's input is the heads' outputs side by side: [B, S, heads * head_dim]
        return (inputs[0] * paddle.repeat_interleave(mask, head_dim),)
    return hook


def _scale_hook(mask: paddle.Tensor) -> Callable:
    def hook(layer, inputs):  # linear2's input is the FFN activations [B, S, ffn]
        return (inputs[0] * mask,)
    return hook


@dataclass
class DistillRecord:
    steps: int
    epochs: float
    seconds: float
    texts: int
    batch_size: int
    learning_rate: float
    temperature: float
    hidden_weight: float
    seed: int
    loss_first: float
    loss_last: float

    def as_dict(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def distill(student: ErnieForSequenceClassification, teacher: ErnieForSequenceClassification, rows: Rows,
            pad_id: int, *, epochs: float = 2.0, max_steps: int | None = None, batch_size: int = 32,
            learning_rate: float = 1e-4, temperature: float = 2.0, hidden_weight: float = 1.0, seed: int = 0,
            progress: Callable[[int, int], None] | None = None) -> DistillRecord:
    """Train ``student`` in place towards ``teacher`` on ``rows`` (module docstring); AdamW with a linear
    warm-up over the first 6% of the steps and a linear decay to zero."""
    paddle.seed(seed)
    rng = np.random.default_rng(seed)
    per_epoch = math.ceil(len(rows) / batch_size)
    steps = max(1, int(round(per_epoch * epochs)))
    if max_steps is not None:
        steps = max(1, min(steps, int(max_steps)))
    warm = max(1, int(0.06 * steps))
    sched = paddle.optimizer.lr.LambdaDecay(
        learning_rate, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    # the word table stays as trained: width pruning keeps the hidden size, so the teacher's embeddings fit the
    # student as they are, and the table is most of a small model's parameters (its dense gradient and Adam
    # update would be most of each step)
    trainable = [p for n, p in student.named_parameters() if "word_embeddings" not in n]
    decay = [p.name for n, p in student.named_parameters()
             if "word_embeddings" not in n and not any(k in n for k in ("bias", "norm"))]
    opt = paddle.optimizer.AdamW(learning_rate=sched, parameters=trainable, weight_decay=0.01,
                                 apply_decay_param_fun=lambda name: name in decay)
    teacher.eval()
    student.eval()  # dropout off; gradients still flow
    t0, step, first, last = time.perf_counter(), 0, float("nan"), float("nan")
    while step < steps:
        for idx in length_batches(rows, batch_size, rng):
            if step >= steps:
                break
            ids, types, real = _pad(rows, idx, pad_id)
            with paddle.no_grad():
                t_logits, t_states = _forward(teacher, ids, types)
            s_logits, s_states = _forward(student, ids, types)
            soft = F.softmax(t_logits / temperature, axis=-1)
            loss = -(soft * F.log_softmax(s_logits / temperature, axis=-1)).sum(-1).mean() * temperature ** 2
            if hidden_weight:
                w = real.unsqueeze(-1)
                denom = w.sum() * s_states[0].shape[-1]
                mse = sum(((s - t) ** 2 * w).sum() for s, t in zip(s_states, t_states)) / (denom * len(s_states))
                loss = loss + hidden_weight * mse
            loss.backward()
            opt.step()
            opt.clear_grad()
            sched.step()
            value = float(loss.numpy())
            first = value if step == 0 else first
            last = value
            step += 1
            if progress is not None:
                progress(step, steps)
    return DistillRecord(steps=steps, epochs=round(steps / per_epoch, 3), seconds=round(time.perf_counter() - t0, 1),
                         texts=len(rows), batch_size=batch_size, learning_rate=learning_rate, temperature=temperature,
                         hidden_weight=hidden_weight, seed=seed, loss_first=first, loss_last=last)
