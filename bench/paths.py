"""Where the benchmarks find the project, write their results and keep their scratch files."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable

if str(ROOT) not in sys.path:  # qa and web from this checkout, not from another installed copy
    sys.path.insert(0, str(ROOT))


def tmpdir(prefix: str) -> Path:
    """A new empty folder qa-bench-<prefix>-* in the system's temporary folder."""
    return Path(tempfile.mkdtemp(prefix=f"qa-bench-{prefix}-"))
