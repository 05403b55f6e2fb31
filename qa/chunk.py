"""Document → sentences (offsets, section, paragraph) → token-bounded chunks. Pure functions.

Sentences never cross a line break or a heading; chunks never cut a sentence, never cross a
section, and overlap by one sentence when a long section is split for the token budget.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from qa.types import Chunk, Document, Sentence

TokenCounter = Callable[[str], int]

# Words after which a full stop does not end a sentence.
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "vs", "etc", "inc", "ltd",
    "co", "corp", "no", "nos", "vol", "fig", "al", "gen", "gov", "sen", "rep", "rev", "hon",
    "capt", "col", "lt", "sgt", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "approx", "dept", "est", "u.s", "u.k", "e.g", "i.e", "a.m", "p.m",
    "ph.d", "b.c", "a.d", "c", "ca", "cf", "op", "pp",
}  # fmt: skip
_CLOSERS = "\"'”’)]»"
# A candidate boundary: terminal punctuation, any closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"[.!?…]+[" + re.escape(_CLOSERS) + r"]*(?=\s)")
_BULLET = re.compile(r"^\s*(?:[-*•–]|\d{1,3}[.)])\s+")


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate (word pieces ≈ 1.3 per word), for tests and fallbacks."""
    return int(len(text.split()) * 1.3) + 1


def split_sentences(doc: Document) -> list[Sentence]:
    """Split a document into sentences with exact offsets; heading lines become section context."""
    text = doc.text
    heading_at = {h.start: h for h in doc.headings}
    sentences: list[Sentence] = []
    section: str | None = None
    paragraph = 0
    pos = 0
    for line in text.split("\n"):
        line_start, line_end = pos, pos + len(line)
        pos = line_end + 1
        stripped = line.strip()
        if not stripped:
            continue
        lead = line_start + len(line) - len(line.lstrip())
        if lead in heading_at:
            h = heading_at[lead]
            section = " ".join(text[h.start : h.end].split()) or None
            paragraph += 1
            continue
        # Each non-empty line is a paragraph: news text puts one paragraph on a line.
        paragraph += 1
        m = _BULLET.match(line)
        body_start = line_start + (m.end() if m else 0)
        for s, e in _sentence_spans(text, body_start, line_end):
            sentences.append(
                Sentence(doc.doc_id, len(sentences), s, e, text[s:e], section, paragraph)
            )
    return sentences


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    line = text[start:end]
    spans: list[tuple[int, int]] = []
    cur = 0
    for m in _BOUNDARY.finditer(line):
        if not _is_boundary(line, m.start(), m.end()):
            continue
        spans.append((cur, m.end()))
        cur = m.end()
    spans.append((cur, len(line)))
    out = []
    for s, e in spans:
        seg = line[s:e]
        ls = len(seg) - len(seg.lstrip())
        rs = len(seg.rstrip())
        if rs > ls:
            out.append((start + s + ls, start + s + rs))
    return out


def _is_boundary(line: str, p: int, q: int) -> bool:
    """Is the punctuation at line[p:q] really the end of a sentence?"""
    nxt = line[q:].lstrip()
    if not nxt:
        return True
    if line[p] == ".":
        word = re.search(r"([\w.]+)$", line[:p])
        if word:
            w = word.group(1).lower()
            if w in _ABBREV or w.rstrip(".") in _ABBREV:
                return False
            # Initials such as "J. K. Rowling" or "U.S." followed by more text.
            if len(w) == 1 and w.isalpha() and line[p - 1].isupper():
                return False
    first = nxt[0]
    # A new sentence starts with a capital, a digit, an opening quote or bracket.
    if first.isupper() or first.isdigit() or first in "\"'“‘([¿¡":
        return True
    return False


def chunk_document(
    doc: Document,
    sentences: list[Sentence],
    max_tokens: int = 256,
    count_tokens: TokenCounter = approx_tokens,
) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `max_tokens`, one sentence of overlap."""
    chunks: list[Chunk] = []
    i = 0
    n = len(sentences)
    while i < n:
        section = sentences[i].section
        j = i
        used = count_tokens(sentences[i].text)
        while j + 1 < n and sentences[j + 1].section == section:
            t = count_tokens(sentences[j + 1].text)
            if used + t > max_tokens:
                break
            used += t
            j += 1
        first, last = sentences[i], sentences[j]
        chunks.append(
            Chunk(
                doc.doc_id,
                len(chunks),
                first.start,
                last.end,
                doc.text[first.start : last.end],
                i,
                j,
                section,
            )
        )
        if j + 1 >= n:
            break
        # Overlap one sentence only when the section continues past the budget.
        same_section = sentences[j + 1].section == section
        i = j if same_section and j > i else j + 1
    return chunks
