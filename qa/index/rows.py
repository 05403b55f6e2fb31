"""The SQLite tables of a generation and one mapper each way per table."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from qa.records import Chunk, Document, Sentence, Span

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, position INTEGER, title TEXT, source TEXT, published TEXT,
    content_hash TEXT, text TEXT, headings TEXT, url TEXT, site TEXT, author TEXT, urls TEXT);
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

# The term_df row that holds the number of sentences, the N of every IDF.
SENTENCE_COUNT_TERM = "__sentences__"

# Column lists in the order the mappers below read and write them.
DOCUMENT_COLUMNS = (
    "doc_id, position, title, source, published, content_hash, text, headings, url, site, author, urls"
)
DOCUMENT_INFO_COLUMNS = "doc_id, title, source, published, content_hash, url, site, author, urls"
CHUNK_COLUMNS = 'id, doc_id, idx, start, "end", first, last, section, text'
SENTENCE_COLUMNS = 'id, doc_id, idx, start, "end", section, paragraph, text'


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A document's metadata as stored in the index (a reader holds one per document: slots)."""

    doc_id: str
    title: str
    source: str
    published: str | None
    content_hash: str
    url: str | None = None
    site: str | None = None
    author: str | None = None
    urls: tuple[str, ...] = ()


def document_info_from_row(row: tuple[Any, ...]) -> DocumentInfo:
    """A DocumentInfo from a documents row (DOCUMENT_INFO_COLUMNS)."""
    doc_id, title, source, published, content_hash, url, site, author, urls = row
    # A reader keeps every document's record in memory (millions of them in a big archive), so
    # values that repeat across documents (sites, authors, days) are kept once, and a web
    # article's source and urls hold its url rather than copies of it.
    return DocumentInfo(
        doc_id,
        title,
        url if source == url else source,
        _shared(published),
        content_hash,
        url,
        _shared(site),
        _shared(author),
        tuple(url if u == url else u for u in json.loads(urls)),
    )


def _shared(value: str | None) -> str | None:
    """One string object for all documents with this value (interned)."""
    return sys.intern(value) if value else value


def document_row(doc: Document, position: int) -> tuple[Any, ...]:
    """A documents row (DOCUMENT_COLUMNS)."""
    d = doc
    headings = json.dumps([[h.start, h.end] for h in d.headings])
    return (
        d.doc_id, position, d.title, d.source, d.published, d.content_hash, d.text, headings,
        d.url, d.site, d.author, json.dumps(list(d.urls)),
    )  # fmt: skip


def document_from_row(row: tuple[Any, ...]) -> Document:
    """A Document from a documents row (DOCUMENT_COLUMNS)."""
    doc_id, _, title, source, published, content_hash, text, headings, url, site, author, urls = row
    spans = tuple(Span(a, b) for a, b in json.loads(headings))
    return Document(
        doc_id=doc_id, title=title, source=source, text=text, content_hash=content_hash,
        published=published, headings=spans, url=url, site=site, author=author,
        urls=tuple(json.loads(urls)),
    )  # fmt: skip


def chunk_row(chunk: Chunk, row_id: int) -> tuple[Any, ...]:
    """A chunks row (CHUNK_COLUMNS)."""
    c = chunk
    return (row_id, c.doc_id, c.idx, c.start, c.end, c.first, c.last, c.section, c.text)


def chunk_from_row(row: tuple[Any, ...]) -> Chunk:
    """A Chunk from a chunks row (CHUNK_COLUMNS)."""
    _, doc_id, idx, start, end, first, last, section, text = row
    return Chunk(doc_id, idx, start, end, text, first, last, section)


def sentence_row(sentence: Sentence, row_id: int) -> tuple[Any, ...]:
    """A sentences row (SENTENCE_COLUMNS)."""
    s = sentence
    return (row_id, s.doc_id, s.idx, s.start, s.end, s.section, s.paragraph, s.text)


def sentence_from_row(row: tuple[Any, ...]) -> Sentence:
    """A Sentence from a sentences row (SENTENCE_COLUMNS)."""
    _, doc_id, idx, start, end, section, paragraph, text = row
    return Sentence(doc_id, idx, start, end, text, section, paragraph)
