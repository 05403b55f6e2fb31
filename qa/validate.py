"""A request checked against the limits in Settings before any work is done."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.config import MAX_TOP_K, Settings
from qa.errors import BadInput
from qa.records import Turn

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def validate(
    question: object, history: Sequence[Turn], top_k: int | None, settings: Settings
) -> tuple[str, int]:
    """Check a request against the limits; returns the cleaned question and top_k."""
    if not isinstance(question, str):
        raise BadInput("question must be a string")
    if len(question) > settings.max_question_chars:
        raise BadInput(f"question is {len(question)} characters; the limit is {settings.max_question_chars}")
    # Control characters carry no meaning (ingestion drops them from articles too).
    q = _CONTROL.sub("", question).strip()
    if not q:
        raise BadInput("question must not be empty")
    if len(history) > settings.max_history_turns:
        raise BadInput(f"history has {len(history)} turns; the limit is {settings.max_history_turns}")
    for n, turn in enumerate(history):
        if turn.role not in ("user", "assistant"):
            raise BadInput(f"history[{n}].role must be 'user' or 'assistant', not {turn.role!r}")
    k = settings.top_k if top_k is None else top_k
    if not 1 <= k <= MAX_TOP_K:
        raise BadInput(f"top_k must be between 1 and {MAX_TOP_K}, not {k}")
    return q, k
