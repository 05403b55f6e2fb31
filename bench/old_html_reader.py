"""The hand-written HTML reader the product used before trafilatura (qa/ingest/article.py), kept
as the baseline of bench/extraction.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from qa.records import Span

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
