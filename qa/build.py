"""Documents → sentences, chunks and vectors → a new index generation (incremental when possible)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.chunk import chunk_document, split_sentences
from qa.embed import Embedder
from qa.errors import NothingIndexed, QAError
from qa.ingest import Skipped, load_documents
from qa.records import Document
from qa.store import Index, Prepared, current_generation, read_manifest, write_generation, writer_lock

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the CLI's closing summary."""

    documents: int
    chunks: int
    sentences: int
    seconds: float
    embedded_documents: int
    reused_documents: int
    removed_documents: int
    skipped: list[Skipped] = field(default_factory=list)
    generation: str = ""


def chunker_settings(embedder: Embedder, chunk_tokens: int) -> dict[str, object]:
    """The chunker's parameters, recorded in the manifest; a change forces re-embedding."""
    return _chunker(min(chunk_tokens, embedder.max_tokens))


def _chunker(max_tokens: int) -> dict[str, object]:
    return {"max_tokens": max_tokens, "overlap_sentences": 1, "version": 3}


def unchanged_report(
    index_dir: Path,
    documents: Sequence[Document],
    model: str,
    chunk_tokens: int,
    skipped: Sequence[Skipped] = (),
) -> BuildReport | None:
    """The report of an incremental build that would change nothing, or None if it would.

    Nothing changes when the live index was built with this model and chunker from exactly these
    documents (same ids, contents and order) and loads. Then `qa index` can skip loading the
    model and writing an identical generation (which would make every server reload).
    """
    t0 = time.perf_counter()
    try:
        manifest = read_manifest(index_dir)
    except QAError:
        return None
    # A chunker budget over the model's maximum is stored capped; then this says "changed" and
    # the full path (which knows the model's maximum) decides.
    if manifest.get("model") != model or manifest.get("chunker") != _chunker(chunk_tokens):
        return None
    if list(manifest.get("documents", {}).items()) != [(d.doc_id, d.content_hash) for d in documents]:
        return None
    try:
        index = Index(index_dir)
    except QAError:
        return None
    index.close()
    if index.generation != manifest["generation"]:
        return None  # rebuilt meanwhile: let a real build compare
    return BuildReport(
        documents=len(index.documents),
        chunks=index.n_chunks,
        sentences=index.n_sentences,
        seconds=round(time.perf_counter() - t0, 2),
        embedded_documents=0,
        reused_documents=len(documents),
        removed_documents=0,
        skipped=list(skipped),
        generation=index.generation,
    )


def nothing_indexed(skipped: Sequence[Skipped]) -> NothingIndexed:
    """The error for a build without a single usable document."""
    reasons = "; ".join(f"{s.source}: {s.reason}" for s in list(skipped)[:5])
    return NothingIndexed(
        "nothing could be indexed"
        + (f" ({reasons})" if reasons else ": no documents found")
        + ". The existing index was left as it was."
    )


def prepare_texts(
    doc: Document, max_tokens: int, embedder: Embedder
) -> tuple[list, list, list[str], list[str]]:
    """Split a document and build the texts the embedder sees (title and section as context)."""
    sentences = split_sentences(doc)
    context_budget = max_tokens - min(48, embedder.count_tokens(doc.title) + 8)
    chunks = chunk_document(doc, sentences, context_budget, embedder.count_tokens)
    chunk_texts = ["\n".join(x for x in (doc.title, c.section, c.text) if x) for c in chunks]
    sentence_texts = [s.text for s in sentences]
    return sentences, chunks, chunk_texts, sentence_texts


def _previous(index_dir: Path, model: str, chunker: dict[str, object]) -> Index | None:
    if current_generation(index_dir) is None:
        return None
    try:
        old = Index(index_dir)
    except QAError:
        return None  # unreadable or other format: a full build replaces it
    if old.manifest.get("model") != model or old.manifest.get("chunker") != chunker:
        return None
    return old


def build_index(
    documents: Sequence[Document],
    embedder: Embedder,
    index_dir: Path,
    chunk_tokens: int = 256,
    batch_size: int = 64,
    progress: Progress | None = None,
    skipped: Sequence[Skipped] = (),
    incremental: bool = True,
) -> BuildReport:
    """Index exactly `documents`, reusing stored vectors of documents whose content is unchanged.

    Holds the index directory's writer lock from reading the previous generation to making the
    new one live, so concurrent builds run one after the other and none undoes another's work.
    """
    t0 = time.perf_counter()
    if not documents:
        raise nothing_indexed(skipped)
    with writer_lock(index_dir):
        return _build_locked(
            documents, embedder, index_dir, chunk_tokens, batch_size, progress, skipped, incremental, t0
        )


