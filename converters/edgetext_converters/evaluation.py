"""The evaluation texts every model is measured on, their batches, and the files they come from.

Batches are the runtime's: rows sorted by length and cut with ``edgetext.preprocess.length_buckets``,
padded with ``edgetext.preprocess.pad_rows`` (the predictor's own padding), so a model is gated
on exactly the matrices the device will feed it.

May import: numpy, edgetext (errors, preprocess), .description, .tokenizer_assets.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

import numpy as np

from edgetext.errors import ConversionError
from edgetext.preprocess import length_buckets, pad_rows

from .tokenizer_assets import TokenizerAssets

if TYPE_CHECKING:
    from .description import ModelDescription

BATCH = 32
# padded tokens per evaluation batch: bounds what the reference and every target hold at once on 512-token texts
# (32 such rows make 400 MB attention tensors; engines keep their peak allocations)
EVAL_TOKENS = 4096
BUILTIN_EVAL = (
    "这家店的菜很好吃，服务也很周到。", "房间太小了，隔音很差，不会再来。", "物流很快，包装完好。", "差评",
    "The food was great and the staff were friendly.", "Terrible service, I will never come back.",
    "It was okay, nothing special.", "Hello world!", "",
)

Batch = dict[str, np.ndarray]  # role -> int64 [B, L]


class Runner(Protocol):
    def __call__(self, batch: Batch) -> np.ndarray: ...


# ----------------------------------------------------------------------------- files
def read_lines(path: str | os.PathLike, what: str) -> list[str]:
    """Non-blank lines of a UTF-8 file (``what`` names the option in errors)."""
    p = Path(path)
    if not p.is_file():
        raise ConversionError(f"{what} file {path} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConversionError(f"{what} file {path} is not UTF-8: {e}") from None
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def read_eval_tsv(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """``text<TAB>label`` lines -> (texts, labels); for a pair model the texts are ``text<TAB>pair``
    (:func:`split_pairs`)."""
    texts, labels = [], []
    for n, line in enumerate(read_lines(path, "--eval"), 1):
        if "\t" not in line:
            raise ConversionError(f"--eval {path}:{n}: expected text<TAB>label")
        text, label = line.rsplit("\t", 1)
        texts.append(text)
        labels.append(label.strip())
    if not texts:
        raise ConversionError(f"--eval file {path} has no rows")
    return texts, labels


def split_pairs(lines: Sequence[str], what: str) -> tuple[list[str], list[str]]:
    """``text<TAB>pair`` lines -> (texts, pairs) for a pair model (``--pairs``); any other line is an error."""
    texts, pairs = [], []
    for n, line in enumerate(lines, 1):
        if line.count("\t") != 1:
            raise ConversionError(f"{what} row {n}: a pair model (--pairs) needs text<TAB>pair"
                                  f"{'<TAB>label' if what == '--eval' else ''} rows, got {line[:60]!r}")
        a, b = line.split("\t")
        texts.append(a)
        pairs.append(b)
    return texts, pairs


def encode_rows(tok: TokenizerAssets, texts: Sequence[str], pairs: Sequence[str] | None,
                max_length: int | None) -> tuple[list[list[int]], list[list[int]] | None]:
    """Token ids (and for pairs token types) of texts, as the runtime encodes them."""
    if pairs is None:
        return tok.encoder().encode_batch(texts, max_length), None
    return tok.encoder().encode_pairs(texts, pairs, max_length)


def check_pairs(desc: "ModelDescription", pairs: bool) -> None:
    """A pair model (``--pairs``) must feed token types: its lowered graph has a token_type_ids input (segment B
    would otherwise run as segment A, and the ONNX writer would fold type row 0 into the positions)."""
    if not pairs:
        return
    from .io_names import feed_role

    if desc.is_embedding:
        raise ConversionError("--pairs is for text-pair classifiers, not embedding models")
    assert desc.graph is not None, "check_pairs runs on graph form (after lower_to_graph)"
    if "token_type_ids" not in {feed_role(n) for n in desc.graph.feed_names}:
        raise ConversionError(f"--pairs: the model's inputs {desc.graph.feed_names} have no token_type_ids, so it "
                              "cannot tell the two texts of a pair apart (export it with token_type_ids)")


def pairs_of(ev: "EvalSet | None") -> bool:
    """Whether the model being converted reads text pairs: its evaluation set holds pairs (``--pairs``)."""
    return ev is not None and ev.pairs is not None


def calibration_rows(tok: TokenizerAssets, lines: Sequence[str], max_length: int | None, pairs: bool
                     ) -> tuple[list[list[int]], list[list[int]] | None]:
    """``--calib`` lines encoded (``text<TAB>pair`` lines for a pair model)."""
    if not pairs:
        return encode_rows(tok, lines, None, max_length)
    return encode_rows(tok, *split_pairs(lines, "--calib"), max_length)


def read_labels_file(path: str | os.PathLike) -> list[str]:
    """Labels one per line, or a JSON list, or a JSON id2label object."""
    p = Path(path)
    if p.suffix == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConversionError(f"--labels-file {path}: {e}") from None
        if isinstance(data, dict):  # id2label
            data = [data[k] for k in sorted(data, key=lambda k: int(k))]
        if not isinstance(data, list):
            raise ConversionError(f"--labels-file {path}: expected a JSON list or id2label object")
        return [str(x) for x in data]
    return read_lines(path, "--labels-file")


def read_texts(arg: str | os.PathLike | Sequence[str] | None, what: str) -> list[str] | None:
    """An option that is a file of texts or the texts themselves (None stays None)."""
    if arg is None:
        return None
    texts = read_lines(arg, what) if isinstance(arg, (str, os.PathLike)) else [str(t) for t in arg]
    if not texts:
        raise ConversionError(f"{what}: no texts")
    return texts


# ----------------------------------------------------------------------------- batches
def padded_batches(ids: Sequence[Sequence[int]], pad_id: int, batch: int = BATCH,
                   order: Sequence[np.ndarray] | None = None,
                   types: Sequence[Sequence[int]] | None = None) -> list[Batch]:
    """Rows padded per batch (token types ``types``, else zeros); ``order`` (index batches) defaults to length
    buckets of ``ids``."""
    if order is None:
        order = length_buckets([len(x) for x in ids], batch)
    return [pad_rows([ids[i] for i in idx], pad_id, type_rows=None if types is None else [types[i] for i in idx])
            for idx in order]


def run_batches(runner: Runner | Callable[[Batch], np.ndarray], batches: list[Batch]) -> list[np.ndarray]:
    """One call per batch, or one ``run_many`` for runners that batch in a child process (Lite)."""
    run_many = getattr(runner, "run_many", None)
    if run_many is not None:
        return run_many(batches)
    return [runner(b) for b in batches]


@dataclass
class EvalSet:
    """Texts (+ optional label targets), their token ids for the reference tokenizer and for the
    model's tokenizer after the passes (different once the vocabulary is trimmed), the batch order
    both share, and the reference's and the fp32 graph's logits once measured."""

    texts: list[str]
    targets: np.ndarray | None
    source: str
    pairs: list[str] | None = None  # the second text of each pair (a pair model), else None
    ref_ids: list[list[int]] = field(default_factory=list)
    new_ids: list[list[int]] = field(default_factory=list)
    ref_types: list[list[int]] | None = None  # token types of pairs (None: single texts, all zeros)
    new_types: list[list[int]] | None = None
    ref_pad_id: int = 0
    new_pad_id: int = 0
    order: list[np.ndarray] = field(default_factory=list)  # batches of text indices
    ref_logits: np.ndarray | None = None
    graph_logits: np.ndarray | None = None  # fp32 logits of the model after the passes
    task: str = "text-classification"  # text-embedding: outputs are embeddings, gated on cosine
    _batches: dict[str, list[Batch]] = field(default_factory=dict, repr=False)

    def encode_reference(self, tok: TokenizerAssets, max_length: int) -> None:
        self.ref_ids, self.ref_types = encode_rows(tok, self.texts, self.pairs, max_length)
        self.ref_pad_id = tok.pad_id
        self.new_ids, self.new_types, self.new_pad_id = self.ref_ids, self.ref_types, self.ref_pad_id
        self.order = length_buckets([len(x) for x in self.ref_ids], BATCH, max_tokens=EVAL_TOKENS)
        self._batches.clear()

    def encode_model(self, tok: TokenizerAssets, max_length: int) -> None:
        """Ids of the model's own tokenizer (call after passes that changed it)."""
        self.new_ids, self.new_types = encode_rows(tok, self.texts, self.pairs, max_length)
        self.new_pad_id = tok.pad_id
        self._batches.pop("new", None)

    def batches(self, which: str = "new") -> list[Batch]:
        """``"ref"``: the reference tokenizer's ids; ``"new"``: the model's."""
        if which not in self._batches:
            ids, types, pad = ((self.ref_ids, self.ref_types, self.ref_pad_id) if which == "ref"
                               else (self.new_ids, self.new_types, self.new_pad_id))
            self._batches[which] = padded_batches(ids, pad, order=self.order, types=types)
        return self._batches[which]

    def gather(self, outs: list[np.ndarray]) -> np.ndarray:
        """Per-batch outputs back in text order, checked to be [batch, labels]."""
        n = len(self.texts)
        c = outs[0].shape[-1] if outs and outs[0].ndim == 2 else 1
        res = np.full((n, c), np.nan, dtype=np.float32)
        for idx, o in zip(self.order, outs):
            o = np.asarray(o)
            if o.ndim != 2 or o.shape[0] != len(idx) or o.shape[1] != c:
                raise ConversionError(f"model output has shape {list(o.shape)}, expected [{len(idx)}, {c}]")
            res[idx] = o
        return res

    def run(self, runner: Runner | Callable[[Batch], np.ndarray], which: str = "new") -> np.ndarray:
        return self.gather(run_batches(runner, self.batches(which)))


