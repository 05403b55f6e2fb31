"""Index build speed next to the raw speed of the model on exactly the texts the build embeds.

A build embeds every chunk text (title and section as context) and every sentence (sentence vectors
score answers). Three measurements, each in its own process so that peak memory is its own:

- build:  qa.build.build_index on the corpus (the texts it embeds are recorded on the way);
- embed:  Embedder.embed_documents on those texts alone (the project's model path);
- st:     SentenceTransformer.encode on the same texts, batch 64 (plain sentence-transformers).

Overhead of a build = build time / embed time - 1 (target ≤ 15 %).

    .venv/bin/python bench/build_speed.py [--squad PATH | --articles N] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.child import run_child
from bench.corpora import DEFAULT_SQUAD
from bench.machine import background_load
from bench.paths import PY, tmpdir
from bench.results import finish, table
from bench.stats import median_of

HEADERS = ["measurement", "seconds", "texts/s", "chunks/s", "peak RSS MiB"]
# The three measurements: child, seconds key, texts/s key, chunks/s key (of the result).
MEASUREMENTS = (
    ("build", "build_s", "build_texts_per_s", "build_chunks_per_s"),
    ("embed", "embed_documents_s", "embed_texts_per_s", None),
    ("st", "sentence_transformers_encode_s", "st_texts_per_s", None),
)


def generated_articles(n: int) -> list[Any]:
    """n articles of 6 paragraphs of 5 sentences, drawn (seeded) from the bundled article's sentences."""
    import random

    from qa.chunk import split_sentences
    from qa.ingest import bundled_corpus, load_documents, make_document

    base = load_documents([bundled_corpus()]).documents[0]
    sentences = [s.text for s in split_sentences(base)]
    rng = random.Random(0)
    docs = []
    for i in range(n):
        paragraphs = [" ".join(rng.sample(sentences, 5)) for _ in range(6)]
        docs.append(make_document(f"generated:{i}", f"Generated article {i}", "\n\n".join(paragraphs)))
    return docs


def corpus_documents(args: argparse.Namespace) -> tuple[str, list[Any]]:
    """The corpus's name and documents: generated articles, or the SQuAD slice when it is there."""
    if args.articles:
        return f"generated ({args.articles} articles)", generated_articles(args.articles)
    if args.squad.exists():
        from qa.evaluate import load_dataset

        return f"SQuAD dev slice ({args.squad.name})", load_dataset(args.squad).documents
    print(f"[skip] no SQuAD file at {args.squad}: using 40 generated articles instead")
    return "generated (40 articles)", generated_articles(40)


