"""Settings: defaults, QA_* overrides, and values out of range refused when Settings is made."""

from __future__ import annotations

import pytest

from qa.cli import main
from qa.config import MAX_TOP_K, Settings
from qa.errors import BadInput


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QA_TOP_K": "0"}, r"QA_TOP_K=0 is out of range: it must be between 1 and 50"),
        ({"QA_TOP_K": str(MAX_TOP_K + 1)}, r"QA_TOP_K=51 is out of range"),
        ({"QA_PORT": "70000"}, r"QA_PORT=70000 is out of range: it must be between 0 and 65535"),
        ({"QA_MAX_QUESTION_CHARS": "0"}, r"QA_MAX_QUESTION_CHARS=0 is out of range: it must be at least 1"),
        ({"QA_CHUNK_TOKENS": "3"}, r"QA_CHUNK_TOKENS=3 is out of range"),
        ({"QA_THREADS": "-1"}, r"QA_THREADS=-1 is out of range"),
        ({"QA_EMBED_PRECISION": "int4"}, r"QA_EMBED_PRECISION must be one of auto, float32, not 'int4'"),
        ({"QA_TOP_K": "ten"}, r"QA_TOP_K='ten' is not a valid int"),
        ({"QA_LLM_URL": "ftp://h/v1"}, r"QA_LLM_URL='ftp://h/v1' is not an http\(s\) URL with a host"),
        ({"QA_LLM_URL": "127.0.0.1:8080"}, r"is not an http\(s\) URL with a host"),
        (
            {"QA_LLM_URL": "http://u:pw@h/v1"},
            r"QA_LLM_URL must not hold credentials: put the key in QA_LLM_API_KEY",
        ),
        ({"QA_LLM_URL": "http://h:99999/v1"}, r"QA_LLM_URL is not a valid URL"),
        ({"QA_LLM_URL": "http://h/v1?x=1"}, r"must not have a query or fragment"),
        ({"QA_LLM_UNSUPPORTED": "hide"}, r"QA_LLM_UNSUPPORTED must be one of drop, mark, not 'hide'"),
        ({"QA_LLM_TIMEOUT_S": "0"}, r"QA_LLM_TIMEOUT_S=0.0 is out of range"),
        ({"QA_LLM_PASSAGES": "0"}, r"QA_LLM_PASSAGES=0 is out of range"),
    ],
)
def test_settings_refuse_bad_values_at_start_up(env: dict[str, str], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        Settings.from_env(env=env)


def test_settings_accept_the_edges_of_each_range() -> None:
    s = Settings.from_env(env={"QA_TOP_K": str(MAX_TOP_K), "QA_PORT": "0", "QA_MAX_HISTORY_TURNS": "0"})
    assert (s.top_k, s.port, s.max_history_turns) == (MAX_TOP_K, 0, 0)


def test_cli_reports_a_bad_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QA_TOP_K", "0")
    assert main(["ask", "anything"]) == 1
    assert (
        capsys.readouterr().err.strip()
        == "qa: error: QA_TOP_K=0 is out of range: it must be between 1 and 50"
    )


def test_llm_settings_accept_a_server_and_keep_the_key_out_of_repr() -> None:
    s = Settings.from_env(
        env={
            "QA_LLM_URL": "http://127.0.0.1:8080/v1",
            "QA_LLM_API_KEY": "sk-secret",
            "QA_LLM_UNSUPPORTED": "mark",
        }
    )
    assert (s.llm_url, s.llm_api_key, s.llm_unsupported) == ("http://127.0.0.1:8080/v1", "sk-secret", "mark")
    assert "sk-secret" not in repr(s)
    assert Settings.from_env(env={"QA_LLM_URL": ""}).llm_url is None  # empty: no LLM
