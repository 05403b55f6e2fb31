"""Opening a generation for reading: `Index.open`, the counterpart of `write_generation`.

A loaded `Index` keeps its generation readable even after a later build deletes the folder: its
vectors are memory-mapped and its SQLite file stays open.
"""

from __future__ import annotations

import json
import mmap
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import faiss
import numpy as np

from qa.cache import Cache
from qa.errors import IndexCorrupt, IndexMismatch
from qa.index.layout import current_generation
from qa.index.manifest import Manifest, read_manifest, rebuild_hint
from qa.index.rows import (
    CHUNK_COLUMNS,
    DOCUMENT_COLUMNS,
    DOCUMENT_INFO_COLUMNS,
    SENTENCE_COLUMNS,
    chunk_from_row,
    document_from_row,
    document_info_from_row,
    sentence_from_row,
)
from qa.index.write import RERANK_DEPTH, Prepared
from qa.lexicon import Lexicon
from qa.records import Chunk, Document, Sentence

T = TypeVar("T")


def check_manifest(index_dir: Path, manifest: Manifest, model: str | None, dimension: int | None) -> None:
    """Refuse an index built by another model, with what to do about it."""
    rebuild = f"Rebuild it with: {rebuild_hint(index_dir)}"
    if model is not None and manifest.model != model:
        raise IndexMismatch(
            f"the index in {index_dir}/ was built with model {manifest.model!r} but the configured "
            f"model is {model!r}. {rebuild}, or set QA_EMBED_MODEL (and QA_ANSWER_MODEL, for the "
            "part after '+') to the index's model."
        )
    if dimension is not None and manifest.dimension != dimension:
        raise IndexMismatch(
            f"the index in {index_dir}/ holds {manifest.dimension}-dimensional vectors but the model "
            f"makes {dimension}-dimensional ones. {rebuild}"
        )


def random_rows(path: Path) -> np.ndarray:
    """A stored .npy array mapped again for reading a few rows at random (the re-rank's).

    Without MADV_RANDOM the kernel reads around every page a read faults in, up to the device's
    readahead (8 MB on the project's machine) for a 1.5 KB row: the re-rank of one question then
    reads megabytes from disk and fills the page cache with rows nobody asked for. A second
    mapping of the same file, so that reading it in order (an incremental build) keeps readahead.
    """
    mapped = np.load(path, mmap_mode="r")
    region = getattr(mapped, "_mmap", None)  # None for an empty array, which maps nothing
    if region is not None and hasattr(mmap, "MADV_RANDOM"):
        region.madvise(mmap.MADV_RANDOM)
    return np.asarray(mapped)


