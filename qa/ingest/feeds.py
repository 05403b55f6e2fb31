"""RSS and Atom feeds → the articles they link to, with each item's date (feedparser)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from urllib.parse import urljoin

from qa.errors import UnreadableFile


@dataclass(frozen=True)
class FeedItem:
    """One entry of a feed: the article's address, its title and date as the feed gives them."""

    url: str
    title: str
    published: str | None  # ISO 8601 date


def parse_feed(content: bytes, feed_url: str) -> list[FeedItem]:
    """The items of an RSS 2.0, Atom or RDF feed, in feed order; UnreadableFile when the content
    is not a feed."""
    import feedparser  # only when a feed is read

    parsed = feedparser.parse(content)
    items: list[FeedItem] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        link = entry.get("link") or _alternate(entry)
        if not link:
            continue
        url = urljoin(feed_url, link)
        if url in seen:
            continue
        seen.add(url)
        items.append(FeedItem(url, " ".join(str(entry.get("title", "")).split()), _entry_date(entry)))
    if not items and (parsed.bozo or not parsed.get("version")):
        reason = getattr(parsed.get("bozo_exception"), "getMessage", lambda: "")() or str(
            parsed.get("bozo_exception") or "no RSS or Atom elements"
        )
        raise UnreadableFile(f"not a valid RSS or Atom feed ({reason})")
    return items


def _alternate(entry: dict[str, object]) -> str | None:
    """An Atom entry's rel="alternate" link, when it has no plain `link`."""
    links = entry.get("links") or []
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return None


def _entry_date(entry: dict[str, object]) -> str | None:
    """The item's publication date (or else its update date) as YYYY-MM-DD, in UTC."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            return dt.datetime(*value[:6], tzinfo=dt.UTC).date().isoformat()
    return None
