"""The index directory: a manifest, FAISS chunk vectors, sentence vectors and a SQLite store.

Layout::

    index/CURRENT            name of the live generation (replaced atomically)
    index/LOCK               the writer lock (one build at a time)
    index/gen-<stamp>/       manifest.json, chunks.faiss (flat, HNSW or OPQ+IVF-PQ by size),
                             chunk_vectors.npy, sentence_vectors.npy,
                             store.sqlite (documents, chunks, sentences, FTS5)

`layout` owns the folders, the pointer and the lock; `write` makes a generation, `read` opens one
(`Index.open`); `manifest` is the typed record of what a generation holds.
"""

from qa.index.layout import CURRENT, LOCK, current_generation, writer_lock
from qa.index.manifest import FORMAT_VERSION, Manifest, read_manifest
from qa.index.read import Index
from qa.index.rows import DocumentInfo
from qa.index.write import (
    HNSW_THRESHOLD,
    PQ_THRESHOLD,
    DenseBuilder,
    Prepared,
    build_faiss,
    local_dense,
    write_generation,
)

__all__ = [
    "CURRENT",
    "FORMAT_VERSION",
    "HNSW_THRESHOLD",
    "LOCK",
    "PQ_THRESHOLD",
    "DenseBuilder",
    "DocumentInfo",
    "Index",
    "Manifest",
    "Prepared",
    "build_faiss",
    "current_generation",
    "local_dense",
    "read_manifest",
    "write_generation",
    "writer_lock",
]
