"""A Paddle ``.pdparams`` state dict read without arbitrary unpickling (issue 13, finding 5).

``paddle.load`` is ``pickle.load``: a crafted checkpoint runs any code it names while it is read. Here the
file goes through an ``Unpickler`` whose ``find_class`` hands out only the globals that ``paddle.save``
(Paddle 2.6) really writes for a state dict, each wrapped to accept only the arguments Paddle writes; any
other global is refused (:class:`ConversionError` naming it) before anything is built from it. The allowed
list was derived by recording every ``find_class`` call while loading files written by Paddle 2.6.2's
``paddle.save``: a dygraph ``Layer.state_dict()`` with pickle protocols 4 (the default), 3 and 2, fp16 and
bf16 parameters, an optimizer state dict, ``paddle.static.save`` and a static ``Program.state_dict()``,
a nested object holding tensors (``{"model": state_dict, ...}``), one tensor, a zero-size parameter, and
static LoDTensors inside a non-state-dict object (tests/test_convert_hostile.py keeps the table honest):

=================================================  ================================================
global                                             written for
=================================================  ================================================
``numpy.core.multiarray._reconstruct``             every numpy array (``numpy._core...`` by numpy 2)
``numpy.ndarray``, ``numpy.dtype``                 every numpy array
``_codecs.encode``                                 array bytes under protocol 2 (latin-1 only here)
``builtins.bytes``                                 a zero-size parameter's data under protocol 2: ``bytes()``
``collections.OrderedDict``                        nested objects (a state dict inside a dict)
``builtins.tuple``                                 a tensor inside a nested object: ``(name, array)``
``builtins.eval``                                  a static LoDTensor: ``eval("data", {"data": array})``;
                                                   *never evaluated*: only that exact call is accepted
=================================================  ================================================

Then, as ``paddle.load`` does: parameters split by protocols 2/3 (``UnpackBigParamInfor@@``) are joined,
the ``StructuredToParameterName@@`` table is dropped, ``(name, array)`` tensors become their arrays.

May import: the standard library, numpy, edgetext.errors.
"""
from __future__ import annotations

import collections
import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgetext.errors import ConversionError

__all__ = ["ALLOWED_GLOBALS", "SAFE_ALTERNATIVE", "load_state_dict"]

SAFE_ALTERNATIVE = ("re-save the weights with paddle.save(model.state_dict(), 'model_state.pdparams') in dygraph "
                    "mode, or export them as safetensors (model.safetensors + config.json)")
_NAME_TABLE = "StructuredToParameterName@@"
_BIG_PARAMS = "UnpackBigParamInfor@@"


class _Forbidden(pickle.UnpicklingError):
    """An allowed global used with arguments or state paddle.save never writes: refused, like a global."""


class _Guarded:
    """Base of everything ``find_class`` hands out: no attributes can be set on it by the pickle (BUILD)."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise _Forbidden(f"state set on {self!r}")


class _Ndarray(_Guarded):
    """What ``numpy.ndarray`` resolves to: only the first argument of ``_reconstruct`` (calling
    ``ndarray(shape)`` could allocate any size), never a callable."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "numpy.ndarray"


_NDARRAY = _Ndarray()
_NUMERIC_KINDS = "biufc"  # bool, int, uint, float, complex: no objects, strings, voids or datetimes


class _Dtype(_Guarded):
    """A numpy dtype as ``dtype.__reduce__`` writes it: ``dtype(spec, False, True)`` then BUILD with
    ``(3, byteorder, None, None, None, -1, -1, 0)``; numpy's own ``__setstate__`` (which trusts flags and
    fields) never sees the file's state."""

    __slots__ = ("dtype",)

    def __init__(self, spec: Any, align: Any = False, copy: Any = True):
        if not isinstance(spec, str) or align is not False or copy is not True:
            raise _Forbidden(f"numpy.dtype with unexpected arguments {spec!r:.80}")
        try:
            dt = np.dtype(spec)
        except (TypeError, ValueError):
            raise pickle.UnpicklingError(f"unknown numpy dtype {spec!r:.80}") from None
        if dt.kind not in _NUMERIC_KINDS or dt.fields is not None or dt.subdtype is not None:
            raise _Forbidden(f"numpy.dtype {spec!r:.80} is not a plain numeric type")
        self.dtype = dt

    def __setstate__(self, state: Any) -> None:
        if (not isinstance(state, tuple) or len(state) != 8 or state[0] != 3 or state[1] not in "<>|="
                or state[2:] != (None, None, None, -1, -1, 0)):
            raise _Forbidden(f"numpy.dtype state {state!r:.80} is not a plain numeric type's")
        if state[1] in "<>" and self.dtype.itemsize > 1:
            self.dtype = self.dtype.newbyteorder(state[1])

    def __repr__(self) -> str:
        return f"dtype({self.dtype})"


