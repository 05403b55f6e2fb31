"""Files and folders → Documents (.txt, .md, .html, .jsonl), with unusable files reported, not fatal.

Each reader returns plain text whose offsets are the offsets citations point at, plus the spans
of section headings inside it. Trailing link lists ("Related Posts") are cut here, once, so no
later stage can ever serve them as an answer.

`formats` reads plain text, Markdown and JSON lines; `article` reads web pages (trafilatura).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from qa.errors import UnreadableFile
from qa.ingest.article import earliest, extract_article
from qa.ingest.formats import (
    decode,
    make_document,
    normalise_newlines,
    parse_jsonl,
    parse_markdown,
    parse_text,
    refuse_binary,
)
from qa.records import Document

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")

__all__ = [
    "SUPPORTED",
    "IngestResult",
    "Skipped",
    "bundled_corpus",
    "decode",
    "iter_files",
    "load_documents",
    "make_document",
    "normalise_newlines",
    "read_file",
]


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
    return Path(__file__).parent.parent / "data"


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
    source = str(path)
    if suffix in (".html", ".htm"):
        refuse_binary(raw)  # not decoded here: trafilatura reads the page's own encoding
        return [page_document(raw, source)]
    text = decode(raw)
    if suffix == ".jsonl":
        problems: list[str] = []
        docs = parse_jsonl(text, source, problems)
        if skipped is not None and docs:
            skipped.extend(Skipped(source, problem) for problem in problems)
    else:
        if suffix in (".md", ".markdown"):
            title, body, headings = parse_markdown(text)
        else:
            title, body, headings = parse_text(text)
        docs = [make_document(source, title or path.stem, body, headings)]
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        raise UnreadableFile("no article text found")
    return docs


def page_document(
    content: bytes, source: str | None, url: str | None = None, published: str | None = None
) -> Document:
    """The article of a web page as a Document; `url` is where it was fetched from (its source,
    unless the page names a canonical address, or `source` is given: a file's path) and
    `published` a date given elsewhere (a feed item's); the earliest credible date wins."""
    article = extract_article(content, url)
    if article is None:
        raise UnreadableFile("no article text found")
    source = source or article.url or url or ""
    return make_document(
        source,
        article.title or Path(source).stem,
        article.body,
        article.headings,
        published=earliest([article.published, published]),
        url=article.url or url,
        site=article.site,
        author=article.author,
    )


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
