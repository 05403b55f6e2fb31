"""Article extraction quality: the old hand-written reader (bench/old_html_reader.py) against the
trafilatura reader (qa.ingest.article.extract_article) at each of its settings, on the same pages
of trafilatura's own evaluation set, scored as its tests/eval_common.py scores them.

    .venv/bin/python bench/extraction.py [--data DIR] [--limit N] [--reference]

DIR holds evaldata.json, eval/ and cache/ (trafilatura's tests/ folder); default
/tmp/trafilatura-eval/tests. The pages are read from there, never copied into this repository.
To obtain them, from a bare mirror of https://github.com/adbar/trafilatura (the `fetch` tool puts
one in /work/.mirror/adbar+trafilatura/repo) or any clone of it:

    mkdir -p /tmp/trafilatura-eval && git -C MIRROR archive HEAD tests/evaldata.json tests/eval \\
        tests/cache | tar -x -C /tmp/trafilatura-eval

Without the data it prints that command and writes a result marked skipped (exit 0), so `make bench`
runs where the data is absent.

Each page gives "with" snippets (text of the article) and "without" snippets (boilerplate). A
snippet counts as found when it occurs, whitespace-normalised, in the reader's text: a found
"with" is a true positive, a missed one a false negative, a found "without" a false positive, a
missed one a true negative. An empty page or a reader that raises misses every snippet. The text
scored is what the product indexes: the body (`Article.body`, `parse_html`'s body), not the title.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import CpuMeter, background_load
from bench.results import finish, table, write_result
from bench.stats import percentile

NAME = "extraction"
DEFAULT_DATA = Path("/tmp/trafilatura-eval/tests")
HOW_TO_GET = (
    "mkdir -p /tmp/trafilatura-eval && git -C /work/.mirror/adbar+trafilatura/repo archive HEAD "
    "tests/evaldata.json tests/eval tests/cache | tar -x -C /tmp/trafilatura-eval   "
    "(the mirror comes from the `fetch` tool, github:adbar/trafilatura; any clone works too)"
)
# Two settings count as tied when their F1 differs by less than this: about the half-width of the
# 95 % interval of the F1 difference between two settings when the 990 pages are resampled
# (paired bootstrap, measured once), so a smaller gap may be the choice of pages. Then the more
# precise one wins, as a quoted banner costs more than a missed paragraph.
F1_TIE = 0.005

Reading = tuple[str | None, str | None]  # (text, ISO date), text None when nothing came out
Reader = Callable[[bytes], Reading]


# --- scoring, as trafilatura's tests/eval_common.py ---------------------------------------


def norm(text: str) -> str:
    """Whitespace runs to one space, trimmed (eval_common.norm)."""
    return re.sub(r"\s+", " ", text).strip()


def count_item(item: dict[str, Any], text: str | None) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of one page's snippets in the text (eval_common.count_item)."""
    if isinstance(text, str):
        found = norm(text)
        tp = sum(1 for w in item["with"] if norm(w) in found)
        fp = sum(1 for w in item["without"] if norm(w) in found)
    else:
        tp = fp = 0
    return tp, fp, len(item["with"]) - tp, len(item["without"]) - fp


