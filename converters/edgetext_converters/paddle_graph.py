"""Paddle inference programs (legacy ``.pdmodel`` + combined ``.pdiparams``): load, inspect,
edit, save. Everything runs in static mode inside a private scope; the caller's mode is kept.

Used by the reader of Paddle inference models, by the passes (vocabulary trimming, position
trimming, output renaming, the Lite ``fill_constant`` repair) and by the writers.
"""
from __future__ import annotations

import zlib  # noqa: F401  (before paddle: libpaddle carries its own zlib; see the converters README)

import contextlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from edgetext.errors import ConversionError

from .description import GraphModel
from .io_names import feed_role  # noqa: F401  (re-exported: readers and passes ask the graph's inputs' roles)

_PASS_THROUGH = ("cast", "reshape2", "reshape", "unsqueeze2", "squeeze2", "assign", "scale")
MIN_POSITION_ROWS = 32  # an unrecognised lookup table smaller than this is not taken for the position table


@contextlib.contextmanager
def static_mode() -> Iterator[None]:
    import paddle

    was_dygraph = paddle.in_dynamic_mode()
    paddle.enable_static()
    try:
        yield
    finally:
        if was_dygraph:
            paddle.disable_static()


@contextlib.contextmanager
def dygraph_mode() -> Iterator[None]:
    """Paddle's dynamic-graph mode for the block (building, training, exporting layers), the caller's mode after."""
    import paddle

    was_static = not paddle.in_dynamic_mode()
    if was_static:
        paddle.disable_static()
    try:
        yield
    finally:
        if was_static:
            paddle.enable_static()


def find_model_files(folder: str | os.PathLike) -> tuple[Path, Path]:
    """The (.pdmodel, .pdiparams) pair in ``folder`` (or the prefix/path given)."""
    p = Path(folder)
    if p.is_file() and p.suffix == ".pdmodel":
        params = p.with_suffix(".pdiparams")
        if not params.is_file():
            raise ConversionError(f"{p} has no parameters file {params.name} next to it")
        return p, params
    if not p.is_dir():
        prefix = Path(str(p) + ".pdmodel")
        if prefix.is_file():
            return find_model_files(prefix)
        raise ConversionError(f"{folder}: no such Paddle inference model (folder or .pdmodel)")
    models = sorted(p.glob("*.pdmodel"))
    if not models:
        if (p / "__model__").is_file():
            raise ConversionError(f"{folder}: the very old '__model__' layout is not supported; re-export it "
                                  "with paddle.jit.save (Paddle 2.x)")
        if list(p.glob("*.json")) and list(p.glob("*.pdiparams")):
            raise ConversionError(f"{folder}: this looks like a Paddle 3 PIR export (.json); Paddle Lite 2.13 "
                                  "cannot read it: export with Paddle 2.6 (legacy .pdmodel), or with Paddle 3 "
                                  "and FLAGS_enable_pir_api=0")
        raise ConversionError(f"{folder}: no *.pdmodel file")
    if len(models) > 1:
        preferred = [m for m in models if m.stem in ("inference", "model", "float32")]
        if len(preferred) != 1:
            raise ConversionError(f"{folder}: several .pdmodel files ({', '.join(m.name for m in models)}); "
                                  "pass the .pdmodel path itself")
        models = preferred
    return find_model_files(models[0])


