"""What the benchmarks share: machine facts, CPU load, percentiles, a server process, a load client,
corpora and questions, result files and tables."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
DEFAULT_SQUAD = ROOT.parent / "shared" / "eval" / "squad2-dev-5articles.json"
SAMPLE_QUESTIONS = ROOT / "tests" / "data" / "netflix_dev.jsonl"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- machine and load


def machine() -> dict[str, Any]:
    """CPU, cores, memory and the versions that matter, without importing the heavy libraries."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {}
    for pkg in (
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
    ):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "versions": versions,
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


# ---------------------------------------------------------------- numbers


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    """n, p50, p95, p99, mean and min of durations given in seconds, in milliseconds."""
    if not seconds:
        return {"n": 0}
    ms = sorted(s * 1000 for s in seconds)

    def pct(q: float) -> float:
        if len(ms) == 1:
            return ms[0]
        pos = q * (len(ms) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(ms) - 1)
        return ms[lo] + (ms[hi] - ms[lo]) * (pos - lo)

    return {
        "n": len(ms),
        "p50": round(pct(0.50), 2),
        "p95": round(pct(0.95), 2),
        "p99": round(pct(0.99), 2),
        "mean": round(statistics.fmean(ms), 2),
        "min": round(ms[0], 2),
    }


def timed(fn: Any, *args: Any, repeat: int = 1) -> tuple[float, Any]:
    """Median wall time of `repeat` calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


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
    """VmRSS (now) and VmHWM (peak) in MiB of a process together with its descendants (`qa serve`
    runs the model in a child process); `own_rss_mib` is the process alone."""
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


# ---------------------------------------------------------------- results


def write_result(name: str, data: dict[str, Any]) -> Path:
    """bench/results/<name>.json, with the machine and the time of the run."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), **data}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return path


def finish(name: str, result: dict[str, Any], report_table: Callable[[dict[str, Any]], str]) -> Path:
    """Write bench/results/<name>.json, then print the benchmark's table and where it went."""
    path = write_result(name, result)
    print()
    print(report_table(result))
    print(f"\nwrote {path}")
    return path


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table (also readable as plain text)."""

    def cell(v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    body = [[cell(v) for v in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in body]
    return "\n".join(lines)


# ---------------------------------------------------------------- corpora and questions


@dataclass
class Corpus:
    """Documents to index and questions to ask of them."""

    name: str
    documents: list[Any]
    questions: list[str]
    answers: list[tuple[str, ...]]


def sample_corpus() -> Corpus:
    """The bundled article and the development questions shipped with the tests."""
    from qa.evaluate import load_dataset
    from qa.ingest import bundled_corpus, load_documents

    docs = load_documents([bundled_corpus()]).documents
    ds = load_dataset(SAMPLE_QUESTIONS)
    items = [conv[0] for conv in ds.items]
    return Corpus("sample", docs, [i.question for i in items], [i.answers for i in items])


def squad_corpus(path: Path | None) -> Corpus | None:
    """The SQuAD 2.0 slice (documents and questions), or None with a message when it is absent."""
    path = path or DEFAULT_SQUAD
    if not path.exists():
        print(f"[skip] no SQuAD file at {path}: the SQuAD part is skipped (pass --squad PATH)")
        return None
    from qa.evaluate import load_dataset

    ds = load_dataset(path)
    items = [conv[0] for conv in ds.items]
    return Corpus("squad", ds.documents, [i.question for i in items], [i.answers for i in items])


def build(corpus: Corpus, embedder: Any, index_dir: Path) -> Any:
    """Build a fresh index of the corpus (no reuse of an earlier one)."""
    from qa.build import build_index

    return build_index(corpus.documents, embedder, index_dir, incremental=False)


def tmpdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"qa-bench-{prefix}-"))


# ---------------------------------------------------------------- server and client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`qa serve` (or another command) in a child process on 127.0.0.1, stopped on exit."""

    def __init__(self, index_dir: Path, env: dict[str, str] | None = None, argv: list[str] | None = None):
        self.port = free_port()
        self.index_dir = index_dir
        self.argv = argv or [PY, "-m", "qa.cli", "serve"]
        self.argv = [
            *self.argv,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--index-dir",
            str(index_dir),
        ]
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.log = tempfile.NamedTemporaryFile(prefix="qa-bench-server-", suffix=".log", delete=False)  # noqa: SIM115

    def __enter__(self) -> Server:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout: float = 120.0, interval: float = 0.01) -> float:
        """Seconds from spawning the process until GET /healthz answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}: {Path(self.log.name).read_text()}"
                )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return time.perf_counter() - self.started
                conn.close()
            except OSError:
                pass
            time.sleep(interval)
        raise TimeoutError(f"server not ready in {timeout} s: {Path(self.log.name).read_text()}")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


def ask_body(question: str) -> bytes:
    return json.dumps({"question": question}).encode()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("server closed the connection")
    status = int(status_line.split()[1])
    length, chunked = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = b""
    while True:
        size = int((await reader.readline()).strip(), 16)
        if size == 0:
            await reader.readline()
            return status, body
        body += await reader.readexactly(size)
        await reader.readline()


async def _client(
    port: int,
    bodies: list[bytes],
    start: int,
    stop_at: float,
    max_requests: int,
    latencies: list[float],
    errors: list[str],
    warmup_until: float,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        i = start
        while time.perf_counter() < stop_at and len(latencies) < max_requests:
            body = bodies[i % len(bodies)]
            i += 1
            head = (
                f"POST /ask HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            t0 = time.perf_counter()
            writer.write(head + body)
            status, payload = await _read_response(reader)
            t1 = time.perf_counter()
            if status != 200:
                errors.append(f"{status}: {payload[:200]!r}")
            elif t0 >= warmup_until:
                latencies.append(t1 - t0)
    finally:
        writer.close()


def load(
    port: int,
    questions: Sequence[str],
    clients: int,
    seconds: float,
    max_requests: int,
    warmup: float = 1.0,
) -> dict[str, Any]:
    """`clients` keep-alive connections each asking in a loop; bounded in time and count.

    Requests started during the first `warmup` seconds are not counted.
    """
    bodies = [ask_body(q) for q in questions]
    latencies: list[float] = []
    errors: list[str] = []

    async def main() -> float:
        t0 = time.perf_counter()
        warm = t0 + warmup
        stop = warm + seconds
        await asyncio.gather(
            *(
                _client(port, bodies, c * 7919, stop, max_requests, latencies, errors, warm)
                for c in range(clients)
            )
        )
        return time.perf_counter() - max(warm, t0)

    elapsed = asyncio.run(main())
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed > 0 else None,
        "latency_ms": summary_ms(latencies),
    }


def sequential(port: int, questions: Sequence[str], n: int, warmup: int = 10) -> dict[str, Any]:
    """One client asking `n` questions one after another (after `warmup` uncounted ones)."""
    bodies = [ask_body(q) for q in questions]
    latencies: list[float] = []
    errors: list[str] = []

    async def main() -> None:
        await _client(port, bodies, 0, time.perf_counter() + 3600, warmup, [], errors, 0.0)
        await _client(port, bodies, warmup, time.perf_counter() + 3600, n, latencies, errors, 0.0)

    asyncio.run(main())
    return {"requests": len(latencies), "errors": len(errors), "latency_ms": summary_ms(latencies)}


def run_child(argv: list[str], timeout: float) -> dict[str, Any]:
    """Run a Python snippet/script in a fresh process that prints one JSON line last; return it."""
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    if out.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))
