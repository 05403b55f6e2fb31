"""The one percentile of the benchmarks, and the summaries built on it."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any


def percentile(values: Iterable[float], p: float, observed: bool = False) -> float:
    """The p-th percentile (0-100), linear between neighbours (numpy's default); observed: nearest value."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    pos = p / 100 * (len(ordered) - 1)
    if observed:
        return ordered[min(len(ordered) - 1, max(0, round(pos)))]
    lo = int(pos)
    frac = pos - lo
    if frac == 0:
        return ordered[lo]
    # Weighted this way, p50 of an even count is exactly statistics.median's mean of the middle two.
    return ordered[lo] * (1 - frac) + ordered[lo + 1] * frac


def median_of(rows: Iterable[Mapping[str, Any]], key: str) -> float:
    """The median of one field over rows (runs of a measurement)."""
    return float(percentile((r[key] for r in rows), 50))


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    """n, p50, p95, p99, mean and min of durations given in seconds, in milliseconds."""
    if not seconds:
        return {"n": 0}
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 2),
        "p95": round(percentile(ms, 95), 2),
        "p99": round(percentile(ms, 99), 2),
        "mean": round(statistics.fmean(ms), 2),
        "min": round(min(ms), 2),
    }


def timed_calls(fn: Callable[[int], object], n: int, warmup: int = 10) -> dict[str, float | int]:
    """summary_ms of fn(0) … fn(n - 1), after fn(0) … fn(warmup - 1) uncounted to warm the caches."""
    for i in range(min(warmup, n)):
        fn(i)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return summary_ms(times)
