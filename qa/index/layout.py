"""Where generations live on disk: `CURRENT`, the writer lock, publishing and cleaning up.

A build writes a new generation into a temporary folder, renames it into place and only then
swaps CURRENT, so a crash at any moment leaves the previous index whole and loadable.

One writer at a time: builds hold ``index/LOCK`` (an ``fcntl.flock``, which the kernel releases
when the process dies, however it dies). Under that lock every ``.tmp-gen-*`` folder is the
leftover of a dead build and is removed at once, as is every generation that is neither live nor
the one just before it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
LOCK = "LOCK"
TMP_PREFIX = ".tmp-gen-"


def current_generation(index_dir: Path) -> Path | None:
    """The folder of the live generation, or None when no index has been built."""
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        return None
    return index_dir / name if name else None


_lock_registry = threading.Lock()
_thread_locks: dict[str, threading.RLock] = {}
_held: dict[str, list[int]] = {}  # index dir -> [lock file descriptor, depth]


def _acquire(index_dir: Path) -> int:
    """Open and flock index_dir/LOCK, waiting (with one warning) while another build holds it."""
    fd = os.open(index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            log.warning("another build (pid %s) is writing %s/; waiting for it to finish", holder, index_dir)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index directory's writer lock: one build at a time, waiting for a running one.

    An exclusive ``fcntl.flock`` on ``index_dir/LOCK``; the kernel drops it when the holder
    exits or is killed, so a crashed build never leaves a stale lock behind. Reentrant within a
    thread; other threads of the same process wait like other processes do.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    key = str(index_dir.resolve())
    with _lock_registry:
        rlock = _thread_locks.setdefault(key, threading.RLock())
    with rlock:
        if key not in _held:
            _held[key] = [_acquire(index_dir), 0]
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
            if _held[key][1] == 0:
                fd = _held.pop(key)[0]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def new_folder(index_dir: Path) -> Path:
    """A fresh temporary folder for a generation being written. Under the writer lock."""
    remove_temporaries(index_dir)
    return Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=index_dir))


def publish(index_dir: Path, folder: Path) -> Path:
    """Make a fully written temporary folder the live generation; returns its final folder.

    Killed at any moment, this leaves either the previous generation live (plus a leftover
    temporary folder that the next build removes) or the new one live; never a mix.
    """
    previous = current_generation(index_dir)
    for f in folder.iterdir():
        fsync(f)
    fsync(folder)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    final = index_dir / f"gen-{stamp}-{folder.name[-8:].replace('_', 'x')}"
    os.rename(folder, final)
    fsync(index_dir)
    pointer_tmp = index_dir / f".{CURRENT}.tmp"
    pointer_tmp.write_text(final.name + "\n")
    fsync(pointer_tmp)
    os.replace(pointer_tmp, index_dir / CURRENT)
    fsync(index_dir)
    remove_stale(index_dir, keep={final.name} | ({previous.name} if previous else set()))
    return final


def remove_temporaries(index_dir: Path) -> None:
    """Delete leftover temporary generations. Call only under the writer lock: no build is
    writing then, so every temporary folder belongs to a build that died."""
    for p in index_dir.glob(f"{TMP_PREFIX}*"):
        log.info("removing %s, left by a build that did not finish", p.name)
        shutil.rmtree(p, ignore_errors=True)


def remove_stale(index_dir: Path, keep: set[str]) -> None:
    """Delete generations other than `keep` (the live one and the one live just before it,
    which servers that have not reloaded yet may still be opening). Under the writer lock."""
    for p in index_dir.glob("gen-*"):
        if p.is_dir() and p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)
    remove_temporaries(index_dir)


def fsync(path: Path) -> None:
    """Flush a file or folder to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
