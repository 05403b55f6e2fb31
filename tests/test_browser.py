"""The chat page in a real browser: headless Debian Chromium driven by Playwright, against uvicorn.

Screenshots go to tests/artifacts/ for a reviewer; with QA_UPDATE_DOCS=1 (`make screenshot`)
the Sora test also refreshes docs/chat.png, the README's picture.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Route,
    ViewportSize,
    expect,
)
from serving import serve

from qa import QA, Settings, example_questions
from qa.build import index_paths
from qa.ingest import bundled_corpus
from web.app import create_app
from web.routes import get_qa

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
README_SHOT = ROOT / "docs" / "chat.png"
DESKTOP: ViewportSize = {"width": 1100, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 740}
SORA = "What did Sarandos say about Sora?"

SCRIPT_TAG = "<script>window.__pwned=1</script>"
IMG_TAG = '<img src=x onerror="window.__pwned=1">'
HOSTILE_ARTICLE = f"""Harbour news {SCRIPT_TAG} and {IMG_TAG} tonight

The lighthouse keeper of Port Ellis reported a strange signal {SCRIPT_TAG} on Monday night.
She said the beam flickered {IMG_TAG} three times before midnight.
The harbour master plans to inspect the lamp on Friday.
Fishermen said the weather was calm all week and the boats stayed in port.
"""


# ---- fixtures: the real model, real indexes, a real server, a real browser ----


@pytest.fixture(scope="module")
def embedder() -> Any:
    from qa.embed import Embedder

    return Embedder()  # the real all-MiniLM-L6-v2, loaded once for the module


def build_app(embedder: Any, index_dir: Path, sources: list[Path]) -> Any:
    index_paths(sources, embedder, index_dir)
    settings = Settings.from_env(index_dir=index_dir)
    return create_app(settings, qa=QA(settings, embedder))


@pytest.fixture(scope="module")
def sample_app(embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_app(embedder, tmp_path_factory.mktemp("sample-index"), [bundled_corpus()])


@pytest.fixture(scope="module")
def sample_url(sample_app: Any) -> Iterator[str]:
    with serve(sample_app) as url:
        yield url


@pytest.fixture(scope="module")
def hostile_url(embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    articles = tmp_path_factory.mktemp("hostile-articles")
    (articles / "hostile.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    app = build_app(embedder, tmp_path_factory.mktemp("hostile-index"), [articles])
    with serve(app) as url:
        yield url


class PageProblems:
    """Collects script errors and CSP violations; every test asserts there were none."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)

    def _console(self, msg: ConsoleMessage) -> None:
        text = msg.text
        # A failed /ask logs "Failed to load resource"; those failures are provoked on purpose.
        if "Content Security Policy" in text or (
            msg.type == "error" and "Failed to load resource" not in text
        ):
            self.errors.append(f"console {msg.type}: {text}")


@contextmanager
def open_page(browser: Browser, viewport: ViewportSize = DESKTOP, dark: bool = False) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, color_scheme="dark" if dark else "light")
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = PageProblems(page)
    try:
        yield page
        assert problems.errors == [], problems.errors
    finally:
        context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled")


def ask(page: Page, question: str) -> None:
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")


def last_reply(page: Page) -> Any:
    return page.locator("#transcript .msg-bot").last


# ---- tests ----


