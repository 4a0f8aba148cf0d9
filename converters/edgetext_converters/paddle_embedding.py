"""A sentence-embedding model in plain Paddle 2.6.2: paddle_ernie's encoder + pooling (+ L2 norm) in the graph.

``ErnieForSentenceEmbedding(config, pooling="mean", normalize=True)`` has the parameters of
``paddle_ernie.ErnieModel`` under the ``bert.``/``ernie.`` prefix (no classifier) and returns one
embedding [B, hidden] per row, so every backend (ONNX Runtime, Paddle Lite) runs the same pooling:

- ``mean``: the last hidden states averaged over the tokens that are not ``[PAD]`` (sentence-transformers'
  mean pooling with the attention mask; the divisor clamped at 1e-9);
- ``cls``: the [CLS] (first) hidden state; ``pooler``: the tanh pooler over [CLS];
- ``normalize``: ``x / max(|x|, 1e-12)`` (torch's ``F.normalize``).

It exports with ``paddle_ernie.export_inference_model`` (inputs ``input_ids``, ``token_type_ids``).

May import: paddle, numpy, .paddle_ernie.
"""
from __future__ import annotations

import zlib  # noqa: F401  (before libpaddle, which carries its own zlib: converters README)

import numpy as np
import paddle
import paddle.nn as nn

from .paddle_ernie import ErnieConfig, ErnieModel

POOLINGS = ("mean", "cls", "pooler")


class ErnieForSentenceEmbedding(nn.Layer):
    """Encoder + pooling (+ normalization); forward returns embeddings [B, hidden]. See the module docstring."""

    def __init__(self, config: ErnieConfig, pooling: str = "mean", normalize: bool = True):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        self.config = config
        self.pooling = pooling
        self.normalize = bool(normalize)
        self.base_model_prefix = config.model_type
        setattr(self, config.model_type, ErnieModel(config))

    @property
    def base_model(self) -> ErnieModel:
        return getattr(self, self.base_model_prefix)

    def forward(self, input_ids, token_type_ids=None, position_ids=None, attention_mask=None, task_type_ids=None):
        seq, pooled = self.base_model(input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                                      attention_mask=attention_mask, task_type_ids=task_type_ids)
        if self.pooling == "pooler":
            x = pooled
        elif self.pooling == "cls":
            x = seq[:, 0]
        else:
            keep = input_ids != paddle.full_like(input_ids, self.config.pad_token_id)
            keep = paddle.unsqueeze(keep.astype(seq.dtype), axis=[2])
            x = paddle.sum(seq * keep, axis=1) / paddle.clip(paddle.sum(keep, axis=1), min=1e-9)
        if self.normalize:
            norm = paddle.sqrt(paddle.sum(x * x, axis=1, keepdim=True))
            x = x / paddle.clip(norm, min=1e-12)
        return x

    def load_numpy_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Set the encoder's weights from PaddleNLP-named arrays (a classifier head, if any, is ignored)."""
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise KeyError(f"missing parameters: {', '.join(missing[:8])}" + (" ..." if len(missing) > 8 else ""))
        for k, v in own.items():
            arr = np.asarray(state[k])
            if tuple(arr.shape) != tuple(v.shape):
                raise ValueError(f"parameter {k}: expected shape {list(v.shape)}, got {list(arr.shape)}")
            v.set_value(arr.astype(np.float32) if arr.dtype != np.float32 else arr)
