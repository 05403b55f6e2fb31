"""Abstention: when the best candidate does not answer, say so instead of quoting it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from qa.answer.score import Candidate, TermStats
from qa.question import Question
from qa.retriever import PassageStore
from qa.text import STOPWORDS, root, terms, words


def unknown_names(index: PassageStore, question: str) -> list[str]:
    """Capitalised words of the question (names) that the indexed articles never mention.

    A five-letter prefix match forgives inflections ("Californian"), one edit forgives a typo
    ("Primier League"), and two names written as one ("Sky Drive" for "SkyDrive") count as known:
    questions are typed in a hurry, and a misspelt name is still a known one.
    """
    q = question.strip()
    found: list[tuple[str, list[str], int, int]] = []
    for m in re.finditer(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w’'\-]+", q):
        ts = [t for t in terms(m.group(0)) if t not in STOPWORDS]
        if ts:
            found.append((m.group(0), ts, m.start(), m.end()))
    if not found:
        return []
    # Neighbouring names joined: the index may hold them as one word.
    joined = {
        i: "".join(words(a[0] + b[0])) for i, (a, b) in enumerate(pairwise(found)) if q[a[3] : b[2]] == " "
    }
    known = index.lexicon.known_prefixes([*(t for _, ts, _, _ in found for t in ts), *joined.values()])
    unknown = [t for _, ts, _, _ in found for t in ts if t not in known]
    known |= index.lexicon.near_misses(unknown)
    together: set[int] = set()
    for i, word in joined.items():
        if word in known:
            together |= {i, i + 1}
    return [
        name
        for i, (name, ts, _, _) in enumerate(found)
        if i not in together and not any(t in known for t in ts)
    ]


def unknown_share(stats: TermStats) -> float:
    """The IDF-weighted share of the question's terms that no indexed sentence contains (with a
    follow-up's, those of the turn it leans on: "what did they use it to show?" is about it)."""
    asked = (*stats.question, *stats.earlier)
    if not asked:
        return 0.0
    weight = {t: stats.idf(t) for t in asked}
    return sum(w for t, w in weight.items() if t not in stats.df) / sum(weight.values())


_TYPE_WORDS = frozenset(
    terms(
        "year years date dates day days month months century centuries decade decades time times "
        "period periods era eras long old far large big tall high often fast number numbers "
        "percentage percentages percent amount amounts proportion size"
    )
)


def typed_answer_fits(candidates: Sequence[Candidate], stats: TermStats) -> bool:
    """A how-many or when question needs a number or date in a sentence about the question —
    one holding a rarer question term too — somewhere among the best candidates (fifteen:
    most of them pair a sentence with a neighbour, so they hold about ten sentences).

    What the question is about is the rarest half of its terms that the index has, leaving out
    the words that only name the kind of answer: a misspelt word or "percentage" can't decide."""
    if stats.kind not in ("number", "date"):
        return True
    q_terms = [t for t in stats.question if t not in _TYPE_WORDS and stats.df.get(t, 0) > 0]
    if not q_terms:
        return True
    focus = sorted(q_terms, key=lambda t: stats.df[t])[: max(1, len(q_terms) // 2)]
    return any(p.typed and any(root(t) in p.window for t in focus) for c in candidates[:15] for p in c.parts)


def confidence(best: Candidate) -> float:
    """How well the best answer is supported: its cosine with the question, by the answer model."""
    return best.meaning


def refusals(
    index: PassageStore,
    question: Question,
    candidates: Sequence[Candidate],
    stats: TermStats,
    abstain_below: float,
) -> dict[str, bool]:
    """Each rule's verdict on answering with `candidates[0]` (True: refuse). `compose` refuses
    when any is True; bench/abstention.py measures what each costs."""
    return {
        "low score": confidence(candidates[0]) < abstain_below,
        "unknown names": bool(unknown_names(index, question.text)),
        "unknown words": unknown_share(stats) > 0.75,
        "typed": not typed_answer_fits(candidates, stats),
    }
