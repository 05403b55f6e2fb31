"""`qa serve` (or another server command) in a child process on a free loopback port."""

from __future__ import annotations

import http.client
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bench.child import child_env
from bench.paths import PY, ROOT

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _healthy(port: int) -> bool:
    """Does GET /healthz answer 200 now?"""
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=1)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        finally:
            conn.close()
    except OSError:
        return False


class Server:
    """`qa serve` (or another command) in a child process on 127.0.0.1, stopped on exit.

    The environment is this one without QA_* settings, plus `env`. Its output goes to a temporary
    log, whose text is `output` once the server has stopped.
    """

    def __init__(self, index_dir: Path, env: dict[str, str] | None = None, argv: list[str] | None = None):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.index_dir = index_dir
        self.argv = [
            *(argv or [PY, "-m", "qa.cli", "serve"]),
            *("--host", HOST, "--port", str(self.port), "--index-dir", str(index_dir)),
        ]
        self.env = child_env(env)
        self.log = tempfile.NamedTemporaryFile(prefix="qa-bench-server-", suffix=".log", delete=False)  # noqa: SIM115
        self.output = ""

    def __enter__(self) -> Server:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )
        return self

    def wait_ready(self, timeout: float = 120.0, interval: float = 0.01) -> float:
        """Seconds from spawning the process until GET /healthz answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self._log_text()}")
            if _healthy(self.port):
                return time.perf_counter() - self.started
            time.sleep(interval)
        raise TimeoutError(f"server not ready in {timeout} s: {self._log_text()}")

    def _log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.output = self._log_text()
        self.log.close()
        Path(self.log.name).unlink()
