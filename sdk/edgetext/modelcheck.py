"""Checks of a model file's bytes before any engine sees them (runtime and converters alike).

    check_onnx_self_contained(data, "model.onnx")   # refuses external data and other path-bearing fields
    check_paddlelite_nb(data, "model.nb", target="x86_64")   # header, sizes, param chain, kernel targets
    check_model_bytes(spec, data)                    # the right one for a manifest ModelSpec

A bundle's checksums pin its members, so a model must not make its engine read anything
else: an ONNX initializer stored as *external data* (``data_location = EXTERNAL`` with a
``location`` path) is loaded by ONNX Runtime from the host's file system, and its scores
then change with a file no checksum covers. The ONNX protobuf is walked here with a small
wire-format reader (``onnx`` is never imported by the runtime), every length checked
against its container; anything this reader cannot follow is refused rather than guessed.

Paddle Lite's ``.nb`` loader trusts its input (a truncated file crashes it with SIGSEGV,
garbage or an ONNX file with SIGABRT), so what the container format allows is checked
here: meta version, opt version string, topology size, the parameter record chain (which
must end exactly at the end of the file), the root table of every flatbuffer, and which
hardware the kernels were picked for. What remains (the inside of the flatbuffers) is
probed in a child process by ``edgetext.backends.paddlelite``.

May import: the standard library and edgetext.errors only.
"""
from __future__ import annotations

import re
import struct
from typing import Any

from .errors import BundleIntegrityError, UnsafeBundleError

__all__ = ["check_onnx_self_contained", "check_paddlelite_nb", "check_model_bytes", "MAX_ONNX_FIELDS"]

MAX_ONNX_FIELDS = 32_000_000  # protobuf fields walked in one model (a BERT-base ONNX file has ~50k)
MAX_ONNX_DEPTH = 64  # nested graphs (If/Loop bodies); protobuf's own parser stops at 100

# message -> {field number: message type} for every field that may (transitively) hold a TensorProto
_CHILDREN: dict[str, dict[int, str]] = {
    "ModelProto": {7: "GraphProto", 20: "TrainingInfoProto", 25: "FunctionProto"},
    "GraphProto": {1: "NodeProto", 5: "TensorProto", 15: "SparseTensorProto"},
    "NodeProto": {5: "AttributeProto"},
    "AttributeProto": {5: "TensorProto", 6: "GraphProto", 10: "TensorProto", 11: "GraphProto",
                       22: "SparseTensorProto", 23: "SparseTensorProto"},
    "SparseTensorProto": {1: "TensorProto", 2: "TensorProto"},
    "TrainingInfoProto": {1: "GraphProto", 2: "GraphProto"},
    "FunctionProto": {7: "NodeProto", 11: "AttributeProto"},
    "TensorProto": {},
}
_TENSOR_NAME, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 8, 13, 14
_NODE_OP_TYPE = 4
# ONNX Runtime's EPContext node names a context-binary file (embed_mode=0) beside the model
_PATH_BEARING_OPS = {b"EPContext"}


