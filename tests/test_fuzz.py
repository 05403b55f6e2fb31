"""Property-based fuzzing of the HTTP API from its own /openapi.json (schemathesis).

Valid and invalid requests are generated from the schema; every response must be a documented
status code with a body that matches the documented model, and never a 5xx. The fake embedder
keeps each example to a few milliseconds.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from conftest import FakeEncoder, build_sample
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config._checks import (
    NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES,
    NegativeDataRejectionConfig,
)
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from qa import QA, Settings
from qa.embed import Embedder
from web.app import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def _make_app() -> Any:
    # Built at import: schemathesis' fixture-based (lazy) loader does not work with this pytest.
    folder = Path(tempfile.mkdtemp(prefix="qa-fuzz-"))
    atexit.register(shutil.rmtree, folder, True)
    embedder = Embedder(FakeEncoder())
    build_sample(folder / "index", embedder)
    config = Settings.from_env(env={}, index_dir=folder / "index")
    return create_app(config, qa=QA(config, embedder))


APP = _make_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(modes=["positive", "negative"], max_examples=100, deterministic=True)
# A body over QA_MAX_BODY_BYTES is refused with 413 before it is parsed: a rejection too.
schema.config.checks.negative_data_rejection = NegativeDataRejectionConfig(
    expected_statuses=[*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]
)


@pytest.fixture
def app() -> Any:
    return APP


@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_api_conforms_to_its_schema(case: Any) -> None:
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code < 500
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}


def test_openapi_documents_every_error_as_the_error_shape(app: Any) -> None:
    spec = app.openapi()
    ask = spec["paths"]["/ask"]["post"]["responses"]
    assert set(ask) == {"200", "401", "413", "422", "503"}
    for code in ("401", "413", "422", "503"):
        assert ask[code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    question = spec["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert question["maxLength"] == 1000  # the configured QA_MAX_QUESTION_CHARS
