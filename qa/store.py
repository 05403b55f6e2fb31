"""The index directory: a manifest, FAISS chunk vectors, sentence vectors and a SQLite store.

Layout::

    index/CURRENT            name of the live generation (replaced atomically)
    index/gen-<stamp>/       manifest.json, chunks.faiss, chunk_vectors.npy,
                             sentence_vectors.npy, store.sqlite (documents, chunks, sentences, FTS5)

A build writes a new generation into a temporary folder, renames it into place and only then
swaps CURRENT, so a crash at any moment leaves the previous index whole and loadable.

One writer at a time: builds hold ``index/LOCK`` (an ``fcntl.flock``, which the kernel releases
when the process dies, however it dies). Under that lock every ``.tmp-gen-*`` folder is the
leftover of a dead build and is removed at once, as is every generation that is neither live nor
the one just before it. A loaded `Index` keeps its generation readable even after a later build
deletes the folder: its vectors are memory-mapped and its SQLite file stays open.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import faiss
import numpy as np

from qa.errors import IndexCorrupt, IndexMismatch, IndexMissing
from qa.records import Chunk, Document, Sentence
from qa.text import root, terms

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT = "CURRENT"
LOCK = "LOCK"
TMP_PREFIX = ".tmp-gen-"
# Exact search is perfect but reads every vector: ~0.17 ms per 1,000 chunks on the 2-core machine
# (3.5 ms at 20,000, 17 ms at 100,000); past this many chunks HNSW answers in a few milliseconds.
# Measured by bench/scale.py; figures in docs/performance.md.
HNSW_THRESHOLD = 20_000

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, position INTEGER, title TEXT, source TEXT, published TEXT,
    content_hash TEXT, text TEXT, headings TEXT);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY, doc_id TEXT, idx INTEGER, start INTEGER, "end" INTEGER,
    first INTEGER, last INTEGER, section TEXT, text TEXT);
CREATE INDEX chunks_doc ON chunks(doc_id, idx);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY, doc_id TEXT, idx INTEGER, start INTEGER, "end" INTEGER,
    section TEXT, paragraph INTEGER, text TEXT);
CREATE INDEX sentences_doc ON sentences(doc_id, idx);
CREATE TABLE term_df (term TEXT PRIMARY KEY, df INTEGER) WITHOUT ROWID;
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, title, section, tokenize='porter unicode61 remove_diacritics 2');
"""


@dataclass(frozen=True)
class DocumentInfo:
    """A document's metadata as stored in the index."""

    doc_id: str
    title: str
    source: str
    published: str | None
    content_hash: str


@dataclass(frozen=True)
class Prepared:
    """One document split for indexing, with its vectors once embedded."""

    document: Document
    sentences: list[Sentence]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray


