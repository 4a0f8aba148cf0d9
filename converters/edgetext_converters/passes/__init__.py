"""Passes over a :class:`ModelDescription`, each ``(desc, ctx) -> desc`` (see base.py):

- :func:`lower_to_graph` (lowering.py): weights form -> Paddle inference program
- :func:`normalize_io` (normalize.py): one output named ``logits``; inputs checked
- :func:`prune` (pruning.py): width pruning (heads, FFN neurons) recovered by distillation, re-lowered
- :func:`trim_vocab` (vocab.py): keep the tokens a domain corpus needs; embedding rows and vocab remapped
- :func:`trim_positions` (positions.py): cut the position table to the bundle's max length
- :func:`repair_for_lite` (lite_repair.py): the 0-D ``fill_constant`` fix, on the Lite targets' copy
- :func:`quantize` (quantization.py): an ONNX Runtime target's fp32 file -> its precision
- :func:`quantize_openvino` (openvino_quant.py): an OpenVINO target's fp32 file -> its precision (NNCF int8)

Which pass runs when is pipeline.py's lists. Adding a pass: one module here exporting the pass,
one import below, one line in a pipeline list (README checklist).

May import: the pass modules.
"""
from __future__ import annotations

from .base import Pass, PassContext, PassRecord, run_passes
from .lite_repair import repair_for_lite, repair_graph
from .lowering import lower_to_graph
from .normalize import normalize_io
from .openvino_quant import quantize_openvino
from .pruning import prune
from .positions import position_count, resolve_max_length, trim_positions
from .quantization import quantize
from .vocab import TrimResult, coverage, trim_vocab, trim_vocabulary

__all__ = ["Pass", "PassContext", "PassRecord", "TrimResult", "coverage", "lower_to_graph", "normalize_io",
           "position_count", "prune", "quantize", "quantize_openvino", "repair_for_lite", "repair_graph", "resolve_max_length", "run_passes",
           "trim_positions", "trim_vocab", "trim_vocabulary"]