@dataclass
class Tally:
    """One reader's counts over the pages, with its empty pages, dates, errors and times."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    empty: int = 0
    dated: int = 0
    errors: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, counts: tuple[int, int, int, int]) -> None:
        """Add one page's (tp, fp, fn, tn)."""
        tp, fp, fn, tn = counts
        self.tp += tp
        self.fp += fp
        self.fn += fn
        self.tn += tn

    def scores(self) -> dict[str, float]:
        """Precision, recall, accuracy and F1, each 0.0 when its denominator is 0 (as eval_common)."""
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        total = tp + fp + fn + tn
        return {
            "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / (tp + fn) if tp + fn else 0.0,
            "accuracy": (tp + tn) / total if total else 0.0,
            "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        }


def score_page(tally: Tally, reader: Reader, content: bytes, item: dict[str, Any]) -> BaseException | None:
    """Run the reader on one page and add it to the tally; a raise counts as a full miss."""
    t0 = time.perf_counter()
    try:
        text, date = reader(content)
    except Exception as exc:  # as eval_common.run_and_count: a crash costs recall, the run goes on
        tally.seconds.append(time.perf_counter() - t0)
        tally.errors += 1
        tally.empty += 1
        tally.add(count_item(item, None))
        return exc
    tally.seconds.append(time.perf_counter() - t0)
    tally.empty += not (text or "").strip()
    tally.dated += date is not None
    tally.add(count_item(item, text))
    return None


# --- the readers ---------------------------------------------------------------------------


def old_reader(content: bytes) -> Reading:
    """bench/old_html_reader.py's body; it wants text, so the bytes are read as UTF-8."""
    from bench.old_html_reader import parse_html

    _, body, _ = parse_html(content.decode("utf-8", errors="replace"))
    return body, None


@contextmanager
def trafilatura_settings(favor_precision: bool, fast: bool) -> Iterator[None]:
    """extract_article with other values of its constants, restored after."""
    # Setting the module's constants runs the product's own call (bare_extraction, markdown,
    # dates, cut markup): a copy of that call here could drift from it.
    from qa.ingest import article

    before = article.FAVOR_PRECISION, article.FAST
    article.FAVOR_PRECISION, article.FAST = favor_precision, fast
    try:
        yield
    finally:
        article.FAVOR_PRECISION, article.FAST = before


def new_reader(favor_precision: bool, fast: bool) -> Reader:
    """extract_article at these settings: its body and date."""
    from qa.ingest.article import extract_article

    def read(content: bytes) -> Reading:
        """The page's article body and date, or (None, None) when it has none."""
        with trafilatura_settings(favor_precision, fast):
            found = extract_article(content)
        return (found.body, found.published) if found else (None, None)

    return read


def reference_reader(content: bytes) -> Reading:
    """trafilatura's own evaluation call (eval_common.RUNNERS["fallback"]): plain text, no dates."""
    import trafilatura

    text = trafilatura.extract(
        content, fast=False, include_comments=False, include_tables=True, include_formatting=False
    )
    return text, None


SETTINGS = {  # label: (favor_precision, fast)
    "trafilatura default": (False, False),
    "trafilatura favor_precision": (True, False),
    "trafilatura fast": (False, True),
    "trafilatura favor_precision + fast": (True, True),
}


def readers(reference: bool) -> dict[str, Reader]:
    """The old reader, extract_article at each setting, and (reference) trafilatura's eval call."""
    out: dict[str, Reader] = {"old reader": old_reader}
    out.update({label: new_reader(*s) for label, s in SETTINGS.items()})
    if reference:
        out["trafilatura extract(), its eval's call"] = reference_reader
    return out


# --- the pages -----------------------------------------------------------------------------


def resolve(data: Path, filename: str) -> Path | None:
    """The page's file under cache/ or else eval/ (eval_common.resolve), or None."""
    for sub in ("cache", "eval"):
        path = data / sub / filename
        if path.is_file():
            return path
    return None


def load_pages(data: Path, limit: int | None) -> list[tuple[str, dict[str, Any], bytes]]:
    """(url, annotations, page bytes) in url order; a missing file stops the run, as eval_common's
    read_corpus does (a partial checkout would score as misses otherwise)."""
    evaldata: dict[str, dict[str, Any]] = json.loads((data / "evaldata.json").read_text("utf-8"))
    pages = []
    for url in sorted(evaldata)[:limit]:
        path = resolve(data, evaldata[url]["file"])
        if path is None:
            sys.exit(f"{url}: HTML file not found: {evaldata[url]['file']} (in {data}/cache or eval)")
        pages.append((url, evaldata[url], path.read_bytes()))
    return pages


def not_utf8(pages: list[tuple[str, dict[str, Any], bytes]]) -> int:
    """How many pages are not valid UTF-8 (the old reader reads them with replacement characters)."""
    n = 0
    for _, _, content in pages:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            n += 1
    return n


# --- the run -------------------------------------------------------------------------------


def measure(pages: list[tuple[str, dict[str, Any], bytes]], chosen: dict[str, Reader]) -> dict[str, Tally]:
    """Every reader on every page, page by page, so a busy spell on the machine hits them alike."""
    tallies = {name: Tally() for name in chosen}
    for reader in chosen.values():  # imports and first-call setup out of the timings
        reader(b"<html><body><article><p>Warm-up text, long enough to count.</p></article></body></html>")
    reported: set[str] = set()
    for i, (url, item, content) in enumerate(pages, 1):
        for name, reader in chosen.items():
            err = score_page(tallies[name], reader, content, item)
            if err is not None and name not in reported:  # the first only: the count says the rest
                reported.add(name)
                print(f"{name}: {url}: {type(err).__name__}: {err}", flush=True)
        if i % 100 == 0:
            print(f"{i}/{len(pages)} pages", flush=True)
    return tallies


def row(name: str, tally: Tally) -> dict[str, Any]:
    """A reader's line of the result."""
    setting = SETTINGS.get(name)
    return {
        "reader": name,
        "favor_precision": setting[0] if setting else None,
        "fast": setting[1] if setting else None,
        **{k: round(v, 4) for k, v in tally.scores().items()},
        **{k: getattr(tally, k) for k in ("tp", "fp", "fn", "tn", "empty", "dated", "errors")},
        "median_ms": round(percentile(tally.seconds, 50) * 1000, 2),
        "p95_ms": round(percentile(tally.seconds, 95) * 1000, 2),
    }


def recommend(rows: list[dict[str, Any]]) -> str:
    """The trafilatura setting to use: best F1, and among those within F1_TIE of it the most precise."""
    settings = [r for r in rows if r["reader"] in SETTINGS]
    best = max(r["f1"] for r in settings)
    tied = [r for r in settings if r["f1"] > best - F1_TIE]
    return str(max(tied, key=lambda r: (r["precision"], r["f1"]))["reader"])


def run(data: Path, limit: int | None, reference: bool) -> dict[str, Any]:
    """Load the pages, measure every reader, and the result to write."""
    import trafilatura

    from qa.ingest import article

    pages = load_pages(data, limit)
    load_before = background_load()
    with CpuMeter() as cpu:
        tallies = measure(pages, readers(reference))
    rows = [row(name, t) for name, t in tallies.items()]
    current = (article.FAVOR_PRECISION, article.FAST)
    return {
        "data": str(data),
        "pages": len(pages),
        "not_utf8": not_utf8(pages),
        "snippets": {k: sum(len(item[k]) for _, item, _ in pages) for k in ("with", "without")},
        "trafilatura": trafilatura.__version__,
        "current": next(label for label, s in SETTINGS.items() if s == current),
        "recommended": recommend(rows),
        "readers": rows,
        "background_load_cores_before": load_before,
        **cpu.report(),
    }


HEADERS = ["reader", "precision", "recall", "F1", "accuracy", "empty pages", "dated pages", "median ms/page"]


def report_rows(r: dict[str, Any]) -> list[list[Any]]:
    """The table's rows: the current setting marked, scores to three places."""
    out = []
    for x in r["readers"]:
        name = x["reader"] + (" (extract_article now)" if x["reader"] == r["current"] else "")
        scores = [f"{x[k]:.3f}" for k in ("precision", "recall", "f1", "accuracy")]
        out.append([name, *scores, x["empty"], x["dated"], x["median_ms"]])
    return out


def report(r: dict[str, Any]) -> str:
    """The table, the pages and snippets behind it, and the setting the data picks."""
    if "skipped" in r:
        return f"[skip] {r['skipped']}"
    return (
        table(HEADERS, report_rows(r))
        + f"\n\n{r['pages']} pages ({r['not_utf8']} not UTF-8), {r['snippets']['with']} 'with' and "
        f"{r['snippets']['without']} 'without' snippets; trafilatura {r['trafilatura']}; "
        f"other processes used {r['cores_used_by_others']} cores meanwhile.\n"
        f"Setting by the data (F1, then precision within {F1_TIE}): {r['recommended']}; "
        f"extract_article uses: {r['current']}."
    )


def main(argv: list[str] | None = None) -> None:
    """Measure and print, or say how to get the data and mark the result skipped."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with evaldata.json, eval/, cache/")
    p.add_argument("--limit", type=int, default=None, help="only the first N pages (in url order)")
    p.add_argument("--reference", action="store_true", help="also trafilatura's own evaluation call")
    args = p.parse_args(argv)
    if not (args.data / "evaldata.json").is_file():
        reason = f"no trafilatura evaluation set at {args.data} (pass --data DIR); to get it: {HOW_TO_GET}"
        print(report({"skipped": reason}))
        write_result(NAME, {"skipped": reason})  # so run_all.py reports a skip, not a failure
        return
    finish(NAME, run(args.data, args.limit, args.reference), report)


if __name__ == "__main__":
    main()
