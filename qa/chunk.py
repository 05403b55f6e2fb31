"""Document → sentences (offsets, section, paragraph) → token-bounded chunks. Pure functions.

Sentences never cross a line break or a heading; chunks never cut a sentence, never cross a
section, and overlap by one sentence when a long section is split for the token budget.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from qa.records import Chunk, Document, Sentence

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
MAX_SENTENCE_CHARS = 300
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
            sentences.append(Sentence(doc.doc_id, len(sentences), s, e, text[s:e], section, paragraph))
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
            out.extend(_split_long(text, start + s + ls, start + s + rs))
    return out


def _split_long(
    text: str, start: int, end: int, separators: tuple[str, ...] = (";", ",")
) -> list[tuple[int, int]]:
    """Cut a very long sentence (a list, usually) at semicolons, then commas, so that every
    unit an answer can quote stays short; the pieces are still exact spans of the source."""
    if end - start <= MAX_SENTENCE_CHARS or not separators:
        return [(start, end)]
    sep, rest = separators[0], separators[1:]
    cuts = [start + m.end() for m in re.finditer(re.escape(sep) + r"\s+(?=\S)", text[start:end])]
    pieces: list[tuple[int, int]] = []
    s = last = start
    for c in cuts:
        # Close a piece at the last cut that keeps it under the limit.
        if c - s > MAX_SENTENCE_CHARS and last > s:
            pieces.append((s, last))
            s = last
        last = c
    pieces.append((s, end))
    out: list[tuple[int, int]] = []
    for a, b in pieces:
        b = a + len(text[a:b].rstrip())
        out.extend(_split_long(text, a, b, rest))
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
            # Initials such as "John F. Kennedy" or "J. K. Rowling", not "complete for C. This".
            if len(w) == 1 and line[p - 1].isupper():
                before = line[: p - 1].split()
                if (before and before[-1][:1].isupper()) or re.match(r"[A-Z]\.", nxt):
                    return False
    first = nxt[0]
    # A new sentence starts with a capital, a digit, an opening quote or bracket.
    return first.isupper() or first.isdigit() or first in "\"'“‘([¿¡"


def chunk_document(
    doc: Document,
    sentences: list[Sentence],
    max_tokens: int = 256,
    count_tokens: TokenCounter = approx_tokens,
) -> list[Chunk]:
    """Pack whole paragraphs into chunks of at most `max_tokens` within one section.

    A paragraph too long for one chunk is split between sentences, with one sentence of
    overlap so that a sentence leaning on the one before it keeps its context.
    """
    spans: list[tuple[int, int]] = []  # (first, last) sentence indexes
    n = len(sentences)
    tokens = [count_tokens(s.text) for s in sentences]
    i = 0
    while i < n:
        section, used, j = sentences[i].section, tokens[i], i
        while j + 1 < n and sentences[j + 1].section == section:
            nxt = sentences[j + 1]
            if used + tokens[j + 1] > max_tokens:
                break
            if nxt.paragraph != sentences[j].paragraph:
                # Take the next paragraph only if all of it fits; otherwise start a fresh chunk.
                end = j + 1
                while end + 1 < n and sentences[end + 1].paragraph == nxt.paragraph:
                    end += 1
                if used + sum(tokens[j + 1 : end + 1]) > max_tokens:
                    break
            used += tokens[j + 1]
            j += 1
        spans.append((i, j))
        if j + 1 >= n:
            break
        # Overlap one sentence only inside a paragraph, and only if it can share the next chunk.
        overlap = (
            j > i
            and sentences[j + 1].paragraph == sentences[j].paragraph
            and sentences[j + 1].section == section
            and tokens[j] + tokens[j + 1] <= max_tokens
        )
        i = j if overlap else j + 1
    return [
        Chunk(
            doc.doc_id,
            k,
            sentences[a].start,
            sentences[b].end,
            doc.text[sentences[a].start : sentences[b].end],
            a,
            b,
            sentences[a].section,
        )
        for k, (a, b) in enumerate(spans)
    ]