def current_generation(index_dir: Path) -> Path | None:
    """The folder of the live generation, or None when no index has been built."""
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        return None
    return index_dir / name if name else None


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """The live generation's manifest; raises IndexMissing/IndexCorrupt with how to rebuild."""
    gen = current_generation(index_dir)
    if gen is None:
        raise IndexMissing(
            f"no index in {index_dir}/. Build one with: qa index [PATH ...] --index-dir {index_dir}"
        )
    try:
        manifest: dict[str, Any] = json.loads((gen / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(
            f"the index in {index_dir}/ is unreadable ({exc}). Rebuild it with: "
            f"qa index [PATH ...] --index-dir {index_dir}"
        ) from None
    manifest["generation"] = gen.name
    return manifest


def _within(a: str, b: str, limit: int) -> bool:
    """Is the edit distance between a and b (adjacent swaps counting one) at most `limit`?"""
    if abs(len(a) - len(b)) > limit:
        return False
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return False
        prev2, prev = prev, cur
    return prev[-1] <= limit


class Memo:
    """A bounded cache of what was read from one (immutable) generation; emptied when full.

    The same passages, terms and names come back question after question, and reading them
    from SQLite and building their records costs as much as the rest of the answer step.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data: dict[Any, Any] = {}

    def put(self, key: Any, value: Any) -> Any:
        if len(self.data) >= self.limit:
            self.data.clear()  # cheaper than LRU bookkeeping on every hit, and rare
        self.data[key] = value
        return value


class Index:
    """A loaded, read-only index generation. Safe to share between threads."""

    def __init__(self, index_dir: Path, expect_model: str | None = None, expect_dim: int | None = None):
        self.index_dir = index_dir
        for attempt in range(3):
            started_on = current_generation(index_dir)
            try:
                self._load(expect_model, expect_dim)
                return
            except IndexCorrupt:
                # Builds that finished while we were loading may have deleted the generation we
                # started on (two builds in a row); if CURRENT moved, load the new one instead.
                if attempt == 2 or current_generation(index_dir) == started_on:
                    raise

    def _load(self, expect_model: str | None, expect_dim: int | None) -> None:
        index_dir = self.index_dir
        self.manifest = read_manifest(index_dir)
        self.path = index_dir / self.manifest["generation"]
        rebuild = f"Rebuild it with: qa index [PATH ...] --index-dir {index_dir}"
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatch(
                f"the index in {index_dir}/ has format version {self.manifest.get('format_version')}, "
                f"this program reads version {FORMAT_VERSION}. {rebuild}"
            )
        if expect_model is not None and self.manifest.get("model") != expect_model:
            raise IndexMismatch(
                f"the index in {index_dir}/ was built with model {self.manifest.get('model')!r} "
                f"but the configured model is {expect_model!r}. {rebuild}, or set QA_EMBED_MODEL "
                "(and QA_ANSWER_MODEL, for the part after '+') to the index's model."
            )
        if expect_dim is not None and self.manifest.get("dimension") != expect_dim:
            raise IndexMismatch(
                f"the index in {index_dir}/ holds {self.manifest.get('dimension')}-dimensional "
                f"vectors but the model makes {expect_dim}-dimensional ones. {rebuild}"
            )
        try:
            self.faiss = faiss.read_index(str(self.path / "chunks.faiss"))
            # Memory maps and the open SQLite file outlive the deletion of the folder (see db).
            # Plain arrays over the memory maps: indexing an np.memmap costs ~10x more per call.
            self.sentence_vectors = np.asarray(np.load(self.path / "sentence_vectors.npy", mmap_mode="r"))
            self.chunk_vectors = np.asarray(np.load(self.path / "chunk_vectors.npy", mmap_mode="r"))
            self._db_uri = f"file:{quote(str(self.path / 'store.sqlite'))}?mode=ro"
            self._pinned = sqlite3.connect(self._db_uri, uri=True, check_same_thread=False)
            self._local = threading.local()
            self._local.conn = db = self._pinned
            self._chunk_memo, self._sentence_memo = Memo(50_000), Memo(20_000)
            self._df_memo, self._prefix_memo = Memo(100_000), Memo(100_000)
            # For what later stages derive from this generation's rows (the answer step's
            # passages); it goes when the index is replaced, as it belongs to this generation.
            self.derived = Memo(20_000)
            self.n_chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            self.n_sentences = db.execute("SELECT count(*) FROM sentences").fetchone()[0]
            self.documents = {
                r[0]: DocumentInfo(*r)
                for r in db.execute(
                    "SELECT doc_id, title, source, published, content_hash FROM documents ORDER BY position"
                )
            }
        except (RuntimeError, OSError, ValueError, sqlite3.Error) as exc:
            raise IndexCorrupt(f"the index in {index_dir}/ is damaged ({exc}). {rebuild}") from None
        if (
            self.faiss.ntotal != self.n_chunks
            or len(self.chunk_vectors) != self.n_chunks
            or len(self.sentence_vectors) != self.n_sentences
        ):
            raise IndexCorrupt(f"the index in {index_dir}/ is inconsistent (vector counts). {rebuild}")
        if self.faiss.d != self.manifest.get("dimension"):
            raise IndexCorrupt(f"the index in {index_dir}/ disagrees with its manifest. {rebuild}")

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's read-only SQLite connection.

        Each thread opens its own, so reads run in parallel. If a later build has deleted this
        generation's folder in the meantime, the thread shares the connection opened at load
        time, which still reads the deleted file (SQLite here is built thread-safe, and every
        use is a read).
        """
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self._db_uri, uri=True, check_same_thread=False)
            except sqlite3.OperationalError:
                conn = self._pinned
            self._local.conn = conn
        return conn

    @property
    def generation(self) -> str:
        """Name of the generation folder this object reads."""
        return str(self.manifest["generation"])

    def search_dense(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-k chunk ids by inner product with a normalised query vector."""
        k = min(k, self.n_chunks)
        if k <= 0:
            return []
        scores, ids = self.faiss.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def search_lexical(self, words: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Top-k chunk ids by BM25 over text, title and section (any of the words may match)."""
        if not words or k <= 0:
            return []
        query = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
        rows = self.db.execute(
            "SELECT rowid, bm25(chunks_fts, 1.0, 0.5, 0.5) AS s FROM chunks_fts "
            "WHERE chunks_fts MATCH ? ORDER BY s LIMIT ?",
            (query, k),
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def chunks(self, ids: Iterable[int]) -> dict[int, Chunk]:
        """Chunks by id."""
        ids = list(ids)
        memo = self._chunk_memo.data
        found = {i: memo[i] for i in ids if i in memo}
        missing = [i for i in ids if i not in found]
        if missing:
            marks = ",".join("?" * len(missing))
            rows = self.db.execute(
                f'SELECT id, doc_id, idx, start, "end", text, first, last, section FROM chunks '
                f"WHERE id IN ({marks})",
                missing,
            )
            for r in rows:
                chunk = Chunk(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8])
                found[r[0]] = self._chunk_memo.put(r[0], chunk)
        return {i: found[i] for i in ids if i in found}

    def sentences(self, doc_id: str, first: int, last: int) -> list[tuple[int, Sentence]]:
        """(row id, sentence) for sentences first..last (inclusive) of a document."""
        key = (doc_id, first, last)
        cached = self._sentence_memo.data.get(key)
        if cached is None:
            rows = self.db.execute(
                'SELECT id, idx, start, "end", text, section, paragraph FROM sentences '
                "WHERE doc_id = ? AND idx BETWEEN ? AND ? ORDER BY idx",
                (doc_id, first, last),
            )
            cached = tuple((r[0], Sentence(doc_id, r[1], r[2], r[3], r[4], r[5], r[6])) for r in rows)
            if last - first < 1000:  # passages, not whole documents (incremental rebuilds)
                self._sentence_memo.put(key, cached)
        return list(cached)

    def document_text(self, doc_id: str) -> str:
        """The full text of a document."""
        row = self.db.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return str(row[0]) if row else ""

    def document_frequencies(self, words: Iterable[str]) -> dict[str, int]:
        """In how many sentences each stemmed term occurs (absent terms are left out)."""
        memo = self._df_memo
        out: dict[str, int] = {}
        missing = []
        for w in set(words):
            df = memo.data.get(w)
            if df is None:
                missing.append(w)
            elif df:
                out[w] = df
        if missing:
            marks = ",".join("?" * len(missing))
            rows = dict(self.db.execute(f"SELECT term, df FROM term_df WHERE term IN ({marks})", missing))
            for w in missing:
                df = memo.put(w, int(rows.get(w, 0)))
                if df:
                    out[w] = df
        return out

    def known_prefixes(self, words: Iterable[str]) -> set[str]:
        """Which of the words (or their roots, `qa.text.root`) occur in the indexed text."""
        found = set()
        for w in set(words):
            key = root(w)
            known = self._prefix_memo.data.get(key)
            if known is None:
                row = self.db.execute(
                    "SELECT 1 FROM term_df WHERE term >= ? AND term < ? LIMIT 1", (key, key + "\uffff")
                ).fetchone()
                known = self._prefix_memo.put(key, row is not None)
            if known:
                found.add(w)
        return found

    def near_misses(self, words: Iterable[str]) -> set[str]:
        """Which of the words are a typo or two away from an indexed term that starts with the
        same two letters: one edit (a letter dropped, added, changed, or two swapped) for words
        of five letters, two from six on ("Primer League" for "Premier")."""
        found = set()
        for w in set(words):
            if len(w) < 5 or not w.isascii() or not w.isalpha():
                continue  # short words are an edit or two from too many others
            near = self._prefix_memo.data.get(("~", w))
            if near is None:
                limit = 1 if len(w) < 6 else 2
                rows = self.db.execute(
                    "SELECT term FROM term_df WHERE term >= ? AND term < ? AND length(term) BETWEEN ? AND ? "
                    "LIMIT 20000",
                    (w[:2], w[:2] + "\uffff", len(w) - limit, len(w) + limit),
                )
                near = any(_within(w, t, limit) for (t,) in rows)
                self._prefix_memo.put(("~", w), near)
            if near:
                found.add(w)
        return found

    def load_prepared(self, doc_id: str) -> Prepared:
        """Everything stored for one document, vectors included, for incremental rebuilds."""
        db = self.db
        row = db.execute(
            "SELECT doc_id, title, source, published, content_hash, text, headings FROM documents "
            "WHERE doc_id = ?",
            (doc_id,),
        ).fetchone()
        from qa.records import Span

        doc = Document(
            doc_id=row[0], title=row[1], source=row[2], published=row[3], content_hash=row[4],
            text=row[5], headings=tuple(Span(a, b) for a, b in json.loads(row[6])),
        )  # fmt: skip
        sent_rows = self.sentences(doc_id, 0, 1 << 30)
        chunk_rows = db.execute(
            'SELECT id, doc_id, idx, start, "end", text, first, last, section FROM chunks '
            "WHERE doc_id = ? ORDER BY idx",
            (doc_id,),
        ).fetchall()
        chunk_vecs = self.chunk_vectors
        return Prepared(
            doc,
            [s for _, s in sent_rows],
            [Chunk(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]) for r in chunk_rows],
            np.array(chunk_vecs[[r[0] for r in chunk_rows]], dtype=np.float32),
            np.array(self.sentence_vectors[[i for i, _ in sent_rows]], dtype=np.float32),
        )

    def close(self) -> None:
        """Close this thread's database connection and the one opened at load time.

        For one-shot users such as a build; a server simply drops an Index it no longer uses.
        """
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        self._pinned.close()


def build_faiss(vectors: np.ndarray) -> faiss.Index:
    """An inner-product index: exact below HNSW_THRESHOLD vectors, HNSW above it."""
    dim = vectors.shape[1]
    if len(vectors) < HNSW_THRESHOLD:
        index: faiss.Index = faiss.IndexFlatIP(dim)
    else:
        # M=32, efConstruction=80 keep the build to minutes on 2 cores (6 at a million chunks).
        # efSearch (stored in the index file) trades time for recall and must grow with the
        # index: recall@10 was 0.98-1.0 at 384 up to 200,000 chunks (≤ 3 ms), and at a million
        # 0.91 at 384, 0.96 at 768 (6 ms), 0.97 at 1024 (bench/scale.py, synthetic vectors).
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = int(min(1024, max(384, 384 * (len(vectors) / 200_000) ** 0.5)))
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


_lock_registry = threading.Lock()
_thread_locks: dict[str, threading.RLock] = {}
_held: dict[str, list[int]] = {}  # index dir -> [lock file descriptor, depth]


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
            fd = os.open(index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    log.warning(
                        "another build (pid %s) is writing %s/; waiting for it to finish", holder, index_dir
                    )
                    fcntl.flock(fd, fcntl.LOCK_EX)
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except BaseException:
                os.close(fd)
                raise
            _held[key] = [fd, 0]
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
            if _held[key][1] == 0:
                fd = _held.pop(key)[0]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def write_generation(
    index_dir: Path,
    prepared: Sequence[Prepared],
    manifest: dict[str, Any],
    dimension: int,
) -> Path:
    """Write a complete generation and make it live atomically; returns its folder.

    Killed at any moment, this leaves either the previous generation live (plus a leftover
    temporary folder that the next build removes) or the new one live; never a mix.
    """
    with writer_lock(index_dir):
        previous = current_generation(index_dir)
        _remove_temporaries(index_dir)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=index_dir))
        try:
            chunk_vecs = _stack([p.chunk_vectors for p in prepared], dimension)
            sent_vecs = _stack([p.sentence_vectors for p in prepared], dimension)
            _write_sqlite(tmp / "store.sqlite", prepared)
            np.save(tmp / "chunk_vectors.npy", chunk_vecs)
            np.save(tmp / "sentence_vectors.npy", sent_vecs)
            faiss.write_index(build_faiss(chunk_vecs), str(tmp / "chunks.faiss"))
            manifest = {
                **manifest,
                "format_version": FORMAT_VERSION,
                "dimension": dimension,
                "documents": {p.document.doc_id: p.document.content_hash for p in prepared},
                "counts": {
                    "documents": len(prepared),
                    "chunks": len(chunk_vecs),
                    "sentences": len(sent_vecs),
                },
                "index_type": "flat" if len(chunk_vecs) < HNSW_THRESHOLD else "hnsw",
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
            for f in tmp.iterdir():
                _fsync(f)
            _fsync(tmp)
            final = index_dir / f"gen-{stamp}-{tmp.name[-8:].replace('_', 'x')}"
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync(index_dir)
        pointer_tmp = index_dir / f".{CURRENT}.tmp"
        pointer_tmp.write_text(final.name + "\n")
        _fsync(pointer_tmp)
        os.replace(pointer_tmp, index_dir / CURRENT)
        _fsync(index_dir)
        _remove_stale(index_dir, keep={final.name} | ({previous.name} if previous else set()))
    return final


def _remove_temporaries(index_dir: Path) -> None:
    """Delete leftover temporary generations. Call only under the writer lock: no build is
    writing then, so every temporary folder belongs to a build that died."""
    for p in index_dir.glob(f"{TMP_PREFIX}*"):
        log.info("removing %s, left by a build that did not finish", p.name)
        shutil.rmtree(p, ignore_errors=True)


def _remove_stale(index_dir: Path, keep: set[str]) -> None:
    """Delete generations other than `keep` (the live one and the one live just before it,
    which servers that have not reloaded yet may still be opening). Under the writer lock."""
    for p in index_dir.glob("gen-*"):
        if p.is_dir() and p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)
    _remove_temporaries(index_dir)