def test_sora_answer_citation_and_follow_up(browser: Browser, sample_url: str) -> None:
    with open_page(browser) as page:
        response = page.goto(sample_url)
        assert response is not None and response.ok
        assert "script-src 'self'" in response.headers["content-security-policy"]

        # Empty state: what is indexed and example questions built from the titles.
        empty = page.locator("#empty")
        expect(empty).to_contain_text("Netflix and Generative AI")
        examples = page.locator(".example")
        assert examples.count() >= 2
        shot(page, "desktop-empty")

        ask(page, SORA)
        expect(page.locator("#transcript .msg-user")).to_have_text(f"You asked: {SORA}")
        answer = page.locator(".msg-answer").last
        expect(answer).to_contain_text("Sarandos")
        expect(answer).to_contain_text("Sora")
        expect(empty).to_be_hidden()
        expect(page.locator("#composer")).to_have_attribute("aria-busy", "false")
        expect(answer.locator(".sources")).to_contain_text("Sources")

        chip = answer.locator(".answer-text .cite").first
        expect(chip).to_be_visible()
        expect(chip).to_have_text("1")
        ARTIFACTS.mkdir(exist_ok=True)
        shot(page, "desktop-answer")
        if os.environ.get("QA_UPDATE_DOCS") == "1":  # `make screenshot`: refresh the README's picture
            page.screenshot(path=str(README_SHOT), animations="disabled")

        chip.click()
        dialog = page.locator("#source-dialog")
        expect(dialog).to_be_visible()
        expect(dialog.locator("h2")).to_have_text("Netflix and Generative AI: A Bold Move in Entertainment")
        expect(dialog).to_contain_text("Netflix’s Response to Sora")  # the section
        mark = dialog.locator("mark")
        expect(mark).to_have_count(1)
        quote = mark.inner_text()
        passage = dialog.locator("#source-passage").inner_text()
        assert quote.strip() and quote in passage and len(quote) < len(passage)
        assert "Sora" in quote
        shot(page, "desktop-source")

        # Escape closes the dialog and gives focus back to the chip that opened it.
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        assert page.evaluate("document.activeElement.classList.contains('cite')")

        # The numbered source list under the answer opens the same passage.
        answer.locator(".source-btn").first.click()
        expect(dialog.locator("mark")).to_have_text(quote)
        dialog.get_by_role("button", name="Close source").click()
        expect(dialog).to_be_hidden()

        # A follow-up sends the conversation so far as history.
        with page.expect_request("**/ask") as req:
            ask(page, "Did he expect AI to replace creativity?")
        body = json.loads(req.value.post_data or "{}")
        assert [t["role"] for t in body["history"]] == ["user", "assistant"]
        assert body["history"][0]["content"] == SORA
        assert "Sarandos" in body["history"][1]["content"]
        expect(page.locator("#transcript .msg-bot:not(.msg-pending)")).to_have_count(2)
        shot(page, "desktop-follow-up")

        page.emulate_media(color_scheme="dark")
        shot(page, "desktop-dark-answer")
        last_reply(page).locator(".cite").first.click()
        shot(page, "desktop-dark-source")


def test_abstention_looks_different(browser: Browser, sample_url: str) -> None:
    with open_page(browser) as page:
        page.goto(sample_url)
        ask(page, "What is the weather forecast for Paris tomorrow?")
        reply = page.locator(".msg-abstain")
        expect(reply).to_be_visible()
        expect(reply).to_contain_text("The articles don’t say")
        expect(reply.locator(".sources h3")).to_have_text("Related passages")
        assert page.locator(".msg-answer").count() == 0
        # Related passages are not quotes: the dialog shows the passage without a highlight.
        reply.locator(".source-btn").first.click()
        expect(page.locator("#source-dialog")).to_contain_text("did not quote this passage")
        expect(page.locator("#source-dialog mark")).to_have_count(0)
        page.keyboard.press("Escape")
        shot(page, "desktop-abstention")


def test_keyboard_enter_shift_enter_examples_and_new_chat(browser: Browser, sample_url: str) -> None:
    with open_page(browser) as page:
        page.goto(sample_url)
        box = page.get_by_label("Your question")
        expect(box).to_be_focused()
        send = page.get_by_role("button", name="Ask", exact=True)
        expect(send).to_be_disabled()  # nothing to send yet

        box.press_sequentially("What did Sarandos")
        box.press("Shift+Enter")
        box.press_sequentially("say about Sora?")
        assert box.input_value() == "What did Sarandos\nsay about Sora?"
        expect(page.locator("#transcript .msg")).to_have_count(0)  # Shift+Enter did not send
        box.press("Enter")
        expect(page.locator("#transcript .msg-user")).to_contain_text("What did Sarandos\nsay about Sora?")
        expect(page.locator(".msg-answer")).to_have_count(1)
        expect(box).to_have_value("")

        # Keyboard only: Shift+Tab from the box reaches the last source, then the chip in the answer;
        # Enter opens it, Escape closes it and gives focus back.
        page.keyboard.press("Shift+Tab")
        sources = page.locator(".msg-answer .source-btn")
        expect(sources.last).to_be_focused()
        for _ in range(sources.count()):  # back over every source (the quote has its own)
            page.keyboard.press("Shift+Tab")
        chip = page.locator(".msg-answer .answer-text .cite").last
        expect(chip).to_be_focused()
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"  # a visible focus ring
        shot(page, "keyboard-focus")
        page.keyboard.press("Enter")
        expect(page.locator("#source-dialog")).to_be_visible()
        expect(page.get_by_role("button", name="Close source")).to_be_focused()
        page.keyboard.press("Escape")
        expect(page.locator("#source-dialog")).to_be_hidden()
        expect(chip).to_be_focused()

        page.get_by_role("button", name="New chat").click()
        expect(page.locator("#transcript .msg")).to_have_count(0)
        expect(page.locator("#empty")).to_be_visible()
        expect(box).to_be_focused()

        # After a new chat, history starts empty again; an example question is one click.
        first = page.locator(".example").first
        question = first.inner_text()
        with page.expect_request("**/ask") as req:
            first.click()
        body = json.loads(req.value.post_data or "{}")
        assert body == {"question": question, "history": [], "stream": True}
        expect(page.locator("#transcript .msg-user")).to_contain_text(question)
        expect(page.locator("#transcript .msg-answer, #transcript .msg-abstain")).to_have_count(1)


