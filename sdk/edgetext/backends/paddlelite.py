"""Paddle Lite backend: MobileConfig + a .nb model loaded from memory.

Threads: on x86 the Python Lite build has no working set_threads; its kernels
use OpenMP/MKL, which read OMP_NUM_THREADS / MKL_NUM_THREADS once, when Lite is
first loaded. So the first PaddleLiteBackend of a process sets both variables
(when `threads` is given and they are unset or differ) *before* importing
paddlelite; later backends in the same process share that setting, and
describe() says so. Where MobileConfig has set_threads (ARM builds) it is used.
A Lite predictor is not thread-safe: run() holds a lock.

May import: numpy, edgetext.errors, edgetext.manifest; paddlelite inside
:func:`_load_lite` only.
"""
from __future__ import annotations

import os
import sys
import threading

import numpy as np

from ..errors import BackendError, BackendUnavailableError
from ..manifest import ModelSpec

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


class PaddleLiteBackend:
    name = "paddlelite"

    def __init__(self, model: bytes | str, spec: ModelSpec, threads: int | None, device: str = "cpu"):
        if device.lower() != "cpu":
            raise BackendUnavailableError(f"Paddle Lite runs on the CPU only, not {device!r}")
        if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
            raise BackendUnavailableError("paddlelite 2.13 corrupts int64 inputs under numpy 2: install numpy<2")
        self.spec = spec
        self.requested_threads = threads
        lite = _load_lite(threads)
        config = lite.MobileConfig()
        if isinstance(model, (bytes, bytearray)):
            config.set_model_from_buffer(bytes(model))
        else:
            config.set_model_from_file(str(model))
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
                out = self.predictor.get_output_by_name(self.spec.output.name).numpy()
            except Exception as e:  # noqa: BLE001 (any engine failure becomes BackendError)
                raise BackendError(f"Paddle Lite failed on {self.spec.file}: {str(e).strip()[:500]}") from None
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
