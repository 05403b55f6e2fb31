"""Ingestion: every format, folders, the sample's link block, and each kind of unusable file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.ingest import bundled_corpus, load_documents, read_file


def headings_of(doc) -> list[str]:
    return [doc.text[h.start : h.end] for h in doc.headings]


def only_document(path: Path):
    result = load_documents([path])
    assert result.skipped == []
    assert len(result.documents) == 1
    return result.documents[0]


# --- formats --------------------------------------------------------------------------------


def test_txt_first_line_is_title_and_short_lines_are_headings(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text(
        "Markets Rally on Rate Cut\n\n"
        "Stocks rose sharply on Monday. Investors cheered the news.\n"
        "Future Outlook\n"
        "Analysts expect further gains next quarter.\n"
    )
    doc = only_document(path)
    assert doc.title == "Markets Rally on Rate Cut"
    assert doc.source == str(path)
    assert "Markets Rally" not in doc.text
    assert doc.text.startswith("Stocks rose sharply on Monday.")
    assert headings_of(doc) == ["Future Outlook"]


def test_txt_punctuated_short_line_is_not_a_heading(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text("Title Here\nIt rained.\nThe match was cancelled after an hour of waiting.\n")
    doc = only_document(path)
    assert headings_of(doc) == []


def test_txt_single_line_takes_title_from_file_name(tmp_path: Path) -> None:
    path = tmp_path / "one-liner.txt"
    path.write_text("Just one line of news.")
    doc = only_document(path)
    assert doc.title == "one-liner"
    assert doc.text == "Just one line of news."


def test_txt_windows_newlines_and_bom_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "win.txt"
    path.write_bytes("\ufeffA Title\r\n\r\nFirst sentence.\r\nSecond line here.\r\n".encode())
    doc = only_document(path)
    assert doc.title == "A Title"
    assert "\r" not in doc.text
    assert doc.text == "First sentence.\nSecond line here."


def test_md_hash_title_and_subheadings(tmp_path: Path) -> None:
    path = tmp_path / "post.md"
    path.write_text(
        "# The Markdown Title\n\n"
        "Some **bold** words and a [link](https://example.com/x).\n\n"
        "## First Section\n\n"
        "Body of the first section.\n\n"
        "### A Subsection\n\n"
        "More body text.\n"
    )
    doc = only_document(path)
    assert doc.title == "The Markdown Title"
    assert headings_of(doc) == ["First Section", "A Subsection"]
    assert "Some bold words and a link." in doc.text
    assert "**" not in doc.text and "https://" not in doc.text and "#" not in doc.text


def test_md_hash_lines_inside_code_fence_are_not_headings(tmp_path: Path) -> None:
    path = tmp_path / "code.md"
    path.write_text("# Title\n\nIntro text.\n\n```\n## not a heading\n```\n\n## Real Heading\n\nText.\n")
    doc = only_document(path)
    assert headings_of(doc) == ["Real Heading"]


def test_html_prefers_article_drops_chrome_and_uses_h2_h3_headings(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Site | Page Title</title><style>.x{color:red}</style>"
        "<script>var tracking = 1;</script></head><body>"
        "<header>Site header text</header><nav>Home | About</nav>"
        "<div>Cookie banner outside the article.</div>"
        "<article><h1>The Article Headline</h1><p>First paragraph &amp; more.</p>"
        "<h2>Details</h2><p>Detail text.</p><aside>An advert.</aside>"
        "<h3>Deeper</h3><p>Deep text.</p></article>"
        "<footer>Copyright footer</footer></body></html>"
    )
    doc = only_document(path)
    assert doc.title == "The Article Headline"
    assert doc.text == "First paragraph & more.\n\nDetails\n\nDetail text.\n\nDeeper\n\nDeep text."
    assert headings_of(doc) == ["Details", "Deeper"]
    for dropped in ("tracking", "color:red", "Site header", "Home | About", "advert", "Copyright", "Cookie"):
        assert dropped not in doc.text


def test_html_title_tag_without_article_or_h1(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_text(
        "<html><head><title>Only The Title | Some Site</title></head><body>"
        "<main><p>Main text here, long enough to be read as the article of the page.</p></main></body></html>"
    )
    doc = only_document(path)
    assert doc.title == "Only The Title"
    assert doc.text == "Main text here, long enough to be read as the article of the page."


def test_html_without_article_or_main_uses_body(tmp_path: Path) -> None:
    path = tmp_path / "plain.html"
    path.write_text(
        "<html><body><p>One paragraph of the article.</p><p>Another one of it.</p>"
        "<footer>f</footer></body></html>"
    )
    doc = only_document(path)
    assert doc.text == "One paragraph of the article.\n\nAnother one of it."
    assert doc.title == "plain"


def test_jsonl_reads_title_text_url_published(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    lines = [
        {"title": "First", "text": "Body one.", "url": "https://news.example/1", "published": "2024-01-02"},
        {"title": "Second", "text": "Body two."},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    result = load_documents([path])
    assert result.skipped == []
    first, second = result.documents
    assert (first.title, first.text, first.source, first.published) == (
        "First",
        "Body one.",
        "https://news.example/1",
        "2024-01-02",
    )
    assert (second.title, second.source, second.published) == ("Second", f"{path}#L2", None)
    assert first.doc_id != second.doc_id


def test_jsonl_bad_lines_are_reported_and_good_lines_kept(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        json.dumps({"title": "Good", "text": "Good body."}) + "\nnot json at all\n"
        + json.dumps({"title": "No text"}) + "\n"
    )  # fmt: skip
    result = load_documents([path])
    assert [d.title for d in result.documents] == ["Good"]
    reasons = sorted(s.reason for s in result.skipped)
    assert len(reasons) == 2
    assert reasons[0].startswith("line 2: invalid JSON")
    assert reasons[1] == "line 3: needs a non-empty string 'text'"
    assert all(s.source == str(path) for s in result.skipped)


def test_jsonl_duplicate_url_keeps_first_copy(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    row = {"title": "Same", "text": "Same body.", "url": "https://news.example/same"}
    path.write_text(json.dumps(row) + "\n" + json.dumps({**row, "text": "Other body."}) + "\n")
    result = load_documents([path])
    assert [d.text for d in result.documents] == ["Same body."]
    assert [s.reason for s in result.skipped] == ["duplicate source; the first copy was kept"]


def test_content_hash_changes_with_text_but_doc_id_follows_source(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Title\nFirst version of the text.\n")
    before = only_document(path)
    path.write_text("Title\nSecond version of the text.\n")
    after = only_document(path)
    assert before.doc_id == after.doc_id
    assert before.content_hash != after.content_hash


# --- folders ------------------------------------------------------------------------------


def test_folders_are_read_recursively_sorted_and_hidden_entries_skipped(tmp_path: Path) -> None:
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a.txt").write_text("Alpha\nAlpha body.\n")
    (tmp_path / "b" / "b.md").write_text("# Beta\n\nBeta body.\n")
    (tmp_path / "b" / "deeper" / "c.html").write_text("<title>Gamma</title><p>Gamma body of the page.</p>")
    (tmp_path / ".hidden" / "secret.txt").write_text("Secret\nSecret body.\n")
    (tmp_path / ".dotfile.txt").write_text("Dot\nDot body.\n")
    result = load_documents([tmp_path])
    assert [d.title for d in result.documents] == ["Alpha", "Beta", "Gamma"]
    assert result.skipped == []


def test_missing_path_is_skipped_with_reason(tmp_path: Path) -> None:
    result = load_documents([tmp_path / "nope.txt"])
    assert result.documents == []
    assert [s.reason for s in result.skipped] == ["no such file or folder"]


# --- the bundled sample ---------------------------------------------------------------------


def test_sample_related_posts_block_is_cut() -> None:
    result = load_documents([bundled_corpus()])
    assert result.skipped == []
    (doc,) = result.documents
    assert doc.title == "Netflix and Generative AI: A Bold Move in Entertainment"
    assert "Related Posts" not in doc.text
    assert "Microsoft to Invest" not in doc.text
    assert "Linux Foundation" not in doc.text
    assert "Post-Production" in doc.text
    assert doc.text.endswith("creating complex scenes.")
    assert all(h.end <= len(doc.text) for h in doc.headings)


def test_sample_headings_are_the_section_titles() -> None:
    (doc,) = load_documents([bundled_corpus()]).documents
    assert headings_of(doc) == [
        "Netflix Embraces Generative AI in Filmmaking",
        "AI as a Creative Tool",
        "Early AI Implementations",
        "Future Outlook",
        "Industry Concerns and Debates",
        "The Rise of Sora and Deepfake Concerns",
        "Netflix’s Response to Sora",
        "Financial Performance",
    ]


def test_link_block_without_header_is_cut_after_three_titles(tmp_path: Path) -> None:
    path = tmp_path / "links.txt"
    path.write_text(
        "Headline\nThe real story ends here.\n\n"
        "Another Story Title Here\nYet Another Story Title\nA Third Story Title\n"
    )
    doc = only_document(path)
    assert doc.text == "The real story ends here."


def test_article_ending_with_prose_is_not_cut(tmp_path: Path) -> None:
    path = tmp_path / "prose.txt"
    path.write_text("Headline\nFirst paragraph.\nRelated news came later in the week, officials said.\n")
    doc = only_document(path)
    assert doc.text.endswith("officials said.")


# --- unusable files -------------------------------------------------------------------------

BAD_FILES = [
    ("binary.txt", b"GIF89a\x00\x01\x02 binary", "binary file (contains NUL bytes)"),
    ("latin1.txt", "Caf\xe9 au lait\nnot utf-8".encode("latin-1"), "not valid UTF-8 text (byte 0xe9"),
    ("empty.md", b"", "empty file"),
    ("blank.txt", b"   \n\n  \n", "no article text found"),
    ("report.pdf", b"%PDF-1.4 something", "unsupported file type '.pdf'"),
    ("noext", b"some text", "unsupported file type 'noext'"),
    (
        "chrome.html",
        b"<html><head><title>T</title><script>x()</script></head><body><nav>menu</nav></body></html>",
        "no article text found",
    ),
    ("bad.jsonl", b'not json\n{"title": "no text"}\n', "line 1: invalid JSON"),
    ("big.txt", b"Title\n" + b"word " * 400, "limit (QA_MAX_FILE_BYTES); split it into articles"),
]


@pytest.mark.parametrize(("name", "content", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_is_skipped_with_reason_and_good_files_still_read(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    (tmp_path / "good.txt").write_text("Good Title\nA perfectly good article.\n")
    (tmp_path / name).write_bytes(content)
    result = load_documents([tmp_path], max_file_bytes=1000)
    assert [d.title for d in result.documents] == ["Good Title"]
    assert len(result.skipped) == 1
    skipped = result.skipped[0]
    assert skipped.source == str(tmp_path / name)
    assert reason in skipped.reason


def test_bad_jsonl_lists_each_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('not json\n[1, 2]\n{"text": 5}\n{"text": "   "}\n')
    (skipped,) = load_documents([path]).skipped
    assert skipped.reason.split("; ") == [
        "line 1: invalid JSON (Expecting value)",
        "line 2: needs a non-empty string 'text'",
        "line 3: needs a non-empty string 'text'",
    ]


def test_read_file_raises_unreadable_for_binary(tmp_path: Path) -> None:
    from qa.errors import UnreadableFile

    path = tmp_path / "x.txt"
    path.write_bytes(b"\x00\x01")
    with pytest.raises(UnreadableFile, match="binary file"):
        read_file(path)


# --- truncated, special and very large files ------------------------------------------------


def test_size_message_shows_bytes_for_small_limits(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"Title\n" + b"word " * 400)
    (skipped,) = load_documents([path], max_file_bytes=1000).skipped
    assert skipped.reason == (
        "file is 2,006 bytes, over the 1,000-byte limit (QA_MAX_FILE_BYTES); split it into articles"
    )


TRUNCATED_HTML = [
    ("mid-tag", '<html><body><article><h1>Flood News</h1><p>The river flooded the valley.</p><p class="x',
     "The river flooded the valley."),
    ("mid-attribute-url", '<article><h1>Flood News</h1><p>The river flooded the valley. See <a href="http://ex',
     "The river flooded the valley. See"),
    ("mid-comment", "<article><h1>Flood News</h1><p>The river flooded the valley.</p><!-- ad slot",
     "The river flooded the valley."),
    ("mid-text", "<article><h1>Flood News</h1><p>The river flooded the valley.</p><p>Officials said the wa",
     "The river flooded the valley.\n\nOfficials said the wa"),
    ("mid-script", "<article><h1>Flood News</h1><p>The river flooded the valley.</p><script>var x = '<p>",
     "The river flooded the valley."),
    ("mid-closing-tag", "<article><h1>Flood News</h1><p>The river flooded the valley.</",
     "The river flooded the valley."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("html", "text"), [t[1:] for t in TRUNCATED_HTML], ids=[t[0] for t in TRUNCATED_HTML]
)
def test_truncated_html_keeps_its_text_without_markup(tmp_path: Path, html: str, text: str) -> None:
    path = tmp_path / "cut.html"
    path.write_text(html)
    doc = only_document(path)
    assert doc.title == "Flood News"
    assert doc.text == text
    assert "<" not in doc.text


def test_truncated_html_without_text_is_skipped_with_reason(tmp_path: Path) -> None:
    path = tmp_path / "cut.html"
    path.write_text("<html><head><title>Flood</title></head><bo")
    (skipped,) = load_documents([path]).skipped
    assert skipped.reason == "no article text found"


def test_special_file_is_refused_without_reading(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # reading it would block forever
    (skipped,) = load_documents([fifo]).skipped
    assert skipped.reason == "not a regular file"


def test_nul_bytes_after_the_first_block_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "late-nul.txt"
    path.write_bytes(b"Title\n" + b"A sentence about rivers. " * 400 + b"\x00\x00 More text.")
    doc = only_document(path)
    assert "\x00" not in doc.text and doc.text.endswith("More text.")


def test_fifty_megabyte_file_is_skipped_before_reading(tmp_path: Path) -> None:
    import tracemalloc

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Good Title\nA perfectly good article about river otters.\n")
    huge = corpus / "huge.txt"
    with huge.open("wb") as f:  # sparse: 50 MB on paper, nothing on disk
        f.truncate(50_000_000)
    tracemalloc.start()
    try:
        result = load_documents([corpus])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [d.title for d in result.documents] == ["Good Title"]
    assert [(s.source, s.reason) for s in result.skipped] == [
        (str(huge), "file is 50.0 MB, over the 20.0 MB limit (QA_MAX_FILE_BYTES); split it into articles")
    ]
    assert peak < 5_000_000, peak


def test_file_growing_after_stat_is_still_bounded(tmp_path: Path) -> None:
    from qa.errors import UnreadableFile
    from qa.ingest import _read_bounded

    path = tmp_path / "growing.txt"
    path.write_bytes(b"x" * 5000)
    assert _read_bounded(path, 5000, 5000) == b"x" * 5000
    with pytest.raises(UnreadableFile, match="file is 1,001 bytes, over the 1,000-byte limit"):
        _read_bounded(path, 100, 1000)  # stat said 100 bytes; it has grown to 5,000 since


def test_qa_index_with_a_fifty_megabyte_file_stays_small(tmp_path: Path) -> None:
    """The real `qa index` process (fake embedder): skip message, the rest indexed, peak RSS small."""
    import os
    import re
    import subprocess
    import sys

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(3):
        (corpus / f"a{i}.txt").write_text(f"Story {i}\nThe river rose {i} metres overnight, they said.\n")
    with (corpus / "huge.txt").open("wb") as f:
        f.write(b"Huge\n" + b"All work and no play. " * 1000)
        f.truncate(50_000_000)
    tests = Path(__file__).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    done = subprocess.run(
        [sys.executable, str(tests / "crash_child.py"), "none", "0", "index", str(corpus),
         "--index-dir", str(tmp_path / "index"), "-q"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Indexed 3 document(s)")
    assert (
        f"  {corpus / 'huge.txt'}: file is 50.0 MB, over the 20.0 MB limit (QA_MAX_FILE_BYTES)" in done.stdout
    )
    (peak_kb,) = re.findall(r"^PEAK_RSS_KB (\d+)$", done.stderr, re.MULTILINE)
    # About 60 MB here; reading the file instead of skipping it takes it past 500 MB.
    assert int(peak_kb) * 1024 < 150_000_000, peak_kb
