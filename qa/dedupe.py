"""Syndicated copies: the same story on several sites or urls is folded into one document.

Two texts are copies when their sets of word 5-grams overlap by at least COPY_THRESHOLD
(Jaccard similarity, estimated with MinHash, candidates found with LSH by datasketch, so the cost
grows with the number of documents, not of pairs) and they give the same numbers. Measured by
`bench/syndication.py` on NewsQA's 100 CNN stories: re-posts of a story (lead dropped, a wire
byline and a copyright line, up to 1 word in 10 changed) score 0.31 and more (0.81 with the lead
dropped, 0.93 with a byline added); different stories 0.009 at most over all 4,950 pairs. With
the numbers rule, none of 98 templated stories (every number changed) is folded, and 5 of 500
re-posts (lead dropped and a year added and words changed, all at once) are missed: the rule
leans towards never folding two different articles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from qa.records import Document
from qa.text import words

SHINGLE_WORDS = 5
PERMUTATIONS = 128
COPY_THRESHOLD = 0.3
# Copies report the same facts: the numbers in them (dates, counts, scores, prices) must agree too.
# Templated stories (results, earnings, weather) share most of their words and differ in exactly
# those, and are different articles.
NUMBERS_THRESHOLD = 0.7


def shingles(w: list[str]) -> set[bytes]:
    """The 5-grams of a text's words (qa.text.words), as bytes for hashing."""
    if len(w) < SHINGLE_WORDS:
        return {" ".join(w).encode()} if w else set()
    return {" ".join(w[i : i + SHINGLE_WORDS]).encode() for i in range(len(w) - SHINGLE_WORDS + 1)}


def numbers(w: list[str]) -> frozenset[str]:
    """The words of a text (qa.text.words) that hold a digit."""
    return frozenset(x for x in w if any(c.isdigit() for c in x))


def shared_numbers(a: frozenset[str], b: frozenset[str]) -> float:
    """The share of the shorter list of numbers found in the other: a re-post may drop a paragraph
    or add a copyright year, but keeps the story's numbers."""
    return len(a & b) / min(len(a), len(b)) if a and b else 1.0


def jaccard(a: str, b: str) -> float:
    """Exact Jaccard similarity of two texts' shingle sets (for measuring the threshold)."""
    sa, sb = shingles(words(a)), shingles(words(b))
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


def same_story(a: str, b: str) -> bool:
    """The rule fold_copies applies, computed exactly: shared wording and the same numbers."""
    if jaccard(a, b) < COPY_THRESHOLD:
        return False
    return shared_numbers(numbers(words(a)), numbers(words(b))) >= NUMBERS_THRESHOLD


def fold_copies(documents: Sequence[Document]) -> tuple[list[Document], int]:
    """The documents with each group of copies folded into its earliest-published member (the
    first one listed on a tie), which lists every url of the group; and how many were folded."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=COPY_THRESHOLD, num_perm=PERMUTATIONS)
    keeper: dict[int, int] = {}  # document position -> position of the copy it folds into
    sketches: list[MinHash] = []
    facts: list[frozenset[str]] = []  # each document's numbers
    for i, doc in enumerate(documents):
        w = words(doc.text)  # once: folding and tokenising is most of the cost
        facts.append(numbers(w))
        sketch = MinHash(num_perm=PERMUTATIONS, seed=1)
        sketch.update_batch(list(shingles(w)) or [b""])
        # LSH finds candidates, some below the threshold: their estimated similarity decides.
        near = [
            j
            for j in map(int, lsh.query(sketch))
            if sketch.jaccard(sketches[j]) >= COPY_THRESHOLD
            and shared_numbers(facts[i], facts[j]) >= NUMBERS_THRESHOLD
        ]
        keeper[i] = min((keeper[j] for j in near), default=i)
        lsh.insert(str(i), sketch)
        sketches.append(sketch)
    groups: dict[int, list[int]] = {}
    for i, k in keeper.items():
        groups.setdefault(k, []).append(i)
    # Groups come in the order of their first member, so the corpus keeps its order.
    kept = [_fold([documents[i] for i in members]) for members in groups.values()]
    return kept, len(documents) - len(kept)


def _fold(copies: list[Document]) -> Document:
    """One document for a group of copies: the earliest published, listing every copy's urls."""
    if len(copies) == 1:
        return copies[0]
    first = min(range(len(copies)), key=lambda n: (copies[n].published or "9999", n))
    main = copies[first]
    urls = tuple(dict.fromkeys(u for c in copies for u in (c.urls or ((c.url,) if c.url else ()))))
    # The url list is part of what is stored: a new copy makes the document change.
    digest = hashlib.sha256(f"{main.content_hash}\n{chr(10).join(urls)}".encode()).hexdigest()
    return replace(main, urls=urls, content_hash=digest)
