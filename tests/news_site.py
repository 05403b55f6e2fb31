"""A local news site for the tests of article URLs and feeds: real-looking pages (navigation,
cookie banner, JSON-LD and Open Graph metadata, related links, comments, a syndicated copy, a
windows-1252 page), RSS and Atom feeds, a malformed feed, a 404, a link that never answers, a
30 MB page and an image. Served on 127.0.0.1 from a thread; the feed can grow during a test."""

from __future__ import annotations

import http.server
import threading
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from fetch_site import in_thread

PAGES = Path(__file__).parent / "data" / "news"
HUGE = 30_000_000
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
ARTICLES = {
    "/news/harbour-bridge-reopens": "harbour.html",
    "/wire/harbour-bridge": "harbour-wire.html",
    "/events/cafe-festival": "festival-1252.html",
    "/news/library-hours": "library.html",
}


def rss(base: str, paths: list[tuple[str, str | None]]) -> bytes:
    """An RSS 2.0 feed of these (path, RFC 822 date) items."""
    items = "".join(
        f"<item><title>Item {n}</title><link>{base}{p}</link>"
        + (f"<pubDate>{d}</pubDate>" if d else "")
        + "</item>"
        for n, (p, d) in enumerate(paths)
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
    return f"{head}{items}</channel></rss>".encode()


def atom(base: str, paths: list[str]) -> bytes:
    """An Atom feed of these paths."""
    entries = "".join(
        f'<entry><title>E{n}</title><link href="{base}{p}"/><id>{base}{p}</id>'
        f"<updated>2024-01-0{n + 1}T00:00:00Z</updated></entry>"
        for n, p in enumerate(paths)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        f"{entries}</feed>"
    ).encode()


class NewsSite(http.server.ThreadingHTTPServer):
    """The site; `feed` lists the RSS feed's items and may be changed while it runs."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.feed: list[tuple[str, str | None]] = [
            ("/news/harbour-bridge-reopens", "Fri, 15 Mar 2024 08:30:00 GMT"),
            ("/wire/harbour-bridge", "Sat, 16 Mar 2024 06:00:00 GMT"),
            ("/events/cafe-festival", None),
            ("/news/library-hours", "Mon, 04 Mar 2024 09:00:00 GMT"),
            ("/news/missing", None),
            ("/news/never-answers", None),
            ("/news/huge", None),
            ("/images/photo.png", None),
        ]
        self.hits: dict[str, int] = {}
        self.release = threading.Event()
        self.extra: dict[str, bytes] = {}  # more article pages, by path

    def url(self, path: str) -> str:
        return self.base + path


class Handler(http.server.BaseHTTPRequestHandler):
    server: NewsSite

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.server.hits[path] = self.server.hits.get(path, 0) + 1
        site = self.server
        if path in ARTICLES or path in site.extra:
            page = site.extra.get(path) or (PAGES / ARTICLES[path]).read_bytes()
            return self._send(200, "text/html", page.replace(b"{base}", site.base.encode()))
        if path == "/feed.xml":
            return self._send(200, "application/rss+xml", rss(site.base, site.feed))
        if path == "/atom.xml":
            return self._send(200, "application/atom+xml", atom(site.base, ["/events/cafe-festival"]))
        if path == "/broken.xml":
            return self._send(200, "application/rss+xml", b"<rss><channel><item><title>cut off")
        if path == "/images/photo.png":
            return self._send(200, "image/png", PNG)
        if path == "/news/never-answers":
            site.release.wait(30)
            return None
        if path == "/news/huge":
            return self._huge()
        return self._send(404, "text/html", b"<h1>Not found</h1>")

    def _send(self, status: int, media_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _huge(self) -> None:
        """30 MB of HTML without a Content-Length, until the client hangs up."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        chunk = b"<p>" + b"word " * 2000 + b"</p>"
        try:
            for _ in range(HUGE // len(chunk)):
                self.wfile.write(chunk)
        except OSError:
            pass  # the client stopped reading at its size cap


def news_site() -> AbstractContextManager[NewsSite]:
    """The site, serving until the block ends."""
    site = NewsSite()
    return in_thread(site, site.release)
