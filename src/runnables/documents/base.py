"""The ``Document`` class."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Document"]


class Document(BaseModel):
    """A piece of text (``page_content``) with ``metadata`` and an optional ``id``.

    >>> doc = Document("Paris is in France.", metadata={"source": "atlas"})
    >>> str(doc)
    "page_content='Paris is in France.' metadata={'source': 'atlas'}"
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str | None = Field(default=None, coerce_numbers_to_str=True)
    """An identifier, unique within the store that holds the document (optional)."""
    metadata: dict[Any, Any] = Field(default_factory=dict)
    """Anything about the text: its source, page, score..."""
    page_content: str
    """The text."""
    type: Literal["Document"] = "Document"
    """Always ``"Document"`` (for serialized forms)."""

    def __init__(self, page_content: str, **fields: Any) -> None:
        super().__init__(page_content=page_content, **fields)  # type: ignore[call-arg]

    def __str__(self) -> str:
        # The text and metadata only, as langchain-core prints it into prompts.
        if self.metadata:
            return f"page_content='{self.page_content}' metadata={self.metadata}"
        return f"page_content='{self.page_content}'"

    def __repr_args__(self) -> Any:
        # As langchain-core: fields left at a plain default (id, type) are not shown.
        return [
            (k, v)
            for k, v in super().__repr_args__()
            if k not in ("id", "type") or v != _DEFAULTS[k]
        ]


_DEFAULTS: dict[str, Any] = {"id": None, "type": "Document"}
