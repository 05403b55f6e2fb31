"""The chat page's article metadata, filter controls and library panel in a real browser (headless
Debian Chromium via Playwright, against uvicorn), over a .jsonl index built with the fake encoder.

Screenshots go to tests/artifacts/ (library-*.png, filters-*.png) for a reviewer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from conftest import FakeEncoder
from playwright.sync_api import Browser, Page, expect
from test_browser import IMG_TAG, PHONE, SCRIPT_TAG, ask, open_page, serve, shot

from qa import QA, Settings
from qa.build import index_paths
from qa.embed import Embedder
from web.app import create_app

pytestmark = pytest.mark.browser

BRIDGE_URL = "https://daily.example/2024/03/bridge-reopens"
BRIDGE_QUESTION = "When did the harbour bridge reopen?"
ARTICLES = [
    {"title": "Harbour bridge reopens early", "url": BRIDGE_URL, "site": "The Daily",
     "published": "2024-03-15",
     "text": "The harbour bridge reopened on Friday, months ahead of schedule, the council said. "
             "Engineers finished the repairs in ten weeks."},
    {"title": "Otters return to the estuary", "url": "https://gazette.example/otters",
     "site": "Riverside Gazette", "published": "2024-05-14",
     "text": "Volunteers counted 412 river otters along the estuary this spring."},
    {"title": f"Harbour notes {SCRIPT_TAG}", "site": f"Pier {IMG_TAG}",
     "text": "The harbour master keeps notes on every ship that docks."},
] + [
    {"title": f"Market report {n}", "site": "The Daily", "published": f"2023-01-{n:02d}",
     "url": f"https://daily.example/2023/01/market-{n}",
     "text": f"Fish prices at the market moved {n} percent on day {n}."}
    for n in range(1, 26)
]  # fmt: skip
TOTAL = len(ARTICLES)


@pytest.fixture(scope="module")
def news_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("library")
    corpus = folder / "news.jsonl"
    corpus.write_text("\n".join(json.dumps(a) for a in ARTICLES) + "\n")
    embedder = Embedder(FakeEncoder())
    index_paths([corpus], embedder, folder / "index")
    settings = Settings.from_env(env={}, index_dir=Path(folder / "index"))
    with serve(create_app(settings, qa=QA(settings, embedder))) as url:
        yield url


def sent_body(page: Page, question: str) -> dict[str, Any]:
    """Ask `question`; the JSON body the page sent to /ask."""
    with page.expect_request("**/ask") as req:
        ask(page, question)
    body: dict[str, Any] = json.loads(req.value.post_data or "{}")
    return body


def test_source_shows_site_and_date_and_links_the_article(browser: Browser, news_url: str) -> None:
    with open_page(browser) as page:
        page.goto(news_url)
        ask(page, BRIDGE_QUESTION)
        answer = page.locator(".msg-answer")
        expect(answer).to_contain_text("reopened on Friday")
        first = answer.locator(".source-item").first
        expect(first.locator(".source-origin")).to_contain_text("The Daily · ")
        expect(first.locator(".source-origin time")).to_have_attribute("datetime", "2024-03-15")
        expect(first.locator(".source-origin time")).to_contain_text("2024")
        link = first.get_by_role("link", name="Open “Harbour bridge reopens early” on The Daily (new tab)")
        expect(link).to_have_attribute("href", BRIDGE_URL)
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        shot(page, "library-source-site-date")

        first.locator(".source-btn").click()
        dialog = page.locator("#source-dialog")
        title = dialog.locator("h2 a")
        expect(title).to_have_text("Harbour bridge reopens early")
        expect(title).to_have_attribute("href", BRIDGE_URL)
        expect(title).to_have_attribute("rel", "noopener noreferrer")
        meta = dialog.locator("#source-meta")
        expect(meta).to_contain_text("SiteThe Daily")
        expect(meta.locator("time")).to_have_attribute("datetime", "2024-03-15")
        expect(page.get_by_role("button", name="Close source")).to_be_focused()
        shot(page, "library-source-dialog")


def test_filters_are_sent_and_a_bad_range_is_reported(browser: Browser, news_url: str) -> None:
    with open_page(browser) as page:
        page.goto(news_url)
        toggle = page.locator("#filters-toggle")
        expect(toggle).to_have_accessible_name("Filters")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(page.locator("#filters")).to_be_hidden()
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        since = page.get_by_label("Published from")
        expect(since).to_be_focused()
        # The sites of the library are offered in the source box.
        expect(page.locator("#site-options option[value='The Daily']")).to_have_count(1)
        expect(page.locator("#site-options option[value='Riverside Gazette']")).to_have_count(1)

        since.fill("2030-01-01")  # after every article: nothing is left to answer from
        expect(toggle).to_have_accessible_name("Filters, 1 set")
        body = sent_body(page, BRIDGE_QUESTION)
        assert body["filters"] == {"since": "2030-01-01", "until": None, "sources": []}
        expect(page.locator(".msg-abstain")).to_be_visible()
        expect(page.locator(".msg-abstain .meta")).to_contain_text("from the filtered articles only")
        shot(page, "filters-abstention")

        since.fill("2024-01-01")
        page.get_by_label("Source", exact=True).fill("Riverside Gazette, https://daily.example/2024/")
        body = sent_body(page, BRIDGE_QUESTION)
        assert body["filters"] == {
            "since": "2024-01-01",
            "until": None,
            "sources": ["Riverside Gazette", "https://daily.example/2024/"],
        }
        expect(page.locator(".msg-answer").last).to_contain_text("reopened on Friday")

        page.get_by_label("to", exact=True).fill("2023-12-31")  # before `since`: the server says no
        ask(page, BRIDGE_QUESTION)
        error = page.locator(".msg-error")
        expect(error).to_contain_text("is after filters.until (2023-12-31)")

        page.get_by_role("button", name="Clear filters").click()
        expect(since).to_have_value("")
        expect(toggle).to_have_accessible_name("Filters")
        body = sent_body(page, BRIDGE_QUESTION)
        assert "filters" not in body
        since.press("Escape")
        expect(page.locator("#filters")).to_be_hidden()
        expect(toggle).to_be_focused()


def test_library_lists_pages_and_searches_titles(browser: Browser, news_url: str) -> None:
    with open_page(browser) as page:
        page.goto(news_url)
        opener = page.get_by_role("button", name="Library", exact=True)
        opener.click()
        sheet = page.get_by_role("dialog", name="Library")
        expect(sheet).to_be_visible()
        expect(opener).to_have_attribute("aria-expanded", "true")
        search = page.get_by_label("Search article titles")
        expect(search).to_be_focused()
        status = page.locator("#library-status")
        expect(status).to_have_text(f"{TOTAL} articles indexed; showing the newest 20.")
        items = page.locator("#library-list .lib-item")
        expect(items).to_have_count(20)
        # Newest first, with its site, date and a link; the undated article comes last.
        expect(items.first.locator(".lib-title")).to_have_text(
            "Otters return to the estuary (opens in a new tab)"
        )
        expect(items.first.locator(".lib-origin")).to_contain_text("Riverside Gazette · ")
        expect(items.first.locator("time")).to_have_attribute("datetime", "2024-05-14")
        expect(items.first.locator("a")).to_have_attribute("rel", "noopener noreferrer")
        shot(page, "library-panel")

        page.get_by_role("button", name="Show more").click()
        expect(items).to_have_count(TOTAL)
        expect(items.nth(20)).to_be_focused()  # keyboard users continue at the first new one
        expect(page.get_by_role("button", name="Show more")).to_be_hidden()
        expect(status).to_have_text(f"{TOTAL} articles indexed.")
        hostile = items.last  # undated, no address: its title and site show literally
        expect(hostile.locator(".lib-title")).to_have_text(f"Harbour notes {SCRIPT_TAG}")
        expect(hostile.locator(".lib-origin")).to_have_text(f"Pier {IMG_TAG}")
        expect(hostile.locator(".lib-source")).to_contain_text("news.jsonl#L3")
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("#library-list img, #library-list script").count() == 0

        search.fill("OTTER")
        expect(items).to_have_count(1)
        expect(status).to_have_text("1 article with “OTTER” in the title.")
        search.fill("harbour")
        expect(items).to_have_count(2)
        search.fill("zebra")
        expect(status).to_have_text("No article title contains “zebra”.")
        expect(items).to_have_count(0)
        shot(page, "library-search-empty")

        page.keyboard.press("Escape")  # a search box's own: it empties the box first
        expect(search).to_have_value("")
        expect(items).to_have_count(20)
        page.keyboard.press("Escape")
        expect(sheet).to_be_hidden()
        expect(opener).to_be_focused()
        expect(opener).to_have_attribute("aria-expanded", "false")


def test_library_and_filters_fit_a_phone(browser: Browser, news_url: str) -> None:
    for dark in (False, True):
        with open_page(browser, PHONE, dark=dark) as page:
            page.goto(news_url)
            scheme = "dark" if dark else "light"
            page.get_by_role("button", name="Filters", exact=True).click()
            expect(page.get_by_label("Published from")).to_be_in_viewport()
            expect(page.get_by_role("button", name="Clear filters")).to_be_in_viewport()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            shot(page, f"filters-phone-{scheme}")

            page.get_by_role("button", name="Library", exact=True).click()
            sheet = page.get_by_role("dialog", name="Library")
            expect(page.locator("#library-list .lib-item")).to_have_count(20)
            page.evaluate("Promise.all(document.getAnimations().map((a) => a.finished))")  # slid in
            box = sheet.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
            expect(page.get_by_role("button", name="Close library")).to_be_in_viewport()
            assert page.evaluate("document.getElementById('library').scrollWidth <= window.innerWidth")
            shot(page, f"library-phone-{scheme}")
            page.get_by_role("button", name="Close library").click()
            expect(sheet).to_be_hidden()