def load_graph(model_file: str | os.PathLike, params_file: str | os.PathLike) -> GraphModel:
    """Read a legacy inference model into a :class:`GraphModel` (program bytes + numpy params)."""
    import paddle

    model_file, params_file = Path(model_file), Path(params_file)
    data = model_file.read_bytes()
    with static_mode():
        try:
            program = paddle.static.Program.parse_from_string(data)
        except Exception as e:  # noqa: BLE001  (protobuf/paddle raise anything on garbage: one clear error)
            raise ConversionError(f"{model_file} is not a Paddle program (corrupt or not a .pdmodel): "
                                  f"{str(e).splitlines()[0][:200]}") from None
        block = program.global_block()
        feeds = sorted(((op.attr("col"), op.output("Out")[0]) for op in block.ops if op.type == "feed"))
        fetches = sorted(((op.attr("col"), op.input("X")[0]) for op in block.ops if op.type == "fetch"))
        if not feeds or not fetches:
            raise ConversionError(f"{model_file} has no feed/fetch ops: not an inference model")
        persist = [v for v in program.list_vars() if v.persistable and v.type not in (
            paddle.framework.core.VarDesc.VarType.FEED_MINIBATCH, paddle.framework.core.VarDesc.VarType.FETCH_LIST,
            paddle.framework.core.VarDesc.VarType.RAW)]
        scope = paddle.static.Scope()
        exe = paddle.static.Executor(paddle.CPUPlace())
        with paddle.static.scope_guard(scope):
            try:
                paddle.static.io.load_vars(exe, dirname=str(params_file.parent), main_program=program,
                                           vars=persist, filename=params_file.name)
            except Exception as e:  # noqa: BLE001  (paddle raises anything on a bad file: one clear error)
                raise ConversionError(f"{params_file}: cannot load the parameters of {model_file.name} "
                                      f"(truncated or from another model?): {str(e).strip().splitlines()[-1][:300]}"
                                      ) from None
            params = {v.name: np.array(scope.find_var(v.name).get_tensor()) for v in persist}
        for v in persist:
            want = tuple(v.shape)
            got = params[v.name].shape
            if want and tuple(got) != want:
                raise ConversionError(f"parameter {v.name}: the program declares shape {list(want)}, the params file "
                                      f"holds {list(got)}")
        dtypes = {}
        for _, n in feeds:
            dt = str(block.var(n).dtype).lower()
            dtypes[n] = "int32" if "int32" in dt else "int64" if "int64" in dt else dt
            if dtypes[n] not in ("int64", "int32"):
                raise ConversionError(f"{model_file}: input {n} has dtype {dt}; token ids must be int64 or int32")
    return GraphModel(program_bytes=data, params=params, feed_names=[n for _, n in feeds],
                      fetch_names=[n for _, n in fetches], feed_dtypes=dtypes)


