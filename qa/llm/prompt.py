"""The grounded prompt: the retrieved passages numbered and fenced, then the question.

The words are in prompt.txt (one file, with its own commentary); this module fills it in. Article
text is data inside the prompt: a tag that could close a passage or open another (<passage>,
</passage>, <question>) is defused in every inserted text, so an article cannot step outside its
fence, whatever it says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from qa.llm.client import Message

TEMPLATE = Path(__file__).resolve().parent / "prompt.txt"
# The reply the template asks for when the passages don't answer the question.
NOT_COVERED = "NOT IN THE PASSAGES"
_SECTION = re.compile(r"^### (\w+)\n", re.M)
_FENCE = re.compile(r"<(/?\s*(?:passages?|question)\b)", re.I)
_FIELD = re.compile(r"\{(passages|question|n|title|text)\}")


@dataclass(frozen=True)
class Passage:
    """One passage as the LLM reads it: the number it cites it by, the title and the text."""

    n: int
    title: str
    text: str


@cache
def sections() -> dict[str, str]:
    """The template's sections by name (read once)."""
    parts = _SECTION.split(TEMPLATE.read_text(encoding="utf-8"))
    found = {name: body.strip("\n") for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    missing = {"system", "user", "passage"} - found.keys()
    assert not missing, f"{TEMPLATE} lacks the section(s) {sorted(missing)}"
    return found


def defuse(text: str) -> str:
    """`text` with every fence-like tag made inert ('<passage' → '‹passage')."""
    return _FENCE.sub(lambda m: "‹" + m.group(1), text)


def fill(template: str, values: dict[str, str]) -> str:
    """The template with its {fields} replaced in one pass, so a value that happens to hold
    '{question}' is never filled in again."""
    return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def build_messages(question: str, passages: Sequence[Passage]) -> list[Message]:
    """The system and user messages that ask for a cited answer from `passages`."""
    parts = sections()
    blocks = [
        fill(
            parts["passage"],
            {"n": str(p.n), "title": defuse(p.title).replace('"', "'"), "text": defuse(p.text)},
        )
        for p in passages
    ]
    user = fill(parts["user"], {"passages": "\n\n".join(blocks), "question": defuse(question)})
    return [Message("system", parts["system"]), Message("user", user)]


def says_not_covered(reply: str) -> bool:
    """Whether the reply is the template's 'the passages don't answer this'."""
    return NOT_COVERED in reply.upper() and "[" not in reply
