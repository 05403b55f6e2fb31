"""Child processes of the benchmarks: their environment, and a child that answers with JSON."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from bench.paths import ROOT


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without QA_* settings (benchmarks measure the defaults), importing this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return {**env, "PYTHONPATH": str(ROOT), **(extra or {})}


def run_child(argv: list[str], timeout: float) -> dict[str, Any]:
    """Run a Python snippet/script in a fresh process that prints one JSON line last; return it."""
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=child_env(), cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))
