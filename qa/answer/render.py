"""Rendering: the chosen sentences joined with [n] markers, and their citations."""

from __future__ import annotations

from collections.abc import Sequence

from qa.answer.candidates import Scored
from qa.records import Answer, Citation, Hit


def citation(hit: Hit, start: int, end: int, cid: int) -> Citation:
    """A numbered citation of `hit`'s passage, pointing at [start, end) of its document; its
    score is the passage's retrieval score."""
    return Citation(
        id=cid,
        title=hit.title,
        source=hit.source,
        text=hit.chunk.text,
        start=start,
        end=end,
        score=round(hit.score, 4),
        passage_start=hit.chunk.start,
        section=hit.chunk.section,
        published=hit.published,
        url=hit.url,
        site=hit.site,
    )


def render(chosen: Sequence[Scored], support: float) -> Answer:
    """Join the sentences with [n] markers; adjacent sentences of one paragraph share a citation
    (across a paragraph break the source's span holds a line break the answer doesn't)."""
    citations: list[Citation] = []
    parts: list[str] = []
    groups: list[list[Scored]] = []
    for c in chosen:
        prev = groups[-1][-1] if groups else None
        if (
            prev is not None
            and prev.hit.chunk_id == c.hit.chunk_id
            and c.sentence.idx == prev.sentence.idx + 1
            and c.sentence.paragraph == prev.sentence.paragraph
        ):
            groups[-1].append(c)
        else:
            groups.append([c])
    for group in groups:
        cid = len(citations) + 1
        first, last = group[0].sentence, group[-1].sentence
        citations.append(citation(group[0].hit, first.start, last.end, cid))
        parts.append(" ".join(c.sentence.text for c in group) + f" [{cid}]")
    return Answer(" ".join(parts), False, tuple(citations), support=round(support, 4))


def related(hits: Sequence[Hit], n: int = 3) -> list[Citation]:
    """The best few passages, offered when the answer is a refusal."""
    return [citation(h, h.chunk.start, h.chunk.end, i) for i, h in enumerate(hits[:n], start=1)]
