"""The import rules between modules, checked on the source with ast (nothing is imported)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import qa

ROOT = Path(__file__).resolve().parent.parent
QA_DIR = ROOT / "qa"
WEB_DIR = ROOT / "web"


def imported_modules(path: Path, package: str, skip_function: str | None = None) -> set[str]:
    """Every module a file imports, anywhere in it (function-level imports included).

    `skip_function` leaves out the body of one top-level function.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    if skip_function:
        tree.body = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name == skip_function)]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
                if not node.module:
                    found.update(f"{module}.{alias.name}" for alias in node.names)
                    continue
            else:
                module = node.module or ""
            found.add(module)
            if module == "qa":  # `from qa import records` imports the module qa.records
                found.update(f"qa.{a.name}" for a in node.names if _is_qa_module(a.name))
    return found


def _is_qa_module(name: str) -> bool:
    return (QA_DIR / f"{name}.py").exists() or (QA_DIR / name / "__init__.py").exists()


def qa_imports(path: Path) -> set[str]:
    return {m for m in imported_modules(path, "qa") if m == "qa" or m.startswith("qa.")}


def test_imported_modules_sees_every_kind_of_import(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        "import qa.index\nfrom qa import records, embed\nfrom . import chunk\nfrom .text import fold\n"
        "def f():\n    import web.app\n"
    )
    want = {"qa.index", "qa", "qa.records", "qa.embed", "qa.chunk", "qa.text", "web.app"}
    assert imported_modules(src, "qa") == want


@pytest.mark.parametrize(
    ("module", "allowed"),
    [("records.py", set()), ("errors.py", set()), ("config.py", {"qa.errors"})],
)
def test_foundation_modules_import_no_other_qa_module(module: str, allowed: set[str]) -> None:
    assert qa_imports(QA_DIR / module) == allowed


@pytest.mark.parametrize("path", sorted(QA_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(QA_DIR)))
def test_qa_never_imports_web(path: Path) -> None:
    # `qa serve` execs `python -m web` rather than importing it.
    web = {m for m in imported_modules(path, "qa") if m == "web" or m.startswith("web.")}
    assert web == set(), f"{path.name} imports {web}"


ABOVE_THE_INDEX = {"qa.embed", "qa.answer", "qa.retrieve", "qa.build", "qa.pipeline", "qa.live", "qa.cli"}


@pytest.mark.parametrize("path", sorted((QA_DIR / "index").glob("*.py")), ids=lambda p: p.name)
def test_index_package_imports_no_later_stage(path: Path) -> None:
    used = {m for m in qa_imports(path) if any(m == a or m.startswith(a + ".") for a in ABOVE_THE_INDEX)}
    assert used == set(), f"{path.name} imports {sorted(used)}"


def test_lexicon_reads_only_the_index_rows() -> None:
    assert qa_imports(QA_DIR / "lexicon.py") <= {"qa.cache", "qa.index.rows", "qa.text"}


@pytest.mark.parametrize("path", sorted((QA_DIR / "answer").glob("*.py")), ids=lambda p: p.name)
def test_answer_stage_does_not_import_retrieval(path: Path) -> None:
    assert "qa.retrieve" not in qa_imports(path)


def test_question_imports_only_leaves() -> None:
    assert qa_imports(QA_DIR / "question.py") <= {"qa.text", "qa.records"}


def test_model_package_stays_below_the_embedder() -> None:
    # qa.embed loads the answer model's delta, so qa.model's own module imports nothing above it.
    assert qa_imports(QA_DIR / "model" / "__init__.py") <= {"qa.config", "qa.errors"}


