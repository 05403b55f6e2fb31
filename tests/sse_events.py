"""Reading server-sent events the way a browser's EventSource does (for the streaming tests)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def parse(lines: Iterable[str]) -> list[tuple[str, Any]]:
    """(event name, decoded JSON data) for each event; 'message' when unnamed, the raw data for [DONE]."""
    out: list[tuple[str, Any]] = []
    name, data = "message", []
    for line in lines:
        if line == "":
            if data:
                raw = "\n".join(data)
                out.append((name, raw if raw == "[DONE]" else json.loads(raw)))
            name, data = "message", []
        elif line.startswith(":"):
            continue  # a comment (keep-alive)
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return out


def events(text: str) -> list[tuple[str, Any]]:
    """The events of a whole response body."""
    return parse(text.split("\n"))


def without_timings(data: dict[str, Any]) -> dict[str, Any]:
    """An answer object less its timings: what a stream's final event and the plain call share."""
    return {k: v for k, v in data.items() if k != "timings_ms"}
