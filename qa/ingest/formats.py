"""Plain text, Markdown and JSON lines → title, body and heading spans (and Documents)."""

from __future__ import annotations

import hashlib
import json
import re

from qa.errors import UnreadableFile
from qa.records import Document, Span

_END_PUNCT = tuple(".!?:;,\"”’')…")
_LINK_BLOCK_HEADER = re.compile(
    r"^(related( posts| articles| stories| news| reading)?|read (more|next|also)|see also|"
    r"more (from|on|stories|news)|recommended( for you| reading)?|you (may|might) also like|"
    r"popular( posts| stories)?|trending( now)?|latest( news| posts)?|further reading)\b",
    re.IGNORECASE,
)


def refuse_binary(raw: bytes) -> None:
    """UnreadableFile when the start of a file holds NUL bytes: binary data, not text."""
    if b"\x00" in raw[:8192]:
        raise UnreadableFile("binary file (contains NUL bytes), not text")


def decode(raw: bytes) -> str:
    """Decode UTF-8 text, refusing binary data with a reason."""
    refuse_binary(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"not valid UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    return normalise_newlines(text)


def normalise_newlines(text: str) -> str:
    """Unify line endings and drop control characters other than newline and tab."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text)


def make_document(
    source: str,
    title: str,
    body: str,
    headings: list[Span] | tuple[Span, ...] = (),
    published: str | None = None,
    url: str | None = None,
    site: str | None = None,
    author: str | None = None,
) -> Document:
    """Build a Document: cut any trailing link block, then hash the content that remains (and
    its metadata, so a changed date or byline is stored again)."""
    body, headings = _cut_link_block(body, list(headings))
    title = " ".join(title.split())[:300]
    meta = "\n".join(x or "" for x in (title, published, url, site, author))
    digest = hashlib.sha256(f"{meta}\n{body}".encode()).hexdigest()
    doc_id = hashlib.sha1(source.encode()).hexdigest()[:16]
    return Document(
        doc_id=doc_id,
        title=title,
        source=source,
        text=body,
        content_hash=digest,
        published=published,
        headings=tuple(headings),
        url=url,
        site=site,
        author=author,
        urls=(url,) if url else (),
    )


# --- plain text ----------------------------------------------------------------------------


def is_heading_line(line: str) -> bool:
    """A short line with no closing punctuation, such as 'Future Outlook', heads a section."""
    s = line.strip()
    if not s or len(s) > 100 or len(s.split()) > 14:
        return False
    if s.endswith(_END_PUNCT) or s[0] in "-*•–" or (s[0].isdigit() and s.rstrip(".").isdigit()):
        return False
    return s[0].isupper() or s[0].isdigit() or s[0] in "\"“'‘"


def parse_text(text: str) -> tuple[str, str, list[Span]]:
    """Plain text: the first line is the title when short; short unpunctuated lines are headings."""
    lines = text.split("\n")
    title = ""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and len(lines[first].strip()) <= 200 and len(lines) > first + 1:
        title = lines[first].strip()
        lines = lines[first + 1 :]
    body = "\n".join(lines).strip("\n")
    return title, body, _heading_spans(body)


def _heading_spans(body: str) -> list[Span]:
    spans: list[Span] = []
    lines = body.split("\n")
    pos = 0
    for i, line in enumerate(lines):
        nxt = next((x for x in lines[i + 1 :] if x.strip()), "")
        # A heading must head something: a following line of prose, not another heading.
        if is_heading_line(line) and nxt and not is_heading_line(nxt):
            lead = len(line) - len(line.lstrip())
            spans.append(Span(pos + lead, pos + len(line.rstrip())))
        pos += len(line) + 1
    return spans


def _cut_link_block(body: str, headings: list[Span]) -> tuple[str, list[Span]]:
    """Drop a trailing list of links to other stories (a 'Related Posts' block)."""
    lines = body.split("\n")
    i = len(lines)
    titles = 0
    cut: int | None = None
    while i > 0:
        line = lines[i - 1].strip()
        if not line:
            i -= 1
            continue
        if _LINK_BLOCK_HEADER.match(line) and len(line) < 60 and titles >= 1:
            cut = i - 1
            break
        if is_heading_line(line) or _looks_like_link_title(line):
            titles += 1
            i -= 1
            if titles >= 3:
                cut = i
            continue
        break
    if cut is None:
        return body, headings
    # Also drop the header just above a run of titles found without one.
    if cut > 0 and _LINK_BLOCK_HEADER.match(lines[cut - 1].strip() or "-"):
        cut -= 1
    kept = "\n".join(lines[:cut]).rstrip()
    return kept, [h for h in headings if h.end <= len(kept)]


def _looks_like_link_title(line: str) -> bool:
    return len(line) <= 120 and not line.endswith((".", "!", "?", ".”", '."')) and len(line.split()) <= 16


# --- markdown ------------------------------------------------------------------------------

_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPH = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")


def _md_inline(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text)
    return _MD_EMPH.sub(r"\2", text)


def parse_markdown(text: str) -> tuple[str, str, list[Span]]:
    """Markdown: the first `#` heading is the title; `##`+ headings become section headings."""
    title = ""
    out: list[str] = []
    headings: list[Span] = []
    pos = 0
    in_code = False
    for line in text.split("\n"):
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        m = re.match(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m and not in_code:
            heading = _md_inline(m.group(2)).strip()
            if len(m.group(1)) == 1 and not title:
                title = heading
                continue
            headings.append(Span(pos, pos + len(heading)))
            line = heading
        elif not in_code:
            line = _md_inline(re.sub(r"^\s{0,3}>\s?", "", line))
        out.append(line)
        pos += len(line) + 1
    body = "\n".join(out)
    stripped = body.lstrip("\n")
    shift = len(body) - len(stripped)
    headings = [Span(h.start - shift, h.end - shift) for h in headings if h.start >= shift]
    return title, stripped.rstrip(), headings


# --- jsonl ---------------------------------------------------------------------------------


def parse_jsonl(text: str, source: str, problems: list[str] | None = None) -> list[Document]:
    """One article per line: {"title", "text", "url"?, "published"?, "site"?, "author"?}; bad
    lines are reported.

    When every line is bad this raises UnreadableFile; otherwise the bad lines are appended to
    `problems` (when given) as "line N: why".
    """
    docs: list[Document] = []
    problems = [] if problems is None else problems
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {n}: invalid JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"].strip():
            problems.append(f"line {n}: needs a non-empty string 'text'")
            continue
        body = normalise_newlines(obj["text"]).strip()
        title = obj.get("title") if isinstance(obj.get("title"), str) else ""
        url = obj.get("url") if isinstance(obj.get("url"), str) and obj.get("url") else None
        published = obj.get("published") or obj.get("published_date") or obj.get("date")
        docs.append(
            make_document(
                url or f"{source}#L{n}",
                title or body.split("\n")[0][:80],
                body,
                _heading_spans(body),
                published=str(published) if published else None,
                url=url,
                site=_text_field(obj, "site"),
                author=_text_field(obj, "author"),
            )
        )
    if not docs and problems:
        raise UnreadableFile("; ".join(problems[:3]))
    return docs


def _text_field(obj: dict[str, object], key: str) -> str | None:
    """A non-empty string field of a JSON line, or None."""
    value = obj.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None
