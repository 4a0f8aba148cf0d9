"""Input and output shards of ``edgetext classify-dataset``: which files, which outputs are already written
(resuming skips them), reading the text column and writing results atomically (JSON lines or Parquet).

No Ray here: the driver reads and writes every shard itself, so the row order, the join of results to their input
rows and the "each row exactly once" check do not depend on how the cluster scheduled or retried the work.
pyarrow (a dependency of ``ray[data]``) is imported inside the functions.
"""
from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import InvalidInputError

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
SUFFIX = {"jsonl": ".jsonl", "parquet": ".parquet"}
RUN_RECORD = "_edgetext_run.json"  # the settings the shards in an output folder were written with


@dataclass(frozen=True)
class Shard:
    """One input file and the output file its results go to."""

    input: Path
    output: Path
    in_format: str
    out_format: str

    @property
    def done(self) -> bool:
        """Written by an earlier run: outputs appear only by atomic rename, so an existing one is complete."""
        return self.output.exists()


def find_inputs(spec: str) -> list[Path]:
    """The input files of a folder (its *.jsonl / *.json / *.ndjson / *.parquet files), a glob or one file, sorted."""
    path = Path(spec)
    if path.is_dir():
        found = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FORMATS]
    elif path.is_file():
        found = [path]
    else:
        found = [Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file()]
    found = [p for p in found if p.suffix.lower() in FORMATS]
    if not found:
        raise InvalidInputError(f"--input {spec!r}: no .jsonl/.json/.ndjson/.parquet files there")
    return sorted(found)


def plan_shards(inputs: list[Path], out_dir: Path, out_format: str | None = None) -> list[Shard]:
    """One output file per input file in `out_dir`, named after the input (its format, or `out_format`)."""
    if out_format is not None and out_format not in SUFFIX:
        raise InvalidInputError(f"output format {out_format!r}: expected one of {sorted(SUFFIX)}")
    shards: list[Shard] = []
    seen: dict[Path, Path] = {}
    for p in inputs:
        fmt_in = FORMATS[p.suffix.lower()]
        fmt_out = out_format or fmt_in
        out = out_dir / (p.stem + SUFFIX[fmt_out])
        if out in seen:  # two inputs of one name (a recursive glob): their results would overwrite each other
            raise InvalidInputError(f"{seen[out]} and {p} would both write {out}: rename one")
        seen[out] = p
        shards.append(Shard(p, out, fmt_in, fmt_out))
    return shards


def check_run_record(out_dir: Path, record: dict[str, Any]) -> None:
    """Refuse to resume into a folder written with other settings (another bundle, task, top_k, ...); else keep
    the record there, so the next run can check the same."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RUN_RECORD
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InvalidInputError(f"{path} is unreadable ({e}): remove it and the outputs, or use another "
                                    "--output") from None
        diff = sorted(k for k in set(old) | set(record) if old.get(k) != record.get(k))
        if diff:
            raise InvalidInputError(f"{out_dir} holds results written with other settings ({', '.join(diff)}: "
                                    f"{ {k: old.get(k) for k in diff} } there, now { {k: record.get(k) for k in diff} }"
                                    "); use another --output, or remove it to start over")
        return
    _atomic_write_bytes(path, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())


def read_shard(shard: Shard, text_column: str):
    """(the shard as a pyarrow Table, its texts as a list of str); InvalidInputError for a missing or non-text
    column and for nulls, naming the file and row."""
    import pyarrow as pa
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    try:
        if shard.in_format == "parquet":
            table = pq.read_table(shard.input)
        else:
            # every column a string unless it parses as JSON of another type; newlines_in_values: pretty JSON
            table = pajson.read_json(shard.input)
    except (OSError, pa.ArrowInvalid) as e:
        raise InvalidInputError(f"{shard.input}: not readable as {shard.in_format} ({e})") from None
    return table, read_column(table, shard, text_column)


def read_column(table: Any, shard: Shard, column: str, option: str = "--text-column") -> list[str]:
    """The texts of `column` of a shard's table; InvalidInputError for a missing or non-text column and for nulls."""
    import pyarrow as pa

    if column not in table.column_names:
        raise InvalidInputError(f"{shard.input}: no column {column!r} (columns: {table.column_names}); "
                                f"pick it with {option}")
    col = table.column(column)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise InvalidInputError(f"{shard.input}: column {column!r} is {col.type}, not text")
    texts = col.to_pylist()
    for i, t in enumerate(texts):
        if t is None:
            raise InvalidInputError(f"{shard.input}: row {i} has no {column!r}")
    return texts


def write_shard(table, shard: Shard) -> None:
    """Write `table` to shard.output atomically (a hidden partial file, then rename): a run killed while writing
    leaves no output, so the next run redoes that shard instead of skipping a truncated one."""
    import pyarrow.parquet as pq

    shard.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = shard.output.with_name(f".{shard.output.name}.{os.getpid()}.partial")
    try:
        if shard.out_format == "parquet":
            pq.write_table(table, tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as f:
                for row in table.to_pylist():
                    f.write(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, shard.output)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_output(path: Path) -> list[dict[str, Any]]:
    """An output shard's rows (for checks and tests): JSON lines or Parquet."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def chunk_bounds(n: int, size: int) -> Iterator[tuple[int, int]]:
    """[start, end) of consecutive chunks of `size` rows (the last may be shorter)."""
    for start in range(0, n, size):
        yield start, min(n, start + size)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    tmp.write_bytes(data)
    os.replace(tmp, path)