def evenly_spaced(n: int, limit: int) -> list[int]:
    """``min(n, limit)`` row indices spread evenly over ``range(n)``, not the first ones: held-out files are
    often grouped by label, and the head of such a file holds the first classes only."""
    if limit >= n:
        return list(range(n))
    return [i * n // limit for i in range(limit)]


def build_eval_set(labels: Sequence[str], *, eval_file: str | os.PathLike | None,
                   eval_texts: Sequence[str] | None, eval_labels: Sequence[str] | None,
                   calib_texts: list[str] | None, trim_texts: list[str] | None, max_eval: int,
                   task: str = "text-classification", pairs: bool = False, multi_label: bool = False) -> EvalSet:
    """The first of: --eval file, eval_texts (+ labels), calibration texts, trimming corpus, built-in samples.
    For an embedding model (``task`` text-embedding) --eval is one text per line (a ``text<TAB>label`` line
    counts as its text) and labels are ignored. For a pair model (``pairs``) the texts of --eval, eval_texts
    and --calib are ``text<TAB>pair``; the trimming corpus and the built-in samples, single texts, are paired
    with their next text. For a multi-label model (``multi_label``) a label field is a comma-separated label set
    (``text<TAB>label1,label2``; empty: no label) and the targets are a 0/1 matrix [N, labels]."""
    names: list[str] | None
    if eval_file is not None and task == "text-embedding":
        texts, names = [line.rsplit("\t", 1)[0] for line in read_lines(eval_file, "--eval")], None
        source = f"eval-file ({Path(str(eval_file)).name})"
    elif eval_file is not None:
        texts, names = read_eval_tsv(eval_file)
        source = f"eval-file ({Path(str(eval_file)).name})"
    elif eval_texts is not None:
        texts, names = list(eval_texts), (list(eval_labels) if eval_labels is not None and task != "text-embedding"
                                          else None)
        source = "eval-texts"
    elif calib_texts:
        texts, names, source = calib_texts, None, "calibration texts (no labels)"
    elif trim_texts:
        texts, names, source = trim_texts, None, "trimming corpus (no labels)"
    else:
        texts, names, source = list(BUILTIN_EVAL), None, "built-in sample texts (no labels)"
    if pairs and source.startswith(("trimming corpus", "built-in")):
        texts = [f"{t}\t{texts[(i + 1) % len(texts)]}" for i, t in enumerate(texts)]
        source += ", each paired with the next"
    if len(texts) > max_eval:
        rows = evenly_spaced(len(texts), max_eval)
        source = f"{source}, {max_eval} of {len(texts)} rows evenly spaced"
        texts, names = [texts[i] for i in rows], ([names[i] for i in rows] if names is not None else None)
    targets = None
    if names is not None and multi_label:
        from .thresholds import parse_label_sets

        targets = parse_label_sets(names, labels, "--eval" if eval_file is not None else "eval_labels")
    elif names is not None:
        index = {label: i for i, label in enumerate(labels)}
        bad = sorted({n for n in names if n not in index})
        if bad:
            hint = (" - label1,label2 fields are multi-label data: convert a multi-label model with --multi-label"
                    if any("," in n for n in bad) else "")
            raise ConversionError(f"evaluation labels {bad[:5]} are not among the model's labels {list(labels)} "
                                  f"(pass --labels in the model's output order){hint}")
        targets = np.array([index[n] for n in names], dtype=np.int64)
    if pairs:
        firsts, seconds = split_pairs(texts, "--eval" if eval_file is not None else "evaluation texts")
        return EvalSet(texts=firsts, targets=targets, source=source, task=task, pairs=seconds)
    return EvalSet(texts=list(texts), targets=targets, source=source, task=task)


def measure(ev: EvalSet, runner: Runner | Callable[[Batch], np.ndarray]) -> tuple[np.ndarray, dict]:
    """A model's logits on the evaluation set (the model's own ids) and its metrics against the reference."""
    from .gate import compare

    assert ev.ref_logits is not None, "measure the reference first"
    logits = ev.run(runner, "new")
    return logits, compare(ev.ref_logits, logits, ev.targets, graph=ev.graph_logits, task=ev.task)
