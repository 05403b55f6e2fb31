"""`qa watch`: polling feeds adds new articles, and a running server picks them up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from conftest import FakeEncoder
from news_site import NewsSite, news_site
from serving import serve

from qa.config import Settings
from qa.embed import Embedder
from qa.errors import BadInput
from qa.index import Index
from qa.pipeline import QA
from qa.watch import parse_interval, poll
from web.app import create_app

CHILD = Path(__file__).parent / "crash_child.py"
LIGHTHOUSE = b"""<!DOCTYPE html><html><head><title>Lighthouse keeper retires | The Daily</title>
<meta property="og:site_name" content="The Daily">
<meta property="article:published_time" content="2024-03-20">
</head><body><nav>News Sport</nav><article><h1>Lighthouse keeper retires</h1>
<p>The last lighthouse keeper on the coast, Ingrid Falk, retired on Wednesday after 41 years of service,
the maritime authority said.</p><p>The lighthouse will now be run automatically from the port office.</p>
</article></body></html>"""


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with news_site() as s:
        s.feed = s.feed[:1] + s.feed[2:4]  # three good articles, no copy, no broken links
        yield s


def settings_for(index_dir: Path) -> Settings:
    return replace(Settings.from_env(env={}, index_dir=index_dir), allow_private_urls=True, fetch_timeout_s=2)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("30s", 30), ("15m", 900), ("1.5h", 5400), ("1d", 86400), (" 2M ", 120)]
)
def test_parse_interval(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "15 minutes", "-5m", "0.5s", "1w"])
def test_parse_interval_refuses(text: str) -> None:
    with pytest.raises(BadInput, match="--every"):
        parse_interval(text)


def test_poll_fetches_only_new_or_newer_articles(site: NewsSite, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "index")
    embedder = Embedder(FakeEncoder())
    first = poll([site.url("/feed.xml")], embedder, settings)
    assert (first.items, first.fetched) == (3, 3) and first.report and first.report.documents == 3
    hits = dict(site.hits)
    again = poll([site.url("/feed.xml")], embedder, settings)
    assert (again.fetched, again.report) == (0, None)
    assert {p: n for p, n in site.hits.items() if p != "/feed.xml"} == {
        p: n for p, n in hits.items() if p != "/feed.xml"
    }
    site.extra["/news/lighthouse"] = LIGHTHOUSE
    site.feed.append(("/news/lighthouse", "Wed, 20 Mar 2024 12:00:00 GMT"))
    site.feed[0] = (site.feed[0][0], "Thu, 21 Mar 2024 12:00:00 GMT")  # the feed dates an update
    third = poll([site.url("/feed.xml")], embedder, settings)
    assert third.fetched == 2 and third.report and third.report.documents == 4
    titles = {d.title for d in Index.open(tmp_path / "index").documents.values()}
    assert "Lighthouse keeper retires" in titles


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A uvicorn server on an index that does not exist yet, reloading often."""
    settings = replace(settings_for(tmp_path / "index"), reload_interval_s=0.05)
    app = create_app(settings, qa=QA(settings, Embedder(FakeEncoder()), require_index=False))
    with serve(app) as base:
        yield base


def ask(base: str, question: str) -> dict[str, object]:
    response = httpx.post(f"{base}/ask", json={"question": question}, timeout=10)
    return response.json() if response.status_code == 200 else {}


def wait_for(predicate: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_watch_adds_a_new_feed_item_while_a_server_answers(
    site: NewsSite, server: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | {"QA_ALLOW_PRIVATE_URLS": "1"}
    argv = ["watch", "--feed", site.url("/feed.xml"), "--every", "1s", "--index-dir", str(tmp_path / "index")]
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "none", "0", *argv], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        question = "Who retired after 41 years as lighthouse keeper?"
        wait_for(
            lambda: ask(server, "What did the library survey ask for?").get("abstained") is False, 30, "first"
        )
        assert "Ingrid Falk" not in str(ask(server, question).get("answer"))
        site.extra["/news/lighthouse"] = LIGHTHOUSE
        site.feed.append(("/news/lighthouse", "Wed, 20 Mar 2024 12:00:00 GMT"))
        wait_for(lambda: "Ingrid Falk" in str(ask(server, question).get("answer")), 30, "the new item")
    finally:
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert "Watching 1 feed(s) every 1 s" in out and "fetched 1: indexed 4 document(s)" in out