class _Array(_Guarded):
    """A numpy array as ``ndarray.__reduce__`` writes it: ``_reconstruct(ndarray, (0,), b'b')`` then BUILD
    with ``(1, shape, dtype, is_fortran, raw_bytes)``; the array is made here from checked sizes."""

    __slots__ = ("array",)

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if self.array is not None or not isinstance(state, tuple) or len(state) != 5 or state[0] != 1:
            raise pickle.UnpicklingError("numpy array state of an unexpected form")
        _, shape, dtype, fortran, raw = state
        if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape):
            raise pickle.UnpicklingError(f"numpy array shape {shape!r:.80}")
        if not isinstance(dtype, _Dtype) or not isinstance(fortran, bool):
            raise pickle.UnpicklingError("numpy array state of an unexpected form")
        if isinstance(raw, str):  # a Python 2 str read with encoding='latin1'
            raw = raw.encode("latin1")
        if not isinstance(raw, (bytes, bytearray)):
            raise pickle.UnpicklingError("numpy array data is not bytes")
        count = 1
        for d in shape:
            count *= d
        if count * dtype.dtype.itemsize != len(raw):
            raise pickle.UnpicklingError(f"numpy array data holds {len(raw)} bytes, its shape {list(shape)} "
                                         f"of {dtype.dtype} needs {count * dtype.dtype.itemsize}")
        flat = np.frombuffer(raw, dtype=dtype.dtype, count=count)
        self.array = flat.reshape(shape, order="F" if fortran else "C").copy(order="K")

    def __repr__(self) -> str:
        return "ndarray"


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> _Array:
    if subtype is not _NDARRAY or shape != (0,) or not isinstance(dtype, (bytes, str)):
        raise _Forbidden("numpy _reconstruct with unexpected arguments")
    return _Array()


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    # protocol 2 writes bytes as _codecs.encode(str, 'latin1'); other codecs (zlib, base64, ...) are refused
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Forbidden(f"_codecs.encode with encoding {encoding!r:.40}")
    return text.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    # protocol 2 writes an empty bytes object (the data of a zero-size parameter) as bytes()
    if args:
        raise _Forbidden("builtins.bytes with arguments")
    return b""


def _lod_tensor(expr: Any, env: Any = None) -> _Array:
    # paddle.save's reduce of a static LoDTensor is (eval, ('data', {'data': array})): the array, unevaluated
    if expr != "data" or type(env) is not dict or list(env) != ["data"] or not isinstance(env["data"], _Array):
        raise _Forbidden("builtins.eval with an expression other than Paddle's LoDTensor 'data'")
    return env["data"]


def _tuple(items: Any = ()) -> tuple:
    if type(items) not in (tuple, list):
        raise _Forbidden("builtins.tuple of something other than a tuple or list")
    return tuple(items)


class _OrderedDict(collections.OrderedDict):
    """An OrderedDict whose attributes the pickle cannot set (BUILD would fill its ``__dict__``)."""

    def __setstate__(self, state: Any) -> None:
        raise _Forbidden("state set on an OrderedDict")


def _ordered_dict(items: Any = ()) -> collections.OrderedDict:
    if type(items) not in (tuple, list, dict):
        raise _Forbidden("collections.OrderedDict of something other than items")
    return _OrderedDict(items)


class _Call(_Guarded):
    """A checked function as a global (a plain function's attributes could be set by BUILD)."""

    __slots__ = ("_fn", "_name")

    def __init__(self, fn: Callable[..., Any], name: str):
        self._fn, self._name = fn, name

    def __call__(self, *args: Any) -> Any:
        return self._fn(*args)

    def __repr__(self) -> str:
        return self._name


