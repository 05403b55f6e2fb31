"""The `qa` command: parse arguments, call the library, print. QAError → message and exit code 1."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.config import ANSWER_MODES, Settings
from qa.errors import BadInput, QAError
from qa.progress import progress_bar

if TYPE_CHECKING:
    from qa.build import BuildReport, PassageEmbedder
    from qa.index import DenseBuilder


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by the command line's options."""
    return Settings.from_env(
        index_dir=getattr(args, "index_dir", None),
        embed_model=getattr(args, "model", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        ray_address=getattr(args, "ray", None),
        workers=getattr(args, "workers", None),
    )


def cmd_index(args: argparse.Namespace) -> int:
    """Build or update the index."""
    from qa.build import BuildOptions, build_index, nothing_indexed, update_documents
    from qa.index import read_manifest
    from qa.ingest import bundled_corpus
    from qa.ingest.web import load_sources

    updating = bool(args.add or args.remove)
    if updating and (args.paths or args.full or args.feed):
        raise BadInput(
            "--add and --remove update the existing index; don't combine them with PATH, --feed or --full"
        )
    settings = settings_from_args(args)
    options = BuildOptions.from_settings(settings, incremental=not args.full)
    progress = progress_bar(args.quiet)
    if updating:
        read_manifest(settings.index_dir)  # a clear IndexMissing before anything is fetched
    sources = (
        list(args.add) if updating else (list(args.paths) or ([] if args.feed else [str(bundled_corpus())]))
    )
    found = load_sources(sources, list(args.feed), settings)
    if not found.documents and not args.remove:
        raise nothing_indexed(found.skipped)
    # The model loads only if something has to be embedded (an unchanged corpus needs none).
    embedder, dense = index_builders(settings)
    options = replace(options, dense=dense)
    if updating:
        report = update_documents(
            embedder, settings.index_dir, found.documents, list(args.remove), options, progress, found.skipped
        )
    else:
        report = build_index(found.documents, embedder, settings.index_dir, options, progress, found.skipped)
    progress("done", 1, 1)
    print(
        f"Indexed {report.documents} document(s), {report.chunks} chunks, {report.sentences} "
        f"sentences in {report.seconds:.1f} s into {settings.index_dir}/ "
        f"(embedded {report.embedded_documents}, reused {report.reused_documents}, "
        f"removed {report.removed_documents}"
        + (f", folded {report.folded} syndicated copies" if report.folded else "")
        + ")"
        + ray_summary(embedder, options.dense, report)
        + "."
    )
    if report.skipped:
        print(f"Skipped {len(report.skipped)} file(s):")
        for s in report.skipped:
            print(f"  {s.source}: {s.reason}")
    return 0


def index_builders(settings: Settings) -> tuple[PassageEmbedder, DenseBuilder]:
    """The embedder and the dense-index builder of `qa index`: on the Ray cluster of QA_RAY_ADDRESS
    (--ray), else in this process. On Ray, the dense index is built there only if compressed."""
    from qa.embed import Embedder
    from qa.index import local_dense

    if not settings.ray_address:
        return Embedder.from_settings(settings), local_dense
    from qa.distributed import RayEmbedder, RayIndexBuilder

    return RayEmbedder(settings.ray_address, settings), RayIndexBuilder(settings.ray_address)


def ray_summary(embedder: PassageEmbedder, dense: DenseBuilder, report: BuildReport) -> str:
    """How much of a build ran where, for a build on a Ray cluster ("" for a local one)."""
    from qa.distributed import RayEmbedder, RayIndexBuilder

    def on(nodes: set[str], seconds: float) -> str:
        return f"on {len(nodes)} Ray node{'' if len(nodes) == 1 else 's'} in {seconds:.1f} s"

    said = ""
    if isinstance(embedder, RayEmbedder):
        said += f"; embedded {report.embedded_texts} texts {on(embedder.nodes, report.embed_seconds)}"
    if isinstance(dense, RayIndexBuilder) and dense.seconds is not None:
        said += f"; trained and added the compressed index {on(dense.nodes, dense.seconds)}"
    return said


def cmd_watch(args: argparse.Namespace) -> int:
    """Poll feeds and add new articles until stopped."""
    import signal
    import threading
    import time

    from qa.embed import Embedder
    from qa.watch import Round, parse_interval, watch

    if not args.feed:
        raise BadInput("qa watch needs at least one --feed URL")
    every = parse_interval(args.every)
    settings = settings_from_args(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def show(r: Round) -> None:
        done = f"indexed {r.report.documents} document(s)" if r.report else "nothing new"
        print(f"{time.strftime('%H:%M:%S')} {r.items} feed item(s), fetched {r.fetched}: {done}", flush=True)
        for s in r.skipped:
            print(f"  skipped {s.source}: {s.reason}", flush=True)

    print(f"Watching {len(args.feed)} feed(s) every {every:g} s into {settings.index_dir}/ (Ctrl-C stops).")
    watch(args.feed, Embedder.from_settings(settings), settings, every, stop, show)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer one question from the index."""
    from qa.pipeline import QA
    from qa.validate import parse_filters

    settings = settings_from_args(args)
    filters = parse_filters(args.since, args.until, args.source)
    answer = QA(settings).ask(args.question, top_k=args.top_k, filters=filters, mode=args.mode)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(answer.answer)
    if answer.note:
        print(f"\n(Extractive answer: {answer.note}.)")
    if answer.citations:
        print("\nRelated passages:" if answer.abstained else "\nSources:")
    for c in answer.citations:
        section = f" — {c.section}" if c.section else ""
        quote = c.text[c.start - c.passage_start : c.end - c.passage_start]
        where = " · ".join(x for x in (c.site, c.published) if x)
        print(f"[{c.id}] {c.title}{section}" + (f" ({where})" if where else ""))
        print(f"    {c.url or c.source} (characters {c.start}-{c.end})")
        print(f"    “{_clip(quote, 240)}”")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the chat page and the JSON API: hand over to `python -m web`, which owns the server
    (the library never imports the web layer)."""
    argv = [sys.executable, "-m", "web", *serve_arguments(args)]
    os.execv(sys.executable, argv)
    return 0  # not reached: execv replaces this process


def serve_arguments(args: argparse.Namespace) -> list[str]:
    """The options of `qa serve` as `python -m web` takes them."""
    out = ["-v"] if args.verbose else []
    for flag, value in (("--host", args.host), ("--port", args.port), ("--workers", args.workers),
                        ("--index-dir", args.index_dir), ("--model", args.model)):  # fmt: skip
        if value is not None:
            out += [flag, str(value)]
    return out


def cmd_eval(args: argparse.Namespace) -> int:
    """Measure answer quality on a dataset through the same path as /ask."""
    from qa.evaluate import evaluate, format_report

    settings = settings_from_args(args)
    report = evaluate(
        Path(args.dataset),
        settings,
        index_dir=Path(args.index_dir) if args.index_dir else None,
        limit=args.limit,
        progress=not args.quiet,
    )
    print(format_report(report))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(f"\nWrote {args.json_out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train the answer model (the embedding model's top layers) and write its delta."""
    from qa.model.train import Options, train

    defaults = Options()
    options = Options(
        data=Path(args.data),
        out=Path(args.out) if args.out else defaults.out,
        steps=args.steps,
        batch=args.batch,
        layers=args.layers,
        seed=args.seed,
    )
    train(options, log=lambda line: print(line, flush=True))
    return 0


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def add_index_options(p: argparse.ArgumentParser) -> None:
    """--index-dir and --model, which every command that reads an index takes."""
    p.add_argument("--index-dir", help="index directory (default: $QA_INDEX_DIR or index/)")
    p.add_argument("--model", help="embedding model path or name (default: $QA_EMBED_MODEL)")


def add_server_options(p: argparse.ArgumentParser) -> None:
    """--host, --port and --workers of the web server."""
    p.add_argument("--host", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: 8000)")
    p.add_argument(
        "--workers",
        type=int,
        help="server processes sharing the port, each with its own model and index "
        "(default: $QA_WORKERS or 1)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `qa` command, with help for every option."""
    settings_help = "\n".join(f"  {name:<24} {help_}" for name, _, help_ in Settings.help())
    parser = argparse.ArgumentParser(
        prog="qa",
        description="Ask questions of news articles: hybrid retrieval and extractive answers "
        "with numbered citations that point at the exact source sentences.",
        epilog="Environment variables (settings):\n" + settings_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_index_command(sub)
    _add_ask_command(sub)
    _add_watch_command(sub)
    _add_serve_command(sub)
    _add_eval_command(sub)
    _add_train_command(sub)
    return parser


Subcommands = Any  # argparse's _SubParsersAction, which is private


def _add_index_command(sub: Subcommands) -> None:
    p = sub.add_parser(
        "index",
        help="build or update the index from files, folders, article URLs and feeds",
        description="Build the index from .txt, .md, .html and .jsonl files and folders (recursively), "
        "article URLs and the articles of RSS/Atom feeds (--feed). With no PATH or feed, index the "
        "bundled sample article. Unchanged documents keep their vectors; documents gone from the "
        "sources are dropped. The live index is replaced atomically.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="files, folders or article URLs to index")
    p.add_argument("--feed", action="append", default=[], metavar="URL",
                   help="an RSS or Atom feed: index every item's article (repeatable)")  # fmt: skip
    p.add_argument("--add", action="append", default=[], metavar="PATH",
                   help="add or update these files or article URLs in the index (repeatable)")  # fmt: skip
    p.add_argument("--remove", action="append", default=[], metavar="SOURCE",
                   help="remove documents with this source path/url, or under this folder "
                   "(repeatable)")  # fmt: skip
    p.add_argument("--full", action="store_true", help="re-embed everything, ignoring stored vectors")
    p.add_argument("--ray", metavar="ADDRESS",
                   help="embed, and train and add a compressed dense index, on the Ray cluster at "
                   "ADDRESS (host:port of its head, or 'auto'; default: $QA_RAY_ADDRESS, else here); "
                   "needs pip install -e '.[ray]'")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_index_options(p)
    p.set_defaults(func=cmd_index)


def _add_ask_command(sub: Subcommands) -> None:
    p = sub.add_parser(
        "ask",
        help="answer a question from the index",
        description="Answer a question with source sentences and numbered citations.",
    )
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--json", action="store_true", help="print the same JSON object as POST /ask")
    p.add_argument("--top-k", type=int, default=None, help="passages to retrieve (1-50)")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only articles published on or after this date")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="only articles published on or before this date")
    p.add_argument("--source", action="append", default=[], metavar="SITE_OR_URL",
                   help="only articles of this site, or under this url or path (repeatable)")  # fmt: skip
    p.add_argument("--mode", choices=ANSWER_MODES, default="auto",
                   help="generate: the LLM of QA_LLM_URL writes the answer, each sentence verified; "
                   "extractive: the articles' own sentences; auto (default): generate when an LLM "
                   "is configured")  # fmt: skip
    add_index_options(p)
    p.set_defaults(func=cmd_ask)


def _add_watch_command(sub: Subcommands) -> None:
    p = sub.add_parser(
        "watch",
        help="follow feeds: add new articles as they appear",
        description="Poll RSS/Atom feeds and add articles that are new (or that the feed dates later "
        "than the indexed copy) to the index, until stopped. A running server picks them up.",
    )
    p.add_argument("--feed", action="append", default=[], metavar="URL", help="a feed to follow (repeatable)")
    p.add_argument("--every", default="15m", help="time between polls: 30s, 15m, 1h (default: 15m)")
    add_index_options(p)
    p.set_defaults(func=cmd_watch)


def _add_serve_command(sub: Subcommands) -> None:
    p = sub.add_parser(
        "serve", help="serve the chat page and the JSON API",
        description="Start the web server: the chat page at / and POST /ask.",
    )  # fmt: skip
    add_server_options(p)
    add_index_options(p)
    p.set_defaults(func=cmd_serve)


def _add_eval_command(sub: Subcommands) -> None:
    p = sub.add_parser(
        "eval",
        help="measure answer quality on a dataset",
        description="Ask every question of DATASET through the /ask code path and report answer hit, "
        "citation hit, retrieval hit@1/@5, abstention, answer length and latency. DATASET is a "
        "SQuAD 2.0 JSON (its articles become a temporary index unless --index-dir is given) or a "
        "JSONL of {question, answers}, {question, answerable: false} and {turns: [...]} lines.",
    )
    p.add_argument("dataset", help="SQuAD 2.0 .json or .jsonl file")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="also write the metrics as JSON")
    p.add_argument("--limit", type=int, default=None, help="ask only the first N questions")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_index_options(p)
    p.set_defaults(func=cmd_eval)


def _add_train_command(sub: Subcommands) -> None:
    from qa.model.train import Options

    d = Options()
    p = sub.add_parser(
        "train",
        help="train the answer model from QA data",
        description="Fine-tune the top layers of the embedding model so questions land next to the "
        "sentences that answer them, and write the delta (those layers, fp16) with its card. "
        "Reads the training JSONL files of ../shared/train/ (see its README). Fixed seed.",
    )
    p.add_argument("--data", default=str(d.data), help=f"folder of training files (default: {d.data})")
    p.add_argument("--out", default=None, help="where to write the delta (default: the bundled model)")
    p.add_argument("--steps", type=int, default=d.steps, help=f"training steps (default: {d.steps})")
    p.add_argument("--batch", type=int, default=d.batch, help=f"questions per step (default: {d.batch})")
    p.add_argument("--layers", type=int, default=d.layers, help=f"top layers trained (default: {d.layers})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default: {d.seed})")
    p.set_defaults(func=cmd_train)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qa` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except QAError as exc:
        print(f"qa: error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qa: interrupted; the existing index is unchanged.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
