"""``Document``: a piece of text with metadata, as retrievers and vector stores use it.

The fields are langchain-core's (``page_content``, ``metadata``, ``id``,
``type="Document"``), so documents convert field for field in both directions.
"""

from runnables.documents.base import Document

__all__ = ["Document"]
