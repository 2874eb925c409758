"""Values crossing the boundary between runnables and langchain-core, converted losslessly.

Both libraries have the same message classes with the same fields (content and its
blocks, ``tool_calls``, ``tool_call_chunks``, ``usage_metadata``, ``id``,
``response_metadata``, ``additional_kwargs``, ``name``, ``tool_call_id``, ``artifact``,
``status``, ``role``, ``chunk_position``), the same prompt values, the same chat
generations and the same documents (``page_content``, ``metadata``, ``id``).
:func:`to_langchain` and :func:`from_langchain` copy every field across, inside lists,
tuples and dicts too (a retriever's list of documents, a parallel's dict of them), and
leave any other value as it is.

Only :func:`to_langchain` needs langchain-core installed; :func:`from_langchain` looks
at a value's class module and never imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runnables.errors import MissingExtraError

__all__ = ["from_langchain", "is_langchain_value", "require_langchain", "to_langchain"]


def require_langchain(what: str) -> None:
    """Raise a clear error naming the install command if langchain-core is missing."""
    try:
        import langchain_core  # noqa: F401
    except ImportError:
        raise MissingExtraError(what, "interop", "langchain-core") from None


def is_langchain_value(value: Any) -> bool:
    """Whether ``value`` is an instance of a class defined in langchain-core."""
    return type(value).__module__.startswith("langchain_core.")


# ---------------------------------------------------------------------- langchain -> runnables


def from_langchain(value: Any) -> Any:
    """``value`` with every langchain-core message, prompt value, chat generation and
    document in it turned into runnables' own (other values are kept as they are).
    """
    cls = type(value)
    if cls is str or cls is int or cls is float or cls is bool or value is None:
        return value
    if cls is list:
        return [from_langchain(v) for v in value]
    if cls is dict:
        return {k: from_langchain(v) for k, v in value.items()}
    if cls is tuple:
        return tuple(from_langchain(v) for v in value)
    if not cls.__module__.startswith("langchain_core."):
        return value
    convert = _FROM.get(cls.__name__)
    return value if convert is None else convert(value)


def _message_from(value: Any) -> Any:
    from runnables import messages
    from runnables.messages.base import _rebuild

    cls = getattr(messages, type(value).__name__, None)
    if cls is None:
        return value  # a langchain-core message kind runnables has no class for
    fields = {f: getattr(value, f, None) for f in cls._fields}
    if "chunk_position" in fields and not hasattr(value, "chunk_position"):
        fields["chunk_position"] = None
    return _rebuild(cls, fields)


def _prompt_value_from(value: Any) -> Any:
    from runnables.prompts.value import ChatPromptValue, StringPromptValue

    if hasattr(value, "messages"):
        return ChatPromptValue([from_langchain(m) for m in value.messages])
    return StringPromptValue(value.text)


def _chat_generation_from(value: Any) -> Any:
    from runnables.models.base import ChatGeneration

    return ChatGeneration(from_langchain(value.message), value.generation_info)


def _document_from(value: Any) -> Any:
    from runnables.documents import Document

    return Document(value.page_content, metadata=value.metadata, id=value.id)


_MESSAGE_CLASSES = (
    "AIMessage",
    "AIMessageChunk",
    "HumanMessage",
    "HumanMessageChunk",
    "SystemMessage",
    "SystemMessageChunk",
    "ToolMessage",
    "ToolMessageChunk",
    "ChatMessage",
    "ChatMessageChunk",
)

_FROM: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(_MESSAGE_CLASSES, _message_from),
    "StringPromptValue": _prompt_value_from,
    "ChatPromptValue": _prompt_value_from,
    "ChatPromptValueConcrete": _prompt_value_from,
    "ChatGeneration": _chat_generation_from,
    "ChatGenerationChunk": _chat_generation_from,
    "Document": _document_from,
}


# ---------------------------------------------------------------------- runnables -> langchain


def to_langchain(value: Any) -> Any:
    """``value`` with every runnables message, prompt value, chat generation and
    document in it turned into langchain-core's (other values are kept as they are).
    """
    cls = type(value)
    if cls is str or cls is int or cls is float or cls is bool or value is None:
        return value
    if cls is list:
        return [to_langchain(v) for v in value]
    if cls is dict:
        return {k: to_langchain(v) for k, v in value.items()}
    if cls is tuple:
        return tuple(to_langchain(v) for v in value)
    if not cls.__module__.startswith("runnables."):
        return value
    convert = _TO.get(cls.__name__)
    return value if convert is None else convert(value)


def _message_to(value: Any) -> Any:
    from langchain_core import messages as lc_messages

    cls = getattr(lc_messages, type(value).__name__)
    # model_construct: the fields are already valid, and validation would recompute
    # tool calls from chunks (or the reverse) instead of keeping what was there.
    return cls.model_construct(**{f: getattr(value, f) for f in value._fields})


def _prompt_value_to(value: Any) -> Any:
    from langchain_core.prompt_values import ChatPromptValue, StringPromptValue

    if hasattr(value, "messages"):
        return ChatPromptValue(messages=[to_langchain(m) for m in value.messages])
    return StringPromptValue(text=value.text)


def _chat_generation_to(value: Any) -> Any:
    from langchain_core.outputs import ChatGeneration

    return ChatGeneration(
        message=to_langchain(value.message), generation_info=value.generation_info
    )


def _document_to(value: Any) -> Any:
    from langchain_core.documents import Document

    return Document(page_content=value.page_content, metadata=value.metadata, id=value.id)


_TO: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(_MESSAGE_CLASSES, _message_to),
    "StringPromptValue": _prompt_value_to,
    "ChatPromptValue": _prompt_value_to,
    "ChatGeneration": _chat_generation_to,
    "Document": _document_to,
}