def _build_locked(
    documents: Sequence[Document],
    embedder: Embedder,
    index_dir: Path,
    chunk_tokens: int,
    batch_size: int,
    progress: Progress | None,
    skipped: Sequence[Skipped],
    incremental: bool,
    t0: float,
) -> BuildReport:
    chunker = chunker_settings(embedder, chunk_tokens)
    old = _previous(index_dir, embedder.name, chunker) if incremental else None
    old_hashes: dict[str, str] = old.manifest.get("documents", {}) if old else {}
    prepared: list[Prepared | None] = []
    pending: list[tuple[int, Document, list, list, list[str], list[str]]] = []
    reused = 0
    for i, doc in enumerate(documents):
        if old is not None and old_hashes.get(doc.doc_id) == doc.content_hash:
            prepared.append(old.load_prepared(doc.doc_id))
            reused += 1
            continue
        prepared.append(None)
        max_tokens = int(chunker["max_tokens"])  # type: ignore[call-overload]
        sentences, chunks, ctexts, stexts = prepare_texts(doc, max_tokens, embedder)
        pending.append((i, doc, sentences, chunks, ctexts, stexts))
    texts = [t for p in pending for t in p[4]] + [t for p in pending for t in p[5]]
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("embedding", done, len(texts))

    if texts:
        vectors = embedder.embed_documents(texts, batch_size=batch_size, progress=tick)
    else:
        vectors = np.zeros((0, embedder.dimension), np.float32)
    n_chunks = sum(len(p[4]) for p in pending)
    c_off, s_off = 0, n_chunks
    for i, doc, sentences, chunks, ctexts, stexts in pending:
        prepared[i] = Prepared(
            doc, sentences, chunks,
            vectors[c_off : c_off + len(ctexts)], vectors[s_off : s_off + len(stexts)],
        )  # fmt: skip
        c_off += len(ctexts)
        s_off += len(stexts)
    final = [p for p in prepared if p is not None]
    removed = len(set(old_hashes) - {d.doc_id for d in documents})
    if old is not None:
        old.close()
    if progress:
        progress("writing", 0, 1)
    gen = write_generation(
        index_dir,
        final,
        {"model": embedder.name, "chunker": chunker},
        embedder.dimension,
    )
    return BuildReport(
        documents=len(final),
        chunks=sum(len(p.chunks) for p in final),
        sentences=sum(len(p.sentences) for p in final),
        seconds=round(time.perf_counter() - t0, 2),
        embedded_documents=len(pending),
        reused_documents=reused,
        removed_documents=removed,
        skipped=list(skipped),
        generation=gen.name,
    )


def index_paths(
    paths: Sequence[Path],
    embedder: Embedder,
    index_dir: Path,
    chunk_tokens: int = 256,
    batch_size: int = 64,
    max_file_bytes: int = 20_000_000,
    progress: Progress | None = None,
    incremental: bool = True,
) -> BuildReport:
    """Ingest files and folders and build the index from exactly those documents."""
    result = load_documents(paths, max_file_bytes=max_file_bytes)
    return build_index(
        result.documents, embedder, index_dir, chunk_tokens, batch_size, progress, result.skipped,
        incremental,
    )  # fmt: skip


def update_index(
    embedder: Embedder,
    index_dir: Path,
    add: Sequence[Path] = (),
    remove: Sequence[str] = (),
    chunk_tokens: int = 256,
    batch_size: int = 64,
    max_file_bytes: int = 20_000_000,
    progress: Progress | None = None,
) -> BuildReport:
    """Add or replace documents from `add` and drop those under `remove`, keeping the rest.

    Runs under the writer lock, so an update made by a concurrent build is never lost.
    """
    read_manifest(index_dir)  # a clear IndexMissing, before the lock creates anything
    with writer_lock(index_dir):
        return _update_locked(
            embedder, index_dir, add, remove, chunk_tokens, batch_size, max_file_bytes, progress
        )


def _update_locked(
    embedder: Embedder,
    index_dir: Path,
    add: Sequence[Path],
    remove: Sequence[str],
    chunk_tokens: int,
    batch_size: int,
    max_file_bytes: int,
    progress: Progress | None,
) -> BuildReport:
    from qa.errors import BadInput

    old = Index(index_dir)  # raises a clear IndexMissing when there is nothing to update
    try:
        existing = [old.load_prepared(doc_id).document for doc_id in old.documents]
    finally:
        old.close()
    keep: list[Document] = []
    matched: set[str] = set()
    for doc in existing:
        hit = next((r for r in remove if _under(doc.source, r)), None)
        if hit is not None:
            matched.add(hit)
        else:
            keep.append(doc)
    unmatched = [r for r in remove if r not in matched]
    if unmatched:
        raise BadInput(
            f"no indexed document has source {unmatched[0]!r}; nothing was changed "
            "(sources are listed by `qa ask --json` and in the index manifest)"
        )
    result = load_documents(add, max_file_bytes=max_file_bytes) if add else None
    if result is not None:
        new_ids = {d.doc_id for d in result.documents}
        keep = [d for d in keep if d.doc_id not in new_ids] + result.documents
    return build_index(
        keep, embedder, index_dir, chunk_tokens, batch_size, progress,
        result.skipped if result else [],
    )  # fmt: skip


def _under(source: str, target: str) -> bool:
    """Is `source` the target itself, a line of the target .jsonl file, or inside the target folder?"""
    if source == target or source.startswith(f"{target}#L"):
        return True
    try:
        return Path(source).resolve().is_relative_to(Path(target).resolve())
    except (OSError, ValueError):
        return False
