"""Triton Inference Server for the tests: the ``tritonserver`` binary that PyTriton's wheel bundles (with the
Python backend only), installed on first use into .cache/tritonserver (requirements/triton.txt, --no-deps: see
there), and a server process on 127.0.0.1 over a model repository, ended by its own process group."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / ".cache" / "tritonserver"
REQUIREMENTS = ROOT / "requirements" / "triton.txt"
SERVER = PREFIX / "pytriton" / "tritonserver"


def install() -> Path:
    """The tritonserver folder (bin/, backends/), pip-installed once; RuntimeError when pip cannot."""
    stamp = PREFIX / ".stamp"
    if not stamp.exists() or stamp.read_text() != REQUIREMENTS.read_text():
        r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--upgrade", "--target",
                            str(PREFIX), "-r", str(REQUIREMENTS)], capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError(f"pip could not install {REQUIREMENTS.name}: {r.stderr[-2000:]}")
        stamp.write_text(REQUIREMENTS.read_text())
    return SERVER


def backends() -> Path:
    """A backend directory whose python/ holds the backend and the stub for this Python (PyTriton keeps one stub
    per Python version under python_backend_stubs/ and copies the right one in at run time: done here once)."""
    server = install()
    folder = PREFIX / f"backends-py{sys.version_info.major}{sys.version_info.minor}" / "python"
    if not (folder / "triton_python_backend_stub").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for f in (p for p in (server / "backends" / "python").iterdir() if p.is_file()):
            shutil.copy2(f, folder / f.name)
        shutil.copy2(server / "python_backend_stubs" / f"{sys.version_info.major}.{sys.version_info.minor}"
                     / "triton_python_backend_stub", folder / "triton_python_backend_stub")
    return folder.parent


def model_config_pb2():
    """Triton's ModelConfig protobuf module (tritonclient's generated model_config_pb2), for parsing config.pbtxt;
    loaded from its file: the tritonclient.grpc package itself wants grpcio, which the proto does not."""
    import importlib.util

    if "model_config_pb2" in sys.modules:
        return sys.modules["model_config_pb2"]
    path = install() and PREFIX / "tritonclient" / "grpc" / "model_config_pb2.py"
    spec = importlib.util.spec_from_file_location("model_config_pb2", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.modules["model_config_pb2"] = mod
    return mod


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TritonServer:
    """``with TritonServer(repo) as s: s.infer(model, texts)``: tritonserver on 127.0.0.1, HTTP only."""

    def __init__(self, repository: Path, timeout: float = 180.0, exit_on_error: bool = True):
        """exit_on_error=False: serve the models that load (start() then waits for liveness, not readiness)."""
        self.repository, self.timeout, self.exit_on_error = repository, timeout, exit_on_error
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = repository.parent / f"tritonserver-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "TritonServer":
        server = install()
        backend_dir = backends()
        env = dict(os.environ)
        # the Python backend's stub links libpython3.10 (this interpreter's) and the wheel's vendored libraries
        # (found through the binary's rpath, which a stub copied elsewhere lacks); edgetext from the source tree
        env["LD_LIBRARY_PATH"] = ":".join(filter(None, [sysconfig.get_config_var("LIBDIR"),
                                                        str(PREFIX / "nvidia_pytriton.libs"),
                                                        env.get("LD_LIBRARY_PATH")]))
        site = sysconfig.get_paths()["purelib"]
        env["PYTHONPATH"] = ":".join([str(ROOT / "sdk"), site])
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (open for the server's life)
        self.proc = subprocess.Popen(
            [str(server / "bin" / "tritonserver"), f"--model-repository={self.repository}",
             f"--backend-directory={backend_dir}", "--http-address=127.0.0.1", f"--http-port={self.port}",
             "--allow-grpc=false", "--allow-metrics=false", f"--exit-on-error={str(self.exit_on_error).lower()}",
             "--strict-readiness=true",
             "--log-verbose=0"],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tritonserver exited ({self.proc.returncode}):\n{self.log()[-4000:]}")
            try:
                probe = "ready" if self.exit_on_error else "live"
                with urllib.request.urlopen(f"{self.url}/v2/health/{probe}", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"tritonserver not ready after {self.timeout}s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        req = urllib.request.Request(f"{self.url}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def infer(self, model: str, texts: list[str]) -> tuple[int, dict]:
        """KServe v2 JSON inference: TEXT [n, 1] BYTES; (status, body)."""
        return self.post(f"/v2/models/{model}/infer", {"inputs": [
            {"name": "TEXT", "shape": [len(texts), 1], "datatype": "BYTES", "data": texts}]})

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> "TritonServer":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
