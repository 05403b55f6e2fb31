"""The live index of a long-running process: loaded once, swapped when a build moves CURRENT."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from qa.errors import QAError
from qa.index import Index, current_generation

log = logging.getLogger(__name__)


class LiveIndex:
    """The newest loadable generation of `index_dir`, checked at most every `interval_s` seconds.

    A reload never raises and never blocks readers: they keep the `Index` they hold, which stays
    valid after a later build deletes its folder. `error` says why no index is loaded (or why the
    newest generation was refused), or is None.
    """

    def __init__(
        self,
        index_dir: Path,
        model: str,
        dimension: int,
        interval_s: float,
        require: bool = True,
    ) -> None:
        """`require`: raise when no usable index exists yet, instead of waiting for a build."""
        self.index_dir = index_dir
        self.model = model
        self.dimension = dimension
        self.interval_s = interval_s
        self.error: QAError | None = None
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._index: Index | None = None
        try:
            self._index = self._open()
        except QAError as exc:
            # A server may start before the first build; it picks the index up when it appears.
            if require:
                raise
            self.error = exc

    def _open(self) -> Index:
        return Index.open(self.index_dir, self.model, self.dimension)

    @property
    def ready(self) -> bool:
        """Whether an index is loaded."""
        return self._index is not None

    def current(self) -> Index:
        """The loaded index, reloading first if a new generation is due; raises `error` if none."""
        self.maybe_reload()
        if self._index is None:
            self.maybe_reload(force=True)
        if self._index is None:
            assert self.error is not None
            raise self.error
        return self._index

    def maybe_reload(self, force: bool = False) -> bool:
        """Swap in a rebuilt index if CURRENT moved; True when it did."""
        now = time.monotonic()
        if not force and now - self._checked < self.interval_s:
            return False
        if not self._lock.acquire(blocking=force):
            return False
        try:
            self._checked = now
            gen = current_generation(self.index_dir)
            if gen is None or (self._index is not None and gen.name == self._index.generation):
                return False
            try:
                fresh = self._open()
            except QAError as exc:
                if self.error is None or exc.message != self.error.message:  # once, not per check
                    if self._index is not None:
                        log.warning("kept the loaded index; the new one failed to load: %s", exc.message)
                    else:
                        log.warning("no usable index: %s", exc.message)
                self.error = exc
                return False
            self.error = None
            self._index = fresh
            # The process id tells the workers of `qa serve --workers N` apart in the shared log.
            log.info("reloaded index generation %s (process %d)", fresh.generation, os.getpid())
            return True
        finally:
            self._lock.release()
