"""Hits → the one or two source sentences that answer → Answer with [n] markers, or an abstention.

By stage: `candidates` (passages → sentences with their signals), `score` (the model's scoring and
the choice of one sentence or two), `abstain` (when not to answer), `quotes` (the quoted words that
belong with an answer about someone's words) and `render` (answer text and citations).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.answer.abstain import refusals
from qa.answer.candidates import score_sentences
from qa.answer.quotes import attach_quotes
from qa.answer.render import related, render
from qa.answer.score import WEIGHTS, Weights, rank_candidates, term_stats
from qa.question import Question
from qa.records import ABSTAIN_TEXT, Answer, Hit
from qa.retriever import PassageStore

__all__ = ["WEIGHTS", "Weights", "compose"]


def compose(
    index: PassageStore,
    question: Question,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    weights: Weights = WEIGHTS,
) -> Answer:
    """Pick the answering sentence(s) and build the Answer, or abstain with related passages."""
    stats = term_stats(index, question)
    scored = score_sentences(index, question, query_vector, hits)
    candidates = rank_candidates(scored, question, stats, weights)
    # A follow-up asks for something new: not the sentences the previous answer already gave.
    fresh = [c for c in candidates if not all(p.sentence.text in question.previous_answer for p in c.parts)]
    candidates = fresh or candidates
    if not candidates:
        return Answer(ABSTAIN_TEXT, True, ())
    best = candidates[0]
    if any(refusals(index, question, candidates, stats, weights.abstain_below).values()):
        return Answer(ABSTAIN_TEXT, True, tuple(related(hits)))
    by_position = {(s.sentence.doc_id, s.sentence.idx): s for s in scored}
    return render(attach_quotes(best.parts, question, by_position), best.support)
