"""Files and folders → Documents (.txt, .md, .html, .jsonl), with unusable files reported, not fatal.

Each reader returns plain text whose offsets are the offsets citations point at, plus the spans
of section headings inside it. Trailing link lists ("Related Posts") are cut here, once, so no
later stage can ever serve them as an answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from qa.errors import UnreadableFile
from qa.records import Document, Span

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")
_END_PUNCT = tuple(".!?:;,\"”’')…")
_LINK_BLOCK_HEADER = re.compile(
    r"^(related( posts| articles| stories| news| reading)?|read (more|next|also)|see also|"
    r"more (from|on|stories|news)|recommended( for you| reading)?|you (may|might) also like|"
    r"popular( posts| stories)?|trending( now)?|latest( news| posts)?|further reading)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Skipped:
    """A source that could not be used, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class IngestResult:
    """The documents read and the files skipped with their reasons."""

    documents: list[Document]
    skipped: list[Skipped]


def bundled_corpus() -> Path:
    """Path of the sample article shipped inside the package."""
    return Path(__file__).parent / "data"


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand folders recursively (sorted, hidden entries skipped); files are yielded as given."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if child.is_file() and not any(part.startswith(".") for part in rel.parts):
                    yield child
        else:
            yield path


def load_documents(paths: Iterable[Path | str], max_file_bytes: int = 20_000_000) -> IngestResult:
    """Read every supported file under `paths`; unusable ones are listed in `skipped`."""
    documents: list[Document] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for path in iter_files(Path(p) for p in paths):
        try:
            docs = read_file(path, max_file_bytes=max_file_bytes, skipped=skipped)
        except UnreadableFile as exc:
            skipped.append(Skipped(str(path), exc.message))
            continue
        for doc in docs:
            if doc.doc_id in seen:
                skipped.append(Skipped(doc.source, "duplicate source; the first copy was kept"))
                continue
            seen.add(doc.doc_id)
            documents.append(doc)
    return IngestResult(documents, skipped)


