"""The `qa` command, in-process with the fake embedder, plus one real end-to-end run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeEncoder, build_sample
from llm_server import Reply, llm_server
from test_api import assert_answer_contract

import qa.embed
import qa.pipeline
from qa.cli import main
from qa.embed import Embedder
from qa.index import Index, current_generation
from qa.model import model_name

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Embedder the CLI makes is the fake one; QA_* variables of the caller are ignored."""
    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(qa.embed.Embedder, "from_settings", lambda *args, **kwargs: Embedder(FakeEncoder()))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- help -----------------------------------------------------------------------------------

HELP = [
    ((), ["index", "ask", "serve", "eval", "QA_INDEX_DIR", "QA_API_KEY", "QA_MAX_FILE_BYTES"]),
    (("index",), ["PATH", "--index-dir", "--model", "--add", "--remove", "--full", "--quiet"]),
    (("ask",), ["question", "--json", "--top-k", "--index-dir"]),
    (("serve",), ["--host", "--port", "--index-dir"]),
    (("eval",), ["dataset", "--json", "--limit", "--index-dir"]),
]


@pytest.mark.parametrize(("command", "mentions"), HELP, ids=["qa", "index", "ask", "serve", "eval"])
def test_cli_help(capsys: pytest.CaptureFixture[str], command: tuple[str, ...], mentions: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: qa {' '.join(command)}".rstrip())
    for word in mentions:
        assert word in out, word


USAGE_ERRORS = [
    ((), "the following arguments are required: COMMAND"),
    (("frobnicate",), "invalid choice: 'frobnicate'"),
    (("ask",), "the following arguments are required: question"),
    (("ask", "q", "--top-k", "many"), "argument --top-k: invalid int value: 'many'"),
]


@pytest.mark.parametrize(("argv", "message"), USAGE_ERRORS, ids=["none", "unknown", "no-question", "top-k"])
def test_cli_usage_errors(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


# --- qa index -------------------------------------------------------------------------------


def test_cli_index_reports_documents_and_skipped_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Good Title\nA perfectly good article about river otters.\n")
    (corpus / "photo.txt").write_bytes(b"\x89PNG\x00\x00binary")
    index_dir = tmp_path / "index"
    code, out, err = run(capsys, "index", str(corpus), "--index-dir", str(index_dir), "-q")
    assert code == 0, err
    assert out.startswith("Indexed 1 document(s), 1 chunks, 1 sentences")
    assert "(embedded 1, reused 0, removed 0)" in out
    assert "Skipped 1 file(s):" in out
    assert f"  {corpus / 'photo.txt'}: binary file (contains NUL bytes), not text" in out
    assert [d.title for d in Index(index_dir).documents.values()] == ["Good Title"]


def test_cli_index_without_paths_indexes_the_bundled_article(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "index", "--index-dir", str(tmp_path / "index"), "-q")
    assert code == 0
    assert out.startswith("Indexed 1 document(s)")
    assert "Skipped" not in out
    (info,) = Index(tmp_path / "index").documents.values()
    assert info.title == "Netflix and Generative AI: A Bold Move in Entertainment"


def test_cli_index_again_reuses_vectors(sample_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "index", "--index-dir", str(sample_index), "-q")
    assert code == 0
    assert "(embedded 0, reused 1, removed 0)" in out
    code, out, _ = run(capsys, "index", "--full", "--index-dir", str(sample_index), "-q")
    assert code == 0
    assert "(embedded 1, reused 0, removed 0)" in out


def test_cli_index_nothing_usable_fails_and_keeps_previous_index(
    sample_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generation = current_generation(sample_index)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_text("")
    (bad / "slides.pdf").write_bytes(b"%PDF")
    code, out, err = run(capsys, "index", str(bad), "--index-dir", str(sample_index), "-q")
    assert code == 1
    assert out == ""
    assert err.startswith("qa: error: nothing could be indexed")
    assert f"{bad / 'empty.txt'}: empty file" in err
    assert "unsupported file type '.pdf'" in err
    assert "The existing index was left as it was." in err
    assert "Traceback" not in err
    assert current_generation(sample_index) == generation
    assert len(Index(sample_index).documents) == 1


def test_cli_index_progress_bar_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "index", "--index-dir", str(tmp_path / "index"))
    assert code == 0
    assert "Embedding" in err
    assert "Embedding" not in out


def test_cli_index_add_and_remove(
    sample_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = tmp_path / "extra.md"
    extra.write_text("# Extra Story\n\nThe otters returned to the river this spring.\n")
    code, out, _ = run(capsys, "index", "--add", str(extra), "--index-dir", str(sample_index), "-q")
    assert code == 0
    assert out.startswith("Indexed 2 document(s)")
    code, out, _ = run(capsys, "index", "--remove", str(extra), "--index-dir", str(sample_index), "-q")
    assert code == 0
    assert out.startswith("Indexed 1 document(s)")
    assert "removed 1" in out


# --- qa ask ---------------------------------------------------------------------------------


def test_cli_ask_prints_answer_and_sources(sample_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "ask", "How much was Netflix's quarterly revenue?", "--index-dir", str(sample_index)
    )
    assert code == 0, err
    answer, _, sources = out.partition("\nSources:\n")
    assert "$11.5 billion" in answer and "[1]" in answer
    assert sources.startswith(
        "[1] Netflix and Generative AI: A Bold Move in Entertainment — Financial Performance"
    )
    assert "netflix-generative-ai.txt (characters " in sources
    assert "“Netflix’s quarterly revenue experienced" in sources


def test_cli_ask_abstains_with_related_passages(
    sample_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "ask", "What is the capital of France?", "--index-dir", str(sample_index))
    assert code == 0
    assert out.startswith("The indexed articles don't cover this.")
    assert "Related passages:" in out and "Sources:" not in out


def test_cli_ask_json(sample_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "ask",
        "--json",
        "What did Sarandos say about Sora?",
        "--index-dir",
        str(sample_index),
        "--top-k",
        "3",
    )
    assert code == 0
    data = json.loads(out)
    index = Index.open(sample_index)
    try:
        assert_answer_contract(data, index)  # the same object as POST /ask
    finally:
        index.close()
    assert (data["mode"], data["claims"], data["note"]) == ("extractive", [], None)
    assert data["abstained"] is False  # so the contract has checked its citations [1]..[n]


def test_cli_ask_mode_generate_needs_an_llm(sample_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "ask", "--mode", "generate", "Revenue?", "--index-dir", str(sample_index))
    assert code == 1 and out == ""
    assert "mode 'generate' needs an LLM: set QA_LLM_URL" in err


def test_cli_ask_says_why_the_llm_did_not_answer(
    sample_index: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with llm_server(lambda request: Reply(status=500, body=b"{}")) as server:
        monkeypatch.setenv("QA_LLM_URL", server.url)
        question = "How much was Netflix's quarterly revenue?"
        code, out, _ = run(capsys, "ask", "--mode", "generate", question, "--index-dir", str(sample_index))
        assert code == 0
        assert "$11.5 billion" in out and "(Extractive answer: the LLM server answered HTTP 500.)" in out
        code, out, _ = run(capsys, "ask", "--json", question, "--index-dir", str(sample_index))
    data = json.loads(out)
    assert (data["mode"], data["note"]) == ("extractive", "the LLM server answered HTTP 500")
    assert len(server.requests) == 2  # auto asks the LLM once one is configured


ASK_ERRORS = [
    ("no-index", ["What?"], None, "no index in"),
    ("empty-question", ["   "], "built", "question must not be empty"),
    ("top-k-zero", ["What?", "--top-k", "0"], "built", "top_k must be between 1 and 50, not 0"),
    ("top-k-huge", ["What?", "--top-k", "51"], "built", "top_k must be between 1 and 50, not 51"),
    ("other-model", ["What?"], "other-model", "was built with model 'other-fake'"),
    ("corrupt", ["What?"], "corrupt", "is unreadable"),
]


@pytest.mark.parametrize(
    ("argv", "state", "message"), [a[1:] for a in ASK_ERRORS], ids=[a[0] for a in ASK_ERRORS]
)
def test_cli_ask_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], state: str | None, message: str
) -> None:
    index_dir = tmp_path / "index"
    if state == "built":
        build_sample(index_dir, Embedder(FakeEncoder()))
    elif state == "other-model":
        build_sample(index_dir, Embedder(FakeEncoder(name="other-fake")))
    elif state == "corrupt":
        build_sample(index_dir, Embedder(FakeEncoder()))
        gen = current_generation(index_dir)
        assert gen is not None
        (gen / "manifest.json").write_text("{garbage")
    code, out, err = run(capsys, "ask", *argv, "--index-dir", str(index_dir))
    assert code == 1
    assert out == ""
    assert err.startswith("qa: error: ")
    assert message in err
    assert "Traceback" not in err
    if state != "built":
        assert f"qa index [PATH ...] --index-dir {index_dir}" in err


# --- real model, real processes -------------------------------------------------------------


@pytest.mark.slow
def test_cli_end_to_end_with_real_model(tmp_path: Path) -> None:
    qa_bin = Path(sys.executable).parent / "qa"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    index_dir = tmp_path / "index"
    built = subprocess.run(
        [str(qa_bin), "index", "--index-dir", str(index_dir), "-q"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("Indexed 1 document(s)")
    asked = subprocess.run(
        [str(qa_bin), "ask", "--json", "What did Sarandos say about Sora?", "--index-dir", str(index_dir)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    data = json.loads(asked.stdout)
    assert data["abstained"] is False
    assert any("Sarandos" in c["text"] for c in data["citations"])
    assert Index(index_dir).manifest.model == model_name("all-MiniLM-L6-v2", "auto")
