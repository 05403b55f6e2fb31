"""`qa ...` with the fake embedder, stopping at a named point of a build so a test can kill it
(or at no point: `none`, to run any `qa` command quickly with the fake embedder).

Usage: python tests/crash_child.py POINT PAUSE_SECONDS qa-arguments...
(`serve` runs `python -m web`'s main in this process, with the fake embedder.)

At POINT the process prints "AT POINT" on stderr and sleeps PAUSE_SECONDS, then carries on.
Points, in the order a build reaches them:
  embedding      half-way through embedding (the writer lock is held, nothing written yet)
  sqlite         the temporary generation has its SQLite store
  faiss          ... and its FAISS index (every file written, not yet fsynced)
  before-rename  the temporary folder is complete
  after-rename   renamed to gen-*, but CURRENT still names the previous generation
  before-swap    the new CURRENT is written beside the old one (.CURRENT.tmp)
  after-swap     CURRENT names the new generation; old generations not yet removed
  none           never stops
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# conftest, and the checkout's qa (as the tests in-process see it), not whichever qa is installed.
sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
from conftest import FakeEncoder

import qa.embed
import qa.index
import qa.index.write
from qa.cli import main
from qa.embed import Embedder

POINT = sys.argv[1]
PAUSE = float(sys.argv[2])


def stop(name: str) -> None:
    if name == POINT:
        print(f"AT {name}", file=sys.stderr, flush=True)
        time.sleep(PAUSE)


class SlowFake(Embedder):
    def embed_documents(
        self, texts: Sequence[str], batch_size: int = 64, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        half = len(texts) // 2
        first = super().embed_documents(texts[:half], batch_size, progress)
        stop("embedding")
        return np.vstack([first, super().embed_documents(texts[half:], batch_size, progress)])


def after(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        stop(name)
        return result

    return wrapped


real_rename, real_replace = os.rename, os.replace


def rename(src: Any, dst: Any) -> None:
    stop("before-rename")
    real_rename(src, dst)
    stop("after-rename")


def replace(src: Any, dst: Any) -> None:
    if Path(dst).name == qa.index.CURRENT:
        stop("before-swap")
        real_replace(src, dst)
        stop("after-swap")
    else:
        real_replace(src, dst)


qa.embed.Embedder.from_settings = lambda *args, **kwargs: SlowFake(FakeEncoder())  # type: ignore[assignment,method-assign]
qa.index.write._write_sqlite = after("sqlite", qa.index.write._write_sqlite)
qa.index.write.faiss.write_index = after("faiss", qa.index.write.faiss.write_index)
os.rename = rename  # type: ignore[assignment]
os.replace = replace  # type: ignore[assignment]


def report_peak_rss() -> None:
    """This process's own peak RSS since exec (VmHWM). getrusage would also count the pages of
    the parent it was forked from (a pytest process that may hold the real model)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            print(f"PEAK_RSS_KB {line.split()[1]}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    atexit.register(report_peak_rss)
    argv = sys.argv[3:]
    if argv[:1] == ["serve"]:
        # `qa serve` execs `python -m web`, which would load the real model: run it here instead.
        from web.__main__ import main as serve

        sys.exit(serve(argv[1:]))
    sys.exit(main(argv))
