"""The machine: its facts, the CPU taken by us and by others, and the memory of a process tree."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "torch",
    "faiss-cpu",
    "numpy",
    "sentence-transformers",
    "transformers",
    "tokenizers",
    "fastapi",
    "uvicorn",
    "uvloop",
    "httptools",
)


def _proc_value(path: str, key: str) -> str | None:
    """What follows the colon on the first line of a /proc file that starts with `key`."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """CPU, cores, memory and the versions that matter, without importing the heavy libraries."""
    mem_kib = _proc_value("/proc/meminfo", "MemTotal:")
    return {
        "cpu": _proc_value("/proc/cpuinfo", "model name") or "unknown",
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem_kib.split()[0]) / 1024 / 1024, 1) if mem_kib else None,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "versions": {pkg: _version(pkg) for pkg in PACKAGES},
    }


def _proc_stat() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return total - idle, total


def _pid_jiffies(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


class CpuMeter:
    """CPU used during a measurement: by the processes we name, and by everything else on the machine.

    'others' is what other users of the machine took: the benchmark's figures are only comparable
    between runs when it stays near 0.
    """

    def __init__(self, pids: Sequence[int] = ()) -> None:
        self.pids = [os.getpid(), *pids]
        self.hz = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> CpuMeter:
        self._t = time.perf_counter()
        self._busy, _ = _proc_stat()
        self._ours = {p: _pid_jiffies(p) for p in self.pids}
        return self

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self._t
        busy, _ = _proc_stat()
        ours = {p: _pid_jiffies(p) - j for p, j in self._ours.items()}
        self.elapsed = elapsed
        self.cores_ours = {p: round(j / self.hz / elapsed, 2) for p, j in ours.items()}
        self.cores_others = round(max(0.0, (busy - self._busy - sum(ours.values())) / self.hz / elapsed), 2)

    def report(self) -> dict[str, Any]:
        """Cores used by other processes, and by each of ours, during the measurement."""
        return {"cores_used_by_others": self.cores_others, "cores_used_by_us": self.cores_ours}


def background_load(seconds: float = 1.0) -> float:
    """Cores kept busy by other processes while this one sleeps."""
    with CpuMeter() as meter:
        time.sleep(seconds)
    return meter.cores_others


def wait_for_quiet(max_wait: float = 0.0, threshold: float = 0.3) -> float:
    """Wait up to `max_wait` seconds for the machine to be nearly idle; returns the last load seen."""
    deadline = time.monotonic() + max_wait
    load = background_load(1.0)
    while load > threshold and time.monotonic() < deadline:
        load = background_load(2.0)
    return load


def descendants(pid: int) -> list[int]:
    """The process's children, grandchildren and so on (the server's model process among them)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = [int(k) for k in (task / "children").read_text().split()]
                out += kids
                todo += kids
        except OSError:
            pass
    return out


def rss_mib(pid: int) -> dict[str, float | None]:
    """VmRSS and peak VmHWM in MiB of a process with its descendants; own_rss_mib: the process alone."""
    # `qa serve` runs the model in a child process: its memory counts too.
    out: dict[str, float | None] = {"rss_mib": None, "peak_rss_mib": None, "own_rss_mib": None}
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                key = {"VmRSS:": "rss_mib", "VmHWM:": "peak_rss_mib"}.get(line.split(":")[0] + ":")
                if key:
                    mib = int(line.split()[1]) / 1024
                    out[key] = round((out[key] or 0.0) + mib, 1)
                    if key == "rss_mib" and p == pid:
                        out["own_rss_mib"] = round(mib, 1)
        except OSError:
            pass
    return out
