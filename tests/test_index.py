"""The index directory (qa/index/): a build written and opened again, its manifest, damage and
mismatches refused with a clear message, generations, and incremental updates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import FAKE_DIM, FAKE_MODEL, FakeEncoder, build_sample

from qa.build import BuildOptions, build_index, chunker_settings, split_document, update_index
from qa.embed import Embedder
from qa.errors import IndexCorrupt, IndexMismatch, IndexMissing, NothingIndexed, QAError
from qa.index import CURRENT, FORMAT_VERSION, Index, Manifest, current_generation, read_manifest
from qa.ingest import bundled_corpus, load_documents


def live_gen(index_dir: Path) -> Path:
    gen = current_generation(index_dir)
    assert gen is not None
    return gen


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def write_article(folder: Path, name: str, title: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"{title}\n{body}\n")
    return path


# --- round trip -----------------------------------------------------------------------------


def test_index_round_trip_manifest(sample_index: Path) -> None:
    index = Index(sample_index)
    _, m = read_manifest(sample_index)
    (doc,) = load_documents([bundled_corpus()]).documents
    # A reader holds the documents' hashes once, in its document records, not in its manifest.
    assert index.manifest == replace(m, documents={})
    assert index.documents[doc.doc_id].content_hash == doc.content_hash
    assert m.format_version == FORMAT_VERSION
    assert m.model == FAKE_MODEL
    assert m.dimension == FAKE_DIM
    assert m.chunker == chunker_settings(Embedder(FakeEncoder()), 256)
    assert m.documents == {doc.doc_id: doc.content_hash}
    assert m.counts == {"documents": 1, "chunks": index.n_chunks, "sentences": index.n_sentences}
    assert m.index_type == "flat"
    assert datetime.strptime(m.built_at, "%Y-%m-%dT%H:%M:%SZ")
    assert index.generation == live_gen(sample_index).name
    assert Manifest.from_json((live_gen(sample_index) / "manifest.json").read_text()) == m
    assert Manifest.from_json(m.to_json()) == m


def test_index_round_trip_documents_chunks_sentences(sample_index: Path, fake_embedder: Embedder) -> None:
    index = Index(sample_index, expect_model=FAKE_MODEL, expect_dim=FAKE_DIM)
    (doc,) = load_documents([bundled_corpus()]).documents
    split = split_document(doc, 256, fake_embedder)
    sentences, chunks, chunk_texts, sentence_texts = (
        split.sentences,
        split.chunks,
        split.chunk_texts,
        split.sentence_texts,
    )

    info = index.documents[doc.doc_id]
    assert (info.title, info.source, info.published, info.content_hash) == (
        doc.title,
        doc.source,
        doc.published,
        doc.content_hash,
    )
    assert index.document_text(doc.doc_id) == doc.text
    assert index.n_chunks == len(chunks) == index.dense.ntotal
    assert index.n_sentences == len(sentences) == len(index.sentence_vectors)
    assert list(index.chunks(range(len(chunks))).values()) == chunks
    assert [s for _, s in index.sentences(doc.doc_id, 0, 10_000)] == sentences

    prepared = index.load_prepared(doc.doc_id)
    assert prepared.document == doc  # headings included
    assert prepared.chunks == chunks and prepared.sentences == sentences
    np.testing.assert_allclose(prepared.chunk_vectors, fake_embedder.embed_documents(chunk_texts), atol=1e-6)
    np.testing.assert_allclose(
        prepared.sentence_vectors, fake_embedder.embed_documents(sentence_texts), atol=1e-6
    )


def test_index_unknown_document_text_is_empty(sample_index: Path) -> None:
    assert Index(sample_index).document_text("no-such-doc") == ""


# --- mismatches and damage ------------------------------------------------------------------


def _edit_manifest(**changes: object) -> Callable[[Path], None]:
    def edit(index_dir: Path) -> None:
        path = live_gen(index_dir) / "manifest.json"
        manifest = json.loads(path.read_text())
        manifest.update(changes)
        path.write_text(json.dumps(manifest))

    return edit


def _drop_from_manifest(key: str) -> Callable[[Path], None]:
    def drop(index_dir: Path) -> None:
        path = live_gen(index_dir) / "manifest.json"
        manifest = json.loads(path.read_text())
        del manifest[key]
        path.write_text(json.dumps(manifest))

    return drop


def _truncate(name: str, keep: int = 10) -> Callable[[Path], None]:
    def truncate(index_dir: Path) -> None:
        path = live_gen(index_dir) / name
        path.write_bytes(path.read_bytes()[:keep])

    return truncate


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda index_dir: (live_gen(index_dir) / name).write_bytes(data)


def _delete(name: str) -> Callable[[Path], None]:
    return lambda index_dir: (live_gen(index_dir) / name).unlink()


def _fewer_sentence_vectors(index_dir: Path) -> None:
    np.save(live_gen(index_dir) / "sentence_vectors.npy", np.zeros((3, FAKE_DIM), np.float32))


def _dangling_current(index_dir: Path) -> None:
    (index_dir / CURRENT).write_text("gen-does-not-exist\n")


def _no_current(index_dir: Path) -> None:
    (index_dir / CURRENT).unlink()


NO_CHANGE: Callable[[Path], None] = lambda index_dir: None  # noqa: E731

BROKEN = [
    ("other-model", NO_CHANGE, {"expect_model": "other"}, IndexMismatch,
     "was built with model 'fake-hashed-bow-64' but the configured model is 'other'"),
    ("other-dimension", NO_CHANGE, {"expect_dim": 384}, IndexMismatch,
     "holds 64-dimensional vectors but the model makes 384-dimensional ones"),
    ("other-format-version", _edit_manifest(format_version=99), {}, IndexMismatch, "format version 99"),
    ("manifest-dimension-lies", _edit_manifest(dimension=32), {}, IndexCorrupt,
     "disagrees with its manifest"),
    ("no-current", _no_current, {}, IndexMissing, "no index in"),
    ("dangling-current", _dangling_current, {}, IndexCorrupt, "is unreadable"),
    ("garbage-manifest", _write("manifest.json", b"{not json"), {}, IndexCorrupt, "is unreadable"),
    ("manifest-not-an-object", _write("manifest.json", b"[1, 2]"), {}, IndexCorrupt, "not a JSON object"),
    ("manifest-missing-model", _drop_from_manifest("model"), {}, IndexCorrupt, "bad field 'model'"),
    ("truncated-faiss", _truncate("chunks.faiss"), {}, IndexCorrupt, "is damaged"),
    ("missing-faiss", _delete("chunks.faiss"), {}, IndexCorrupt, "is damaged"),
    ("truncated-sentence-vectors", _truncate("sentence_vectors.npy"), {}, IndexCorrupt, "is damaged"),
    ("missing-store", _delete("store.sqlite"), {}, IndexCorrupt, "is damaged"),
    ("garbage-store", _write("store.sqlite", b"not a database" * 100), {}, IndexCorrupt, "is damaged"),
    ("vector-count-mismatch", _fewer_sentence_vectors, {}, IndexCorrupt, "inconsistent (vector counts)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "kwargs", "error", "phrase"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_index_load_errors(
    sample_index: Path,
    damage: Callable[[Path], None],
    kwargs: dict,
    error: type[QAError],
    phrase: str,
) -> None:
    damage(sample_index)
    with pytest.raises(error) as info:
        Index(sample_index, **kwargs)
    message = info.value.message
    assert phrase in message
    assert f"qa index [PATH ...] --index-dir {sample_index}" in message
    assert info.value.status == 503


def test_index_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing) as info:
        Index(tmp_path / "never-built")
    assert "Build one with: qa index" in info.value.message


# --- atomic generations ---------------------------------------------------------------------


def test_second_build_moves_current_and_keeps_previous_whole(tmp_path: Path, fake_embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    corpus = tmp_path / "corpus"
    write_article(corpus, "a.txt", "Alpha Story", "The alpha river flooded the valley.")
    build_index(load_documents([corpus]).documents, fake_embedder, index_dir)
    first = live_gen(index_dir)
    before = tree_digest(first)

    write_article(corpus, "b.txt", "Beta Story", "The beta mountain was climbed in winter.")
    report = build_index(load_documents([corpus]).documents, fake_embedder, index_dir)
    second = live_gen(index_dir)

    assert second != first
    assert report.generation == second.name
    assert (index_dir / CURRENT).read_text().strip() == second.name
    assert first.is_dir() and tree_digest(first) == before, "the previous generation is untouched"
    assert len(Index(index_dir).documents) == 2
    assert not list(index_dir.glob(".tmp-gen-*")) and not (index_dir / ".CURRENT.tmp").exists()


def test_only_the_newest_previous_generation_is_kept(tmp_path: Path, fake_embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    gens = []
    for _ in range(4):
        build_index(
            load_documents([bundled_corpus()]).documents,
            fake_embedder,
            index_dir,
            BuildOptions(incremental=False),
        )
        gens.append(live_gen(index_dir).name)
    remaining = sorted(p.name for p in index_dir.glob("gen-*"))
    assert len(set(gens)) == 4
    assert gens[-1] in remaining
    assert len(remaining) == 2


def test_leftover_tmp_generation_does_not_break_loading_or_building(
    sample_index: Path, fake_embedder: Embedder
) -> None:
    leftover = sample_index / ".tmp-gen-crashed1"
    leftover.mkdir()
    (leftover / "manifest.json").write_text("{half written")
    (leftover / "chunks.faiss").write_bytes(b"\x00" * 7)
    assert len(Index(sample_index).documents) == 1
    build_sample(sample_index, fake_embedder)
    assert len(Index(sample_index).documents) == 1


def test_failed_write_leaves_previous_index_live(
    sample_index: Path, fake_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.index.write

    gen = live_gen(sample_index)
    before = tree_digest(gen)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(qa.index.write.faiss, "write_index", boom)
    with pytest.raises(OSError, match="disk full"):
        build_index(
            load_documents([bundled_corpus()]).documents,
            fake_embedder,
            sample_index,
            BuildOptions(incremental=False),
        )
    assert live_gen(sample_index) == gen
    assert tree_digest(gen) == before
    assert not list(sample_index.glob(".tmp-gen-*")), "the half-written generation is removed"
    assert len(Index(sample_index).documents) == 1


def test_build_with_no_documents_refuses_and_keeps_index(sample_index: Path, fake_embedder: Embedder) -> None:
    gen = live_gen(sample_index)
    with pytest.raises(NothingIndexed) as info:
        build_index([], fake_embedder, sample_index)
    assert "nothing could be indexed" in info.value.message
    assert "The existing index was left as it was." in info.value.message
    assert live_gen(sample_index) == gen


# --- incremental builds ---------------------------------------------------------------------


def test_rebuild_reuses_unchanged_documents(
    tmp_path: Path, fake_embedder: Embedder, fake_encoder: FakeEncoder
) -> None:
    index_dir = tmp_path / "index"
    corpus = tmp_path / "corpus"
    write_article(corpus, "a.txt", "Alpha Story", "The alpha river flooded the valley.")
    b = write_article(corpus, "b.txt", "Beta Story", "The beta mountain was climbed in winter.")
    first = build_index(load_documents([corpus]).documents, fake_embedder, index_dir)
    assert (first.embedded_documents, first.reused_documents) == (2, 0)

    b.write_text("Beta Story\nThe beta mountain was climbed in summer instead.\n")
    fake_encoder.calls.clear()
    second = build_index(load_documents([corpus]).documents, fake_embedder, index_dir)
    assert (second.embedded_documents, second.reused_documents, second.removed_documents) == (1, 1, 0)
    assert sum(fake_encoder.calls) == 2  # one chunk and one sentence of the changed article

    b.unlink()
    third = build_index(load_documents([corpus]).documents, fake_embedder, index_dir)
    assert (third.documents, third.reused_documents, third.removed_documents) == (1, 1, 1)
    assert [d.title for d in Index(index_dir).documents.values()] == ["Alpha Story"]


def test_rebuild_with_other_model_embeds_everything(sample_index: Path) -> None:
    other = Embedder(FakeEncoder(name="other-fake"))
    report = build_sample(sample_index, other)
    assert (report.embedded_documents, report.reused_documents) == (1, 0)
    assert Index(sample_index).manifest.model == "other-fake"


def test_update_index_adds_and_removes(tmp_path: Path, fake_embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    a = write_article(tmp_path / "corpus", "a.txt", "Alpha Story", "The alpha river flooded the valley.")
    build_index(load_documents([a]).documents, fake_embedder, index_dir)
    b = write_article(tmp_path / "more", "b.txt", "Beta Story", "The beta mountain was climbed.")
    update_index(fake_embedder, index_dir, add=[b])
    assert sorted(d.title for d in Index(index_dir).documents.values()) == ["Alpha Story", "Beta Story"]
    update_index(fake_embedder, index_dir, remove=[str(tmp_path / "corpus")])
    assert [d.title for d in Index(index_dir).documents.values()] == ["Beta Story"]


def test_document_records_share_what_repeats_across_documents() -> None:
    from qa.index.rows import document_info_from_row

    def row(n: int) -> tuple[str, ...]:
        url = "".join(["https://daily.example/", str(n)])  # a new string object each time, as SQLite's
        site, day, author = ("".join([s, ""]) for s in ("The Daily", "2024-05-01", "A. Writer"))
        return (
            f"id{n}",
            "T",
            "".join([url, ""]),
            day,
            "h",
            url,
            site,
            author,
            json.dumps([url, "https://x.example/"]),
        )

    a, b = document_info_from_row(row(1)), document_info_from_row(row(2))
    assert a.site is b.site and a.published is b.published and a.author is b.author
    assert a.source is a.url and a.urls[0] is a.url and a.urls[1] == "https://x.example/"
    assert not hasattr(a, "__dict__")  # slots: a reader holds one record per document