class _Walk:
    """One pass over a ModelProto; raises on the first problem."""

    def __init__(self, data: bytes, name: str):
        self.buf = memoryview(data)
        self.name = name
        self.fields = 0

    def bad(self, why: str) -> BundleIntegrityError:
        return BundleIntegrityError(f"{self.name} is not a well-formed ONNX model ({why}): refused, since what "
                                    "cannot be checked might make ONNX Runtime read files outside the bundle")

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        buf = self.buf
        value = shift = 0
        for _ in range(10):
            if pos >= end:
                raise self.bad("a varint runs past the end of its message")
            b = buf[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value & 0xFFFFFFFFFFFFFFFF, pos
            shift += 7
        raise self.bad("a varint longer than 10 bytes")

    def fields_of(self, start: int, end: int):
        """(field number, wire type, value or (start, end) of a length-delimited payload)."""
        pos = start
        while pos < end:
            self.fields += 1
            if self.fields > MAX_ONNX_FIELDS:
                raise self.bad(f"more than {MAX_ONNX_FIELDS:,} protobuf fields")
            key, pos = self.varint(pos, end)
            if key > 0xFFFFFFFF:
                raise self.bad("a field key over 32 bits")
            field, wire = key >> 3, key & 7
            if field == 0:
                raise self.bad("field number 0")
            if wire == 0:
                value, pos = self.varint(pos, end)
                yield field, wire, value
            elif wire == 1:
                if pos + 8 > end:
                    raise self.bad("a 64-bit field runs past the end of its message")
                pos += 8
                yield field, wire, None
            elif wire == 5:
                if pos + 4 > end:
                    raise self.bad("a 32-bit field runs past the end of its message")
                pos += 4
                yield field, wire, None
            elif wire == 2:
                length, pos = self.varint(pos, end)
                if length > end - pos:
                    raise self.bad(f"a field of {length} bytes where {end - pos} remain")
                yield field, wire, (pos, pos + length)
                pos += length
            else:  # 3/4: deprecated groups, 6/7: invalid; no ONNX writer emits them
                raise self.bad(f"wire type {wire} (protobuf groups or invalid)")

    def message(self, kind: str, start: int, end: int, depth: int, where: str) -> None:
        if depth > MAX_ONNX_DEPTH:
            raise self.bad(f"messages nested deeper than {MAX_ONNX_DEPTH}")
        if kind == "TensorProto":
            return self.tensor(start, end, where)
        children = _CHILDREN[kind]
        counts: dict[int, int] = {}
        for field, wire, value in self.fields_of(start, end):
            if kind == "NodeProto" and field == _NODE_OP_TYPE and wire == 2:
                op = bytes(self.buf[value[0]:value[1]])
                if op in _PATH_BEARING_OPS:
                    raise UnsafeBundleError(
                        f"{self.name}: {where} is an {op.decode()} node, which makes ONNX Runtime load a file "
                        "named inside the model: refused (everything a model uses must be inside it, pinned by "
                        "the bundle's checksums)")
            child = children.get(field)
            if child is None or wire != 2:  # a known field with another wire type is an unknown field to protobuf
                continue
            i = counts.get(field, 0)
            counts[field] = i + 1
            self.message(child, value[0], value[1], depth + 1, f"{where}/{_FIELD_NAMES.get((kind, field), field)}[{i}]")

    def tensor(self, start: int, end: int, where: str) -> None:
        name = location = None
        external = False
        for field, wire, value in self.fields_of(start, end):
            if field == _TENSOR_NAME and wire == 2:
                name = bytes(self.buf[value[0]:value[1]]).decode("utf-8", "replace")
            elif field == _TENSOR_DATA_LOCATION:
                if wire != 0 or value != 0:  # only DEFAULT (0); EXTERNAL is 1, anything else is refused too
                    external = True
            elif field == _TENSOR_EXTERNAL_DATA:
                external = True
                if wire == 2 and location is None:
                    location = self.entry_value(value[0], value[1], b"location")
        if external:
            what = f"tensor {name!r}" if name else "a tensor"
            at = f" at {location!r}" if location else ""
            raise UnsafeBundleError(
                f"{self.name}: {what} ({where}) stores its data outside the model (ONNX external data{at}): "
                "ONNX Runtime would read it from this host's files, which no bundle checksum covers. Save the "
                "model with its data inside (onnx.save_model(..., save_as_external_data=False)) and convert again")

    def entry_value(self, start: int, end: int, key: bytes) -> str | None:
        """The value of a StringStringEntryProto whose key is `key` (for the message)."""
        k = v = None
        for field, wire, value in self.fields_of(start, end):
            if wire == 2 and field in (1, 2):
                text = bytes(self.buf[value[0]:value[1]])
                if field == 1:
                    k = text
                else:
                    v = text
        return v.decode("utf-8", "replace")[:200] if k == key and v is not None else None


_FIELD_NAMES = {("ModelProto", 7): "graph", ("ModelProto", 20): "training_info", ("ModelProto", 25): "functions",
                ("GraphProto", 1): "node", ("GraphProto", 5): "initializer", ("GraphProto", 15): "sparse_initializer",
                ("NodeProto", 5): "attribute", ("AttributeProto", 5): "t", ("AttributeProto", 6): "g",
                ("AttributeProto", 10): "tensors", ("AttributeProto", 11): "graphs",
                ("AttributeProto", 22): "sparse_tensor", ("AttributeProto", 23): "sparse_tensors",
                ("SparseTensorProto", 1): "values", ("SparseTensorProto", 2): "indices",
                ("TrainingInfoProto", 1): "initialization", ("TrainingInfoProto", 2): "algorithm",
                ("FunctionProto", 7): "node", ("FunctionProto", 11): "attribute_proto"}


def check_onnx_self_contained(data: bytes | bytearray | memoryview, name: str = "the model") -> None:
    """Refuse an ONNX model that would make ONNX Runtime read anything but these bytes.

    Raises UnsafeBundleError for external data (any tensor with ``data_location`` other than
    DEFAULT or an ``external_data`` entry: initializers, sparse initializers, Constant/attribute
    tensors, subgraphs of If/Loop/Scan, training-info graphs, local functions) and for
    ``EPContext`` nodes (they name a context file); BundleIntegrityError when the bytes are not
    a ModelProto this reader can follow (ORT-format files, protobuf groups, bad lengths, a
    missing graph). Both are EdgeTextErrors; converters call this at convert time too.
    """
    raw = bytes(data) if not isinstance(data, bytes) else data
    walk = _Walk(raw, name)
    if len(raw) >= 8 and raw[4:8] == b"ORTM":
        raise walk.bad("an ONNX Runtime .ort flatbuffer file, not an ONNX protobuf")
    graphs = ir = 0
    counts: dict[int, int] = {}
    for field, wire, value in walk.fields_of(0, len(raw)):
        if field == 1 and wire == 0:
            ir += 1
        child = _CHILDREN["ModelProto"].get(field)
        if child is None or wire != 2:
            continue
        graphs += field == 7
        i = counts.get(field, 0)
        counts[field] = i + 1
        walk.message(child, value[0], value[1], 1, f"{_FIELD_NAMES[('ModelProto', field)]}[{i}]")
    if not graphs or not ir:
        raise walk.bad("no ir_version or no graph")


# ------------------------------------------------------------------------------------------------
# Paddle Lite naive-buffer (.nb), meta version 2 (Paddle Lite >= 2.8's opt)
# ------------------------------------------------------------------------------------------------
NB_META_VERSIONS = (2,)
# Paddle Lite TargetType values in kernel keys "op/alias/TARGET/PRECISION/LAYOUT" (lite/api/paddle_place.h)
_LITE_TARGETS = {0: "unknown", 1: "host", 2: "x86", 3: "cuda", 4: "arm", 5: "opencl", 6: "any", 7: "fpga",
                 8: "npu", 9: "xpu", 10: "bm", 11: "mlu", 12: "rknpu", 13: "apu", 14: "huawei_ascend_npu",
                 15: "imagination_nna", 16: "intel_fpga", 17: "metal", 18: "nnadapter"}
_NB_TARGET_KERNELS = {"x86_64": {1, 2, 6}, "aarch64": {1, 4, 5, 6, 18}, "armv7": {1, 4, 5, 6, 18}}
_KERNEL_KEY = re.compile(rb"[A-Za-z0-9_]{1,64}/[A-Za-z0-9_]{1,64}/(\d{1,2})/\d{1,2}/\d{1,2}\x00")


def _flatbuffer_root_ok(buf: bytes, start: int, end: int) -> bool:
    """The root table of a flatbuffer in buf[start:end] and its vtable lie inside it."""
    size = end - start
    if size < 8:
        return False
    root, = struct.unpack_from("<I", buf, start)
    if root < 4 or root + 4 > size or root % 4:
        return False
    soff, = struct.unpack_from("<i", buf, start + root)
    vt = root - soff
    if vt < 0 or vt + 4 > size or vt % 2:
        return False
    vt_size, table_size = struct.unpack_from("<HH", buf, start + vt)
    if vt_size < 4 or vt_size % 2 or vt + vt_size > size or table_size < 4 or root + table_size > size:
        return False
    offsets = struct.unpack_from(f"<{(vt_size - 4) // 2}H", buf, start + vt + 4)
    return all(o == 0 or 4 <= o < table_size for o in offsets)


def check_paddlelite_nb(data: bytes | bytearray | memoryview, name: str = "the model",
                        target: str | None = None) -> dict[str, Any]:
    """Check a Paddle Lite ``.nb`` container before Paddle Lite parses it; return what it says.

    Layout (meta version 2): u16 meta_version, char[16] opt version (NUL-terminated), u64
    topology size, the topology flatbuffer, then the parameters: u16 version (0), u16 meta size +
    meta, u16 header size (>= 6) + header (u16 count, u32 largest tensor), and `count` records
    (u32 total size, u32 offset >= 4, offset - 4 reserved bytes, a ParamDesc flatbuffer) ending
    exactly at the end of the file. With `target` (a manifest target), kernels picked for other
    hardware (an ARM .nb where an x86 one belongs) are refused. Raises BundleIntegrityError.
    Returns {"meta_version", "opt_version", "params", "kernel_targets"}.
    """
    buf = bytes(data) if not isinstance(data, bytes) else data
    n = len(buf)

    def bad(why: str) -> BundleIntegrityError:
        return BundleIntegrityError(f"{name} is not a valid Paddle Lite .nb model ({why}): refused before Paddle "
                                    "Lite parses it (a malformed .nb crashes the process)")

    if n < 26:
        raise bad(f"{n} bytes, shorter than the 26-byte header")
    meta, = struct.unpack_from("<H", buf, 0)
    hint = "; it looks like an ONNX file (backend onnxruntime)" if buf[:1] == b"\x08" else ""
    if meta not in NB_META_VERSIONS:
        raise bad(f"meta version {meta}, this SDK reads {list(NB_META_VERSIONS)} (Paddle Lite 2.13's opt){hint}")
    raw_version = buf[2:18]
    nul = raw_version.find(b"\x00")
    version = raw_version[:nul] if nul > 0 else b""
    if not version or not all(0x21 <= c < 0x7F for c in version):
        raise bad("no NUL-terminated opt version string in bytes 2..17")
    topo, = struct.unpack_from("<Q", buf, 18)
    pos = 26
    if topo < 8 or topo > n - pos - 6:
        raise bad(f"topology size {topo} does not fit in {n - pos} remaining bytes")
    if not _flatbuffer_root_ok(buf, pos, pos + topo):
        raise bad("the topology flatbuffer's root table lies outside it")
    kernel_targets = sorted({int(m.group(1)) for m in _KERNEL_KEY.finditer(buf, pos, pos + topo)})
    pos += topo

    def take(fmt: str, what: str) -> tuple:
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > n:
            raise bad(f"truncated in the {what} (byte {pos} of {n})")
        out = struct.unpack_from(fmt, buf, pos)
        pos += size
        return out

    pversion, meta_size = take("<HH", "parameter header")
    if pversion != 0:
        raise bad(f"parameter format version {pversion}, expected 0")
    if pos + meta_size > n:
        raise bad("truncated in the parameter meta data")
    pos += meta_size
    header_size, = take("<H", "parameter header")
    if header_size < 6 or pos + header_size > n:
        raise bad(f"parameter header of {header_size} bytes")
    count, largest = struct.unpack_from("<HI", buf, pos)
    pos += header_size
    for i in range(count):
        total, offset = take("<II", f"record of parameter {i}")
        if offset < 4 or total <= offset:
            raise bad(f"parameter {i} has total size {total} and offset {offset}")
        skip, size = offset - 4, total - offset
        if pos + skip + size > n:
            raise bad(f"parameter {i} ({size} bytes) runs past the end of the file: truncated")
        pos += skip
        if not _flatbuffer_root_ok(buf, pos, pos + size):
            raise bad(f"parameter {i}'s flatbuffer root table lies outside it")
        pos += size
    if pos != n:
        raise bad(f"{n - pos} bytes after the last of {count} parameters")
    if target is not None and kernel_targets:
        allowed = _NB_TARGET_KERNELS.get(target)
        foreign = [t for t in kernel_targets if allowed is not None and t not in allowed]
        if foreign:
            names = ", ".join(_LITE_TARGETS.get(t, str(t)) for t in foreign)
            raise BundleIntegrityError(f"{name} holds Paddle Lite kernels for {names}, but the manifest says it is "
                                       f"the {target} model: the wrong .nb file (re-convert for {target})")
    return {"meta_version": meta, "opt_version": version.decode("ascii"), "params": count,
            "kernel_targets": [_LITE_TARGETS.get(t, str(t)) for t in kernel_targets], "largest_param": largest}


def check_model_bytes(spec: Any, data: bytes | bytearray | memoryview) -> dict[str, Any] | None:
    """The container check for a manifest model (``spec``: a ModelSpec, or anything with
    ``file``, ``backend`` and ``target``): ONNX self-containment or the .nb structure."""
    if spec.backend == "onnxruntime":
        check_onnx_self_contained(data, spec.file)
        return None
    if spec.backend == "paddlelite":
        return check_paddlelite_nb(data, spec.file, spec.target)
    return None