def _stack(parts: list[np.ndarray], dimension: int) -> np.ndarray:
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


def _write_sqlite(path: Path, prepared: Sequence[Prepared]) -> None:
    db = sqlite3.connect(path)
    try:
        db.executescript(_SCHEMA)
        df: Counter[str] = Counter()
        chunk_id = 0
        sent_id = 0
        for pos, p in enumerate(prepared):
            d = p.document
            db.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?)",
                (d.doc_id, pos, d.title, d.source, d.published, d.content_hash, d.text,
                 json.dumps([[h.start, h.end] for h in d.headings])),
            )  # fmt: skip
            for c in p.chunks:
                db.execute(
                    "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?)",
                    (chunk_id, c.doc_id, c.idx, c.start, c.end, c.first, c.last, c.section, c.text),
                )
                db.execute(
                    "INSERT INTO chunks_fts(rowid, text, title, section) VALUES (?,?,?,?)",
                    (chunk_id, c.text, d.title, c.section or ""),
                )
                chunk_id += 1
            for s in p.sentences:
                db.execute(
                    "INSERT INTO sentences VALUES (?,?,?,?,?,?,?,?)",
                    (sent_id, s.doc_id, s.idx, s.start, s.end, s.section, s.paragraph, s.text),
                )
                df.update(set(terms(s.text)))
                sent_id += 1
            # Titles and headings name things too; count them once per document.
            df.update(set(terms(d.title)) | {t for c in p.chunks for t in terms(c.section or "")})
        df["__sentences__"] = sent_id
        db.executemany("INSERT INTO term_df VALUES (?,?)", df.items())
        db.commit()
    finally:
        db.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
