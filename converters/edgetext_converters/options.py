"""``ConvertOptions``: every setting of one conversion, typed and validated in one place.

Both ``edgetext convert`` (cli.py) and ``convert(src, out, **kwargs)`` build one; passes read
it from their context. Files named here (``calib``, ``eval_file``, ``trim_vocab``) are read
later, by the pipeline, so an options object can be built before they exist.

May import: the standard library, edgetext.errors, .targets, .gate, .pruning.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Sequence, Union

from edgetext.errors import ConversionError

from .gate import GateConfig
from .pruning import PruneSpec, parse_spec
from .targets import DEFAULT_TARGETS, TARGETS, parse_targets

TASK_ALIASES = {"classification": "text-classification", "embedding": "text-embedding",
                "text-classification": "text-classification", "text-embedding": "text-embedding"}
POOLINGS = ("mean", "cls", "pooler")

#: a file of texts (one per line) or the texts themselves
TextsArg = Union[str, os.PathLike, Sequence[str], None]


def _texts(value: TextsArg) -> TextsArg:
    if value is None or isinstance(value, (str, os.PathLike)):
        return value
    return tuple(str(t) for t in value)


@dataclass(frozen=True)
class ConvertOptions:
    """What to build and how strictly to gate it (see ``edgetext convert --help``)."""

    targets: tuple[str, ...] = DEFAULT_TARGETS  # also accepted: "a,b", a list, None (the defaults)
    precision: str | None = None  # one precision for every target; None: each target's default
    labels: Sequence[str] | None = None  # in the model's output order
    calib: TextsArg = None  # calibration texts: static int8 is tried with them
    eval_file: str | os.PathLike | None = None  # text<TAB>label lines
    eval_texts: Sequence[str] | None = None
    eval_labels: Sequence[str] | None = None
    trim_vocab: TextsArg = None  # domain corpus: keep only its tokens
    min_freq: int = 1
    max_length: int | None = None  # None: min(512, the model's positions, its tokenizer's limit)
    max_accuracy_drop: float = GateConfig.max_accuracy_drop  # points
    min_agreement: float = GateConfig.min_agreement
    allow_accuracy_drop: bool = False
    name: str | None = None
    static_quant: bool | None = None  # False: never try static QDQ int8
    #: how the ONNX file is written: "auto" | "direct" (from the weights, inference-shaped) | "paddle2onnx"
    onnx_graph: str = "auto"
    max_eval: int = 2000
    progress: bool = True
    workdir: str | os.PathLike | None = None
    keep_workdir: bool = False
    force: bool = False  # replace an existing bundle at ``out`` (else refused before any work)
    #: None: what the source is (a classifier; a sentence-transformers folder without a head: an embedding
    #: model); "text-classification" | "text-embedding" ("classification" / "embedding" accepted)
    task: str | None = None
    pooling: str | None = None  # embedding: mean | cls | pooler (None: the source's, else mean)
    normalize: bool | None = None  # embedding: L2-normalize in the graph (None: the source's, else True)
    min_cosine: float = GateConfig.min_cosine  # embedding, int8/fp16: mean cosine to the reference
    #: a text-pair classifier ([CLS] A [SEP] B [SEP], token types 0/1): --eval rows are text<TAB>pair<TAB>label,
    #: --calib rows text<TAB>pair; the manifest says ``text_pairs``
    pairs: bool = False
    #: width pruning (issue 8): "heads=F,ffn=F" | "latency=F" | a PruneSpec; None: no pruning
    prune: str | PruneSpec | None = None
    distill_epochs: float = 2.0  # with prune: passes over the distillation texts
    #: with prune: top-1 agreement a pruned model (and its int8 files) needs with the unpruned reference; its
    #: quantized files must still agree with the pruned fp32 model at min_agreement
    min_pruned_agreement: float = GateConfig.min_pruned_agreement
    seed: int = 0  # pruning: text order, held-back texts, distillation
    #: independent labels (a sigmoid each, per-label thresholds): True / False beat the source; None: the
    #: source's config (HF ``problem_type: multi_label_classification``); --eval rows are text<TAB>label1,label2
    multi_label: bool | None = None
    #: multi-label: choose each label's threshold maximising its F1 on the --eval file (else 0.5 each)
    tune_thresholds: bool = False
    #: multi-label: share of evaluation texts whose whole decided label set must equal the reference's
    min_label_set_agreement: float = GateConfig.min_label_set_agreement
    #: target -> precision, derived from ``targets`` and ``precision``
    precisions: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: normalised values are set once, here
        targets = parse_targets(self.targets)
        put(self, "targets", targets)
        put(self, "precisions", MappingProxyType({t: TARGETS[t].precision(self.precision) for t in targets}))
        ml = self.max_length
        if ml is not None and (not isinstance(ml, int) or ml < 2):
            raise ConversionError(f"max_length must be an integer >= 2, got {ml!r}")
        if self.onnx_graph not in ("auto", "direct", "paddle2onnx"):
            raise ConversionError(f"onnx_graph must be auto, direct or paddle2onnx, got {self.onnx_graph!r}")
        if not (0 <= self.min_agreement <= 1):
            raise ConversionError(f"min_agreement must be within [0, 1], got {self.min_agreement}")
        if self.max_accuracy_drop < 0:
            raise ConversionError(f"max_accuracy_drop must be >= 0, got {self.max_accuracy_drop}")
        if not isinstance(self.max_eval, int) or self.max_eval < 1:
            raise ConversionError(f"max_eval must be a positive integer, got {self.max_eval!r}")
        if self.trim_vocab is not None and (not isinstance(self.min_freq, int) or self.min_freq < 1):
            raise ConversionError(f"min_freq must be >= 1, got {self.min_freq}")
        for name in ("labels", "eval_texts", "eval_labels"):
            value = getattr(self, name)
            if value is not None:
                put(self, name, tuple(value))
        if self.task is not None:
            task = TASK_ALIASES.get(str(self.task), str(self.task))
            if task not in TASK_ALIASES.values():
                raise ConversionError(f"task must be classification or embedding, not {self.task!r}")
            put(self, "task", task)
        if self.pooling is not None and self.pooling not in POOLINGS:
            raise ConversionError(f"pooling must be one of {', '.join(POOLINGS)}, not {self.pooling!r}")
        if (self.pooling is not None or self.normalize is not None) and self.task == "text-classification":
            raise ConversionError("pooling/normalize are settings of --task embedding")
        if self.pairs and self.task == "text-embedding":
            raise ConversionError("--pairs is for text-pair classifiers, not --task embedding")
        if not (0 <= self.min_cosine <= 1):
            raise ConversionError(f"min_cosine must be within [0, 1], got {self.min_cosine}")
        if self.prune is not None and not isinstance(self.prune, PruneSpec):
            put(self, "prune", parse_spec(str(self.prune)))
        if not (isinstance(self.distill_epochs, (int, float)) and 0 < self.distill_epochs <= 100):
            raise ConversionError(f"distill_epochs must be within (0, 100], got {self.distill_epochs!r}")
        if not (0 <= self.min_pruned_agreement <= 1):
            raise ConversionError(f"min_pruned_agreement must be within [0, 1], got {self.min_pruned_agreement}")
        if not isinstance(self.seed, int):
            raise ConversionError(f"seed must be an integer, got {self.seed!r}")
        if self.multi_label is not None and not isinstance(self.multi_label, bool):
            raise ConversionError(f"multi_label must be True, False or None, got {self.multi_label!r}")
        if self.multi_label and self.task == "text-embedding":
            raise ConversionError("--multi-label is for classifiers, not --task embedding")
        if self.tune_thresholds and self.eval_file is None:
            raise ConversionError("--tune-thresholds needs --eval FILE (text<TAB>label1,label2 rows): thresholds "
                                  "are tuned on labelled texts")
        if not (0 <= self.min_label_set_agreement <= 1):
            raise ConversionError(f"min_label_set_agreement must be within [0, 1], got {self.min_label_set_agreement}")
        put(self, "calib", _texts(self.calib))
        put(self, "trim_vocab", _texts(self.trim_vocab))

    @property
    def gate(self) -> GateConfig:
        return GateConfig(max_accuracy_drop=self.max_accuracy_drop, min_agreement=self.min_agreement,
                          allow_accuracy_drop=self.allow_accuracy_drop, min_cosine=self.min_cosine,
                          min_pruned_agreement=self.min_pruned_agreement,
                          min_label_set_agreement=self.min_label_set_agreement)
