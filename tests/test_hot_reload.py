"""A real server (uvicorn on 127.0.0.1): it picks up rebuilt indexes while clients keep asking,
without a restart and without a single failed or dropped request; over-large bodies get a 413."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import FakeEncoder
from serving import serve

from qa import QA, Settings
from qa.build import BuildOptions, build_index
from qa.embed import Embedder
from qa.ingest import load_documents
from web.app import create_app

HARBOUR_Q = "How many boats did the harbour council of town 7 count?"
AIRPORT_Q = "How many passengers did flight 7 to Lisbon carry?"


def harbour_corpus(folder: Path, n: int = 30) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"harbour-{i:02d}.txt").write_text(
            f"The Harbour Report {i}\nIn {2000 + i}, the harbour council of town {i} counted "
            f"{100 + i} boats. Mayor Elena Vos said repairs would cost {i + 3} million.\n"
        )
    return folder


def airport_corpus(folder: Path, n: int = 30) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"airport-{i:02d}.txt").write_text(
            f"The Airport Bulletin {i}\nFlight {i} to Lisbon carried {200 + i} passengers on its first "
            f"run. Pilot Marta Ruiz reported calm weather over the Atlantic.\n"
        )
    return folder


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, Embedder]]:
    """A real uvicorn server in a thread, on a free loopback port, checking for rebuilds often."""
    embedder = Embedder(FakeEncoder())
    index_dir = tmp_path / "index"
    build_index(load_documents([harbour_corpus(tmp_path / "harbour")]).documents, embedder, index_dir)
    settings = Settings.from_env(env={}, index_dir=index_dir, reload_interval_s=0.02)
    app = create_app(settings, qa=QA(settings, embedder))
    with serve(app, timeout_keep_alive=30) as base:
        yield base, tmp_path, embedder


def test_rebuilds_are_served_without_a_failed_request(server: tuple[str, Path, Embedder]) -> None:
    base, tmp_path, embedder = server
    index_dir = tmp_path / "index"
    harbour = load_documents([tmp_path / "harbour"]).documents
    airport = load_documents([airport_corpus(tmp_path / "airport")]).documents
    stop = threading.Event()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            i = n
            while not stop.is_set():
                question = (HARBOUR_Q, AIRPORT_Q)[i % 2]
                i += 1
                try:
                    r = http.post("/ask", json={"question": question})
                    ok = r.status_code == 200 and isinstance(r.json().get("answer"), str)
                except Exception as exc:  # a dropped connection counts as a failure
                    with lock:
                        failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                with lock:
                    statuses[r.status_code] += 1
                    if not ok:
                        failures.append(r.text[:300])

    clients = [threading.Thread(target=client, args=(n,)) for n in range(3)]
    for t in clients:
        t.start()
    seen_generations = set()
    try:
        time.sleep(0.3)
        # Rebuild to the other corpus and back, full and incremental; each build deletes the
        # generation before the previous one, which the server may still be reading.
        for n, (docs, incremental) in enumerate(
            [(airport, True), (harbour, False), (airport, False), (harbour, True), (airport, True)]
        ):
            report = build_index(docs, embedder, index_dir, BuildOptions(incremental=incremental))
            seen_generations.add(report.generation)
            time.sleep(0.15 + 0.05 * n)
        final = report.generation
        deadline = time.monotonic() + 10
        with httpx.Client(base_url=base, timeout=10) as http:
            while http.get("/healthz").json().get("generation") != final:
                assert time.monotonic() < deadline, "the server never reloaded"
                time.sleep(0.02)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in clients:
            t.join(30)

    assert failures == [], failures[:5]
    assert set(statuses) == {200}
    assert sum(statuses.values()) >= 60, statuses
    assert len(seen_generations) == 5
    assert len(list(index_dir.glob("gen-*"))) == 2, "old generations were deleted meanwhile"

    with httpx.Client(base_url=base, timeout=10) as http:
        health = http.get("/healthz").json()
        assert health["documents"] == 30 and health["generation"] == final
        airport_answer = http.post("/ask", json={"question": AIRPORT_Q}).json()
        assert not airport_answer["abstained"] and "207 passengers" in airport_answer["answer"]
        harbour_answer = http.post("/ask", json={"question": HARBOUR_Q}).json()
        assert "boats" not in harbour_answer["answer"]
        assert all("Airport" in c["title"] for c in harbour_answer["citations"])


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_real_server_refuses_big_bodies_and_keeps_serving(
    server: tuple[str, Path, Embedder], chunked: bool
) -> None:
    """Over a real socket the client gets its 413 (not a reset), however the body is sent."""
    base, _, _ = server
    body = b'{"question": "' + b"x" * 5_000_000 + b'"}'
    content = (body[i : i + 65536] for i in range(0, len(body), 65536)) if chunked else body
    with httpx.Client(base_url=base, timeout=30) as http:
        r = http.post("/ask", content=content, headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "too_large"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert http.post("/ask", json={"question": HARBOUR_Q}).status_code == 200
