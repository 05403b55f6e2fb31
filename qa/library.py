"""The library of indexed articles: list them (paged, searched by title), add one by URL, remove one.

Adding and removing go through the same build path as `qa index` (update_documents: incremental,
under the writer lock, a new generation made live atomically), so a running server picks the
change up by hot reload like any other rebuild.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from qa.build import BuildOptions, BuildReport, update_documents
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import BadInput, NotFound
from qa.index import DocumentInfo, Index, read_manifest
from qa.text import fold

MAX_PAGE = 100


@dataclass(frozen=True)
class Entry:
    """One indexed article as the library lists it."""

    id: str
    title: str
    site: str | None
    published: str | None
    url: str | None
    source: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    """A page of the library: `total` articles match, `entries` are those from `offset` on."""

    total: int
    offset: int
    limit: int
    entries: tuple[Entry, ...]

    def to_dict(self) -> dict[str, Any]:
        """The GET /documents response object."""
        return {**asdict(self), "entries": [asdict(e) for e in self.entries]}


@dataclass(frozen=True)
class Change:
    """What an add or a remove did: the article concerned, and the build that made it live."""

    entry: Entry
    report: BuildReport


def entry(doc: DocumentInfo) -> Entry:
    """An indexed article as the library lists it."""
    return Entry(doc.doc_id, doc.title, doc.site, doc.published, doc.url, doc.source, doc.urls)


def list_documents(index: Index, query: str = "", offset: int = 0, limit: int = 20) -> Page:
    """Indexed articles whose title contains `query` (any case and accents), newest first
    (undated ones last, in index order)."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadInput(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    if offset < 0:
        raise BadInput(f"offset must not be negative, not {offset}")
    wanted = fold(query.strip())
    found = [d for d in index.documents.values() if wanted in fold(d.title)]
    found.sort(key=lambda d: d.published or "", reverse=True)  # stable: index order among equals
    entries = tuple(entry(d) for d in found[offset : offset + limit])
    return Page(len(found), offset, limit, entries)


def add_url(url: str, embedder: Embedder, settings: Settings) -> Change:
    """Fetch one article and add it to the index (or replace its earlier version); the entry is
    the article as indexed, which is an earlier copy of the story when it was folded into one."""
    # Here, not at the top: answering questions never loads the HTTP client.
    from qa.fetch import Fetcher
    from qa.ingest.web import is_url, read_page

    if not isinstance(url, str) or not is_url(url.strip()):
        raise BadInput("url must be an http or https address")
    read_manifest(settings.index_dir)  # no index to add to: say so before fetching
    with Fetcher(settings) as fetcher:
        document = read_page(url.strip(), fetcher)
    options = BuildOptions.from_settings(settings)
    report = update_documents(embedder, settings.index_dir, [document], options=options)
    index = Index.open(settings.index_dir)
    index.close()
    kept = index.documents.get(document.doc_id) or next(
        d for d in index.documents.values() if document.url in d.urls or document.source in d.urls
    )
    return Change(entry(kept), report)


def remove_document(doc_id: str, embedder: Embedder, settings: Settings) -> Change:
    """Remove one article by its id (NotFound when no article has it)."""
    index = Index.open(settings.index_dir)
    index.close()
    doc = index.documents.get(doc_id)
    if doc is None:
        raise NotFound(f"no indexed article has id {doc_id!r} (GET /documents lists them)")
    options = BuildOptions.from_settings(settings)
    return Change(
        entry(doc), update_documents(embedder, settings.index_dir, remove=[doc_id], options=options)
    )
