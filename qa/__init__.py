"""News QA: ask questions of news articles and get extractive answers with exact citations.

The public API: the records, the settings, the errors, and the functions that build and ask.
"""

from qa.build import BuildOptions, BuildReport, build_index, index_paths, update_index
from qa.config import MAX_HISTORY_TURNS, MAX_TOP_K, MAX_TURN_CHARS, Settings
from qa.errors import QAError
from qa.ingest import bundled_corpus, load_documents
from qa.library import MAX_PAGE, Entry, Page, add_url, list_documents, remove_document
from qa.pipeline import QA
from qa.records import Answer, Chunk, Citation, Claim, Document, Filters, Hit, Sentence, Turn
from qa.suggest import example_questions
from qa.validate import parse_filters

__all__ = [
    "MAX_HISTORY_TURNS",
    "MAX_PAGE",
    "MAX_TOP_K",
    "MAX_TURN_CHARS",
    "QA",
    "Answer",
    "BuildOptions",
    "BuildReport",
    "Chunk",
    "Citation",
    "Claim",
    "Document",
    "Entry",
    "Filters",
    "Hit",
    "Page",
    "QAError",
    "Sentence",
    "Settings",
    "Turn",
    "add_url",
    "build_index",
    "bundled_corpus",
    "example_questions",
    "index_paths",
    "list_documents",
    "load_documents",
    "parse_filters",
    "remove_document",
    "update_index",
]
