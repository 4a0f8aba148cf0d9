"""manifest.json of a bundle: parsing, JSON-Schema validation, semantic checks, typed views.

The format (version 3; versions 1 and 2 still read, see "Migration" in docs/architecture.md) is
described in docs/architecture.md and pinned by ``schema/manifest.schema.json``. This module only reads bytes it is given; the
bundle container (folder or .etb zip) lives in :mod:`edgetext.bundle`.
Imports: stdlib, jsonschema (lazily, on first validation).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import ManifestError, UnsafeBundleError

FORMAT = "edgetext-bundle"
FORMAT_VERSION = 3  # the newest; the converters write the lowest version a bundle needs (write_version)
READ_VERSIONS = (1, 2, 3)  # what this SDK reads (1: classifiers only, "task" and "labels" required; 3: multi_label)
MULTI_LABEL_VERSION = 3  # multi_label bundles need it: an SDK reading 2 would apply a softmax to their logits
MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 8 * 1024 * 1024  # golden vectors included; anything bigger is refused unread
SCHEMA_PATH = Path(__file__).with_name("schema") / "manifest.schema.json"

BACKENDS = ("onnxruntime", "paddlelite", "openvino")
TARGETS = ("x86_64", "aarch64", "armv7", "cuda")
PRECISIONS = ("fp32", "fp16", "int8")
ROLES = ("input_ids", "token_type_ids", "attention_mask")
TASKS = ("text-classification", "text-embedding")
POOLINGS = ("mean", "cls", "pooler")



def write_version(obj: dict) -> int:
    """The format_version a new manifest is written with: 3 for a multi-label classifier (older SDKs must refuse
    it), else 2, so that every other bundle still loads in an SDK that reads 2."""
    return MULTI_LABEL_VERSION if obj.get("multi_label") else 2


_BAD_MEMBER_CHARS = re.compile(r'[\x00-\x1f\\:*?"<>|]')


def check_member_name(name: object, what: str = "member") -> str:
    """Return `name` if it is a safe relative bundle path, else raise UnsafeBundleError.

    Safe: a non-empty str of '/'-separated parts, none empty, '.' or '..', not absolute,
    no backslash, drive colon or control character, at most 255 characters.
    """
    if not isinstance(name, str) or not name:
        raise UnsafeBundleError(f"{what} name {name!r} is not a non-empty string")
    if len(name) > 255 or name.startswith("/") or _BAD_MEMBER_CHARS.search(name):
        raise UnsafeBundleError(f"{what} name {name!r} is absolute, too long or has forbidden characters")
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise UnsafeBundleError(f"{what} name {name!r} has an empty, '.' or '..' part")
    return name


@dataclass(frozen=True)
class InputSpec:
    name: str
    role: str  # input_ids | token_type_ids | attention_mask
    dtype: str  # int64 | int32
    shape: tuple[int, ...] = (-1, -1)


@dataclass(frozen=True)
class OutputSpec:
    name: str
    dtype: str = "float32"
    shape: tuple[int, ...] = (-1, -1)


VERIFICATION_MODES = ("native", "emulated", "cross", "not_run")


@dataclass(frozen=True)
class Verification:
    """Where and how a model was verified (manifest ``models[i].verification``, optional).

    ``mode``: ``native`` (ran on its own target architecture), ``emulated`` (on its architecture under
    an emulator), ``cross`` (ran with another architecture's or device's kernels, e.g. an aarch64 ONNX
    model on x86_64 ONNX Runtime), ``not_run``. ``ModelSpec.verified`` means ``mode == "native"``."""

    mode: str
    host_arch: str | None = None  # where it ran (or where it was converted, for not_run)
    engine: str | None = None  # the backend that ran it
    engine_version: str | None = None
    note: str = ""

    @classmethod
    def from_dict(cls, d: dict) -> "Verification":
        return cls(mode=d["mode"], host_arch=d.get("host_arch"), engine=d.get("engine"),
                   engine_version=d.get("engine_version"), note=d.get("note") or "")

    def as_dict(self) -> dict:
        return {"mode": self.mode, "host_arch": self.host_arch, "engine": self.engine,
                "engine_version": self.engine_version, "note": self.note}

    def summary(self) -> str:
        """One line, e.g. "cross: onnxruntime 1.23.2 on x86_64 (built for aarch64: ran with x86_64 kernels...)"."""
        engine = " ".join(x for x in (self.engine, self.engine_version) if x)
        where = " on ".join(x for x in (engine, self.host_arch) if x) if self.mode != "not_run" else ""
        return self.mode.replace("_", " ") + (f": {where}" if where else "") + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class EmbeddingSpec:
    """manifest ``embedding`` (task text-embedding): how the model's [B, dim] output was pooled.

    ``pooling``: ``mean`` (last hidden states averaged over the attention mask), ``cls`` (the [CLS]
    state) or ``pooler`` (tanh dense over [CLS]); ``normalize``: L2-normalized in the graph."""

    pooling: str
    normalize: bool
    dim: int

    def as_dict(self) -> dict:
        return {"pooling": self.pooling, "normalize": self.normalize, "dim": self.dim}


@dataclass(frozen=True)
class ModelSpec:
    """One entry of manifest["models"]: a model file and how to feed it."""

    file: str
    backend: str
    target: str
    precision: str
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    verified: bool = False  # this exact file ran on its own target architecture
    quantization: dict | None = None
    accuracy: dict | None = None
    verification: Verification | None = None  # where and how (bundles before it have none)

    @property
    def output(self) -> OutputSpec:
        return self.outputs[0]

    def summary(self) -> str:
        return f"{self.backend} {self.precision} {self.target} ({self.file})"

    @classmethod
    def from_dict(cls, d: dict) -> "ModelSpec":
        return cls(
            file=d["file"], backend=d["backend"], target=d["target"], precision=d["precision"],
            inputs=tuple(InputSpec(i["name"], i["role"], i["dtype"], tuple(i.get("shape", (-1, -1))))
                         for i in d["inputs"]),
            outputs=tuple(OutputSpec(o["name"], o.get("dtype", "float32"), tuple(o.get("shape", (-1, -1))))
                          for o in d["outputs"]),
            verified=bool(d.get("verified", False)), quantization=d.get("quantization"),
            accuracy=d.get("accuracy"),
            verification=Verification.from_dict(d["verification"]) if d.get("verification") else None,
        )


@dataclass(frozen=True)
class Manifest:
    """A validated manifest. `raw` is the parsed JSON, the other fields are typed views of it."""

    raw: dict
    labels: tuple[str, ...]
    tokenizer: dict
    models: tuple[ModelSpec, ...]
    golden: tuple[dict, ...]
    files: dict = field(default_factory=dict)
    embedding: EmbeddingSpec | None = None  # task text-embedding only

    @property
    def name(self) -> str:
        return self.raw.get("name", "")

    @property
    def task(self) -> str:
        """``text-classification`` (also when absent) or ``text-embedding``."""
        return str(self.raw.get("task", "text-classification"))

    @property
    def text_pairs(self) -> bool:
        """True when the model classifies text pairs ([CLS] A [SEP] B [SEP], token types 0 / 1): ``text_pairs``
        in the manifest (absent: single texts, as every bundle before it)."""
        return bool(self.raw.get("text_pairs", False))

    @property
    def multi_label(self) -> bool:
        """True when every label is decided on its own (sigmoid per logit, ``thresholds``): ``multi_label`` in a
        version-3 manifest (absent: one softmax over the labels, as every bundle before it)."""
        return bool(self.raw.get("multi_label", False))

    @property
    def thresholds(self) -> tuple[float, ...] | None:
        """Per-label decision thresholds of a multi-label bundle (None otherwise)."""
        t = self.raw.get("thresholds")
        return tuple(float(x) for x in t) if self.multi_label and t is not None else None

    @property
    def threshold_tuning(self) -> dict:
        """How the thresholds were chosen (``{"method": "default"}`` when the manifest does not say)."""
        return dict(self.raw.get("threshold_tuning") or {"method": "default"}) if self.multi_label else {}

    @property
    def output_width(self) -> int:
        """What a model's output row holds: one logit per label, or ``embedding.dim`` values."""
        return self.embedding.dim if self.embedding is not None else len(self.labels)

    @property
    def max_length(self) -> int:
        return int(self.tokenizer["max_length"])

    @property
    def vocab(self) -> str:
        return self.tokenizer["vocab"]

    def model(self, file: str) -> ModelSpec:
        for m in self.models:
            if m.file == file:
                return m
        raise ManifestError(f"the bundle has no model {file!r}; it has {[m.file for m in self.models]}")

    def referenced_files(self) -> list[str]:
        return [self.vocab, *(m.file for m in self.models)]


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ManifestError(f"manifest.json has the key {k!r} twice")
        out[k] = v
    return out


