"""A request against the limits in Settings: every refusal says what is wrong."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qa.config import MAX_TOP_K, Settings
from qa.errors import BadInput
from qa.records import Turn
from qa.validate import validate

SETTINGS = replace(Settings.from_env(env={}), max_question_chars=40, max_history_turns=2, top_k=7)


@pytest.mark.parametrize(
    ("question", "history", "top_k", "message"),
    [
        (5, (), None, "question must be a string"),
        ("x" * 41, (), None, "question is 41 characters; the limit is 40"),
        ("  \x00\x07 ", (), None, "question must not be empty"),
        ("Why?", [Turn("user", "a")] * 3, None, "history has 3 turns; the limit is 2"),
        ("Why?", [Turn("system", "a")], None, "history[0].role must be 'user' or 'assistant'"),
        ("Why?", (), 0, f"top_k must be between 1 and {MAX_TOP_K}, not 0"),
        ("Why?", (), MAX_TOP_K + 1, f"top_k must be between 1 and {MAX_TOP_K}"),
    ],
    ids=["not-text", "too-long", "only-controls", "long-history", "bad-role", "top-k-0", "top-k-high"],
)
def test_validate_refuses(question: object, history: list[Turn], top_k: int | None, message: str) -> None:
    with pytest.raises(BadInput) as info:
        validate(question, history, top_k, SETTINGS)
    assert message in info.value.message


def test_validate_cleans_the_question_and_defaults_top_k() -> None:
    assert validate("  What\x07 changed?\n", [Turn("user", "a"), Turn("assistant", "b")], None, SETTINGS) == (
        "What changed?",
        7,
    )
    assert validate("Why?", (), 3, SETTINGS) == ("Why?", 3)
