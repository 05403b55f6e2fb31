"""qa.fetch against a real HTTP server on 127.0.0.1 (tests/fetch_site.py): pages and feeds, retries,
redirects, the size cap, timeouts, and failures that say the URL and the reason."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fetch_site import ARTICLE, HUGE, RSS, SETTINGS, Site, serving

from qa.config import FETCH_MAX_REDIRECTS, Settings
from qa.errors import FetchFailed
from qa.fetch import Accept, Fetcher


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serving() as server:
        yield server


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(SETTINGS, backoff_s=0.01) as f:
        yield f


# --- what comes back -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "accept", "content_type", "content"),
    [
        ("/article", Accept.PAGE, "text/html", ARTICLE),
        ("/xhtml", Accept.PAGE, "application/xhtml+xml", ARTICLE),
        ("/untyped-page", Accept.PAGE, "text/html", ARTICLE),
        ("/feed.xml", Accept.FEED, "application/rss+xml", RSS),
        ("/plain-feed", Accept.FEED, "application/rss+xml", RSS),
    ],
    ids=["html", "xhtml", "untyped-html-sniffed", "rss", "rss-as-text-plain-sniffed"],
)
def test_fetch_returns_the_body_and_its_type(
    site: Site, fetcher: Fetcher, path: str, accept: Accept, content_type: str, content: bytes
) -> None:
    got = fetcher.fetch(site.url(path), accept)
    assert (got.url, got.final_url, got.content, got.content_type) == (
        site.url(path),
        site.url(path),
        content,
        content_type,
    )


def test_fetch_reports_the_charset_and_names_the_product(site: Site, fetcher: Fetcher) -> None:
    got = fetcher.fetch(site.url("/article?who"), Accept.PAGE)
    assert got.charset == "utf-8"
    headers = site.headers_seen["/article?who"]
    assert headers["User-Agent"].startswith("newsqa/0.1")
    assert headers["Accept"].startswith("text/html, application/xhtml+xml")


def test_fetch_follows_redirects_to_a_page_that_is_fine(site: Site, fetcher: Fetcher) -> None:
    got = fetcher.fetch(site.url(f"/redirect/{FETCH_MAX_REDIRECTS - 1}"), Accept.PAGE)
    assert (got.url, got.final_url, got.content) == (
        site.url(f"/redirect/{FETCH_MAX_REDIRECTS - 1}"),
        site.url("/article"),
        ARTICLE,
    )


def test_fetch_retries_a_500_until_it_succeeds(site: Site, fetcher: Fetcher) -> None:
    assert fetcher.fetch(site.url("/flaky?1"), Accept.PAGE).content == ARTICLE
    assert site.hits["/flaky?1"] == 3


@pytest.mark.parametrize(("path", "hits"), [("/broken?2", 3), ("/missing?2", 1), ("/forbidden?2", 1)])
def test_fetch_retries_5xx_twice_and_4xx_never(site: Site, fetcher: Fetcher, path: str, hits: int) -> None:
    with pytest.raises(FetchFailed):
        fetcher.fetch(site.url(path), Accept.PAGE)
    assert site.hits[path] == hits


# --- failures: the URL and the reason, in words -----------------------------------------------------

FAILURES = [
    ("not-found", "/missing", Accept.PAGE, r"the server answered 404 Not Found$"),
    ("server-error", "/broken", Accept.PAGE, r"the server answered 503 Service Unavailable \(3 tries\)$"),
    ("image", "/image", Accept.PAGE, r"it is image/png, not an HTML page$"),
    ("pdf", "/pdf", Accept.PAGE, r"it is application/pdf, not an HTML page$"),
    ("page-for-a-feed", "/article", Accept.FEED, r"it is text/html, not an RSS or Atom feed$"),
    ("plain-text-page", "/plain-text", Accept.PAGE, r"it is text/plain, not an HTML page$"),
    ("plain-text-feed", "/plain-text", Accept.FEED, r"it is text/plain and does not look like an RSS or"),
    ("untyped-binary", "/untyped-binary", Accept.PAGE, r"without a content type and does not look like an"),
    ("no-length-30mb", "/huge", Accept.PAGE, r"it is over the 1,000,000-byte limit \(QA_MAX_FILE_BYTES\)$"),
    ("declared-30mb", "/declared-huge", Accept.PAGE, r"says it is 30,000,000 bytes, over the 1,000,000-byte"),
    ("gzip-bomb", "/gzip-bomb", Accept.PAGE, r"it is over the 1,000,000-byte limit \(QA_MAX_FILE_BYTES\)$"),
    ("too-many-redirects", f"/redirect/{FETCH_MAX_REDIRECTS}", Accept.PAGE, r"redirects more than 5 times$"),
    ("redirect-to-ftp", "/to-ftp", Accept.PAGE, r"redirects to ftp://127.0.0.1/story.html, and it is an ftp"),
    ("redirect-nowhere", "/nowhere", Accept.PAGE, r"answered 302 Found without saying where to go$"),
]


@pytest.mark.parametrize(
    ("path", "accept", "reason"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_fetch_failure_says_the_url_and_why(
    site: Site, fetcher: Fetcher, path: str, accept: Accept, reason: str
) -> None:
    url = site.url(path)
    with pytest.raises(
        FetchFailed, match=r"^could not fetch " + url.replace("?", r"\?") + r"[ :].*" + reason
    ):
        fetcher.fetch(url, accept)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://127.0.0.1/story.html", "it is an ftp URL; only http and https URLs can be fetched"),
        ("127.0.0.1/story.html", "it is a URL without a scheme; only http and https URLs can be fetched"),
        ("http:///story.html", "it has no host"),
        ("http://user:secret@127.0.0.1/", "it holds a user name or password; give the URL without them"),
    ],
    ids=["ftp", "no-scheme", "no-host", "credentials"],
)
def test_fetch_refuses_a_url_before_any_request(fetcher: Fetcher, url: str, reason: str) -> None:
    with pytest.raises(FetchFailed) as caught:
        fetcher.fetch(url, Accept.PAGE)
    assert caught.value.message == f"could not fetch {url}: {reason}"
    assert (caught.value.status, caught.value.code) == (422, "fetch_failed")


def test_fetch_names_the_hop_that_failed(site: Site, fetcher: Fetcher) -> None:
    with pytest.raises(FetchFailed) as caught:
        fetcher.fetch(site.url("/redirect/5"), Accept.PAGE)
    assert caught.value.message.startswith(f"could not fetch {site.url('/redirect/5')} (redirected to ")


def test_fetch_stops_reading_a_body_without_length_at_the_cap(site: Site, fetcher: Fetcher) -> None:
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="over the 1,000,000-byte limit"):
        fetcher.fetch(site.url("/huge?cap"), Accept.PAGE)
    assert time.monotonic() - started < 5
    assert site.done.setdefault("/huge?cap", threading.Event()).wait(10)
    # The client hung up past the cap: what got out is the cap plus the sockets' buffers.

    assert site.written["/huge?cap"] < HUGE / 3


def test_fetch_reads_no_further_than_a_lying_content_length(site: Site, fetcher: Fetcher) -> None:
    # Content-Length says 1,000 and 30 MB follow: the framing ends the body at 1,000, never more.
    got = fetcher.fetch(site.url("/lying-length?cap"), Accept.PAGE)
    assert got.content == (ARTICLE + b" " * HUGE)[:1000]
    assert site.done.setdefault("/lying-length?cap", threading.Event()).wait(10)

    assert site.written["/lying-length?cap"] < HUGE / 3


def test_fetch_times_out_on_a_server_that_never_answers(site: Site) -> None:
    quick = Settings(allow_private_urls=True, fetch_timeout_s=0.3, fetch_connect_timeout_s=0.3)
    started = time.monotonic()
    with Fetcher(quick, backoff_s=0.01) as fetcher, pytest.raises(FetchFailed) as caught:
        fetcher.fetch(site.url("/never-answers"), Accept.PAGE)
    assert caught.value.message == (
        f"could not fetch {site.url('/never-answers')}: "
        "timed out waiting for the answer (after 0.3 s) (3 tries)"
    )
    assert site.hits["/never-answers"] == 3
    assert time.monotonic() - started < 5


def test_fetch_says_when_the_connection_is_refused(fetcher: Fetcher) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(FetchFailed, match=r"could not connect to 127.0.0.1: .*[Cc]onnection refused"):
        fetcher.fetch(f"http://127.0.0.1:{port}/", Accept.PAGE)


def test_fetch_refuses_an_encoding_it_did_not_ask_for(site: Site, fetcher: Fetcher) -> None:
    with pytest.raises(FetchFailed, match="it is sent with the br encoding, which was not asked for"):
        fetcher.fetch(site.url("/brotli"), Accept.PAGE)
