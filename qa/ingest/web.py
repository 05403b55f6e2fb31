"""Article URLs and feeds → Documents: every page fetched safely (qa/fetch.py) and read with
trafilatura; a link that fails is reported with its URL and reason, and the rest are read."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from qa.config import Settings
from qa.errors import QAError
from qa.fetch import Accept, Fetcher
from qa.ingest import IngestResult, Skipped, load_documents, page_document
from qa.ingest.feeds import FeedItem, parse_feed
from qa.records import Document


def is_url(text: str) -> bool:
    """Whether a command-line source is a web address rather than a path."""
    return text.startswith(("http://", "https://"))


def read_feeds(feeds: Sequence[str], fetcher: Fetcher, skipped: list[Skipped]) -> list[FeedItem]:
    """The items of the feeds, in order; a feed that can't be fetched or parsed goes to `skipped`."""
    items: list[FeedItem] = []
    for feed_url in feeds:
        try:
            fetched = fetcher.fetch(feed_url, Accept.FEED)
            items += parse_feed(fetched.content, fetched.final_url)
        except QAError as exc:
            skipped.append(Skipped(feed_url, exc.message))
    return items


def read_page(url: str, fetcher: Fetcher, published: str | None = None) -> Document:
    """The article at `url` as a Document (its source is the page's canonical address)."""
    fetched = fetcher.fetch(url, Accept.PAGE)
    return page_document(fetched.content, None, fetched.final_url, published)


def load_web(urls: Sequence[str], feeds: Sequence[str], fetcher: Fetcher) -> IngestResult:
    """Read the article URLs and every item of the feeds, in that order, skipping failures and
    repeats (the same article twice, by address or by canonical address)."""
    documents: list[Document] = []
    skipped: list[Skipped] = []
    targets: list[tuple[str, str | None]] = [(u, None) for u in urls]
    targets += [(item.url, item.published) for item in read_feeds(feeds, fetcher, skipped)]
    seen: set[str] = set()
    ids: set[str] = set()
    for url, published in targets:
        if url in seen:
            continue
        seen.add(url)
        try:
            doc = read_page(url, fetcher, published)
        except QAError as exc:
            skipped.append(Skipped(url, exc.message))
            continue
        if doc.doc_id in ids:
            continue  # another address of a page already read (its canonical one)
        ids.add(doc.doc_id)
        documents.append(doc)
    return IngestResult(documents, skipped)


def load_sources(sources: Sequence[str], feeds: Sequence[str], settings: Settings) -> IngestResult:
    """Files, folders and article URLs (`sources`) and feeds, read into Documents; unusable ones
    are listed in `skipped`."""
    urls = [s for s in sources if is_url(s)]
    local = load_documents([Path(s) for s in sources if not is_url(s)], settings.max_file_bytes)
    if not urls and not feeds:
        return local
    with Fetcher(settings) as fetcher:
        web = load_web(urls, feeds, fetcher)
    return IngestResult(local.documents + web.documents, local.skipped + web.skipped)
