"""The one writer of result files (bench/results/<name>.json) and the tables the benchmarks print."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.machine import machine
from bench.paths import RESULTS


def write_result(name: str, data: dict[str, Any], path: Path | None = None) -> Path:
    """bench/results/<name>.json (or `path`), with the machine and the time of the run."""
    path = path or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), **data}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return path


def finish(
    name: str, result: dict[str, Any], report_table: Callable[[dict[str, Any]], str], path: Path | None = None
) -> Path:
    """Write the result file (write_result), then print the benchmark's table and where it went."""
    path = write_result(name, result, path)
    print()
    print(report_table(result))
    print(f"\nwrote {path}")
    return path


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table (also readable as plain text)."""
    body = [[_cell(v) for v in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in body]
    return "\n".join(lines)
