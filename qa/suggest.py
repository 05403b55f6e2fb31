"""Starter questions for the chat page's empty state, made from the indexed headlines alone."""

from __future__ import annotations

import re
from collections.abc import Sequence

_TITLE_SPLIT = re.compile(r"\s*(?::|\s[-–—|]\s)\s*")
_LEADING_ARTICLE = re.compile(r"^(A|An|The)\s+(?=\S)")
MAX_PHRASE_CHARS = 70


def _key_phrases(title: str) -> list[str]:
    """The parts of a headline ("Main topic: a subtitle"), each short enough to ask about."""
    phrases = []
    for part in _TITLE_SPLIT.split(" ".join(title.split())):
        part = part.strip(" .,;!?\"'“”‘’")
        if len(part) < 3 or len(part) > MAX_PHRASE_CHARS:
            continue
        # "A Bold Move in Entertainment" reads better mid-sentence as "a Bold Move in Entertainment".
        phrases.append(_LEADING_ARTICLE.sub(lambda m: m.group(1).lower() + " ", part))
    return phrases


def example_questions(titles: Sequence[str], limit: int = 3) -> list[str]:
    """A few clickable starter questions derived only from the indexed titles."""
    clean = [" ".join(t.split()) for t in titles if t and t.strip()]
    by_title = [_key_phrases(t) for t in clean]
    out: list[str] = []

    def add(question: str) -> None:
        if question not in out and len(out) < limit:
            out.append(question)

    # One question per article first, so several articles each get one; then second phrases.
    for title, phrases in zip(clean, by_title, strict=True):
        if len(title) <= MAX_PHRASE_CHARS * 1.5:
            add(f"What is “{title}” about?")
        elif phrases:
            add(f"What does the article say about {phrases[0]}?")
    for phrases in by_title:
        for phrase in phrases:
            add(f"What does the article say about {phrase}?")
    return out