def loads(data: bytes | str) -> dict:
    """Parse manifest bytes into a dict (size cap, strict UTF-8, no duplicate keys, no NaN)."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"manifest.json is {len(data)} bytes, over the {MAX_MANIFEST_BYTES}-byte limit")
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        obj = json.loads(text, object_pairs_hook=_no_duplicate_keys,
                         parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not JSON")))
    except ManifestError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ManifestError(f"manifest.json is not valid UTF-8 JSON: {e}") from None
    if not isinstance(obj, dict):
        raise ManifestError(f"manifest.json must be a JSON object, not {type(obj).__name__}")
    try:  # "\ud800" escapes decode to lone surrogates, which no UTF-8 consumer (the tokenizer) can take
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        raise ManifestError(f"manifest.json has a string with a lone surrogate ({e.object[e.start:e.end]!r}): "
                            "not valid Unicode") from None
    return obj


def validate(obj: dict, require_files: bool = True) -> Manifest:
    """Check a parsed manifest (version, member names, schema, cross-field rules) and type it."""
    if obj.get("format") != FORMAT:
        raise ManifestError(f"manifest.json 'format' is {obj.get('format')!r}, expected {FORMAT!r}")
    version = obj.get("format_version")
    if isinstance(version, bool) or version not in READ_VERSIONS:
        hint = "upgrade edgetext" if isinstance(version, int) and version > FORMAT_VERSION else "rebuild the bundle"
        raise ManifestError(f"bundle format_version {version!r} is not supported (this SDK reads "
                            f"{', '.join(map(str, READ_VERSIONS))}): {hint}")
    # unsafe names are an attack, not a typo: say so before the schema does
    tok = obj.get("tokenizer")
    if isinstance(tok, dict) and "vocab" in tok:
        check_member_name(tok["vocab"], "tokenizer vocab")
    models_raw = obj.get("models")
    for m in models_raw if isinstance(models_raw, list) else []:
        if isinstance(m, dict) and "file" in m:
            check_member_name(m["file"], "model file")
    files = obj.get("files")
    if isinstance(files, dict):
        for name in files:
            check_member_name(name, "files entry")
            if name == MANIFEST_NAME:
                raise UnsafeBundleError("'files' must not list manifest.json itself")

    errors = sorted(_validator().iter_errors(obj), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise ManifestError(f"manifest.json does not match the schema at {where}: {e.message[:300]}{more}")

    labels = tuple(obj.get("labels") or ())
    emb = obj.get("embedding")
    embedding = EmbeddingSpec(emb["pooling"], bool(emb["normalize"]), int(emb["dim"])) if emb else None
    width, what = (embedding.dim, "the embedding dim") if embedding else (len(labels), f"{len(labels)} labels")
    models = tuple(ModelSpec.from_dict(m) for m in obj["models"])
    seen: set[str] = set()
    for m in models:
        if m.file in seen:
            raise ManifestError(f"model file {m.file!r} is listed twice")
        seen.add(m.file)
        roles = [i.role for i in m.inputs]
        if len(set(roles)) != len(roles) or "input_ids" not in roles:
            raise ManifestError(f"model {m.file}: inputs need one 'input_ids' role and no repeated role, got {roles}")
        if len({i.name for i in m.inputs}) != len(m.inputs):
            raise ManifestError(f"model {m.file}: two inputs share a name")
        n_out = m.output.shape[-1] if m.output.shape else -1
        if n_out not in (-1, width) and embedding is not None:
            raise ManifestError(f"model {m.file} outputs {n_out} values per text but the bundle's embedding dim is "
                                f"{embedding.dim}")
        if n_out not in (-1, width):
            raise ManifestError(f"model {m.file} outputs {n_out} classes but the bundle has {what} "
                                f"{list(labels)}")
        if m.backend == "paddlelite" and m.target == "cuda":
            raise ManifestError(f"model {m.file}: Paddle Lite has no 'cuda' target")
    if obj.get("text_pairs"):
        # a pair model without a token_type_ids input would see segment B as segment A: refused, not guessed
        lacking = [m.file for m in models if "token_type_ids" not in {i.role for i in m.inputs}]
        if lacking:
            raise ManifestError(f"text_pairs bundle: models {lacking} have no token_type_ids input (a pair model "
                                "needs the segment ids)")
    multi = _check_multi_label(obj, labels)
    if obj["tokenizer"]["vocab"] in seen:
        raise ManifestError("the vocab file is also listed as a model")
    golden = tuple(obj.get("golden") or ())
    for i, g in enumerate(golden):
        for lab in [g.get("label"), *(p.get("label") for p in (g.get("per_model") or {}).values())]:
            if lab is not None and lab not in labels:
                raise ManifestError(f"golden[{i}] label {lab!r} is not one of the bundle labels {list(labels)}")
        if obj.get("text_pairs") and not isinstance(g.get("text_pair"), str):
            raise ManifestError(f"golden[{i}] has no text_pair but the bundle classifies text pairs")
        if not obj.get("text_pairs") and g.get("text_pair") is not None:
            raise ManifestError(f"golden[{i}] has a text_pair but the bundle classifies single texts "
                                "(text_pairs is not set)")
        for where, e in [("", g), *((f" per_model {f!r}", p) for f, p in (g.get("per_model") or {}).items())]:
            if e.get("labels") is not None and not multi:
                raise ManifestError(f"golden[{i}]{where} has a label set ('labels') but the bundle is not multi-label")
            bad = [x for x in e.get("labels") or () if x not in labels]
            if bad:
                raise ManifestError(f"golden[{i}]{where} labels {bad} are not bundle labels {list(labels)}")
        if multi and "label" in g and g.get("labels") is None:
            raise ManifestError(f"golden[{i}] has no label set ('labels') but the bundle is multi-label")
        for f in g.get("per_model") or {}:
            if f not in seen:
                raise ManifestError(f"golden[{i}] per_model names {f!r}, which is not a model of the bundle")
        if g.get("logits") is not None and len(g["logits"]) != len(labels):
            raise ManifestError(f"golden[{i}] has {len(g['logits'])} logits for {len(labels)} labels")
        for where, e in [("", g), *((f" per_model {f!r}", p) for f, p in (g.get("per_model") or {}).items())]:
            vec = e.get("embedding")
            if vec is not None and embedding is None:
                raise ManifestError(f"golden[{i}]{where} has an embedding but the bundle's task is {obj.get('task')!r}")
            if vec is not None and len(vec) != width:
                raise ManifestError(f"golden[{i}]{where} has an embedding of {len(vec)} values for the embedding "
                                    f"dim {width}")

    files = obj.get("files")
    if files is None:
        if require_files:
            raise ManifestError("manifest.json has no 'files' checksums: pack the folder with edgetext.bundle.pack")
        files = {}
    else:
        missing = [f for f in [obj["tokenizer"]["vocab"], *seen] if f not in files]
        if missing:
            raise ManifestError(f"'files' has no checksum for {missing}")
    return Manifest(raw=obj, labels=labels, tokenizer=dict(obj["tokenizer"]), models=models, golden=golden,
                    files=dict(files), embedding=embedding)


def _check_multi_label(obj: dict, labels: tuple[str, ...]) -> bool:
    """The rules of ``multi_label`` / ``thresholds`` beyond the schema (which checks types, version and ranges):
    one finite threshold in [0, 1] per label. Returns whether the bundle is multi-label."""
    if not obj.get("multi_label"):
        stray = [k for k in ("thresholds", "threshold_tuning") if k in obj]
        if stray:
            raise ManifestError(f"manifest.json has {' and '.join(stray)} but multi_label is not true: thresholds "
                                "belong to multi-label bundles (set multi_label, or drop them)")
        return False
    thresholds = obj["thresholds"]
    if len(thresholds) != len(labels):
        raise ManifestError(f"multi_label bundle: {len(thresholds)} thresholds for {len(labels)} labels "
                            f"{list(labels)}: give one threshold per label, in label order")
    for k, t in enumerate(thresholds):  # NaN passes JSON-Schema's minimum/maximum (every comparison is false)
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0 <= t <= 1:
            raise ManifestError(f"multi_label bundle: thresholds[{k}] ({labels[k]!r}) is {t!r}; a threshold is a "
                                "finite probability within [0, 1]")
    return True


def parse(data: bytes | str, require_files: bool = True) -> Manifest:
    """loads() + validate(): the one way bytes become a Manifest."""
    return validate(loads(data), require_files=require_files)


def tokenizer_kwargs(settings: dict) -> dict:
    """Manifest tokenizer settings -> keyword arguments of edgetext.Tokenizer.from_file / from_vocab_bytes."""
    special = settings.get("special_tokens") or {}
    kw = {k: settings[k] for k in ("lowercase", "strip_accents", "tokenize_chinese_chars", "clean_text",
                                   "max_length", "max_input_chars_per_word", "wordpieces_prefix",
                                   "split_special_tokens") if k in settings}
    for key in ("unk", "sep", "cls", "pad", "mask"):
        if key in special:
            kw[f"{key}_token"] = special[key]
    return kw
