"""Paddle Lite backend: MobileConfig + a .nb model loaded from memory.

Threads: on x86 the Python Lite build has no working set_threads; its kernels
use OpenMP/MKL, which read OMP_NUM_THREADS / MKL_NUM_THREADS once, when Lite is
first loaded. So the first PaddleLiteBackend of a process sets both variables
(when `threads` is given and they are unset or differ) *before* importing
paddlelite; later backends in the same process share that setting, and
describe() says so. Where MobileConfig has set_threads (ARM builds) it is used.
A Lite predictor is not thread-safe: run() holds a lock.

Untrusted bytes: Paddle Lite's loader trusts its input (a truncated .nb crashes the process
with SIGSEGV, garbage or an ONNX file with SIGABRT). So before Lite sees a model in this
process, :func:`edgetext.modelcheck.check_paddlelite_nb` checks the container (header, sizes,
the parameter chain, kernel targets), and :func:`probe` loads it and runs one tiny input in a
child process; only when the child exits cleanly is the model loaded here. Probe results are
cached per sha256 for the life of the process (``probe_cache_clear()`` empties it). What
remains: a model that passes the probe can still crash Lite on inputs the probe did not try
(other shapes); the probe costs one process start (~0.3 s) per distinct model and process.

May import: numpy, edgetext.errors, edgetext.manifest, edgetext.modelcheck, .base; paddlelite inside
:func:`_load_lite` (and the probe child) only.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading

import numpy as np

from ..errors import BackendError, BackendUnavailableError
from ..manifest import ModelSpec
from ..modelcheck import check_paddlelite_nb
from .base import model_bytes

_IMPORT_LOCK = threading.Lock()
_lite_threads_env: str | None = None  # OMP_NUM_THREADS in force when this process first loaded Lite


def _load_lite(threads: int | None):
    global _lite_threads_env
    with _IMPORT_LOCK:
        if "paddlelite.lite" not in sys.modules:
            if threads:
                os.environ["OMP_NUM_THREADS"] = str(threads)
                os.environ["MKL_NUM_THREADS"] = str(threads)
            _lite_threads_env = os.environ.get("OMP_NUM_THREADS")
        try:
            import paddlelite.lite as lite
        except ImportError as e:
            raise BackendUnavailableError(f"paddlelite is not importable ({e}): pip install edgetext[lite] "
                                          "(Python 3.10 x86_64, numpy<2)") from None
        return lite


PROBE_TIMEOUT_S = 300.0
_PROBED: dict[str, str | None] = {}  # sha256 -> None (loaded and ran cleanly) or the reason it did not
_PROBE_LOCK = threading.Lock()
# The child: load the .nb from stdin, run one [1, 2] input (ids 1, 2: any real vocabulary has them),
# print the output's dtype and shape. It imports paddlelite and numpy only, never edgetext.
_PROBE_CODE = r"""
import json, sys
import numpy as np
import paddlelite.lite as lite
declared = {name: (role, dtype) for name, role, dtype in json.loads(sys.argv[1])}
config = lite.MobileConfig()
config.set_model_from_buffer(sys.stdin.buffer.read())
predictor = lite.create_paddle_predictor(config)
row = {"input_ids": [[1, 2]], "token_type_ids": [[0, 0]], "attention_mask": [[1, 1]]}
for name in predictor.get_input_names():  # every input the model has (the parent compares names)
    guess = "attention_mask" if "mask" in name else "token_type_ids" if "type" in name or "segment" in name \
        else "input_ids"
    role, dtype = declared.get(name, (guess, "int64"))
    predictor.get_input_by_name(name).from_numpy(np.asarray(row[role], dtype=dtype))