def save_graph(graph: GraphModel, path_prefix: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``<prefix>.pdmodel`` and ``<prefix>.pdiparams``; returns both paths."""
    import paddle

    prefix = str(path_prefix)
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    with static_mode():
        program = paddle.static.Program.parse_from_string(graph.program_bytes)
        scope = paddle.static.Scope()
        exe = paddle.static.Executor(paddle.CPUPlace())
        with paddle.static.scope_guard(scope):
            for name, arr in graph.params.items():
                scope.var(name).get_tensor().set(np.ascontiguousarray(arr), paddle.CPUPlace())
            blob = paddle.static.io._serialize_persistables(program, exe)
    Path(prefix + ".pdmodel").write_bytes(graph.program_bytes)
    Path(prefix + ".pdiparams").write_bytes(blob)
    return Path(prefix + ".pdmodel"), Path(prefix + ".pdiparams")


class ProgramEditor:
    """Parse a GraphModel's program, edit it, and :meth:`commit` the bytes back."""

    def __init__(self, graph: GraphModel):
        import paddle

        self.graph = graph
        self._ctx = static_mode()
        self._ctx.__enter__()
        self.program = paddle.static.Program.parse_from_string(graph.program_bytes)
        self.block = self.program.global_block()

    def __enter__(self) -> "ProgramEditor":
        return self

    def __exit__(self, *exc) -> None:
        self._ctx.__exit__(*exc)

    # -------------------------------------------------------------- queries
    def ops(self):
        return list(self.block.ops)

    def producer(self, var_name: str):
        for op in self.block.ops:
            for out in op.output_names:
                if var_name in op.output(out):
                    return op
        return None

    def ancestors(self, var_name: str, limit: int = 200) -> list:
        seen: set[int] = set()
        out: list = []
        stack = [var_name]
        while stack and len(out) < limit:
            v = stack.pop()
            op = self.producer(v)
            if op is None or id(op) in seen:
                continue
            seen.add(id(op))
            out.append(op)
            for n in op.input_names:
                stack.extend(op.input(n))
        return out

    def source_feed(self, var_name: str) -> str | None:
        """The feed variable that ``var_name`` is (through cast/reshape-like ops only)."""
        v = var_name
        for _ in range(10):
            if v in self.graph.feed_names:
                return v
            op = self.producer(v)
            if op is None or op.type not in _PASS_THROUGH:
                return None
            v = op.input("X")[0]
        return None

    def embeddings(self) -> dict[str, str]:
        """{"word"|"token_type"|"position"|"task_type": parameter name} of the lookup tables.

        Word and token-type tables are fed (through cast/reshape-like ops) by their inputs;
        the position table by ids built with cumsum or range. Ids built otherwise (e.g. a slice
        of a persistable ``position_ids`` buffer, as Hugging Face exports do) are not
        recognised: of those tables the one with the most rows is the position table, if it has
        at least ``MIN_POSITION_ROWS`` (task-type and unfed token-type tables have at most 16 rows
        in every BERT/ERNIE release) and no other table ties with it; otherwise none is named
        position (trim_positions then leaves the model alone)."""
        found: dict[str, str] = {}
        others: list[str] = []
        for op in self.block.ops:
            if op.type not in ("lookup_table_v2", "lookup_table"):
                continue
            w, ids = op.input("W")[0], op.input("Ids")[0]
            feed = self.source_feed(ids)
            if feed is not None:
                role = feed_role(feed)
                if role == "input_ids":
                    found.setdefault("word", w)
                elif role == "token_type_ids":
                    found.setdefault("token_type", w)
                continue
            if any(a.type in ("cumsum", "range") for a in self.ancestors(ids)):
                found.setdefault("position", w)
            elif w not in others:
                others.append(w)
        if "position" not in found and others:
            rows = {w: self._rows(w) for w in others}
            most = max(rows.values())
            largest = [w for w in others if rows[w] == most]
            if len(largest) == 1 and most >= MIN_POSITION_ROWS:
                found["position"] = largest[0]
                others.remove(largest[0])
        if others:
            found.setdefault("task_type", others[0])
        return found

    def _rows(self, param: str) -> int:
        arr = self.graph.params.get(param)
        if arr is not None:
            return int(arr.shape[0])
        shape = list(self.block.var(param).shape) if self.block.has_var(param) else []
        return int(shape[0]) if shape and shape[0] and shape[0] > 0 else 0

    # ---------------------------------------------------------------- edits
    def set_param(self, name: str, value: np.ndarray) -> None:
        if not self.block.has_var(name):
            raise ConversionError(f"the program has no parameter {name!r}")
        self.block.var(name).desc.set_shape(list(value.shape))
        self.graph.params[name] = np.ascontiguousarray(value)

    def rename_fetch(self, new_name: str) -> bool:
        fetched = [op.input("X")[0] for op in self.block.ops if op.type == "fetch"]
        if len(fetched) != 1 or fetched[0] == new_name:
            return False
        if self.block.has_var(new_name):
            raise ConversionError(f"cannot rename the output to {new_name!r}: the name is taken")
        self.block._rename_var(fetched[0], new_name)
        self.graph.fetch_names = [new_name]
        return True

    def scalar_fill_constants(self) -> list:
        """fill_constant ops with shape [] and no shape/value tensor inputs (the Lite pitfall)."""
        bad = []
        for op in self.block.ops:
            if op.type != "fill_constant" or list(op.attr("shape")) != []:
                continue
            dyn = [n for n in ("ShapeTensor", "ShapeTensorList", "ValueTensor")
                   if n in op.input_names and op.input(n)]
            if not dyn:
                bad.append(op)
        return bad

    def repair_scalar_fill_constants(self) -> int:
        """Give each such fill_constant the shape [1] (it broadcasts identically; converters README)."""
        ops = self.scalar_fill_constants()
        for op in ops:
            op._set_attr("shape", [1])
            out = op.output("Out")[0]
            if self.block.has_var(out):
                self.block.var(out).desc.set_shape([1])
        return len(ops)

    def pad_compare_constants(self) -> list:
        """fill_constant ops compared (``equal``/``not_equal``) with input_ids: the pad-id mask."""
        found = []
        for op in self.block.ops:
            if op.type not in ("equal", "not_equal"):
                continue
            x, y = op.input("X")[0], op.input("Y")[0]
            for a, b in ((x, y), (y, x)):
                feed = self.source_feed(a)
                if feed is not None and feed_role(feed) == "input_ids":
                    prod = self.producer(b)
                    if prod is not None and prod.type == "fill_constant":
                        found.append(prod)
                    elif prod is not None and prod.type in ("fill_any_like", "full_like"):
                        found.append(prod)
        return found

    def commit(self) -> GraphModel:
        self.graph.program_bytes = self.program.desc.serialize_to_string()
        return self.graph


def op_types(graph: GraphModel) -> list[str]:
    with ProgramEditor(graph) as ed:
        return sorted({op.type for op in ed.ops()})
