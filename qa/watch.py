"""Following feeds: poll them, and add the articles that are new or newer than the indexed copy.

Each round goes through the same build path as `qa index` (incremental, under the writer lock, a
new generation made live atomically), so a running server picks new articles up by hot reload.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.build import BuildOptions, BuildReport, build_index, update_documents
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import BadInput, IndexMissing, QAError
from qa.fetch import Fetcher
from qa.index import Index, current_generation
from qa.ingest import Skipped
from qa.ingest.feeds import FeedItem
from qa.ingest.web import read_feeds, read_page
from qa.records import Document

log = logging.getLogger(__name__)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$", re.IGNORECASE)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_INTERVAL_S = 1.0


def parse_interval(text: str) -> float:
    """Seconds in "90", "30s", "15m", "1h" or "1d"; BadInput otherwise."""
    m = _DURATION.match(text)
    if not m:
        raise BadInput(f"--every takes a duration such as 30s, 15m or 1h, not {text!r}")
    seconds = float(m.group(1)) * UNITS[(m.group(2) or "s").lower()]
    if seconds < MIN_INTERVAL_S:
        raise BadInput(f"--every must be at least {MIN_INTERVAL_S:g} s, not {text!r}")
    return seconds


@dataclass(frozen=True)
class Round:
    """What one poll found and did."""

    items: int  # items listed by the feeds
    fetched: int  # articles fetched: new ones, or ones the feed dates later than the indexed copy
    skipped: list[Skipped]
    report: BuildReport | None  # None when nothing was fetched


def _indexed(settings: Settings) -> dict[str, str | None]:
    """Every url of the indexed articles, with the article's date."""
    if current_generation(settings.index_dir) is None:
        return {}
    try:
        index = Index.open(settings.index_dir)
    except QAError:
        return {}
    index.close()
    return {u: d.published for d in index.documents.values() for u in {d.source, *(d.urls or ())}}


def _wanted(item: FeedItem, indexed: dict[str, str | None]) -> bool:
    """New, or dated by its feed later than the copy in the index."""
    if item.url not in indexed:
        return True
    stored = indexed[item.url]
    return bool(item.published and (not stored or item.published > stored[:10]))


def poll(feeds: Sequence[str], embedder: Embedder, settings: Settings) -> Round:
    """One round: read the feeds, fetch what is new or newer, add it to the index."""
    indexed = _indexed(settings)
    skipped: list[Skipped] = []
    documents: list[Document] = []
    with Fetcher(settings) as fetcher:
        items = read_feeds(feeds, fetcher, skipped)
        for item in [i for i in dict.fromkeys(items) if _wanted(i, indexed)]:
            try:
                documents.append(read_page(item.url, fetcher, item.published))
            except QAError as exc:
                skipped.append(Skipped(item.url, exc.message))
    if not documents:
        return Round(len(items), 0, skipped, None)
    options = BuildOptions.from_settings(settings)
    try:
        report = update_documents(embedder, settings.index_dir, documents, (), options, None, skipped)
    except IndexMissing:
        report = build_index(documents, embedder, settings.index_dir, options, None, skipped)
    return Round(len(items), len(documents), skipped, report)


def watch(
    feeds: Sequence[str],
    embedder: Embedder,
    settings: Settings,
    every_s: float,
    stop: threading.Event,
    on_round: Callable[[Round], None] = lambda r: None,
) -> None:
    """Poll the feeds every `every_s` seconds until `stop` is set; a failed round is logged and
    the next one tried (a feed that is down now may be back later)."""
    while not stop.is_set():
        try:
            on_round(poll(feeds, embedder, settings))
        except QAError as exc:
            log.warning("this round failed: %s", exc.message)
        stop.wait(every_s)
