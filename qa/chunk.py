"""Document → sentences (offsets, section, paragraph) → token-bounded chunks. Pure functions.

Sentences never cross a line break or a heading; chunks never cut a sentence, never cross a
section, and overlap by one sentence when a long section is split for the token budget.
Sentence boundaries inside a line come from pySBD, a maintained rule-based segmenter, with a few
news fixes on top (_keep_cut, _quote_cuts). Of pySBD's 48 English golden rules (tests/data) pySBD
alone passes 47, this module 46, the hand-written rules it replaced 30.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from functools import cache

import pysbd

from qa.records import Chunk, Document, Sentence

TokenCounter = Callable[[str], int]

MAX_SENTENCE_CHARS = 300
# Decorative bullets are not sentence text; list numbers ("1.", "2)") are, as in pySBD's rules.
_BULLET = re.compile(r"^\s*[-*•–]\s+")
# pySBD finds no boundary that _keep_cut keeps unless one of these marks (and closers) has more
# text after it, so a line without one skips it: a third of news text, one-sentence paragraphs
# (a test holds that on the sample article and the golden rules).
_INNER_END = re.compile(r"[.!?。．！？)\r][\"'”’)\]]*\s+\S")
_WORD = re.compile(r"\w")
# A double-quoted passage on one line, straight or curly quotes.
_QUOTED = re.compile(r'"[^"\n]+"|“[^”\n]+”')
# A comma before the closing quote: the sentence goes on ("'... like you,' " Sohail said").
_COMMA_QUOTE = re.compile(r",[\s\"'”’]*[\"'”’]$")
# A lowercase start continues the sentence ("fell 5 percent. then rose"), unless it is a list letter.
_CONTINUATION = re.compile(r"[a-z](?![.)]\s)")
# News writes "at 3 p.m. Tuesday" and "10 a.m. ET": pySBD ends the sentence at "p.m." there.
_CLOCK = re.compile(r"\b[ap]\.m\.[\"'”’)]*$", re.IGNORECASE)
_AFTER_CLOCK = re.compile(
    r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b|(?:Jan|Feb|March|April|May|June|July|Aug|Sept?|Oct|Nov|Dec)"
    r"[a-z]*\b|(?:[ECMP][SD]?T|GMT|UTC|BST|CET)\b"
)


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
    """Exact (start, end) offsets of the sentences of text[start:end], one line, trimmed."""
    line = text[start:end]
    cuts = [0, *_boundaries(line), len(line)]
    out: list[tuple[int, int]] = []
    for s, e in itertools.pairwise(cuts):
        seg = line[s:e]
        ls = len(seg) - len(seg.lstrip())
        rs = len(seg.rstrip())
        if rs > ls:
            out.extend(_split_long(text, start + s + ls, start + s + rs))
    return out


@cache
def _segmenter() -> pysbd.Segmenter:
    """One pySBD segmenter, built on first use (it compiles its rules once)."""
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _pysbd_ends(text: str) -> list[int]:
    """Where pySBD's sentences of `text` end (after their trailing spaces)."""
    try:
        return [span.end for span in _segmenter().segment(text)]
    except Exception:
        # Its rules have crashed on odd text before (pySBD issues 27, 31, 87): one line must not
        # stop a build, so that line keeps no pySBD boundary.
        return []


def _boundaries(line: str) -> list[int]:
    """Offsets in `line` where a sentence ends: pySBD's and in-quote ones, as far as _keep_cut agrees."""
    if not _INNER_END.search(line.rstrip()):
        return []
    # Only the ends of pySBD's spans become cuts, so text it might drop or alter still lands in
    # a sentence; its last end is the end of the line.
    ends = _pysbd_ends(line)[:-1]
    cuts: list[int] = []
    for e in sorted({*ends, *_quote_cuts(line)}):
        last = cuts[-1] if cuts else 0
        if e <= last or not _WORD.search(line, e):
            continue
        if not _keep_cut(line[:e].rstrip(), line[e:].lstrip()):
            continue
        if _WORD.search(line, last, e):
            cuts.append(e)
        elif cuts:
            # A piece without a word ("...", a lone closing quote) ends the sentence before it.
            cuts[-1] = e
    return cuts


def _quote_cuts(line: str) -> list[int]:
    """Sentence ends inside double quotes: pySBD keeps a quote whole, news quotes run for sentences."""
    cuts: list[int] = []
    for m in _QUOTED.finditer(line):
        inner = m.group()[1:-1]
        if _INNER_END.search(inner):
            # Not the last end: that one is the quote's own, and the text after it decides.
            cuts.extend(m.start() + 1 + e for e in _pysbd_ends(inner)[:-1])
    return cuts


def _keep_cut(before: str, after: str) -> bool:
    """Does a sentence really end between `before` and `after` (a pySBD boundary)?"""
    if not after or not before:
        return False
    if _CONTINUATION.match(after) or _COMMA_QUOTE.search(before):
        return False
    return not (_CLOCK.search(before) and _AFTER_CLOCK.match(after))


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
