"""Retrievers: runnables from a query string to a list of documents.

Subclass :class:`BaseRetriever` and implement ``_get_relevant_documents`` (and, for a
truly async source, ``_aget_relevant_documents``), as in langchain-core. A vector
store's ``as_retriever()`` gives one too.
"""

from runnables.retrievers.base import BaseRetriever

__all__ = ["BaseRetriever"]