EMBED_PARTS = sorted(p for p in (QA_DIR / "embed").glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", EMBED_PARTS, ids=lambda p: p.name)
def test_encoders_do_not_import_the_embedder(path: Path) -> None:
    # qa/embed/__init__.py (Embedder) imports every part: a part importing it back would be a cycle.
    assert "qa.embed" not in qa_imports(path)


def test_embed_base_sits_on_the_foundation() -> None:
    assert qa_imports(QA_DIR / "embed" / "base.py") <= {"qa.config", "qa.errors"}


def test_fetch_imports_only_the_foundation_httpx_and_the_standard_library() -> None:
    # The one module that touches the network: what it does must be readable in it alone.
    path = QA_DIR / "fetch.py"
    assert qa_imports(path) <= {"qa.config", "qa.errors"}
    others = {m.split(".")[0] for m in imported_modules(path, "qa")} - {"qa", "httpx"}
    assert others <= sys.stdlib_module_names, sorted(others - sys.stdlib_module_names)


NETWORK_CLIENTS = ("httpx", "requests", "aiohttp", "urllib.request", "http.client", "openai")
# The LLM client talks to the one server the operator configured (QA_LLM_URL, often on 127.0.0.1),
# never to an address an article or a user supplied, so it is the one client besides qa.fetch.
LLM_CLIENT = QA_DIR / "llm" / "client.py"
NOT_FETCH = [p for p in sorted(QA_DIR.rglob("*.py")) if p not in (QA_DIR / "fetch.py", LLM_CLIENT)]


@pytest.mark.parametrize("path", NOT_FETCH, ids=lambda p: str(p.relative_to(QA_DIR)))
def test_only_fetch_is_an_http_client(path: Path) -> None:
    # Every request for an article leaves through qa.fetch, so its limits and private-address check
    # hold for all.
    used = imported_modules(path, "qa")
    clients = {m for m in used if any(m == c or m.startswith(c + ".") for c in NETWORK_CLIENTS)}
    assert clients == set(), f"{path.name} imports {sorted(clients)}"


def test_llm_client_imports_only_the_foundation_httpx_and_the_standard_library() -> None:
    assert qa_imports(LLM_CLIENT) <= {"qa.config", "qa.errors"}
    others = {m.split(".")[0] for m in imported_modules(LLM_CLIENT, "qa.llm")} - {"qa", "httpx"}
    assert others <= sys.stdlib_module_names, sorted(others - sys.stdlib_module_names)


@pytest.mark.parametrize("path", sorted((QA_DIR / "llm").glob("*.py")), ids=lambda p: p.name)
def test_llm_package_stays_below_the_pipeline_and_the_edges(path: Path) -> None:
    above = {"qa.pipeline", "qa.cli", "qa.retrieve", "qa.build", "qa.live"}
    used = {m for m in qa_imports(path) if any(m == a or m.startswith(a + ".") for a in above)}
    assert used == set(), f"{path.name} imports {sorted(used)}"


@pytest.mark.parametrize("path", sorted((QA_DIR / "answer").glob("*.py")), ids=lambda p: p.name)
def test_extractive_answer_stage_does_not_import_the_llm(path: Path) -> None:
    assert not {m for m in qa_imports(path) if m == "qa.llm" or m.startswith("qa.llm.")}


def top_level_imports(path: Path) -> set[str]:
    """Modules a file imports when it is imported: its module-level import statements only."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.add(node.module or "")
    return found


OUTSIDE_LLM = [p for p in sorted(QA_DIR.rglob("*.py")) if p.parent.name != "llm"]


@pytest.mark.parametrize("path", OUTSIDE_LLM, ids=lambda p: str(p.relative_to(QA_DIR)))
def test_nothing_loads_the_llm_path_at_import_time(path: Path) -> None:
    # Without QA_LLM_URL the LLM client (and httpx with it) is never imported: the pipeline imports
    # qa.llm inside the functions that use it.
    assert not {m for m in top_level_imports(path) if m.startswith(("qa.llm", "openai"))}


# qa.cli: `python -m web` takes the same --index-dir/--model/--host/--port options as `qa`.
WEB_ALLOWED = {"qa", "qa.errors", "qa.records", "qa.cli"}


@pytest.mark.parametrize("path", sorted(WEB_DIR.glob("*.py")), ids=lambda p: p.name)
def test_web_uses_only_the_public_qa_api(path: Path) -> None:
    used = {m for m in imported_modules(path, "web") if m == "qa" or m.startswith("qa.")}
    assert used <= WEB_ALLOWED, f"{path.name} imports {sorted(used - WEB_ALLOWED)}"


@pytest.mark.parametrize("path", sorted(WEB_DIR.glob("*.py")), ids=lambda p: p.name)
def test_web_imports_from_qa_only_public_names(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "qa":
            names = {a.name for a in node.names}
            assert names <= set(qa.__all__), f"{path.name}: {sorted(names - set(qa.__all__))}"


def test_public_api_names_exist() -> None:
    for name in qa.__all__:
        assert hasattr(qa, name), name


RAY_DRIVER = QA_DIR / "distributed" / "driver.py"
NOT_THE_RAY_DRIVER = [p for p in sorted(QA_DIR.rglob("*.py")) if p != RAY_DRIVER]


@pytest.mark.parametrize("path", NOT_THE_RAY_DRIVER, ids=lambda p: str(p.relative_to(QA_DIR)))
def test_only_the_ray_driver_imports_ray(path: Path) -> None:
    # Ray is an optional extra, loaded only in the driver process that a `--ray` build starts.
    used = {m for m in imported_modules(path, "qa") if m.split(".")[0] in ("ray", "pyarrow")}
    assert used == set(), f"{path.name} imports {sorted(used)}"


def test_the_ray_driver_is_where_ray_is_used() -> None:
    assert "ray" in imported_modules(RAY_DRIVER, "qa.distributed")


@pytest.mark.parametrize("path", sorted(QA_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(QA_DIR)))
def test_only_the_cli_chooses_a_distributed_build(path: Path) -> None:
    # build.py embeds through PassageEmbedder and doesn't care where texts are embedded.
    inside = path.is_relative_to(QA_DIR / "distributed") or path == QA_DIR / "cli.py"
    if not inside:
        assert not any(m.startswith("qa.distributed") for m in qa_imports(path)), path.name
