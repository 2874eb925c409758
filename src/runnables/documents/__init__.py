"""``Document``: a piece of text with metadata, as retrievers and vector stores use it.

The fields are langchain-core's (``page_content``, ``metadata``, ``id``,
``type="Document"``), so documents convert field for field in both directions.
``Blob`` is raw data (in memory or a file) before a loader parses it into documents.
"""

from runnables.documents.base import Blob, Document

__all__ = ["Blob", "Document"]
