"""Writing a generation: SQLite (documents, chunks, sentences, term counts, FTS5), vectors, FAISS."""

from __future__ import annotations

import math
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
# HNSW keeps every vector in memory: 1.9 KB a chunk, 19 GB at 10 million. From this many chunks
# on, the dense index is compressed instead (OPQ + IVF-PQ: PQ_BYTES a chunk in memory, plus its
# 8-byte id), and search_dense re-ranks its best RERANK_DEPTH candidates by exact inner product
# with the stored vectors, memory-mapped from disk. Measured by bench/scale_pq.py; docs/scale.md.
PQ_THRESHOLD = 2_000_000
PQ_BYTES = 48
RERANK_DEPTH = 200
# k-means of the coarse lists and the PQ codebooks learns from a sample, not from every vector:
# the sample's size decides the training time (minutes at 2M chunks on 2 cores), not the corpus'.
PQ_TRAIN_PER_LIST = 64
PQ_TRAIN_MAX = 262_144
PQ_SAMPLE_SEED = 0  # which rows train it: fixed, so every build of the same vectors makes one index
# Vectors added at a time: add() makes a float32 copy of what it is given, and the Ray build adds
# each block in a task of its own (qa/distributed).
PQ_ADD_BLOCK = 262_144
# How write_generation makes the dense index of a generation's chunk vectors, given them and the
# .npy file they were just saved to: local_dense, or a builder that runs elsewhere and reads the
# file (qa/distributed trains and adds the compressed tier on a Ray cluster).
DenseBuilder = Callable[[np.ndarray, Path], faiss.Index]


@dataclass(frozen=True)
class Prepared:
    """One document split for indexing, with its vectors once embedded."""

    document: Document
    sentences: list[Sentence]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray


def index_type(n: int) -> str:
    """The dense index of a generation of n chunks: "flat", "hnsw" or "ivfpq" (the manifest's)."""
    if n >= PQ_THRESHOLD:
        return "ivfpq"
    return "hnsw" if n >= HNSW_THRESHOLD else "flat"


def build_faiss(vectors: np.ndarray) -> faiss.Index:
    """An inner-product index: exact below HNSW_THRESHOLD vectors, HNSW above it, IVF-PQ from
    PQ_THRESHOLD on."""
    dim = vectors.shape[1]
    kind = index_type(len(vectors))
    if kind == "ivfpq":
        return build_ivfpq(vectors)
    if kind == "flat":
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


def local_dense(vectors: np.ndarray, saved: Path) -> faiss.Index:
    """build_faiss(vectors) in this process: the DenseBuilder of a local build."""
    return build_faiss(vectors)


def ivfpq_shape(n: int, dim: int) -> tuple[int, int, int]:
    """(lists, bytes per code, nprobe) of the IVF-PQ index of n vectors of `dim` dimensions."""
    # Lists: the power of two nearest 4·√n (4,096 at 1-2M, 16,384 at 10M), so a list holds ~√n/4
    # vectors. nprobe scans an eighth of them: at 300,000 chunks (OPQ48, 200 re-ranked) a sixteenth
    # gave recall@10 0.93 and an eighth 0.97 (bench/scale_pq.py --variants; docs/scale.md).
    lists = 1 << max(4, round(math.log2(4 * math.sqrt(n))))
    # One byte codes a part of the vector: the parts must split it evenly, and be at least 8
    # dimensions long (48 parts of 8 for the product's 384 dimensions).
    code = max(b for b in range(1, max(1, min(PQ_BYTES, dim // 8)) + 1) if dim % b == 0)
    return lists, code, max(1, lists // 8)


def build_ivfpq(vectors: np.ndarray, seed: int = PQ_SAMPLE_SEED) -> faiss.Index:
    """OPQ + IVF-PQ over inner product, trained on a sample of the vectors; nprobe stored in the
    index. The OPQ rotation spreads the variance evenly over the code's parts: at 300,000 chunks
    it raised recall@10 from 0.93 to 0.97 at the same nprobe and re-rank depth, for about 80 s more
    training."""
    n, dim = vectors.shape
    index = train_ivfpq(np.ascontiguousarray(vectors[ivfpq_sample(n, dim, seed)], dtype=np.float32), n)
    for start in range(0, n, PQ_ADD_BLOCK):  # in blocks: add() converts what it is given at once
        index.add(np.ascontiguousarray(vectors[start : start + PQ_ADD_BLOCK], dtype=np.float32))
    return index


def ivfpq_sample(n: int, dim: int, seed: int = PQ_SAMPLE_SEED) -> np.ndarray:
    """The sorted row numbers of the vectors that train the IVF-PQ index of n vectors."""
    # Shared by the local build and the Ray one (qa/distributed), so both train on the same rows.
    lists = ivfpq_shape(n, dim)[0]
    size = min(n, max(PQ_TRAIN_PER_LIST * lists, 256 * 39), PQ_TRAIN_MAX)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def train_ivfpq(sample: np.ndarray, n: int) -> faiss.Index:
    """The empty OPQ + IVF-PQ index for n vectors, trained on `sample` (float32 rows), nprobe set."""
    dim = sample.shape[1]
    lists, code, nprobe = ivfpq_shape(n, dim)
    index = faiss.index_factory(dim, f"OPQ{code},IVF{lists},PQ{code}", faiss.METRIC_INNER_PRODUCT)
    ivf: Any = faiss.downcast_index(faiss.extract_index_ivf(index))
    # Polysemous codes serve Hamming-distance filtering, which search never uses; their training
    # (simulated annealing, seconds for each byte of the code) would be most of the build.
    ivf.do_polysemous_training = False
    index.train(sample)
    ivf.nprobe = nprobe
    return index


def merge_ivfpq(index: faiss.Index, part: faiss.Index, offset: int) -> None:
    """Move the vectors of `part` (a copy of the trained `index` that added rows offset, offset+1,
    ...) into `index`, under their row numbers; `part` is left empty."""
    # Each inverted list gets part's entries after its own, in the order part added them: merging
    # the blocks in row order makes the lists, and so the file, those of one index that added all.
    index.merge_from(part, offset)


def write_generation(
    index_dir: Path,
    prepared: Sequence[Prepared],
    model: str,
    chunker: dict[str, int],
    dimension: int,
    dense: DenseBuilder = local_dense,
) -> Path:
    """Write a complete generation from `prepared` and make it live atomically; returns its folder.

    `dense` makes the dense index from the chunk vectors once they are saved (default: here)."""
    with writer_lock(index_dir):
        folder = new_folder(index_dir)
        try:
            chunk_vecs = _stack([p.chunk_vectors for p in prepared], dimension)
            sent_vecs = _stack([p.sentence_vectors for p in prepared], dimension)
            _write_sqlite(folder / "store.sqlite", prepared)
            np.save(folder / "chunk_vectors.npy", chunk_vecs)
            np.save(folder / "sentence_vectors.npy", sent_vecs)
            dense_index = dense(chunk_vecs, (folder / "chunk_vectors.npy").resolve())
            faiss.write_index(dense_index, str(folder / "chunks.faiss"))
            manifest = Manifest(
                model=model,
                dimension=dimension,
                chunker=chunker,
                documents={p.document.doc_id: p.document.content_hash for p in prepared},
                counts={"documents": len(prepared), "chunks": len(chunk_vecs), "sentences": len(sent_vecs)},
                index_type=index_type(len(chunk_vecs)),
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
