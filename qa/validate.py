"""A request checked against the limits in Settings before any work is done."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from qa.config import MAX_TOP_K, Settings
from qa.errors import BadInput
from qa.records import Filters, Turn

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


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


def parse_filters(since: object = None, until: object = None, sources: object = ()) -> Filters:
    """Filters from a request's values; BadInput says which one is malformed."""
    dates = [_iso_day(name, value) for name, value in (("since", since), ("until", until))]
    if dates[0] and dates[1] and dates[0] > dates[1]:
        raise BadInput(f"filters.since ({dates[0]}) is after filters.until ({dates[1]})")
    if isinstance(sources, str) or not isinstance(sources, list | tuple):
        raise BadInput("filters.sources must be a list of site names or url prefixes")
    cleaned = []
    for n, source in enumerate(sources):
        if not isinstance(source, str) or not source.strip():
            raise BadInput(f"filters.sources[{n}] must be a non-empty string")
        cleaned.append(source.strip())
    return Filters(dates[0], dates[1], tuple(cleaned))


def _iso_day(name: str, value: object) -> str | None:
    """A YYYY-MM-DD date, or None when not given."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and _DAY.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise BadInput(f"filters.{name} must be a date as YYYY-MM-DD, not {value!r}")