def read_file(
    path: Path, max_file_bytes: int = 20_000_000, skipped: list[Skipped] | None = None
) -> list[Document]:
    """Read one file into documents; raise UnreadableFile saying why it can't be used.

    Bad lines of a .jsonl file that also has good ones are appended to `skipped`, when given.
    """
    if not path.exists():
        raise UnreadableFile("no such file or folder")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UnreadableFile(
            f"unsupported file type '{suffix or path.name}' (supported: {', '.join(SUPPORTED)})"
        )
    if not path.is_file():
        raise UnreadableFile("not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile("empty file")
    if size > max_file_bytes:
        raise UnreadableFile(_too_large(size, max_file_bytes))
    raw = _read_bounded(path, size, max_file_bytes)
    text = decode(raw)
    source = str(path)
    if suffix == ".jsonl":
        problems: list[str] = []
        docs = parse_jsonl(text, source, problems)
        if skipped is not None and docs:
            skipped.extend(Skipped(source, problem) for problem in problems)
    else:
        if suffix in (".md", ".markdown"):
            title, body, headings = parse_markdown(text)
        elif suffix in (".html", ".htm"):
            title, body, headings = parse_html(text)
        else:
            title, body, headings = parse_text(text)
        docs = [make_document(source, title or path.stem, body, headings)]
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        raise UnreadableFile("no article text found")
    return docs


def _read_bounded(path: Path, size: int, limit: int) -> bytes:
    """The file's bytes, never holding more than `limit` of them even if it grew since stat."""
    parts: list[bytes] = []
    total = 0
    with path.open("rb") as f:
        # read(n) allocates n bytes up front: ask for what stat said, then small steps.
        step = size + 1
        while chunk := f.read(min(step, limit + 1 - total)):
            parts.append(chunk)
            total += len(chunk)
            if total > limit:
                raise UnreadableFile(_too_large(total, limit))
            step = 1 << 20
    return b"".join(parts)


def _too_large(size: int, limit: int) -> str:
    def mb(n: int) -> str:
        return f"{n / 1e6:.1f} MB"

    if limit < 1_000_000 or mb(size) == mb(limit):
        what, cap = f"{size:,} bytes", f"{limit:,}-byte"
    else:
        what, cap = mb(size), mb(limit)
    return f"file is {what}, over the {cap} limit (QA_MAX_FILE_BYTES); split it into articles"


def decode(raw: bytes) -> str:
    """Decode UTF-8 text, refusing binary data with a reason."""
    if b"\x00" in raw[:8192]:
        raise UnreadableFile("binary file (contains NUL bytes), not text")
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
) -> Document:
    """Build a Document: cut any trailing link block, then hash the content that remains."""
    body, headings = _cut_link_block(body, list(headings))
    title = " ".join(title.split())[:300]
    digest = hashlib.sha256(f"{title}\n{published or ''}\n{body}".encode()).hexdigest()
    doc_id = hashlib.sha1(source.encode()).hexdigest()[:16]
    return Document(
        doc_id=doc_id,
        title=title,
        source=source,
        text=body,
        content_hash=digest,
        published=published,
        headings=tuple(headings),
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


# --- html ----------------------------------------------------------------------------------

_DROP = {"script", "style", "nav", "header", "footer", "aside", "noscript", "template", "svg", "form"}
_BLOCK = {
    "p", "div", "section", "article", "main", "li", "ul", "ol", "br", "tr", "table", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "pre", "dd", "dt",
}  # fmt: skip
_VOID = {"br", "img", "hr", "meta", "link", "input", "source", "wbr", "area", "base", "col"}


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.skip = 0
        self.title = ""
        self.h1 = ""
        self.blocks: dict[str, list[tuple[str, str]]] = {"article": [], "main": [], "body": []}
        self.current: list[str] = []
        self.current_tag = "p"

    def _flush(self) -> None:
        text = " ".join("".join(self.current).split())
        if text:
            for scope in ("article", "main"):
                if scope in self.stack:
                    self.blocks[scope].append((self.current_tag, text))
            self.blocks["body"].append((self.current_tag, text))
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "br":
                self._flush()
            return
        self.stack.append(tag)
        if tag in _DROP:
            self.skip += 1
        elif tag in _BLOCK:
            self._flush()
            self.current_tag = tag

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or tag not in self.stack:
            return
        while self.stack:
            top = self.stack.pop()
            if top in _DROP:
                self.skip -= 1
            if top == tag:
                break
        if tag in _BLOCK:
            self._flush()
            self.current_tag = "p"

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.stack and self.stack[-1] == "title":
            self.title += data
            return
        if "h1" in self.stack:
            self.h1 += data
        self.current.append(data)


def parse_html(text: str) -> tuple[str, str, list[Span]]:
    """HTML: title from <title>/<h1>; text of <article> or <main> when present; h2/h3 are headings."""
    parser = _HTMLText()
    parser.feed(_cut_unfinished_markup(text))
    parser.close()
    parser._flush()
    blocks = parser.blocks["article"] or parser.blocks["main"] or parser.blocks["body"]
    title = " ".join(parser.h1.split()) or " ".join(parser.title.split())
    lines: list[str] = []
    headings: list[Span] = []
    pos = 0
    for tag, block in blocks:
        if tag == "h1" and " ".join(block.split()) == title:
            continue
        if tag in ("h2", "h3", "h4", "h5", "h6"):
            headings.append(Span(pos, pos + len(block)))
        lines.append(block)
        pos += len(block) + 1
    return title, "\n".join(lines), headings


def _cut_unfinished_markup(text: str) -> str:
    """Drop a tag or comment cut off by the end of a truncated file, which the parser would
    otherwise pass on as text ("<p class=\"x"); the text before it is kept."""
    comment = text.rfind("<!--")
    if comment != -1 and text.find("-->", comment) == -1:
        text = text[:comment]
    tag = text.rfind("<")
    if tag > text.rfind(">") and re.match(r"<[A-Za-z/!?]", text[tag : tag + 2]):
        text = text[:tag]
    return text


# --- jsonl ---------------------------------------------------------------------------------


def parse_jsonl(text: str, source: str, problems: list[str] | None = None) -> list[Document]:
    """One article per line: {"title", "text", "url"?, "published"?}; bad lines are reported.

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
            )
        )
    if not docs and problems:
        raise UnreadableFile("; ".join(problems[:3]))
    return docs
