"""`qa index` over article URLs and feeds, against a local news site (tests/news_site.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FakeEncoder
from news_site import NewsSite, news_site

import qa.embed
from qa.cli import main
from qa.embed import Embedder
from qa.index import Index, current_generation


@pytest.fixture(autouse=True)
def cli_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake model, loopback fetching allowed, short timeouts; the caller's QA_* ignored."""
    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QA_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("QA_FETCH_TIMEOUT_S", "1")
    monkeypatch.setenv("QA_MAX_FILE_BYTES", "2000000")
    monkeypatch.setattr(qa.embed.Embedder, "from_settings", lambda *a, **k: Embedder(FakeEncoder()))


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with news_site() as s:
        yield s


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def documents(index_dir: Path) -> dict[str, object]:
    return {d.title: d for d in Index.open(index_dir).documents.values()}


def test_index_feed_reads_articles_and_reports_bad_links(
    site: NewsSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_dir = tmp_path / "index"
    code, out, _ = run(capsys, "index", "--feed", site.url("/feed.xml"), "--index-dir", str(index_dir), "-q")
    assert code == 0, out
    docs = documents(index_dir)
    assert set(docs) == {
        "Harbour bridge reopens months early",
        "Café festival draws record crowds",
        "City library extends opening hours",
    }
    assert "folded 1 syndicated copies" in out
    skipped = {line.split(": ", 1)[0].strip(): line for line in out.splitlines() if line.startswith("  http")}
    reasons = {
        "/news/missing": "404",
        "/news/never-answers": "timed out",
        "/news/huge": "limit (QA_MAX_FILE_BYTES)",
        "/images/photo.png": "image/png, not an HTML page",
    }
    for path, reason in reasons.items():
        assert reason in skipped[site.url(path)], skipped


def test_web_articles_keep_url_site_date_and_only_the_article_text(site: NewsSite, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    assert main(["index", "--feed", site.url("/feed.xml"), "--index-dir", str(index_dir), "-q"]) == 0
    index = Index.open(index_dir)
    by_title = {d.title: d for d in index.documents.values()}
    harbour = by_title["Harbour bridge reopens months early"]
    assert harbour.url == site.url("/news/harbour-bridge-reopens")  # the canonical address
    assert (harbour.site, harbour.published) == ("The Daily", "2024-03-15")
    assert harbour.urls == (harbour.url, site.url("/wire/harbour-bridge"))  # the syndicated copy
    text = index.document_text(harbour.doc_id)
    assert "48 suspension cables" in text
    for chrome in (
        "cookie",
        "Subscribe",
        "Related stories",
        "Ferry workers",
        "bridgefan77",
        "moderated",
        "©",
    ):
        assert chrome not in text, chrome
    festival = by_title["Café festival draws record crowds"]
    assert (festival.site, festival.published) == ("Valley News", "2024-02-10")
    assert "€15" in index.document_text(festival.doc_id)  # windows-1252 read as such
    library = by_title["City library extends opening hours"]
    assert library.published == "2024-03-04"  # from the feed item: the page gives no date


def test_ask_prints_site_and_date_of_web_sources(
    site: NewsSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_dir = tmp_path / "index"
    run(capsys, "index", site.url("/news/harbour-bridge-reopens"), "--index-dir", str(index_dir), "-q")
    code, out, _ = run(capsys, "ask", "How much did the bridge repairs cost?", "--index-dir", str(index_dir))
    assert code == 0 and "12 million euros" in out
    assert "(The Daily · 2024-03-15)" in out and site.url("/news/harbour-bridge-reopens") in out


def test_reindexing_an_unchanged_feed_embeds_nothing(
    site: NewsSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_dir = tmp_path / "index"
    site.feed = site.feed[:4]
    run(capsys, "index", "--feed", site.url("/feed.xml"), "--index-dir", str(index_dir), "-q")
    generation = current_generation(index_dir)
    code, out, _ = run(capsys, "index", "--feed", site.url("/feed.xml"), "--index-dir", str(index_dir), "-q")
    assert code == 0 and "(embedded 0, reused 3, removed 0" in out
    assert current_generation(index_dir) == generation


def test_atom_feed_and_a_malformed_one(
    site: NewsSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_dir = tmp_path / "index"
    code, out, _ = run(
        capsys, "index", "--feed", site.url("/atom.xml"), "--feed", site.url("/broken.xml"),
        "--index-dir", str(index_dir), "-q",
    )  # fmt: skip
    assert code == 0
    assert set(documents(index_dir)) == {"Café festival draws record crowds"}
    assert f"{site.url('/broken.xml')}: not a valid RSS or Atom feed" in out


def test_nothing_usable_fails_and_keeps_the_index(
    site: NewsSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_dir = tmp_path / "index"
    run(capsys, "index", site.url("/news/library-hours"), "--index-dir", str(index_dir), "-q")
    generation = current_generation(index_dir)
    code, _, err = run(capsys, "index", site.url("/news/missing"), "--index-dir", str(index_dir), "-q")
    assert code == 1 and "nothing could be indexed" in err and "404" in err
    assert current_generation(index_dir) == generation


def test_private_address_is_refused_by_default(
    site: NewsSite, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QA_ALLOW_PRIVATE_URLS")
    code, _, err = run(capsys, "index", site.url("/news/library-hours"), "--index-dir", str(tmp_path / "i"))
    assert code == 1 and "private address" in err and "QA_ALLOW_PRIVATE_URLS=1" in err
    assert site.hits == {}, "no request reached the server"


def test_add_url_to_an_existing_index(
    site: NewsSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_dir = tmp_path / "index"
    run(capsys, "index", site.url("/news/library-hours"), "--index-dir", str(index_dir), "-q")
    code, out, _ = run(
        capsys, "index", "--add", site.url("/events/cafe-festival"), "--index-dir", str(index_dir)
    )
    assert code == 0 and "(embedded 1, reused 1, removed 0)" in out
    assert len(documents(index_dir)) == 2
