"""/v1/chat/completions and /v1/models, driven by the official `openai` client against a running
server: the same answer and citations as /ask, streamed and not, the API key rule, the history,
and clear errors for what the bot can't take."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import openai
import pytest
from serving import serve

from qa import QA, Settings
from qa.embed import Embedder
from web.app import create_app

KEY = "test-key-123"
QUESTION = "What did Sarandos say about Sora?"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server over the sample article (fake model) that needs an API key."""
    from conftest import FakeEncoder, build_sample

    embedder = Embedder(FakeEncoder())
    index_dir = tmp_path_factory.mktemp("v1") / "index"
    build_sample(index_dir, embedder)
    settings = replace(Settings.from_env(env={}, index_dir=index_dir), api_key=KEY)
    with serve(create_app(settings, qa=QA(settings, embedder))) as url:
        yield url


@pytest.fixture
def client(base: str) -> Iterator[openai.OpenAI]:
    # trust_env off: a proxy from the environment must never see loopback test traffic.
    with httpx.Client(trust_env=False) as http:
        yield openai.OpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=0, http_client=http)


def ask(base: str, **body: Any) -> dict[str, Any]:
    r = httpx.post(f"{base}/ask", json=body, headers={"Authorization": f"Bearer {KEY}"}, trust_env=False)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_completion_is_the_ask_answer_with_its_citations(client: openai.OpenAI, base: str) -> None:
    reply = client.chat.completions.create(model="newsqa", messages=[{"role": "user", "content": QUESTION}])
    expected = ask(base, question=QUESTION)
    assert reply.object == "chat.completion" and reply.model == "newsqa"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == expected["answer"]
    assert reply.choices[0].finish_reason == "stop"
    extra = reply.model_extra or {}
    assert extra["citations"] == expected["citations"] and extra["mode"] == "extractive"
    assert "[1]" in expected["answer"]


def test_streamed_completion_adds_up_to_the_answer(client: openai.OpenAI, base: str) -> None:
    stream = client.chat.completions.create(
        model="newsqa", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    expected = ask(base, question=QUESTION)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected["answer"]
    assert len({c.id for c in chunks}) == 1 and len(chunks) > 3
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert (chunks[-1].model_extra or {})["citations"] == expected["citations"]


def test_models_lists_the_bot(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["newsqa"]


def test_a_wrong_key_is_refused(base: str) -> None:
    with httpx.Client(trust_env=False) as http:
        c = openai.OpenAI(base_url=f"{base}/v1", api_key="wrong", max_retries=0, http_client=http)
        with pytest.raises(openai.AuthenticationError, match="API key"):
            c.chat.completions.create(model="newsqa", messages=[{"role": "user", "content": QUESTION}])
        with pytest.raises(openai.AuthenticationError):
            c.models.list()


@pytest.mark.parametrize("path", ["/v1/models", "/v1/chat/completions"])
def test_no_key_is_a_401_with_the_error_shape(base: str, path: str) -> None:
    body = {"messages": [{"role": "user", "content": QUESTION}]}
    r = httpx.request("GET" if path.endswith("models") else "POST", base + path, json=body, trust_env=False)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"


def test_earlier_messages_are_the_history(client: openai.OpenAI, base: str) -> None:
    first = ask(base, question=QUESTION)
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": first["answer"]}]
    follow_up = "And what about the film industry?"
    messages: list[Any] = [{"role": "system", "content": "You are a helpful assistant."}, *history]
    messages.append({"role": "user", "content": [{"type": "text", "text": follow_up}]})
    reply = client.chat.completions.create(model="newsqa", messages=messages)
    assert reply.choices[0].message.content == ask(base, question=follow_up, history=history)["answer"]


def test_a_long_conversation_keeps_its_latest_turns(client: openai.OpenAI) -> None:
    # More turns than QA_MAX_HISTORY_TURNS, one longer than /ask takes: a chat client resends it all.
    turns: list[Any] = [{"role": ("user", "assistant")[i % 2], "content": "word " * 60} for i in range(300)]
    turns[-1]["content"] = "word " * 5_000
    reply = client.chat.completions.create(
        model="newsqa", messages=[*turns, {"role": "user", "content": QUESTION}]
    )
    assert reply.choices[0].message.content


@pytest.mark.parametrize(
    ("messages", "phrase"),
    [
        ([], "messages"),
        ([{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Hi"}], "last message"),
        ([{"role": "system", "content": QUESTION}], "last message"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "text only"),
        ([{"role": "user", "content": "   "}], "empty"),
        ([{"role": "user"}], "empty"),
    ],
    ids=["none", "last-is-assistant", "only-system", "image", "blank", "no-content"],
)
def test_what_the_bot_cannot_take_is_a_clear_422(
    client: openai.OpenAI, messages: list[Any], phrase: str
) -> None:
    with pytest.raises(openai.UnprocessableEntityError, match=phrase):
        client.chat.completions.create(model="newsqa", messages=messages)
