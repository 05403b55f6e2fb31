"""Writing a generation: SQLite (documents, chunks, sentences, term counts, FTS5), vectors, FAISS."""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from qa.index.layout import new_folder, publish, writer_lock
from qa.index.manifest import MANIFEST, Manifest
from qa.index.rows import SCHEMA, SENTENCE_COUNT_TERM, chunk_row, document_row, sentence_row
from qa.records import Chunk, Document, Sentence
from qa.text import terms

# Exact search is perfect but reads every vector: ~0.17 ms per 1,000 chunks on the 2-core machine
# (3.5 ms at 20,000, 17 ms at 100,000); past this many chunks HNSW answers in a few milliseconds.
# Measured by bench/scale.py; figures in docs/performance.md.
HNSW_THRESHOLD = 20_000


@dataclass(frozen=True)
class Prepared:
    """One document split for indexing, with its vectors once embedded."""

    document: Document
    sentences: list[Sentence]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray


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


def write_generation(
    index_dir: Path, prepared: Sequence[Prepared], model: str, chunker: dict[str, int], dimension: int
) -> Path:
    """Write a complete generation from `prepared` and make it live atomically; returns its folder."""
    with writer_lock(index_dir):
        folder = new_folder(index_dir)
        try:
            chunk_vecs = _stack([p.chunk_vectors for p in prepared], dimension)
            sent_vecs = _stack([p.sentence_vectors for p in prepared], dimension)
            _write_sqlite(folder / "store.sqlite", prepared)
            np.save(folder / "chunk_vectors.npy", chunk_vecs)
            np.save(folder / "sentence_vectors.npy", sent_vecs)
            faiss.write_index(build_faiss(chunk_vecs), str(folder / "chunks.faiss"))
            manifest = Manifest(
                model=model,
                dimension=dimension,
                chunker=chunker,
                documents={p.document.doc_id: p.document.content_hash for p in prepared},
                counts={"documents": len(prepared), "chunks": len(chunk_vecs), "sentences": len(sent_vecs)},
                index_type="flat" if len(chunk_vecs) < HNSW_THRESHOLD else "hnsw",
            )
            (folder / MANIFEST).write_text(manifest.to_json())
            return publish(index_dir, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise


def _stack(parts: list[np.ndarray], dimension: int) -> np.ndarray:
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


def _write_sqlite(path: Path, prepared: Sequence[Prepared]) -> None:
    db = sqlite3.connect(path)
    try:
        db.executescript(SCHEMA)
        df: Counter[str] = Counter()
        chunk_id = sent_id = 0
        for position, p in enumerate(prepared):
            d = p.document
            db.execute("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", document_row(d, position))
            for c in p.chunks:
                db.execute("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?)", chunk_row(c, chunk_id))
                db.execute(
                    "INSERT INTO chunks_fts(rowid, text, title, section) VALUES (?,?,?,?)",
                    (chunk_id, c.text, d.title, c.section or ""),
                )
                chunk_id += 1
            for s in p.sentences:
                db.execute("INSERT INTO sentences VALUES (?,?,?,?,?,?,?,?)", sentence_row(s, sent_id))
                df.update(set(terms(s.text)))
                sent_id += 1
            # Titles and headings name things too; count them once per document.
            df.update(set(terms(d.title)) | {t for c in p.chunks for t in terms(c.section or "")})
        df[SENTENCE_COUNT_TERM] = sent_id
        db.executemany("INSERT INTO term_df VALUES (?,?)", df.items())
        db.commit()
    finally:
        db.close()
