"""bench/extraction.py counts snippets as trafilatura's eval_common.py does (two made-up pages)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench.results
from bench.extraction import Reading, Tally, count_item, load_pages, main, recommend, score_page

PAGES = {
    "https://example.org/a": {
        "file": "a.html",
        "with": ["The council  voted\nyes on Monday.", "Turnout was low."],
        "without": ["Accept cookies", "Subscribe now"],
    },
    "https://example.org/b": {
        "file": "b.html",
        "with": ["A second story."],
        "without": ["Share this"],
    },
}
HTML = {
    "a.html": b"<p>The council voted yes on Monday.</p><div>Accept cookies</div>",
    "b.html": b"<p>nothing here</p>",
}


def fake_reader(content: bytes) -> Reading:
    """The page's text without tags; page b reads as empty, page a has a date."""
    text = content.decode().replace("<p>", " ").replace("</p>", " ").replace("<div>", " ")
    text = text.replace("</div>", " ")
    return ("", None) if "nothing" in text else (text, "2024-05-01")


def test_count_item_matches_whitespace_normalised_substrings() -> None:
    item = PAGES["https://example.org/a"]
    text = "The council voted yes   on Monday. Accept cookies"
    assert count_item(item, text) == (1, 1, 1, 1)  # tp, fp, fn, tn


def test_no_text_misses_every_snippet() -> None:
    assert count_item(PAGES["https://example.org/a"], None) == (0, 0, 2, 2)
    assert count_item(PAGES["https://example.org/b"], "") == (0, 0, 1, 1)


def test_tally_over_two_pages(tmp_path: Path) -> None:
    write_data(tmp_path)
    tally = Tally()
    for _, item, content in load_pages(tmp_path, None):
        assert score_page(tally, fake_reader, content, item) is None
    assert (tally.tp, tally.fp, tally.fn, tally.tn) == (1, 1, 2, 2)
    assert (tally.empty, tally.dated, tally.errors, len(tally.seconds)) == (1, 1, 0, 2)
    scores = tally.scores()
    assert scores["precision"] == pytest.approx(1 / 2)
    assert scores["recall"] == pytest.approx(1 / 3)
    assert scores["accuracy"] == pytest.approx(3 / 6)
    assert scores["f1"] == pytest.approx(2 / 5)  # 2tp / (2tp + fp + fn)


def test_a_reader_that_raises_counts_as_an_empty_page() -> None:
    def broken(content: bytes) -> Reading:
        raise ValueError("bad page")

    tally = Tally()
    err = score_page(tally, broken, b"<p>x</p>", PAGES["https://example.org/a"])
    assert isinstance(err, ValueError)
    assert (tally.fn, tally.tn, tally.empty, tally.errors) == (2, 2, 1, 1)
    assert tally.scores() == {"precision": 0.0, "recall": 0.0, "accuracy": 0.5, "f1": 0.0}


def test_a_missing_page_file_stops_the_run(tmp_path: Path) -> None:
    write_data(tmp_path)
    (tmp_path / "cache" / "b.html").unlink()
    with pytest.raises(SystemExit, match=r"b\.html"):
        load_pages(tmp_path, None)


def test_recommend_takes_precision_among_near_ties() -> None:
    rows = [
        {"reader": "old reader", "f1": 0.99, "precision": 0.99},
        {"reader": "trafilatura default", "f1": 0.900, "precision": 0.85},
        {"reader": "trafilatura fast", "f1": 0.898, "precision": 0.90},
        {"reader": "trafilatura favor_precision", "f1": 0.880, "precision": 0.95},
    ]
    assert recommend(rows) == "trafilatura fast"


def test_without_data_it_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    monkeypatch.setattr(bench.results, "RESULTS", results)  # not into the real bench/results
    main(["--data", str(tmp_path / "absent")])
    assert "[skip]" in capsys.readouterr().out
    assert "skipped" in json.loads((results / "extraction.json").read_text())


def write_data(folder: Path) -> None:
    """evaldata.json and the pages, one in cache/ and one in eval/ as trafilatura keeps them."""
    (folder / "evaldata.json").write_text(json.dumps(PAGES))
    for sub, name in (("cache", "b.html"), ("eval", "a.html")):
        (folder / sub).mkdir(exist_ok=True)
        (folder / sub / name).write_bytes(HTML[name])
