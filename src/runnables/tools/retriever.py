"""``create_retriever_tool``: a retriever as a tool the model calls with a query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

# Imported at run time: the tool's functions are annotated with it, and their type
# hints are read (get_type_hints) when the tool's schema is inspected.
from runnables.documents import Document
from runnables.errors import InvalidInputError
from runnables.tools.structured import StructuredTool

if TYPE_CHECKING:
    from runnables.prompts.base import BasePromptTemplate
    from runnables.retrievers import BaseRetriever

__all__ = ["RetrieverInput", "create_retriever_tool"]


class RetrieverInput(BaseModel):
    """Input to the retriever."""

    query: str = Field(description="query to look up in retriever")


def _document_values(doc: Document, prompt: BasePromptTemplate) -> dict[str, Any]:
    values = {"page_content": doc.page_content, **doc.metadata}
    missing = [v for v in prompt.input_variables if v not in values]
    if missing:
        raise InvalidInputError(
            f"The document prompt needs {missing!r}, which the document's metadata "
            f"({sorted(doc.metadata)!r}) lacks. Give the documents that metadata, or use "
            "a prompt with only {page_content} and the keys they have."
        )
    return {k: values[k] for k in prompt.input_variables}


def create_retriever_tool(
    retriever: BaseRetriever,
    name: str,
    description: str,
    *,
    document_prompt: BasePromptTemplate | None = None,
    document_separator: str = "\n\n",
    response_format: Literal["content", "content_and_artifact"] = "content",
) -> StructuredTool:
    """A tool that runs ``retriever`` on the model's query and returns the documents as
    text: each formatted with ``document_prompt`` (default ``"{page_content}"``), joined
    by ``document_separator``. With ``response_format="content_and_artifact"`` the
    documents themselves are the ``ToolMessage``'s artifact.

    >>> from runnables.retrievers import BaseRetriever
    >>> from runnables.documents import Document
    >>> class Docs(BaseRetriever):
    ...     def _get_relevant_documents(self, query, *, run_manager=None):
    ...         return [Document(page_content=f"about {query}")]
    >>> create_retriever_tool(Docs(), "docs", "Search the docs.").invoke("tea")
    'about tea'
    """
    from runnables.prompts import PromptTemplate

    prompt = document_prompt or PromptTemplate.from_template("{page_content}")

    def finish(content: str, docs: list[Document]) -> str | tuple[str, list[Document]]:
        if response_format == "content_and_artifact":
            return (content, docs)
        return content

    def func(query: str, callbacks: Any = None) -> str | tuple[str, list[Document]]:
        docs = retriever.invoke(query)
        text = document_separator.join(
            str(prompt.format(**_document_values(d, prompt))) for d in docs
        )
        return finish(text, docs)

    async def afunc(query: str, callbacks: Any = None) -> str | tuple[str, list[Document]]:
        docs = await retriever.ainvoke(query)
        parts = [str(await prompt.aformat(**_document_values(d, prompt))) for d in docs]
        return finish(document_separator.join(parts), docs)

    return StructuredTool(
        name=name,
        description=description,
        func=func,
        coroutine=afunc,
        args_schema=RetrieverInput,
        response_format=response_format,
    )