class Index:
    """A loaded, read-only index generation. Safe to share between threads."""

    def __init__(self, index_dir: Path, expect_model: str | None = None, expect_dim: int | None = None):
        """Load the live generation (`Index.open` says the same; this form is kept for brevity)."""
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

    @classmethod
    def open(cls, index_dir: Path, model: str | None = None, dimension: int | None = None) -> Index:
        """The live generation of `index_dir`, refused if it was built by another model."""
        return cls(index_dir, model, dimension)

    def _load(self, expect_model: str | None, expect_dim: int | None) -> None:
        self.path, manifest = read_manifest(self.index_dir)
        check_manifest(self.index_dir, manifest, expect_model, expect_dim)
        # The documents' content hashes are in self.documents too: a reader of millions of
        # articles holds them once (an incremental build reads them from there).
        self.manifest = replace(manifest, documents={})
        del manifest  # freed before the records are read, which then reuse its memory
        try:
            self._open_files()
        except (RuntimeError, OSError, ValueError, sqlite3.Error) as exc:
            raise IndexCorrupt(
                f"the index in {self.index_dir}/ is damaged ({exc}). "
                f"Rebuild it with: {rebuild_hint(self.index_dir)}"
            ) from None
        rebuild = f"Rebuild it with: {rebuild_hint(self.index_dir)}"
        if (
            self.dense.ntotal != self.n_chunks
            or len(self.chunk_vectors) != self.n_chunks
            or len(self.sentence_vectors) != self.n_sentences
        ):
            raise IndexCorrupt(f"the index in {self.index_dir}/ is inconsistent (vector counts). {rebuild}")
        if self.dense.d != self.manifest.dimension:
            raise IndexCorrupt(f"the index in {self.index_dir}/ disagrees with its manifest. {rebuild}")

    def _open_files(self) -> None:
        self.dense = faiss.read_index(str(self.path / "chunks.faiss"))
        # Memory maps and the open SQLite file outlive the deletion of the folder (see db).
        # Plain arrays over the memory maps: indexing an np.memmap costs ~10x more per call.
        self.sentence_vectors = np.asarray(np.load(self.path / "sentence_vectors.npy", mmap_mode="r"))
        self.chunk_vectors = np.asarray(np.load(self.path / "chunk_vectors.npy", mmap_mode="r"))
        if self.manifest.index_type == "ivfpq":
            self._rerank_rows = random_rows(self.path / "chunk_vectors.npy")
        self._db_uri = f"file:{quote(str(self.path / 'store.sqlite'))}?mode=ro"
        self._pinned = sqlite3.connect(self._db_uri, uri=True, check_same_thread=False)
        self._local = threading.local()
        self._local.conn = db = self._pinned
        self._chunks: Cache[int, Chunk] = Cache(50_000)
        self._sentences: Cache[tuple[str, int, int], tuple[tuple[int, Sentence], ...]] = Cache(20_000)
        self._derived: Cache[Any, Any] = Cache(20_000)
        self.lexicon = Lexicon(lambda: self.db)
        self.n_chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        self.n_sentences = db.execute("SELECT count(*) FROM sentences").fetchone()[0]
        rows = db.execute(f"SELECT {DOCUMENT_INFO_COLUMNS} FROM documents ORDER BY position")
        self.documents = {r[0]: document_info_from_row(r) for r in rows}

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
        return self.path.name

    def summary(self) -> dict[str, Any]:
        """What is indexed: counts, the first titles, the model and the build time."""
        return {
            "documents": len(self.documents),
            "chunks": self.n_chunks,
            # The first 20 only: /healthz and the chat page ask on every call, at any corpus size.
            "titles": [d.title for d in islice(self.documents.values(), 20)],
            "model": self.manifest.model,
            "built_at": self.manifest.built_at,
            "generation": self.generation,
        }

    def derived(self, key: Any, make: Callable[[], T]) -> T:
        """What a later stage derives from this generation's rows (the answer step's passages),
        made once: it belongs to this generation and goes when the index is replaced."""
        found = self._derived.get(key)
        if found is None:
            found = self._derived.put(key, make())
        return found  # type: ignore[no-any-return]

    def search_dense(
        self, query: np.ndarray, k: int, among: frozenset[str] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k chunk ids by inner product with a normalised query vector; `among`: only the
        chunks of these documents (searched exactly, before the top k is taken)."""
        if among is not None:
            ids = self.chunk_ids(among)
            scores = self.chunk_vectors[ids] @ np.asarray(query, dtype=np.float32).reshape(-1)
            top = np.argsort(-scores, kind="stable")[: max(k, 0)]
            return [(int(ids[i]), float(scores[i])) for i in top]
        k = min(k, self.n_chunks)
        if k <= 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if self.manifest.index_type == "ivfpq":
            return self._search_reranked(q, k)
        scores, found = self.dense.search(q, k)
        return [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if i >= 0]

    def _search_reranked(self, q: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The compressed index's best RERANK_DEPTH candidates, re-ranked by their exact inner
        product: PQ scores are approximate, and the stored vectors are exact."""
        _, found = self.dense.search(q, max(k, RERANK_DEPTH))
        # Ascending ids read the memory-mapped file in order (only these rows come into memory).
        ids = np.sort(found[0][found[0] >= 0])
        scores = self._rerank_rows[ids] @ q[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[i]), float(scores[i])) for i in top]

    def search_lexical(
        self, words: Sequence[str], k: int, among: frozenset[str] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k chunk ids by BM25 over text, title and section (any of the words may match);
        `among`: only the chunks of these documents."""
        if not words or k <= 0 or (among is not None and not among):
            return []
        query = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
        where, params = "chunks_fts MATCH ?", [query]
        if among is not None:
            # One JSON parameter rather than one per document: no limit on how many there are.
            where += " AND rowid IN (SELECT id FROM chunks WHERE doc_id IN (SELECT value FROM json_each(?)))"
            params.append(self._json_ids(among))
        rows = self.db.execute(
            f"SELECT rowid, bm25(chunks_fts, 1.0, 0.5, 0.5) AS s FROM chunks_fts WHERE {where} "
            "ORDER BY s LIMIT ?",
            (*params, k),
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def chunk_ids(self, doc_ids: frozenset[str]) -> np.ndarray:
        """The row ids of these documents' chunks, ascending (read once per set of documents)."""

        def read() -> np.ndarray:
            rows = self.db.execute(
                "SELECT id FROM chunks WHERE doc_id IN (SELECT value FROM json_each(?)) ORDER BY id",
                (self._json_ids(doc_ids),),
            )
            return np.array([r[0] for r in rows], dtype=np.int64)

        return self.derived(("chunk_ids", doc_ids), read)

    def _json_ids(self, doc_ids: frozenset[str]) -> str:
        """The documents as one JSON parameter for json_each, made once per set: a filter's set
        comes back request after request, and sorting and encoding a large one takes a while
        (0.2 s at 200,000 documents)."""
        return self.derived(("json_ids", doc_ids), lambda: json.dumps(sorted(doc_ids)))

    def chunks(self, ids: Iterable[int]) -> dict[int, Chunk]:
        """Chunks by id."""
        ids = list(ids)
        found = {i: c for i in ids if (c := self._chunks.get(i)) is not None}
        missing = [i for i in ids if i not in found]
        if missing:
            marks = ",".join("?" * len(missing))
            rows = self.db.execute(f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE id IN ({marks})", missing)
            for r in rows:
                found[r[0]] = self._chunks.put(r[0], chunk_from_row(r))
        return {i: found[i] for i in ids if i in found}

    def sentences(self, doc_id: str, first: int, last: int) -> list[tuple[int, Sentence]]:
        """(row id, sentence) for sentences first..last (inclusive) of a document."""
        key = (doc_id, first, last)
        cached = self._sentences.get(key)
        if cached is None:
            rows = self.db.execute(
                f"SELECT {SENTENCE_COLUMNS} FROM sentences "
                "WHERE doc_id = ? AND idx BETWEEN ? AND ? ORDER BY idx",
                (doc_id, first, last),
            )
            cached = tuple((r[0], sentence_from_row(r)) for r in rows)
            if last - first < 1000:  # passages, not whole documents (incremental rebuilds)
                self._sentences.put(key, cached)
        return list(cached)

    def document_text(self, doc_id: str) -> str:
        """The full text of a document."""
        row = self.db.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return str(row[0]) if row else ""

    def document(self, doc_id: str) -> Document:
        """The stored record of one document, text included."""
        row = self.db.execute(f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE doc_id = ?", (doc_id,))
        return document_from_row(row.fetchone())

    def load_prepared(self, doc_id: str) -> Prepared:
        """Everything stored for one document, vectors included, for incremental rebuilds."""
        db = self.db
        doc = self.document(doc_id)
        sent_rows = self.sentences(doc_id, 0, 1 << 30)
        chunk_rows = db.execute(
            f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE doc_id = ? ORDER BY idx", (doc_id,)
        ).fetchall()
        return Prepared(
            doc,
            [s for _, s in sent_rows],
            [chunk_from_row(r) for r in chunk_rows],
            np.array(self.chunk_vectors[[r[0] for r in chunk_rows]], dtype=np.float32),
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