def peak_mib() -> float:
    """This process's peak resident memory so far, in MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# ---------------------------------------------------------------- children


def child_build(args: argparse.Namespace) -> dict[str, Any]:
    """Build the index, recording the texts it embeds (to --texts-out) and the time embedding them."""
    from qa.build import BuildOptions, build_index
    from qa.embed import Embedder

    _, docs = corpus_documents(args)
    embedder = Embedder(threads=args.threads)
    after_load = peak_mib()
    recorded: list[str] = []
    embed_seconds = 0.0
    inner = embedder.embed_documents

    def recording(texts: Any, *a: Any, **kw: Any) -> Any:
        nonlocal embed_seconds
        recorded.extend(texts)
        t0 = time.perf_counter()
        out = inner(texts, *a, **kw)
        embed_seconds += time.perf_counter() - t0
        return out

    embedder.embed_documents = recording  # type: ignore[method-assign]
    index_dir = tmpdir("build")
    t0 = time.perf_counter()
    report = build_index(docs, embedder, index_dir, BuildOptions(incremental=False))
    seconds = time.perf_counter() - t0
    Path(args.texts_out).write_text(json.dumps(recorded))
    size = sum(f.stat().st_size for f in index_dir.rglob("*") if f.is_file())
    shutil.rmtree(index_dir, ignore_errors=True)
    tokens = sum(min(embedder.max_tokens, embedder.count_tokens(t) + 2) for t in recorded)
    return {
        "seconds": round(seconds, 3),
        "embedding_inside_build_s": round(embed_seconds, 3),
        "documents": report.documents,
        "chunks": report.chunks,
        "sentences": report.sentences,
        "texts_embedded": len(recorded),
        "tokens_embedded": tokens,
        "index_bytes": size,
        "peak_rss_mib": peak_mib(),
        "peak_rss_after_model_load_mib": after_load,
        "backend": embedder.backend,
    }


def child_embed(args: argparse.Namespace) -> dict[str, Any]:
    """Embedder.embed_documents on the recorded texts alone."""
    from qa.embed import Embedder

    texts = json.loads(Path(args.texts_in).read_text())
    embedder = Embedder(threads=args.threads)
    after_load = peak_mib()
    t0 = time.perf_counter()
    embedder.embed_documents(texts, batch_size=64)
    return {
        "seconds": round(time.perf_counter() - t0, 3),
        "texts": len(texts),
        "peak_rss_mib": peak_mib(),
        "peak_rss_after_model_load_mib": after_load,
        "backend": embedder.backend,
    }


def child_st(args: argparse.Namespace) -> dict[str, Any]:
    """SentenceTransformer.encode on the recorded texts, batch 64."""
    import torch
    from sentence_transformers import SentenceTransformer

    from qa.embed import configure_threads, resolve_model

    texts = json.loads(Path(args.texts_in).read_text())
    configure_threads(args.threads)
    model = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    after_load = peak_mib()
    t0 = time.perf_counter()
    with torch.inference_mode():
        model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    return {
        "seconds": round(time.perf_counter() - t0, 3),
        "texts": len(texts),
        "peak_rss_mib": peak_mib(),
        "peak_rss_after_model_load_mib": after_load,
    }


# ---------------------------------------------------------------- parent


def measure(args: argparse.Namespace, texts_file: Path) -> dict[str, list[dict[str, Any]]]:
    """--repeat rounds of the three children, interleaved so that a change in load falls on all alike."""
    common = [PY, __file__, "--squad", str(args.squad), "--articles", str(args.articles)]
    common += ["--threads", str(args.threads)]
    runs: dict[str, list[dict[str, Any]]] = {"build": [], "embed": [], "st": []}
    for i in range(args.repeat):
        print(f"… round {i + 1}/{args.repeat}", flush=True)
        runs["build"].append(run_child([*common, "--child", "build", "--texts-out", str(texts_file)], 1800))
        runs["embed"].append(run_child([*common, "--child", "embed", "--texts-in", str(texts_file)], 1800))
        runs["st"].append(run_child([*common, "--child", "st", "--texts-in", str(texts_file)], 1800))
    return runs


def figures(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The medians of the runs and the rates and ratios between them."""
    b = runs["build"][0]
    build_s, embed_s, st_s = (median_of(runs[k], "seconds") for k in ("build", "embed", "st"))
    return {
        "chunks": b["chunks"],
        "sentences": b["sentences"],
        "texts_embedded": b["texts_embedded"],
        "tokens_embedded": b["tokens_embedded"],
        "build_s": build_s,
        "embedding_inside_build_s": median_of(runs["build"], "embedding_inside_build_s"),
        "embed_documents_s": embed_s,
        "sentence_transformers_encode_s": st_s,
        "build_chunks_per_s": round(b["chunks"] / build_s, 1),
        "build_texts_per_s": round(b["texts_embedded"] / build_s, 1),
        "embed_texts_per_s": round(b["texts_embedded"] / embed_s, 1),
        "st_texts_per_s": round(b["texts_embedded"] / st_s, 1),
        "tokens_per_s_embed": round(b["tokens_embedded"] / embed_s),
        "build_overhead_vs_embed": round(build_s / embed_s - 1, 3),
        "build_vs_st_encode": round(build_s / st_s, 3),
        "embed_speedup_vs_st": round(st_s / embed_s, 2),
        "index_bytes_per_chunk": round(b["index_bytes"] / max(1, b["chunks"])),
        "peak_rss_mib": {k: median_of(runs[k], "peak_rss_mib") for k in runs},
        "peak_rss_after_model_load_mib": {
            k: median_of(runs[k], "peak_rss_after_model_load_mib") for k in runs
        },
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure the build and the model alone (or, with --child, be one of the measurements)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    p.add_argument("--articles", type=int, default=0, help="use N generated articles instead of SQuAD")
    p.add_argument("--repeat", type=int, default=2, help="runs of each measurement (median reported)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--child", choices=["build", "embed", "st"], help=argparse.SUPPRESS)
    p.add_argument("--texts-out", help=argparse.SUPPRESS)
    p.add_argument("--texts-in", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        out = {"build": child_build, "embed": child_embed, "st": child_st}[args.child](args)
        print(json.dumps(out))
        return out

    corpus_name, docs = corpus_documents(args)
    work = tmpdir("build-texts")
    load_before = background_load()
    try:
        runs = measure(args, work / "texts.json")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fig = figures(runs)
    result = {
        "corpus": corpus_name,
        "documents": len(docs),
        **{k: fig[k] for k in ("chunks", "sentences", "texts_embedded", "tokens_embedded")},
        "repeat": args.repeat,
        "background_load_cores_before": load_before,
        **fig,
        "target_overhead": 0.15,
    }
    finish("build_speed", result, report_table)
    return result


def measurement_rows(r: dict[str, Any], labels: list[str]) -> list[list[Any]]:
    """Rows of HEADERS for the build, the embedder alone and sentence-transformers alone."""
    return [
        [label, r[seconds], r[texts], r[chunks] if chunks else None, r["peak_rss_mib"][kind]]
        for label, (kind, seconds, texts, chunks) in zip(labels, MEASUREMENTS, strict=True)
    ]


def report_table(r: dict[str, Any]) -> str:
    """The corpus, the overhead, and the three measurements side by side."""
    labels = [
        "qa build_index (all of it)",
        "Embedder.embed_documents alone",
        "SentenceTransformer.encode alone",
    ]
    rows = measurement_rows(r, labels)
    rows.insert(1, ["  of which embedding", r["embedding_inside_build_s"], None, None, None])
    head = (
        f"{r['corpus']}: {r['documents']} documents → {r['chunks']} chunks + {r['sentences']} sentences "
        f"= {r['texts_embedded']} texts embedded ({r['tokens_embedded']:,} tokens)\n"
        f"build overhead over embedding alone: {r['build_overhead_vs_embed']:+.1%}; "
        f"direct embedding vs sentence-transformers: {r['embed_speedup_vs_st']}x\n\n"
    )
    return head + table(HEADERS, rows)


if __name__ == "__main__":
    main()
