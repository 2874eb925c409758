"""The ``Document`` class, and ``Blob`` (raw data that a loader parses into documents)."""

from __future__ import annotations

import contextlib
import mimetypes
from collections.abc import Iterator
from io import BufferedReader, BytesIO
from pathlib import Path, PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runnables.errors import InvalidArgumentError, InvalidInputError, UnsupportedError

__all__ = ["Blob", "Document"]


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


class Blob(BaseModel):
    """Raw data, in memory (``data``: text or bytes) or a file on disk (``path``, read
    when asked for), as langchain-core's document loaders pass it to parsers.

    >>> blob = Blob.from_data("Hello, world!", metadata={"source": "greeting"})
    >>> blob.as_string(), blob.as_bytes(), blob.source
    ('Hello, world!', b'Hello, world!', 'greeting')
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str | None = Field(default=None, coerce_numbers_to_str=True)
    """An identifier (optional)."""
    metadata: dict[Any, Any] = Field(default_factory=dict)
    """Anything about the data (a ``"source"`` key overrides :attr:`source`)."""
    data: bytes | str | None = None
    """The data, when held in memory."""
    mimetype: str | None = None
    """The MIME type of the data (``"text/plain"``...), if known."""
    encoding: str = "utf-8"
    """The encoding used to turn bytes into text and back."""
    path: str | PurePath | None = None
    """Where the data is (or came from)."""

    @model_validator(mode="before")
    @classmethod
    def _data_or_path(cls, values: Any) -> Any:
        if isinstance(values, dict) and "data" not in values and "path" not in values:
            raise InvalidArgumentError(
                "A Blob needs its data or the path of a file holding it: pass data=... or "
                "path=... (or use Blob.from_data / Blob.from_path)."
            )
        return values

    @property
    def source(self) -> str | None:
        """Where the data came from: ``metadata["source"]`` if set, else the path."""
        if self.metadata and "source" in self.metadata:
            return self.metadata["source"]  # type: ignore[no-any-return]
        return str(self.path) if self.path else None

    def as_string(self) -> str:
        """The data as text (bytes decoded with :attr:`encoding`; a file read)."""
        if self.data is None and self.path:
            return Path(self.path).read_text(encoding=self.encoding)
        if isinstance(self.data, bytes):
            return self.data.decode(self.encoding)
        if isinstance(self.data, str):
            return self.data
        raise InvalidInputError(f"{self!r} has neither data nor a path, so it has no text.")

    def as_bytes(self) -> bytes:
        """The data as bytes (text encoded with :attr:`encoding`; a file read)."""
        if isinstance(self.data, bytes):
            return self.data
        if isinstance(self.data, str):
            return self.data.encode(self.encoding)
        if self.data is None and self.path:
            return Path(self.path).read_bytes()
        raise InvalidInputError(f"{self!r} has neither data nor a path, so it has no bytes.")

    @contextlib.contextmanager
    def as_bytes_io(self) -> Iterator[BytesIO | BufferedReader]:
        """The data as a binary stream (an open file for a path, closed on exit)."""
        if isinstance(self.data, bytes):
            yield BytesIO(self.data)
        elif self.data is None and self.path:
            with Path(self.path).open("rb") as f:
                yield f
        else:
            # As langchain-core: text data is not streamed (as_bytes() encodes it).
            raise UnsupportedError(
                f"{self!r} holds text, not bytes: use as_bytes() or as_string() instead."
            )

    @classmethod
    def from_path(
        cls,
        path: str | PurePath,
        *,
        encoding: str = "utf-8",
        mime_type: str | None = None,
        guess_type: bool = True,
        metadata: dict[Any, Any] | None = None,
    ) -> Blob:
        """A blob for the file at ``path``, not read until asked for; its MIME type is
        ``mime_type``, else guessed from the file name (unless ``guess_type=False``)."""
        mimetype = mimetypes.guess_type(path)[0] if mime_type is None and guess_type else mime_type
        return cls(
            data=None,
            mimetype=mimetype,
            encoding=encoding,
            path=path,
            metadata=metadata if metadata is not None else {},
        )

    @classmethod
    def from_data(
        cls,
        data: str | bytes,
        *,
        encoding: str = "utf-8",
        mime_type: str | None = None,
        path: str | None = None,
        metadata: dict[Any, Any] | None = None,
    ) -> Blob:
        """A blob holding ``data`` in memory (``path`` records where it came from)."""
        return cls(
            data=data,
            mimetype=mime_type,
            encoding=encoding,
            path=path,
            metadata=metadata if metadata is not None else {},
        )

    def __repr__(self) -> str:
        # As langchain-core: the object's identity and its source, never the data.
        return f"Blob {id(self)}" + (f" {self.source}" if self.source else "")