def test_phone_width_has_no_sideways_scroll(browser: Browser, sample_url: str) -> None:
    for dark in (False, True):
        with open_page(browser, PHONE, dark=dark) as page:
            page.goto(sample_url)
            scheme = "dark" if dark else "light"
            shot(page, f"phone-{scheme}-empty")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            ask(page, SORA)
            answer = page.locator(".msg-answer")
            expect(answer).to_be_in_viewport()
            expect(answer.locator(".answer-text")).to_be_in_viewport()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert page.evaluate("document.getElementById('main').scrollWidth <= window.innerWidth")
            shot(page, f"phone-{scheme}-answer")
            answer.locator(".cite").first.click()
            dialog = page.locator("#source-dialog")
            expect(dialog).to_be_visible()
            box = dialog.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
            shot(page, f"phone-{scheme}-source")


def test_hostile_article_and_question_render_as_text(browser: Browser, hostile_url: str) -> None:
    with open_page(browser) as page:
        page.goto(hostile_url)
        # The title shows literally in the empty state and in the example questions.
        expect(page.locator("#empty .titles")).to_contain_text(SCRIPT_TAG)
        expect(page.locator("#empty .titles")).to_contain_text(IMG_TAG)
        expect(page.locator(".example").first).to_contain_text(SCRIPT_TAG)

        ask(page, "What did the lighthouse keeper of Port Ellis report?")
        answer = page.locator(".msg-answer")
        expect(answer.locator(".answer-text")).to_contain_text(f"a strange signal {SCRIPT_TAG} on Monday")
        answer.locator(".answer-text .cite").first.click()
        dialog = page.locator("#source-dialog")
        expect(dialog.locator("h2")).to_contain_text(SCRIPT_TAG)
        expect(dialog.locator("h2")).to_contain_text(IMG_TAG)
        expect(dialog.locator("mark")).to_contain_text(SCRIPT_TAG)
        expect(dialog.locator("#source-passage")).to_contain_text(IMG_TAG)
        shot(page, "hostile-source")
        page.keyboard.press("Escape")

        evil_question = 'Is <img src=x onerror="window.__pwned=2"> <b>bold</b> safe?'
        ask(page, evil_question)
        expect(page.locator("#transcript .msg-user").last).to_have_text(f"You asked: {evil_question}")
        expect(page.locator("#transcript .msg-bot:not(.msg-pending)")).to_have_count(2)

        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("#transcript img, #transcript script, #transcript b").count() == 0
        assert page.locator("#source-dialog img, #source-dialog script").count() == 0
        shot(page, "hostile-transcript")


