"""Quotes: news attributes what people said across sentences, so an answer about someone's words
takes their nearby quoted words too.

    When questioned about Sora, Sarandos acknowledged the possibility of effects on creators.
    "We do not anticipate AI supplanting creativity," he stated.

When the question asks what someone said, or a chosen sentence reports speech, the quoted
sentences that follow it (in the same or the next paragraph, attributed to a pronoun or to a name
the answer already holds, or continuing a quote) join the answer, within the length budget.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from qa.answer.candidates import Scored
from qa.question import Question

# Longest answer that attached quotes may make, in characters.
MAX_QUOTED_CHARS = 420
# How far after the answer a quote may sit, in sentences.
QUOTE_REACH = 2

_SPEECH = (
    r"said|says|say|stated|states|told|tells|added|adds|affirmed|acknowledged|explained|noted|"
    r"argued|insisted|warned|remarked|commented|replied|responded|continued|wrote|declared|"
    r"announced|admitted|conceded|emphasi[sz]ed|stressed|claimed|suggested|asked|according to"
)
_REPORTS_SPEECH = re.compile(rf"\b({_SPEECH})\b|:\s*$", re.I)
# A quotation of at least three words, in curly or straight double quotes.
_QUOTATION = re.compile(r"[“\"](?:[^”\"]*\s){2,}[^”\"]*[”\"]?")
_OPENS_WITH_QUOTE = re.compile(r"^\s*[“\"]")
_PRONOUN_ATTRIBUTION = re.compile(
    rf"\b(he|she|they|it|we)\s+({_SPEECH})\b|\b({_SPEECH})\s+(he|she|they)\b", re.I
)
_NAME_ATTRIBUTION = re.compile(
    rf"([A-Z][\w’'\-]+)\s+(?:{_SPEECH})\b|\b(?:{_SPEECH})\s+(?:[A-Z][\w’'\-]+\s+)*([A-Z][\w’'\-]+)"
)


def reports_speech(text: str) -> bool:
    """Does the sentence report what someone said (a speech verb, or an introducing colon)?"""
    return _REPORTS_SPEECH.search(text) is not None


def is_quote(text: str) -> bool:
    """Does the sentence quote at least a few words?"""
    return _QUOTATION.search(text) is not None


def _attributed(text: str, speakers: str, after_quote: bool) -> bool:
    """Is this quote said by the person the answer is about?

    "…," he stated. — a pronoun points back; "…," Sarandos said. — a name the answer holds; or a
    sentence that opens a quote right after a quote (its continuation, even across a paragraph)."""
    if _PRONOUN_ATTRIBUTION.search(text):
        return True
    names = [n for m in _NAME_ATTRIBUTION.finditer(text) for n in m.groups() if n]
    if names:
        return any(n in speakers for n in names)
    return after_quote and _OPENS_WITH_QUOTE.match(text) is not None


def attach_quotes(
    parts: Sequence[Scored], question: Question, by_position: dict[tuple[str, int], Scored]
) -> tuple[Scored, ...]:
    """The chosen sentences plus the quoted words that follow them, when the answer is about
    someone's words; `by_position` holds every candidate sentence by (document, index)."""
    chosen = tuple(parts)
    if not (question.wants_words or any(reports_speech(p.sentence.text) for p in chosen)):
        return chosen
    last = chosen[-1]
    if any(a.sentence.doc_id != b.sentence.doc_id or b.sentence.idx != a.sentence.idx + 1
           for a, b in pairwise(chosen)):  # fmt: skip
        return chosen  # two separate sentences: no one place to continue from
    speakers = " ".join([question.text, *(p.sentence.text for p in chosen)])
    length = sum(len(p.sentence.text) + 1 for p in chosen)
    added: list[Scored] = []
    after_quote = is_quote(last.sentence.text)
    for step in range(1, QUOTE_REACH + 1):
        nxt = by_position.get((last.sentence.doc_id, last.sentence.idx + step))
        if nxt is None:
            break
        text = nxt.sentence.text
        if not (is_quote(text) and _attributed(text, speakers, after_quote)):
            break
        if length + len(text) + 1 > MAX_QUOTED_CHARS:
            break
        added.append(nxt)
        length += len(text) + 1
        after_quote = True
    return chosen + tuple(added)
