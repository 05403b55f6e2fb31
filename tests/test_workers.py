"""`qa serve --workers N`: N uvicorn processes on one port, each with its own QA and hot reload."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FakeEncoder, build_sample
from test_serve import _children, free_port, wait_until_ready

import web.__main__
from qa.build import index_paths
from qa.cli import main
from qa.config import Settings
from qa.embed import Embedder
from qa.ingest import bundled_corpus

TESTS = Path(__file__).resolve().parent


def test_settings_survive_the_trip_through_the_environment() -> None:
    settings = Settings.from_env(env={}, index_dir=Path("/x/index"), port=0, workers=3, model_process=False)
    assert Settings.from_env(env=settings.to_env()) == settings
    assert "QA_API_KEY" not in settings.to_env()


@pytest.mark.parametrize("value", ["0", "65"])
def test_workers_out_of_range_is_refused(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert web.__main__.main(["--workers", value]) == 1
    assert "QA_WORKERS" in capsys.readouterr().err


def test_qa_serve_passes_workers_to_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    execs: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, args: execs.append(args))
    main(["serve", "--workers", "2", "--port", "9001"])
    (argv,) = execs
    assert argv[argv.index("--workers") + 1] == "2"


def test_workers_build_their_app_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """uvicorn gets an import string and the settings travel as QA_* variables to the workers."""
    import uvicorn

    environ = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    monkeypatch.setattr(os, "environ", environ)
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append((app, kwargs)))
    argv = ["--workers", "2", "--port", "9002", "--index-dir", str(tmp_path / "ix")]
    assert web.__main__.main(argv) == 0
    ((app, kwargs),) = calls
    assert app == web.__main__.APP_FACTORY
    assert (kwargs["factory"], kwargs["workers"], kwargs["port"]) == (True, 2, 9002)
    settings = Settings.from_env()
    assert (settings.index_dir, settings.workers) == (tmp_path / "ix", 2)
    assert kwargs["log_config"]["loggers"]["qa"]["level"] == "INFO"


def _worker_pids(pid: int) -> set[int]:
    """uvicorn's spawned workers among the children of `pid`."""
    return {k for k in _children(pid) if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()}


def _reloaded(log: str, generation: str) -> set[int]:
    """Processes that logged loading `generation`."""
    return {int(p) for p in re.findall(rf"reloaded index generation {generation} \(process (\d+)\)", log)}


def test_two_workers_answer_and_each_picks_up_a_rebuild(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    embedder = Embedder(FakeEncoder())
    build_sample(index_dir, embedder)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["QA_RELOAD_INTERVAL_S"] = "0.1"
    err_path = tmp_path / "stderr.txt"
    with err_path.open("w") as err:
        # crash_child runs the server with the fake embedder; the spawned workers run its module
        # code again (as multiprocessing's __mp_main__), so they get the fake embedder too.
        proc = subprocess.Popen(
            [sys.executable, str(TESTS / "crash_child.py"), "none", "0",
             "serve", "--index-dir", str(index_dir), "--port", str(port), "--workers", "2"],
            stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=tmp_path,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_ready(base, proc, 60, err_path.read_text)
            workers = _worker_pids(proc.pid)
            assert len(workers) == 2, err_path.read_text()
            # Both must be serving before the rebuild: a worker that starts after it loads the new
            # generation as its first, and never logs a reload of it.
            deadline = time.monotonic() + 60
            while err_path.read_text().count("Application startup complete") < 2:
                assert time.monotonic() < deadline and proc.poll() is None, err_path.read_text()
                time.sleep(0.1)
            r = httpx.post(f"{base}/ask", json={"question": "What did Sarandos say about Sora?"}, timeout=10)
            assert r.status_code == 200
            extra = tmp_path / "extra.md"
            extra.write_text("# Bridge\n\nThe old bridge over the river was closed for repairs in May.\n")
            generation = index_paths([bundled_corpus(), extra], embedder, index_dir).generation
            _ask_until_both_reload(base, err_path, generation, workers)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert all(not Path(f"/proc/{w}").exists() for w in workers), "a worker outlived the server"


def _ask_until_both_reload(base: str, err_path: Path, generation: str, workers: set[int]) -> None:
    """Ask /healthz on new connections, several at once so both workers accept some, until both
    have loaded `generation`; after that every answer names it."""

    def health(_: int) -> str:
        return str(httpx.get(f"{base}/healthz", timeout=10).json()["generation"])

    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(8) as pool:
        while _reloaded(err_path.read_text(), generation) != workers:
            assert time.monotonic() < deadline, err_path.read_text()
            list(pool.map(health, range(16)))
            time.sleep(0.2)
        assert set(pool.map(health, range(32))) == {generation}
