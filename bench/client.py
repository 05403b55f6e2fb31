"""A small asyncio HTTP/1.1 client for POST /ask over keep-alive connections (cheap on the CPU)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.server import HOST
from bench.stats import summary_ms


def ask_body(question: str) -> bytes:
    """The JSON body of POST /ask for one question."""
    return json.dumps({"question": question}).encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 response (Content-Length or chunked)."""
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


async def post_ask(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, body: bytes
) -> tuple[int, bytes]:
    """Send one POST /ask on an open connection and read its response."""
    head = (
        f"POST /ask HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    writer.write(head + body)
    return await read_response(reader)


@dataclass
class _Tally:
    """What the clients of one run measured, and when they stop."""

    stop_at: float
    max_requests: int
    warmup_until: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def _client(port: int, bodies: list[bytes], start: int, tally: _Tally) -> None:
    """One keep-alive connection asking in a loop until the tally's time or count is reached."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        i = start
        while time.perf_counter() < tally.stop_at and len(tally.latencies) < tally.max_requests:
            body = bodies[i % len(bodies)]
            i += 1
            t0 = time.perf_counter()
            status, payload = await post_ask(reader, writer, port, body)
            t1 = time.perf_counter()
            if status != 200:
                tally.errors.append(f"{status}: {payload[:200]!r}")
            elif t0 >= tally.warmup_until:
                tally.latencies.append(t1 - t0)
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
    """`clients` keep-alive connections each asking in a loop; bounded in time and count."""
    # Requests started during the first `warmup` seconds are not counted.
    bodies = [ask_body(q) for q in questions]

    async def main() -> tuple[float, _Tally]:
        warm = time.perf_counter() + warmup
        tally = _Tally(stop_at=warm + seconds, max_requests=max_requests, warmup_until=warm)
        await asyncio.gather(*(_client(port, bodies, c * 7919, tally) for c in range(clients)))
        return time.perf_counter() - warm, tally

    elapsed, tally = asyncio.run(main())
    n = len(tally.latencies)
    return {
        "clients": clients,
        "requests": n,
        "errors": len(tally.errors),
        "first_error": tally.errors[0] if tally.errors else None,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(n / elapsed, 1) if elapsed > 0 else None,
        "latency_ms": summary_ms(tally.latencies),
    }


def sequential(port: int, questions: Sequence[str], n: int, warmup: int = 10) -> dict[str, Any]:
    """One client asking `n` questions one after another (after `warmup` uncounted ones)."""
    bodies = [ask_body(q) for q in questions]
    warm = _Tally(stop_at=time.perf_counter() + 3600, max_requests=warmup)
    tally = _Tally(stop_at=time.perf_counter() + 3600, max_requests=n)

    async def main() -> None:
        await _client(port, bodies, 0, warm)
        await _client(port, bodies, warmup, tally)

    asyncio.run(main())
    errors = len(warm.errors) + len(tally.errors)
    return {"requests": len(tally.latencies), "errors": errors, "latency_ms": summary_ms(tally.latencies)}
