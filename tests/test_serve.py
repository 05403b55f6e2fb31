"""Safe defaults of `qa serve`: binds 127.0.0.1 unless told otherwise, and logs one line per
request (method, path, status, time) at info level, never the question."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FakeEncoder, build_sample

import qa.pipeline
from qa.cli import main
from qa.config import Settings
from qa.embed import Embedder

TESTS = Path(__file__).resolve().parent


def test_default_host_is_loopback() -> None:
    assert Settings().host == "127.0.0.1"
    assert Settings.from_env(env={}).host == "127.0.0.1"
    assert Settings.from_env(env={"QA_HOST": "0.0.0.0"}).host == "0.0.0.0"


@pytest.mark.parametrize(
    ("argv", "env", "host", "port"),
    [
        ([], {}, "127.0.0.1", 8000),
        (["--host", "::1", "--port", "9001"], {}, "::1", 9001),
        ([], {"QA_HOST": "0.0.0.0", "QA_PORT": "8080"}, "0.0.0.0", 8080),
    ],
    ids=["default", "flags", "environment"],
)
def test_serve_binds_where_told(
    sample_index: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    host: str,
    port: int,
) -> None:
    """`qa serve` execs `python -m web` with its options, and that binds where they say."""
    import uvicorn

    import web.__main__

    for name in [n for n in os.environ if n.startswith("QA_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    execs: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, args: execs.append(args))
    main(["serve", "--index-dir", str(sample_index), *argv])
    (exec_argv,) = execs
    assert exec_argv[:3] == [sys.executable, "-m", "web"]
    monkeypatch.setattr(qa.embed.Embedder, "from_settings", lambda *args, **kwargs: Embedder(FakeEncoder()))
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    assert web.__main__.main(exec_argv[3:]) == 0
    (kwargs,) = calls
    assert (kwargs["host"], kwargs["port"]) == (host, port)


def wait_until_ready(
    base: str, proc: subprocess.Popen[bytes], seconds: float, log: Callable[[], str] = lambda: ""
) -> None:
    """Poll /healthz until it answers 200; fail if the server exits or takes longer than `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, log()
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_qa_serve_logs_one_line_per_request_without_the_question(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_sample(index_dir, Embedder(FakeEncoder()))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    err_path = tmp_path / "stderr.txt"
    question = "What did Sarandos say about Sora?"
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(TESTS / "crash_child.py"), "none", "0",
             "serve", "--index-dir", str(index_dir), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=tmp_path,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_ready(base, proc, 30, lambda: err_path.read_text())
            assert httpx.post(f"{base}/ask", json={"question": question}, timeout=10).status_code == 200
            assert httpx.post(f"{base}/ask", json={"question": "  "}, timeout=10).status_code == 422
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    log = err_path.read_text()
    assert f"Uvicorn running on http://127.0.0.1:{port}" in log
    lines = [line for line in log.splitlines() if "qa.web" in line]
    requests = [line for line in lines if " /ask " in line]
    assert len(requests) == 2, log
    assert re.fullmatch(r"INFO qa\.web: POST /ask 200 \d+\.\dms", requests[0]), requests
    assert re.fullmatch(r"INFO qa\.web: POST /ask 422 \d+\.\dms", requests[1]), requests
    assert "Sarandos" not in log and question not in log


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


@pytest.mark.slow
def test_qa_serve_runs_the_model_in_a_child_process_and_stops_it(tmp_path: Path, real_embedder: Any) -> None:
    index_dir = tmp_path / "index"
    build_sample(index_dir, real_embedder)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    qa_command = Path(sys.executable).parent / "qa"
    proc = subprocess.Popen(
        [str(qa_command), "serve", "--index-dir", str(index_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(base, proc, 60)
        r = httpx.post(f"{base}/ask", json={"question": "What did Sarandos say about Sora?"}, timeout=30)
        assert r.status_code == 200 and not r.json()["abstained"]
        model = [
            k for k in _children(proc.pid) if b"multiprocessing" in Path(f"/proc/{k}/cmdline").read_bytes()
        ]
        assert model, "no model process under qa serve"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{k}").exists() for k in model) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{k}").exists() for k in model), "the model process outlived the server"