class BrokenQA:
    """Answers the page's corpus question but fails every /ask with an unexpected error."""

    def __init__(self, real: QA) -> None:
        self.real = real

    @property
    def index(self) -> Any:
        return self.real.index

    def ask(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("simulated failure inside the engine")


def test_server_error_shows_in_chat_and_input_recovers(
    browser: Browser, sample_app: Any, sample_url: str
) -> None:
    broken = BrokenQA(sample_app.state.qa)
    sample_app.dependency_overrides[get_qa] = lambda: broken
    try:
        with open_page(browser) as page:
            page.goto(sample_url)
            ask(page, SORA)
            error = page.locator(".msg-error")
            expect(error).to_be_visible()
            expect(error).to_contain_text("Couldn’t get an answer.")
            expect(error).to_contain_text("The server hit an unexpected error; it is logged.")
            box = page.get_by_label("Your question")
            expect(page.locator("#composer")).to_have_attribute("aria-busy", "false")
            expect(page.locator("#status")).to_be_hidden()
            expect(box).to_be_enabled()
            box.fill("still typing")
            expect(page.get_by_role("button", name="Ask", exact=True)).to_be_enabled()
            shot(page, "error-500")

            # Once the server is healthy again, "Try again" re-asks the same question.
            sample_app.dependency_overrides.clear()
            error.get_by_role("button", name="Try again").click()
            expect(page.locator(".msg-error")).to_have_count(0)
            expect(page.locator(".msg-answer")).to_contain_text("Sarandos")
            expect(page.locator("#transcript .msg-user")).to_have_count(1)
    finally:
        sample_app.dependency_overrides.clear()


def test_network_failure_422_and_timeout_are_reported(browser: Browser, sample_url: str) -> None:
    with open_page(browser) as page:
        page.goto(sample_url)

        page.route("**/ask", lambda route: route.abort("connectionrefused"))
        ask(page, "first question")
        expect(page.locator(".msg-error").last).to_contain_text("Could not reach the server")
        page.unroute("**/ask")

        def invalid(route: Route) -> None:
            body = {"error": {"code": "bad_input", "message": "question is too long for this server"}}
            route.fulfill(status=422, content_type="application/json", body=json.dumps(body))

        page.route("**/ask", invalid)
        ask(page, "second question")
        expect(page.locator(".msg-error").last).to_contain_text("Question is too long for this server.")
        page.unroute("**/ask")

        # Only the latest error keeps its "Try again" button.
        expect(page.get_by_role("button", name="Try again")).to_have_count(1)

        # A reply that never comes: the 30 s AbortController timeout, on a fast-forwarded clock.
        held: list[Route] = []
        page.clock.install()
        page.route("**/ask", lambda route: held.append(route))
        ask(page, "third question")
        box = page.get_by_label("Your question")
        send = page.get_by_role("button", name="Ask", exact=True)
        expect(page.locator("#status")).to_be_visible()
        expect(page.locator("#composer")).to_have_attribute("aria-busy", "true")
        expect(page.locator(".msg-pending")).to_be_visible()
        box.fill("typed while waiting")
        expect(send).to_be_disabled()
        box.press("Enter")  # no double send while a request is in flight
        assert len(held) == 1
        expect(page.locator("#transcript .msg-user")).to_have_count(3)
        shot(page, "in-flight")
        page.clock.fast_forward(31_000)
        expect(page.locator(".msg-error").last).to_contain_text("longer than 30 seconds")
        expect(page.locator(".msg-error")).to_have_count(3)
        expect(page.locator("#status")).to_be_hidden()
        expect(send).to_be_enabled()
        shot(page, "errors-network-422-timeout")

        # "New chat" while a request is in flight cancels it and leaves a clean, usable page.
        box.fill("fourth question")
        box.press("Enter")
        expect(page.locator(".msg-pending")).to_be_visible()
        page.get_by_role("button", name="New chat").click()
        expect(page.locator("#transcript .msg")).to_have_count(0)
        expect(page.locator("#status")).to_be_hidden()
        expect(page.locator("#empty")).to_be_visible()


def test_page_without_an_index_explains_and_reports_503(
    browser: Browser, embedder: Any, tmp_path: Path
) -> None:
    settings = Settings.from_env(index_dir=tmp_path / "no-index-yet")
    app = create_app(settings, qa=QA(settings, embedder, require_index=False))
    with serve(app) as url, open_page(browser) as page:
        page.goto(url)
        expect(page.locator("#empty")).to_contain_text("No articles are indexed yet")
        expect(page.locator(".example")).to_have_count(0)
        ask(page, SORA)
        error = page.locator(".msg-error")
        expect(error).to_be_visible()
        expect(error).to_contain_text("Couldn’t get an answer.")
        assert len(error.inner_text()) > len("Couldn’t get an answer.") + 10  # the server's reason
        shot(page, "no-index")


def test_example_questions_come_from_titles() -> None:
    titles = ["Netflix and Generative AI: A Bold Move in Entertainment", "Rates – What Comes Next"]
    questions = example_questions(titles)
    assert questions[0] == "What is “Netflix and Generative AI: A Bold Move in Entertainment” about?"
    assert "What is “Rates – What Comes Next” about?" in questions
    assert len(questions) == 3
    assert example_questions([]) == []
    long = "word " * 80
    assert all(len(q) < 200 for q in example_questions([long + ": Short part"]))
