"""Domain errors. Each carries an HTTP-like status so every edge translates them the same way."""

from __future__ import annotations


class QAError(Exception):
    """Base of every error the library raises on purpose; `message` is meant for people."""

    status: int = 500
    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(QAError):
    """The question or its parameters are not usable."""

    status = 422
    code = "bad_input"


class IndexMissing(QAError):
    """No index has been built where one was expected."""

    status = 503
    code = "index_missing"


class IndexMismatch(QAError):
    """The index on disk was built with another model, dimension or format."""

    status = 503
    code = "index_mismatch"


class IndexCorrupt(QAError):
    """The index on disk cannot be read."""

    status = 503
    code = "index_corrupt"


class UnreadableFile(QAError):
    """A source file can't be ingested (binary, undecodable, empty, unsupported)."""

    status = 422
    code = "unreadable_file"


class NothingIndexed(QAError):
    """An index build found no usable document at all."""

    status = 422
    code = "nothing_indexed"


class ModelUnavailable(QAError):
    """The embedding model can't be loaded from the configured path or name."""

    status = 503
    code = "model_unavailable"


class Unauthorized(QAError):
    """The API key is missing or wrong."""

    status = 401
    code = "unauthorized"


class FetchFailed(QAError):
    """A URL could not be fetched: refused, unreachable, too big or not the content asked for."""

    status = 422
    code = "fetch_failed"


class NotFound(QAError):
    """No indexed document has the id asked for."""

    status = 404
    code = "not_found"


class DistributedUnavailable(QAError):
    """A distributed build can't run: Ray is not installed, or its cluster is unreachable or lost."""

    status = 503
    code = "distributed_unavailable"