predictor.run()
out = np.asarray(predictor.get_output_by_name(predictor.get_output_names()[0]).numpy())
print(json.dumps({"dtype": str(out.dtype), "shape": list(out.shape)}))
"""


def probe_cache_clear() -> None:
    with _PROBE_LOCK:
        _PROBED.clear()


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def probe(model: bytes, spec: ModelSpec, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Load `model` and run one tiny input with Paddle Lite in a child process; BackendError when it
    crashes, fails or hangs there (so that it cannot take this process down). Cached per sha256."""
    digest = hashlib.sha256(model).hexdigest()
    with _PROBE_LOCK:
        if digest in _PROBED:
            cached = _PROBED[digest]
            if cached is not None:
                raise BackendError(cached)
            return
    inputs = json.dumps([[i.name, i.role, i.dtype] for i in spec.inputs])
    env = dict(os.environ, GLOG_minloglevel="3", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    why: str | None = None
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE_CODE, inputs], input=model, capture_output=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        why = f"Paddle Lite did not load and run {spec.file} within {timeout:.0f} s in a probe process: refused"
    except OSError as e:
        raise BackendError(f"cannot start the Paddle Lite probe process for {spec.file}: {e}") from None
    else:
        tail = " | ".join(line.strip() for line in proc.stderr.decode("utf-8", "replace").splitlines()[-3:]
                          if line.strip())[-400:]
        if proc.returncode < 0:
            why = (f"Paddle Lite crashed ({_signal_name(proc.returncode)}) loading or running {spec.file} in a "
                   "probe process: the .nb file is malformed or not for this Paddle Lite; it was not loaded into "
                   "this process" + (f" (Lite said: {tail})" if tail else ""))
        elif proc.returncode != 0:
            why = f"Paddle Lite cannot load or run {spec.file} (probe process exit {proc.returncode}): {tail}"
        else:
            try:
                out = json.loads(proc.stdout.decode("utf-8").strip().splitlines()[-1])
                kind = np.dtype(out["dtype"]).kind
            except (ValueError, IndexError, KeyError, TypeError):
                why = f"the Paddle Lite probe of {spec.file} printed no result: {tail}"
            else:
                if kind != "f":
                    why = (f"{spec.file} outputs {out['dtype']} values, not floating-point logits: refused "
                           "(integer outputs are not cast)")
    with _PROBE_LOCK:
        _PROBED[digest] = why
    if why is not None:
        raise BackendError(why)


class PaddleLiteBackend:
    name = "paddlelite"

    def __init__(self, model: bytes | str, spec: ModelSpec, threads: int | None, device: str = "cpu"):
        if device.lower() != "cpu":
            raise BackendUnavailableError(f"Paddle Lite runs on the CPU only, not {device!r}")
        if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
            raise BackendUnavailableError("paddlelite 2.13 corrupts int64 inputs under numpy 2: install numpy<2")
        self.spec = spec
        self.requested_threads = threads
        model = model_bytes(model)
        check_paddlelite_nb(model, spec.file, spec.target)
        lite = _load_lite(threads)  # importing Lite is safe; parsing untrusted bytes here is not, hence:
        probe(model, spec)
        config = lite.MobileConfig()
        config.set_model_from_buffer(model)
        self._set_threads = bool(hasattr(config, "set_threads") and threads)
        if self._set_threads and threads:
            config.set_threads(int(threads))
        try:
            self.predictor = lite.create_paddle_predictor(config)
        except Exception as e:  # noqa: BLE001 (Lite raises bare RuntimeError/others; re-raised as BackendError)
            raise BackendError(f"Paddle Lite cannot load {spec.file}: {str(e).strip()[:500]}") from None
        self._version = self.predictor.get_version() if hasattr(self.predictor, "get_version") else "?"
        names = list(self.predictor.get_input_names())
        declared = [i.name for i in spec.inputs]
        if set(names) != set(declared):
            raise BackendError(f"{spec.file}: the model's inputs {names} differ from the manifest's {declared}")
        outs = list(self.predictor.get_output_names())
        if spec.output.name not in outs:
            raise BackendError(f"{spec.file}: no output {spec.output.name!r} (it has {outs})")
        self._lock = threading.Lock()

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        with self._lock:
            try:
                for i in self.spec.inputs:
                    self.predictor.get_input_by_name(i.name).from_numpy(np.ascontiguousarray(inputs[i.role]))
                self.predictor.run()
                out = np.asarray(self.predictor.get_output_by_name(self.spec.output.name).numpy())
            except Exception as e:  # noqa: BLE001 (any engine failure becomes BackendError)
                raise BackendError(f"Paddle Lite failed on {self.spec.file}: {str(e).strip()[:500]}") from None
            if out.dtype.kind != "f":
                raise BackendError(f"{self.spec.file} output {self.spec.output.name!r} is {out.dtype}, not "
                                   "floating-point logits: refused (integer outputs are not cast)")
            return np.array(out, dtype=np.float32, copy=True)

    def describe(self) -> dict:
        env = _lite_threads_env
        threads: int | str | None
        if self._set_threads:
            threads, how = self.requested_threads, "MobileConfig.set_threads"
        elif env is None:
            threads = "OpenMP default (all cores)"
            how = "OMP_NUM_THREADS was unset when Paddle Lite was first loaded in this process"
        else:
            threads = int(env) if env.isdigit() else env
            how = (f"OMP_NUM_THREADS/MKL_NUM_THREADS={env}, set before Paddle Lite was first loaded in this "
                   "process (process-wide on x86: later requests cannot change it)")
            if self.requested_threads and str(self.requested_threads) != env:
                how += f"; requested {self.requested_threads} was not applied"
        return {"engine": f"paddlelite {self._version}", "places": "host CPU (naive_buffer .nb)",
                "threads": threads, "threads_how": how}
