"""GET /documents (the library, paged and searched by title), POST /documents (add an article by
URL) and DELETE /documents/{id}: parse, call qa, format. Writes need QA_API_KEY."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from qa import MAX_PAGE, QA, Settings, add_url, list_documents, remove_document
from qa.errors import QAError
from web.routes import errors, get_qa, get_settings, require_key
from web.schemas import AddDocumentRequest, DocumentAdded, DocumentPage, DocumentRemoved

router = APIRouter()


class WritesDisabled(QAError):
    """Adding or removing articles over HTTP was asked for, but no API key is configured."""

    status = 403
    code = "forbidden"


def require_write_key(
    settings: Annotated[Settings, Depends(get_settings)],
    _key: Annotated[None, Depends(require_key)],
) -> None:
    """Writes are never open: 403 while QA_API_KEY is unset, else the key as /ask checks it (401)."""
    if not settings.api_key:
        raise WritesDisabled(
            "adding and removing articles over HTTP is off: set QA_API_KEY on the server, then send "
            "the key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )


@router.get(
    "/documents",
    response_model=DocumentPage,
    responses=errors(401, 422, 503),
    dependencies=[Depends(require_key)],
    summary="List the indexed articles, newest first, optionally searched by title",
)
def documents(
    qa: Annotated[QA, Depends(get_qa)],
    q: Annotated[
        str, Query(max_length=300, description="Words the title contains (any case and accents).")
    ] = "",
    # The bounds are checked by qa (BadInput, 422) and only described here, so they live in one place.
    offset: Annotated[
        int, Query(description="Matching articles to skip.", json_schema_extra={"minimum": 0})
    ] = 0,
    limit: Annotated[
        int,
        Query(
            description=f"Articles to return (1-{MAX_PAGE}).",
            json_schema_extra={"minimum": 1, "maximum": MAX_PAGE},
        ),
    ] = 20,
) -> Any:
    """A page of the library (the app's QAError handler turns bad bounds into 422, no index into 503)."""
    return list_documents(qa.index, q, offset, limit).to_dict()


@router.post(
    "/documents",
    status_code=201,
    response_model=DocumentAdded,
    responses=errors(401, 403, 413, 422, 503),
    dependencies=[Depends(require_write_key)],
    summary="Fetch a news article by URL and add it to the index (needs QA_API_KEY)",
    description="Fetches the page (private addresses are refused unless QA_ALLOW_PRIVATE_URLS=1), "
    "reads the article and indexes it; the next /ask already answers from it. A page that can't "
    "be fetched or holds no article is a 422 saying why.",
)
def add_document(body: AddDocumentRequest, qa: Annotated[QA, Depends(get_qa)]) -> Any:
    """Fetch, read and index one article; answer with it as indexed and the live generation."""
    # Plain `def`: fetching and embedding block, so FastAPI runs this in its thread pool.
    change = add_url(body.url, qa.embedder, qa.settings)
    qa.maybe_reload(force=True)  # serve the new generation now, not at the next reload check
    report = change.report
    return {"added": asdict(change.entry), "generation": report.generation, "documents": report.documents}


@router.delete(
    "/documents/{doc_id}",
    response_model=DocumentRemoved,
    responses=errors(401, 403, 404, 422, 503),
    dependencies=[Depends(require_write_key)],
    summary="Remove an indexed article by its id (needs QA_API_KEY)",
)
def delete_document(
    doc_id: Annotated[str, Path(description="The article's id, as GET /documents lists it.")],
    qa: Annotated[QA, Depends(get_qa)],
) -> Any:
    """Remove one article (404 when no article has the id); answer with what was removed."""
    change = remove_document(doc_id, qa.embedder, qa.settings)
    qa.maybe_reload(force=True)
    report = change.report
    return {"removed": asdict(change.entry), "generation": report.generation, "documents": report.documents}
