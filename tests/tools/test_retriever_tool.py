"""create_retriever_tool, the text renderers, SchemaAnnotationError and schema helpers."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, get_type_hints

import pytest
from pydantic import BaseModel, Field

from runnables.documents import Document
from runnables.messages import ToolMessage
from runnables.prompts import PromptTemplate
from runnables.retrievers import BaseRetriever
from runnables.tools import (
    BaseTool,
    SchemaAnnotationError,
    create_retriever_tool,
    render_text_description,
    render_text_description_and_args,
    tool,
)
from runnables.tools.base import get_all_basemodel_annotations


class Shelf(BaseRetriever):
    def _get_relevant_documents(self, query: str, *, run_manager: Any = None) -> list[Document]:
        return [Document(page_content=f"on {query}", metadata={"n": 1}), Document("end")]


def test_retriever_tool_joins_documents_and_answers_a_tool_call() -> None:
    t = create_retriever_tool(Shelf(), "shelf", "Search the shelf.")
    assert t.invoke("tea") == "on tea\n\nend"
    call = {"name": "shelf", "args": {"query": "tea"}, "id": "1", "type": "tool_call"}
    assert t.invoke(call) == ToolMessage("on tea\n\nend", tool_call_id="1", name="shelf")
    assert list(t.args) == ["query"]
    assert "Document" in str(get_type_hints(t.func))


async def test_retriever_tool_artifact_is_the_documents() -> None:
    t = create_retriever_tool(Shelf(), "shelf", "Search.", response_format="content_and_artifact")
    call = {"name": "shelf", "args": {"query": "x"}, "id": "1", "type": "tool_call"}
    msg = await t.ainvoke(call)
    assert msg.content == "on x\n\nend"
    assert [d.page_content for d in msg.artifact] == ["on x", "end"]


def test_retriever_tool_document_prompt_names_missing_metadata() -> None:
    prompt = PromptTemplate.from_template("{n}: {page_content}")
    t = create_retriever_tool(Shelf(), "shelf", "Search.", document_prompt=prompt)
    with pytest.raises(ValueError, match="'n'"):
        t.invoke("tea")  # the second document has no "n"


def test_render_text_description() -> None:
    @tool
    def search(query: str) -> str:
        """Search the web."""
        return query

    # (annotations are strings in this module: from __future__ import annotations)
    assert render_text_description([search]) == "search(query: 'str') -> 'str' - Search the web."
    assert render_text_description_and_args([search]) == (
        "search(query: 'str') -> 'str' - Search the web., args: "
        "{'query': {'title': 'Query', 'type': 'string'}}"
    )


def test_args_schema_annotated_as_an_instance_is_refused_when_the_class_is_made() -> None:
    class Schema(BaseModel):
        x: int

    with pytest.raises(SchemaAnnotationError, match="args_schema"):

        class Bad(BaseTool):
            name: str = "bad"
            description: str = "Bad."
            args_schema: BaseModel = Schema  # type: ignore[assignment]

            def _run(self, x: int) -> int:
                return x


T = TypeVar("T", bound=int)


def test_get_all_basemodel_annotations_uses_field_names_and_type_var_bounds() -> None:
    class Calc(BaseModel, Generic[T]):
        a: int = Field(alias="A")
        b: T

    assert get_all_basemodel_annotations(Calc) == {"a": int, "b": int}
