"""Document: langchain-core's fields, str and repr."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from runnables.documents import Document


def test_document_has_langchain_cores_fields() -> None:
    doc = Document("hello", metadata={"a": 1}, id=7)
    assert doc.page_content == "hello"
    assert doc.metadata == {"a": 1}
    assert doc.id == "7"
    assert doc.type == "Document"
    assert doc.model_dump() == {
        "id": "7",
        "metadata": {"a": 1},
        "page_content": "hello",
        "type": "Document",
    }


def test_page_content_may_be_passed_by_keyword_and_documents_compare_by_value() -> None:
    assert Document(page_content="x") == Document("x")
    assert Document("x", metadata={1: "one"}).metadata == {1: "one"}


def test_str_and_repr_match_langchain_core() -> None:
    assert str(Document("Hello")) == "page_content='Hello'"
    assert str(Document("Hello", metadata={"a": 3})) == "page_content='Hello' metadata={'a': 3}"
    assert repr(Document("Hello")) == "Document(metadata={}, page_content='Hello')"
    assert repr(Document("Hi", id="1")) == "Document(id='1', metadata={}, page_content='Hi')"


def test_page_content_must_be_text() -> None:
    with pytest.raises(ValidationError):
        Document(page_content=None)  # type: ignore[arg-type]
