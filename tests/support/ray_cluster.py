"""A real local Ray cluster on 127.0.0.1 for tests and bench/: a head and extra worker nodes, each a `ray start
--block` process of this venv in its own process group, so teardown ends exactly the processes it started (never
`ray stop`, which ends every Ray process on the machine)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
OBJECT_STORE_BYTES = 100 * 1024 * 1024  # small: the machine is shared; bundles and chunks are a few MB
# Ray 2.60 turns token authentication on by default (a token in ~/.ray, shared by every cluster of this user); a
# throwaway cluster on this host runs without it, and so must every process that talks to it (CLIENT_ENV).
CLIENT_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalCluster:
    """``with LocalCluster(nodes=2) as c: c.address`` -- ``nodes`` node processes of ``cpus_per_node`` CPUs each."""

    def __init__(self, nodes: int = 2, cpus_per_node: int = 1, timeout: float = 300.0):
        self.nodes, self.cpus_per_node, self.timeout = nodes, cpus_per_node, timeout
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Ray's unix sockets live under the temp dir and must stay under ~107 bytes: a short path of our own.
        self.temp_dir = tempfile.mkdtemp(prefix="etray-", dir="/tmp")
        self.procs: list[subprocess.Popen] = []
        self.log_dir = Path(self.temp_dir) / "node-logs"
        self.log_dir.mkdir()
        self.failed = False

    def _start(self, args: list[str], name: str) -> subprocess.Popen:
        env = dict(os.environ, **CLIENT_ENV, RAY_DISABLE_DOCKER_CPU_WARNING="1")
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 (kept open for the process's life)
        proc = subprocess.Popen([RAY, "start", "--block", "--disable-usage-stats", f"--num-cpus={self.cpus_per_node}",
                                 f"--object-store-memory={OBJECT_STORE_BYTES}", "--node-ip-address=127.0.0.1",
                                 *args], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start(self) -> "LocalCluster":
        self._start(["--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.temp_dir}",
                     "--dashboard-agent-listen-port=0"], "head")
        self._wait_nodes(1)
        for i in range(1, self.nodes):
            self._start([f"--address={self.address}"], f"worker{i}")
        self._wait_nodes(self.nodes)
        return self

    def _wait_nodes(self, n: int) -> None:
        """Until `ray status` shows n live nodes (the GCS answers and every raylet has registered)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a Ray node exited ({p.returncode}); logs in {self.log_dir}")
            r = subprocess.run([RAY, "status", f"--address={self.address}"], capture_output=True, text=True,
                               timeout=60, env=dict(os.environ, **CLIENT_ENV))
            if r.returncode == 0 and r.stdout.count("node_") >= n:
                return
            time.sleep(1.0)
        raise TimeoutError(f"{n} Ray nodes not up after {self.timeout}s; logs in {self.log_dir}")

    def kill_worker_node(self, i: int = 1) -> None:
        """SIGKILL the process group of extra node i (its raylet, object store and workers)."""
        os.killpg(self.procs[i].pid, signal.SIGKILL)

    def stop(self) -> None:
        for p in reversed(self.procs):  # workers first, the head last
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)
        if self.failed:  # keep the node logs the error message points to
            shutil.rmtree(Path(self.temp_dir) / "session_latest", ignore_errors=True)
        else:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> "LocalCluster":
        try:
            return self.start()
        except BaseException:
            self.failed = True
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def actor_pids(marker: str = "MapWorker") -> list[int]:
    """Processes whose title (Ray sets it to ``ray::ClassName...``) names a Ray Data actor."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if cmd.startswith("ray::") and marker in cmd:
            pids.append(int(entry.name))
    return sorted(pids)