#: (module, name) -> what ``find_class`` returns for it; everything else is refused
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _Call(_reconstruct, "numpy.core.multiarray._reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): _Call(_reconstruct, "numpy._core.multiarray._reconstruct"),
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _Call(_Dtype, "numpy.dtype"),
    ("_codecs", "encode"): _Call(_latin1, "_codecs.encode"),
    ("collections", "OrderedDict"): _Call(_ordered_dict, "collections.OrderedDict"),
    ("builtins", "tuple"): _Call(_tuple, "builtins.tuple"),
    ("builtins", "bytes"): _Call(_empty_bytes, "builtins.bytes"),
    ("builtins", "eval"): _Call(_lod_tensor, "builtins.eval"),
}
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}  # what protocol 2 writes with fix_imports


class _Refused(ConversionError):
    pass


class _Unpickler(pickle.Unpickler):
    def __init__(self, f: Any, path: Path):
        super().__init__(f, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _Refused(f"{self._path}: refused to load: the pickle references {module}.{name}, which a Paddle "
                           "state dict never needs (unpickling it could run code; .pdparams files are read "
                           f"without arbitrary unpickling); {SAFE_ALTERNATIVE}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused(f"{self._path}: refused to load: the pickle uses persistent ids, which paddle.save never "
                       f"writes; {SAFE_ALTERNATIVE}")


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of the state dict in ``path`` (name -> numpy array, numeric dtypes only).

    Non-array entries (an optimizer's ``LR_Scheduler`` dict, ...) are left out, as before. Raises
    ConversionError on a refused global, a corrupt file or anything but a state dict.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = _Unpickler(f, path).load()
    except _Refused:
        raise
    except _Forbidden as e:
        raise ConversionError(f"{path}: refused to load: {e} (a Paddle state dict never has it; unpickling such "
                              f"a file could run code); {SAFE_ALTERNATIVE}") from None
    except OSError as e:
        raise ConversionError(f"{path}: cannot read the parameters: {e.strerror or e}") from None
    except MemoryError:
        raise ConversionError(f"{path}: cannot read the parameters: out of memory") from None
    except Exception as e:  # noqa: BLE001  (pickle/numpy raise many types on a corrupt file: one clear error)
        why = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise ConversionError(f"{path}: cannot read the parameters (corrupt or not a .pdparams): {why}") from None
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f"{path}: not a state dict (a {type(obj).__name__}); {SAFE_ALTERNATIVE}")
    state = dict(dict.items(obj))  # dict.items: the class's method, whatever the instance holds
    state = _join_big_params(state, path)
    state.pop(_NAME_TABLE, None)
    out: dict[str, np.ndarray] = {}
    for key, value in state.items():
        if type(value) is tuple and len(value) == 2 and isinstance(value[1], _Array):
            value = value[1]  # a tensor as paddle.save reduces it inside other objects: (name, array)
        if isinstance(value, _Array):
            if value.array is None:
                raise ConversionError(f"{path}: parameter {key} has no data (corrupt file)")
            out[str(key)] = value.array
    return out


def _join_big_params(state: dict[Any, Any], path: Path) -> dict[Any, Any]:
    """Parameters paddle.save split into slices under pickle protocols 2/3, joined again (checked)."""
    info = state.pop(_BIG_PARAMS, None)
    if info is None:
        return state
    bad: Callable[[str], ConversionError] = lambda why: ConversionError(  # noqa: E731
        f"{path}: malformed {_BIG_PARAMS} table ({why}): corrupt file")
    if not isinstance(info, dict):
        raise bad("not a dict")
    for key, entry in info.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("slices"), (list, tuple)):
            raise bad(f"entry {key!r:.80}")
        shape = entry.get("OriginShape")
        if not isinstance(shape, (list, tuple)) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise bad(f"shape of {key!r:.80}")
        parts = []
        for part in entry["slices"]:
            value = state.pop(part, None) if isinstance(part, str) else None
            if not isinstance(value, _Array) or value.array is None or value.array.ndim != 1:
                raise bad(f"slice {part!r:.80} of {key!r:.80}")
            parts.append(value.array)
        count = 1
        for d in shape:
            count *= d
        if not parts or sum(p.size for p in parts) != count or len({p.dtype for p in parts}) != 1:
            raise bad(f"the slices of {key!r:.80} do not make its shape {list(shape)}")
        joined = _Array()
        joined.array = np.concatenate(parts).reshape(tuple(shape))
        state[key] = joined
    return state
