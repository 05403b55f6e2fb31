"""Documents → sentences, chunks and vectors → a new index generation (incremental when possible)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.chunk import chunk_document, split_sentences
from qa.config import Settings
from qa.dedupe import fold_copies
from qa.embed.base import Model
from qa.errors import BadInput, NothingIndexed, QAError
from qa.index import (
    DenseBuilder,
    Index,
    Prepared,
    current_generation,
    local_dense,
    read_manifest,
    write_generation,
    writer_lock,
)
from qa.ingest import Skipped, load_documents
from qa.records import Chunk, Document, Sentence

Progress = Callable[[str, int, int], None]
CHUNKER_VERSION = 4  # 4: sentences split with pySBD


class PassageEmbedder(Model, Protocol):
    """What a build needs of an embedder: `Embedder` here, or qa.distributed's `RayEmbedder`."""

    def embed_documents(
        self, texts: Sequence[str], batch_size: int = 64, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Normalised vectors of `texts`, in their order; `progress(n)` after each n texts."""
        ...


@dataclass(frozen=True)
class BuildOptions:
    """How a build reads, splits and embeds documents and makes its dense index: one record for
    every way in."""

    chunk_tokens: int = 256
    batch_size: int = 64
    max_file_bytes: int = 20_000_000
    incremental: bool = True  # reuse the vectors of unchanged documents
    # Makes the FAISS index of the chunk vectors: here, or (qa index --ray) the compressed tier's
    # training and adding on the Ray cluster (qa.distributed.RayIndexBuilder).
    dense: DenseBuilder = local_dense

    @classmethod
    def from_settings(cls, settings: Settings, incremental: bool = True) -> BuildOptions:
        """The options that Settings (and QA_* overrides) give."""
        return cls(settings.chunk_tokens, settings.embed_batch_size, settings.max_file_bytes, incremental)


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
    folded: int = 0  # syndicated copies folded into another document (qa/dedupe.py)
    embedded_texts: int = 0  # chunk and sentence texts that went through the model
    embed_seconds: float = 0.0  # of which embedding them (on a Ray cluster: the whole job)


@dataclass(frozen=True)
class Split:
    """A document split for embedding: its sentences and chunks, and the texts the model sees."""

    document: Document
    sentences: list[Sentence]
    chunks: list[Chunk]
    chunk_texts: list[str]
    sentence_texts: list[str]


def chunker_settings(embedder: PassageEmbedder, chunk_tokens: int) -> dict[str, int]:
    """The chunker's parameters, recorded in the manifest; a change forces re-embedding."""
    return _chunker(min(chunk_tokens, embedder.max_tokens))


def _chunker(max_tokens: int) -> dict[str, int]:
    return {"max_tokens": max_tokens, "overlap_sentences": 1, "version": CHUNKER_VERSION}


def nothing_indexed(skipped: Sequence[Skipped]) -> NothingIndexed:
    """The error for a build without a single usable document."""
    reasons = "; ".join(f"{s.source}: {s.reason}" for s in list(skipped)[:5])
    return NothingIndexed(
        "nothing could be indexed"
        + (f" ({reasons})" if reasons else ": no documents found")
        + ". The existing index was left as it was."
    )


def split_document(doc: Document, max_tokens: int, embedder: PassageEmbedder) -> Split:
    """Split a document and build the texts the embedder sees (title and section as context)."""
    sentences = split_sentences(doc)
    context_budget = max_tokens - min(48, embedder.count_tokens(doc.title) + 8)
    chunks = chunk_document(doc, sentences, context_budget, embedder.count_tokens)
    chunk_texts = ["\n".join(x for x in (doc.title, c.section, c.text) if x) for c in chunks]
    return Split(doc, sentences, chunks, chunk_texts, [s.text for s in sentences])


def _unchanged(
    index_dir: Path, documents: Sequence[Document], model: str, chunk_tokens: int, skipped: Sequence[Skipped]
) -> BuildReport | None:
    """The report of an incremental build that would change nothing, or None if it would.

    Nothing changes when the live index was built with this model and chunker from exactly these
    documents (same ids, contents and order) and loads. Then the build needs no model (its
    `name` is known without loading it) and writes no identical generation (which would make
    every server reload).
    """
    t0 = time.perf_counter()
    try:
        folder, manifest = read_manifest(index_dir)
    except QAError:
        return None
    # A chunker budget over the model's maximum is stored capped; then this says "changed" and
    # the full path (which knows the model's maximum) decides.
    if not manifest.same_build(model, _chunker(chunk_tokens)):
        return None
    if list(manifest.documents.items()) != [(d.doc_id, d.content_hash) for d in documents]:
        return None
    try:
        index = Index.open(index_dir)
    except QAError:
        return None
    index.close()
    if index.path != folder:
        return None  # rebuilt meanwhile: let a real build compare
    return BuildReport(
        len(index.documents), index.n_chunks, index.n_sentences, round(time.perf_counter() - t0, 2),
        embedded_documents=0, reused_documents=len(documents), removed_documents=0,
        skipped=list(skipped), generation=index.generation,
    )  # fmt: skip


def _previous(index_dir: Path, model: str, chunker: dict[str, int]) -> Index | None:
    if current_generation(index_dir) is None:
        return None
    try:
        old = Index.open(index_dir)
    except QAError:
        return None  # unreadable or other format: a full build replaces it
    if not old.manifest.same_build(model, chunker):
        old.close()
        return None
    return old


def build_index(
    documents: Sequence[Document],
    embedder: PassageEmbedder,
    index_dir: Path,
    options: BuildOptions = BuildOptions(),
    progress: Progress | None = None,
    skipped: Sequence[Skipped] = (),
) -> BuildReport:
    """Index exactly `documents`, reusing stored vectors of documents whose content is unchanged.

    Holds the index directory's writer lock from reading the previous generation to making the
    new one live, so concurrent builds run one after the other and none undoes another's work.
    """
    t0 = time.perf_counter()
    if not documents:
        raise nothing_indexed(skipped)
    documents, folded = fold_copies(documents)
    with writer_lock(index_dir):
        if options.incremental:
            same = _unchanged(index_dir, documents, embedder.name, options.chunk_tokens, skipped)
            if same is not None:
                return replace(same, folded=folded)
        report = _build_locked(documents, embedder, index_dir, options, progress, skipped, t0)
        return replace(report, folded=folded)


def _embed(
    splits: Sequence[Split], embedder: PassageEmbedder, batch_size: int, progress: Progress | None
) -> np.ndarray:
    """All chunk texts, then all sentence texts, through the model in one stream."""
    texts = [t for s in splits for t in s.chunk_texts] + [t for s in splits for t in s.sentence_texts]
    if not texts:
        return np.zeros((0, embedder.dimension), np.float32)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("embedding", done, len(texts))

    return embedder.embed_documents(texts, batch_size=batch_size, progress=tick)


def _build_locked(
    documents: Sequence[Document],
    embedder: PassageEmbedder,
    index_dir: Path,
    options: BuildOptions,
    progress: Progress | None,
    skipped: Sequence[Skipped],
    t0: float,
) -> BuildReport:
    chunker = chunker_settings(embedder, options.chunk_tokens)
    old = _previous(index_dir, embedder.name, chunker) if options.incremental else None
    old_hashes = {doc_id: info.content_hash for doc_id, info in old.documents.items()} if old else {}
    # A reused document keeps its stored sentences and vectors but takes the new record: equal
    # content hashes mean equal text, and the record may list new urls of syndicated copies.
    reused = {
        d.doc_id: replace(old.load_prepared(d.doc_id), document=d)
        for d in documents
        if old and old_hashes.get(d.doc_id) == d.content_hash
    }
    if old is not None:
        old.close()
    splits = [split_document(d, chunker["max_tokens"], embedder) for d in documents if d.doc_id not in reused]
    t_embed = time.perf_counter()
    vectors = _embed(splits, embedder, options.batch_size, progress)
    embed_seconds = time.perf_counter() - t_embed
    fresh: dict[str, Prepared] = {}
    c_off, s_off = 0, sum(len(s.chunk_texts) for s in splits)
    for s in splits:
        n_c, n_s = len(s.chunk_texts), len(s.sentence_texts)
        fresh[s.document.doc_id] = Prepared(
            s.document, s.sentences, s.chunks, vectors[c_off : c_off + n_c], vectors[s_off : s_off + n_s]
        )
        c_off, s_off = c_off + n_c, s_off + n_s
    final = [reused.get(d.doc_id) or fresh[d.doc_id] for d in documents]
    if progress:
        progress("writing", 0, 1)
    gen = write_generation(index_dir, final, embedder.name, chunker, embedder.dimension, options.dense)
    return BuildReport(
        documents=len(final),
        chunks=sum(len(p.chunks) for p in final),
        sentences=sum(len(p.sentences) for p in final),
        seconds=round(time.perf_counter() - t0, 2),
        embedded_documents=len(splits),
        reused_documents=len(reused),
        removed_documents=len(set(old_hashes) - {d.doc_id for d in documents}),
        skipped=list(skipped),
        generation=gen.name,
        embedded_texts=len(vectors),
        embed_seconds=round(embed_seconds, 2),
    )


def index_paths(
    paths: Sequence[Path],
    embedder: PassageEmbedder,
    index_dir: Path,
    options: BuildOptions = BuildOptions(),
    progress: Progress | None = None,
) -> BuildReport:
    """Ingest files and folders and build the index from exactly those documents."""
    found = load_documents(paths, max_file_bytes=options.max_file_bytes)
    return build_index(found.documents, embedder, index_dir, options, progress, found.skipped)


def update_index(
    embedder: PassageEmbedder,
    index_dir: Path,
    add: Sequence[Path] = (),
    remove: Sequence[str] = (),
    options: BuildOptions = BuildOptions(),
    progress: Progress | None = None,
) -> BuildReport:
    """Add or replace the documents of the files in `add` and drop those under `remove`."""
    read_manifest(index_dir)  # a clear IndexMissing, before anything is read or created
    found = load_documents(add, max_file_bytes=options.max_file_bytes) if add else None
    if found is not None and not found.documents and not remove:
        raise nothing_indexed(found.skipped)
    documents, skipped = (found.documents, found.skipped) if found else ([], [])
    return update_documents(embedder, index_dir, documents, remove, options, progress, skipped)


def update_documents(
    embedder: PassageEmbedder,
    index_dir: Path,
    add: Sequence[Document] = (),
    remove: Sequence[str] = (),
    options: BuildOptions = BuildOptions(),
    progress: Progress | None = None,
    skipped: Sequence[Skipped] = (),
) -> BuildReport:
    """Add or replace `add` and drop the documents `remove` names (by id, source or url, or a
    folder they are under), keeping the rest.

    Runs under the writer lock, so an update made by a concurrent build is never lost.
    """
    read_manifest(index_dir)  # a clear IndexMissing, before the lock creates anything
    with writer_lock(index_dir):
        old = Index.open(index_dir)
        try:
            existing = [old.document(doc_id) for doc_id in old.documents]
        finally:
            old.close()
        keep = _without(existing, remove)
        new_ids = {d.doc_id for d in add}
        keep = [d for d in keep if d.doc_id not in new_ids] + list(add)
        return build_index(keep, embedder, index_dir, options, progress, skipped)


def _without(documents: Sequence[Document], remove: Sequence[str]) -> list[Document]:
    """The documents not named by any of `remove`; BadInput names a target that matches none."""
    keep: list[Document] = []
    matched: set[str] = set()
    for doc in documents:
        hit = next((r for r in remove if _names(doc, r)), None)
        if hit is None:
            keep.append(doc)
        else:
            matched.add(hit)
    unmatched = [r for r in remove if r not in matched]
    if unmatched:
        raise BadInput(
            f"no indexed document has source {unmatched[0]!r}; nothing was changed "
            "(sources are listed by `qa ask --json` and in the index manifest)"
        )
    return keep


def _names(doc: Document, target: str) -> bool:
    """Does `target` name the document: its id, one of its urls, or its source (see _under)?"""
    return target == doc.doc_id or target in doc.urls or target == doc.url or _under(doc.source, target)


def _under(source: str, target: str) -> bool:
    """Is `source` the target itself, a line of the target .jsonl file, or inside the target folder?"""
    if source == target or source.startswith(f"{target}#L"):
        return True
    try:
        return Path(source).resolve().is_relative_to(Path(target).resolve())
    except (OSError, ValueError):
        return False
