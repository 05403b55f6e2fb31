"""The progress bar of `qa index` on stderr (tqdm), as a build's `progress(stage, done, total)`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def progress_bar(quiet: bool) -> Callable[[str, int, int], None]:
    """A progress callback drawing the embedding stage's bar; nothing when `quiet`."""
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if quiet:
            return
        if stage == "embedding":
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=total, desc="Embedding", unit="text", file=sys.stderr)
            bar.update(done - bar.n)
        else:
            for bar in bars.values():
                bar.close()
            bars.clear()

    return progress
