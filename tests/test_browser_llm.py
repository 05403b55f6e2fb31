"""The chat page with an LLM configured, in Chromium: the answer streams in as the LLM writes it,
then the verified answer replaces it, with the sentence verification removed struck out and its
reason in a tooltip; a failed LLM leaves the quoted answer and says why."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from llm_server import Reply, Script, llm_server, passage_with
from playwright.sync_api import Browser, expect
from serving import serve
from test_browser import ask, open_page, shot
from test_llm_answers import REVENUE, index_dir  # noqa: F401 (index_dir: the module's index fixture)

from qa import QA, Settings
from qa.embed import Embedder
from web.app import create_app

pytestmark = pytest.mark.browser

TRUE = "Netflix’s quarterly revenue reached $11.5 billion [{n}]. "
INVENTED = "Netflix also plans to open theme parks in Brazil by 2027 [{n}]."


def slow_stream(text: str, **reply: Any) -> Script:
    """An LLM streaming `text` a few characters at a time, slowly enough to watch."""

    def script(request: dict[str, Any]) -> Reply:
        filled = text.format(n=passage_with(request, "$11.5 billion"))
        chunks = [filled[i : i + 8] for i in range(0, len(filled), 8)]
        return Reply(text=filled, chunks=chunks, chunk_delay_s=0.12, **reply)

    return script


def page_url(index_dir: Path, embedder: Embedder, llm_url: str) -> Any:  # noqa: F811
    settings = replace(Settings(index_dir=index_dir), llm_url=llm_url, llm_timeout_s=20)
    return serve(create_app(settings, qa=QA(settings, embedder)))


def test_the_answer_streams_then_is_verified(
    browser: Browser,
    index_dir: Path,  # noqa: F811
    real_embedder: Embedder,
) -> None:
    with (
        llm_server(slow_stream(TRUE + INVENTED)) as llm,
        page_url(index_dir, real_embedder, llm.url) as url,
        open_page(browser) as page,
    ):
        page.goto(url)
        expect(page.locator(".empty-lead")).to_contain_text("checked against the source it cites")
        ask(page, REVENUE)
        writing = page.locator(".msg-writing")
        expect(writing).to_be_visible()
        expect(writing).to_have_attribute("aria-busy", "true")
        # Partial text first: the page shows words before the LLM has finished.
        expect(writing.locator(".answer-text")).to_contain_text("Netflix")
        assert "2027" not in writing.locator(".answer-text").inner_text()
        shot(page, "llm-writing")

        answer = page.locator(".msg-answer").last
        expect(answer).not_to_have_class(re.compile(r"\bmsg-writing\b"), timeout=20_000)
        expect(answer.locator(".answer-text")).to_contain_text("$11.5 billion")
        expect(answer.locator(".answer-text")).not_to_contain_text("theme parks")
        dropped = answer.locator(".claim-dropped del")
        expect(dropped).to_have_text("Netflix also plans to open theme parks in Brazil by 2027.")
        title = dropped.get_attribute("title") or ""
        assert title.startswith("Not supported:") and len(title) > len("Not supported: .")
        expect(answer.locator(".provenance")).to_contain_text("Written by the LLM")
        expect(page.locator("#composer")).to_have_attribute("aria-busy", "false")
        shot(page, "llm-verified")
        # The chip of the kept sentence opens its verified span, highlighted.
        answer.locator(".answer-text .cite").first.click()
        expect(page.locator("#source-dialog mark")).to_contain_text("$11.5 billion")


def test_a_failed_llm_leaves_the_quoted_answer_and_says_why(
    browser: Browser,
    index_dir: Path,  # noqa: F811
    real_embedder: Embedder,
) -> None:
    with (
        llm_server(slow_stream(TRUE, cut=True)) as llm,
        page_url(index_dir, real_embedder, llm.url) as url,
        open_page(browser) as page,
    ):
        page.goto(url)
        ask(page, REVENUE)
        answer = page.locator(".msg-answer:not(.msg-writing)").last
        expect(answer.locator(".provenance")).to_contain_text("Quoted from the articles", timeout=20_000)
        expect(answer.locator(".provenance")).to_contain_text("cut off")
        expect(answer.locator(".answer-text")).to_contain_text("$11.5 billion")
        expect(answer.locator(".dropped")).to_have_count(0)
