"""Chat messages and message chunks, with langchain-core's field names.

Messages are plain classes with ``__slots__`` rather than pydantic models: a streaming
model creates one chunk per token, and a pydantic model costs several microseconds to
build where a slotted class costs a few hundred nanoseconds. They still behave like
langchain-core's: the same constructor keywords, ``.type``, ``.text``, ``==`` by value,
``model_dump()`` / ``model_copy()``, and they validate inside pydantic models.

``+`` on chunks merges them (see :func:`add_chunks`):

- ``content``: strings concatenate; lists of content blocks merge blocks that share an
  ``index`` and append the rest; a string followed by a list becomes the list's first item;
- ``tool_call_chunks``: merged by ``index`` (argument strings concatenated), and a
  chunk's ``tool_calls`` holds each call whose arguments are complete valid JSON;
- ``usage_metadata``: summed, nested token details included;
- ``additional_kwargs`` / ``response_metadata``: merged key by key.
"""

from __future__ import annotations

import builtins
import functools
import json
import operator
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal, NotRequired, TypedDict, TypeVar, cast

from runnables.errors import (
    ArgumentTypeError,
    InputTypeError,
    InvalidArgumentError,
    InvalidInputError,
    LangChainDeprecationWarning,
)

__all__ = [
    "AIMessage",
    "AIMessageChunk",
    "AnyMessage",
    "BaseMessage",
    "BaseMessageChunk",
    "ChatMessage",
    "ChatMessageChunk",
    "FunctionMessage",
    "FunctionMessageChunk",
    "HumanMessage",
    "HumanMessageChunk",
    "InputTokenDetails",
    "InvalidToolCall",
    "OutputTokenDetails",
    "RemoveMessage",
    "SystemMessage",
    "SystemMessageChunk",
    "ToolCall",
    "ToolCallChunk",
    "ToolMessage",
    "ToolMessageChunk",
    "ToolOutputMixin",
    "UsageMetadata",
    "add_ai_message_chunks",
    "add_chunks",
    "add_usage",
    "invalid_tool_call",
    "merge_content",
    "message_chunk_to_message",
    "subtract_usage",
    "tool_call",
    "tool_call_chunk",
]

Content = str | list[str | dict[str, Any]]


# ---------------------------------------------------------------------- typed dicts


class ToolCall(TypedDict):
    """A complete request from the model to call a tool."""

    name: str
    args: dict[str, Any]
    id: str | None
    # Optional when written, as in langchain-core: messages fill it in.
    type: NotRequired[Literal["tool_call"]]


class ToolCallChunk(TypedDict):
    """A piece of a tool call as streamed; pieces with the same ``index`` add up."""

    name: str | None
    args: str | None
    id: str | None
    index: int | None
    type: NotRequired[Literal["tool_call_chunk"]]


class InvalidToolCall(TypedDict):
    """A tool call whose arguments are not a valid JSON object."""

    name: str | None
    args: str | None
    id: str | None
    error: str | None
    type: Literal["invalid_tool_call"]


class InputTokenDetails(TypedDict, total=False):
    """A breakdown of input tokens (``audio``, ``cache_creation``, ``cache_read``)."""

    audio: int
    cache_creation: int
    cache_read: int


class OutputTokenDetails(TypedDict, total=False):
    """A breakdown of output tokens (``audio``, ``reasoning``)."""

    audio: int
    reasoning: int


class UsageMetadata(TypedDict, total=False):
    """Token counts of one model response (``input_tokens`` and friends)."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_token_details: InputTokenDetails
    output_token_details: OutputTokenDetails


def tool_call(*, name: str, args: dict[str, Any], id: str | None) -> ToolCall:
    """Build a :class:`ToolCall` dict."""
    return {"name": name, "args": args, "id": id, "type": "tool_call"}


def tool_call_chunk(
    *,
    name: str | None = None,
    args: str | None = None,
    id: str | None = None,
    index: int | None = None,
) -> ToolCallChunk:
    """Build a :class:`ToolCallChunk` dict."""
    return {"name": name, "args": args, "id": id, "index": index, "type": "tool_call_chunk"}


def invalid_tool_call(
    *,
    name: str | None = None,
    args: str | None = None,
    id: str | None = None,
    error: str | None = None,
) -> InvalidToolCall:
    """Build an :class:`InvalidToolCall` dict."""
    return {"name": name, "args": args, "id": id, "error": error, "type": "invalid_tool_call"}


# ---------------------------------------------------------------------- messages

M = TypeVar("M", bound="BaseMessage")

_BASE_FIELDS = ("content", "additional_kwargs", "response_metadata", "name", "id")


class BaseMessage:
    """A message in a chat: ``content`` plus metadata. Subclasses fix ``type``.

    ``content`` is a string or a list of content blocks (strings or dicts such as
    ``{"type": "text", "text": "..."}``); ``text`` is the text in it either way.
    """

    __slots__ = ("additional_kwargs", "content", "id", "name", "response_metadata")

    type: ClassVar[str] = "base"
    #: Every field, in constructor order (for equality, copies, dumps and reprs).
    _fields: ClassVar[tuple[str, ...]] = _BASE_FIELDS

    def __init__(
        self,
        content: Content = "",
        *,
        additional_kwargs: dict[str, Any] | None = None,
        response_metadata: dict[str, Any] | None = None,
        name: str | None = None,
        id: str | int | None = None,
        type: str | None = None,
        content_blocks: list[Any] | None = None,
    ) -> None:
        if type is not None and type != self.type:
            if self.__class__ is not BaseMessage:
                raise InvalidArgumentError(
                    f"{self.__class__.__name__} has type {self.type!r}, but type={type!r} "
                    "was passed. Leave out 'type' or use the message class for that type."
                )
            # langchain-core's BaseMessage takes any type (messages of kinds it has no
            # class for): a BaseMessage of that type.
            self.__class__ = _typed_base_message(type)
        if content_blocks is not None:
            content = content_blocks
        self.content = _check_content(content, self)
        self.additional_kwargs = {} if additional_kwargs is None else additional_kwargs
        self.response_metadata = {} if response_metadata is None else response_metadata
        self.name = name
        # A plain call costs on every message: check only what is not already a string.
        self.id = id if id is None or id.__class__ is str else _check_id(id)  # type: ignore[assignment]

    @property
    def text(self) -> str:
        """The text of the message: ``content`` if it is a string, else its text blocks.

        A string that can also be called (``msg.text()``), as langchain-core's older
        method was, so code written either way works; the call warns
        (``LangChainDeprecationWarning``), as in langchain-core 1.x.
        """
        return _Text(self._text())

    @property
    def content_blocks(self) -> list[dict[str, Any]]:
        """``content`` as a list of standard content blocks (``{"type": "text", ...}``).

        Strings become text blocks; dict blocks are kept (OpenAI ``image_url`` blocks
        become ``{"type": "image", "url": ...}``); an AI message's tool calls follow as
        ``{"type": "tool_call", ...}`` blocks.
        """
        content = self.content
        items: list[Any] = [content] if isinstance(content, str) else list(content)
        blocks: list[dict[str, Any]] = []
        for item in items:
            if isinstance(item, str):
                if item:
                    blocks.append({"type": "text", "text": item})
            elif item.get("type") == "image_url":
                image = item.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                blocks.append({"type": "image", "url": url})
            else:
                blocks.append(dict(item))
        return blocks

    def _text(self) -> str:
        content = self.content
        if isinstance(content, str):
            return content
        parts: list[str] = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif block.get("type") == "text" and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "".join(parts)

    # pydantic-like helpers, so code written for langchain-core's models keeps working.

    def model_dump(self) -> dict[str, Any]:
        """The message's fields as a dict, with ``type`` (like pydantic's ``model_dump``)."""
        out = {f: _plain_copy(getattr(self, f)) for f in self._fields}
        out["type"] = self.type
        return out

    dict = model_dump  # langchain-core's older name

    def model_copy(self: M, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> M:
        """A copy with some fields replaced (like pydantic's ``model_copy``)."""
        new = object.__new__(type(self))
        for f in self._fields:
            value = getattr(self, f)
            object.__setattr__(new, f, _plain_copy(value) if deep else value)
        if update:
            for key, value in update.items():
                if key not in self._fields:
                    raise InvalidArgumentError(
                        f"{type(self).__name__} has no field {key!r}; its fields are "
                        f"{list(self._fields)!r}."
                    )
                object.__setattr__(new, key, value)
        return new

    def pretty_repr(self, html: bool = False) -> str:
        """A human-readable rendering, exactly as langchain-core's: a title, then content.

        ``html=True`` makes the title bold (with terminal escape codes, as langchain-core).
        """
        title = _title_line(self.type.title() + " Message", bold=html)
        if self.name is not None:
            title += f"\nName: {self.name}"
        return f"{title}\n\n{self.content}"

    def pretty_print(self) -> None:
        """Print :meth:`pretty_repr` (bold title in an interactive session)."""
        import sys

        print(self.pretty_repr(html=hasattr(sys, "ps2")))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._fields)

    __hash__ = None  # type: ignore[assignment]  # mutable, like langchain-core's

    # repr and str as langchain-core's pydantic messages print them (users print and log
    # them, and tests compare the text): the fields in declaration order, those with a
    # default_factory (dicts, lists) always, the others when they differ from their
    # default. ToolMessage hides its additional_kwargs and response_metadata.
    def _repr_parts(self) -> list[str]:
        hidden = _REPR_HIDDEN.get(type(self).__name__.removesuffix("Chunk"), ())
        parts = []
        for f in self._fields:
            if f in hidden:
                continue
            value = getattr(self, f)
            if f in _REPR_ALWAYS or value != _REPR_DEFAULTS.get(f):
                parts.append(f"{f}={value!r}")
        return parts

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._repr_parts())})"

    def __str__(self) -> str:
        return " ".join(self._repr_parts())

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), {f: getattr(self, f) for f in self._fields}))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        # Lets pydantic models (input schemas, the serving layer) hold messages: validate
        # an instance or anything convert_to_messages accepts, serialize to model_dump.
        from pydantic_core import core_schema

        def validate(value: Any) -> Any:
            if isinstance(value, cls):
                return value
            from runnables.messages.convert import convert_to_message

            msg = convert_to_message(value)
            if not isinstance(msg, cls):
                raise InvalidInputError(f"Expected a {cls.__name__}, got a {type(msg).__name__}.")
            return msg

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda m: m.model_dump()
            ),
            json_schema_input_schema=core_schema.dict_schema(),
        )


class _Text(str):
    """The text of a message: a ``str`` that returns itself when called.

    Calling it warns, as langchain-core does: ``text`` became a property in its 1.0.
    """

    __slots__ = ()

    def __call__(self) -> str:
        warnings.warn(
            "Calling .text() as a method is deprecated. Use .text as a property instead "
            "(e.g., message.text).",
            LangChainDeprecationWarning,
            stacklevel=2,
        )
        return str(self)


@functools.cache
def _typed_base_message(type_name: str) -> type[BaseMessage]:
    """The ``BaseMessage`` class of a type no message class has (one per type name)."""
    return builtins.type("BaseMessage", (BaseMessage,), {"__slots__": (), "type": type_name})


def _check_id(id: Any) -> str | None:
    """``id`` as langchain-core keeps it: a string (numbers become one) or None."""
    if id is None or id.__class__ is str:
        return id  # type: ignore[no-any-return]
    if isinstance(id, (int, float)) and not isinstance(id, bool):
        return str(id)
    if isinstance(id, str):
        return id
    raise ArgumentTypeError(
        f"A message id must be a string (or a number, made one), got {id!r} "
        f"(a {builtins.type(id).__name__}); pass id=str(...)."
    )


def _title_line(title: str, *, bold: bool = False) -> str:
    """``title`` centred in a line of 80 ``=`` (langchain-core's ``get_msg_title_repr``)."""
    padded = " " + title + " "
    sep = "=" * ((80 - len(padded)) // 2)
    second = sep + "=" if len(padded) % 2 else sep
    if bold:
        padded = f"\033[1m{padded}\033[0m"
    return f"{sep}{padded}{second}"


def _format_tool_call_lines(tc: Mapping[str, Any]) -> list[str]:
    lines = [f"  {tc.get('name', 'Tool')} ({tc.get('id')})", f" Call ID: {tc.get('id')}"]
    if tc.get("error"):
        lines.append(f"  Error: {tc.get('error')}")
    lines.append("  Args:")
    args = tc.get("args")
    if isinstance(args, str):
        lines.append(f"    {args}")
    elif isinstance(args, dict):
        lines.extend(f"    {arg}: {value}" for arg, value in args.items())
    return lines


def _rebuild(cls: type[BaseMessage], fields: dict[str, Any]) -> BaseMessage:
    new = object.__new__(cls)
    for key, value in fields.items():
        object.__setattr__(new, key, value)
    return new


def _plain_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_copy(v) for v in value]
    return value


def _check_content(content: Any, msg: BaseMessage) -> Content:
    if type(content) is str or type(content) is list:
        return cast(Content, content)
    if isinstance(content, (str, list)):
        return cast(Content, content)
    if isinstance(content, tuple):
        return list(content)
    raise ArgumentTypeError(
        f"{type(msg).__name__} content must be a string or a list of content blocks "
        f"(strings or dicts), got {content!r} (a {type(content).__name__})."
    )


class BaseMessageChunk(BaseMessage):
    """A piece of a streamed message; chunks of the same kind add up with ``+``."""

    __slots__ = ()

    def __add__(self, other: Any) -> Any:
        """Sum with another chunk, or a list of chunks.

        Chunks of the same kind merge fully (:func:`add_chunks`). Chunks of different
        kinds merge as in langchain-core: the result is of the left chunk's kind, with
        the contents and the ``additional_kwargs`` / ``response_metadata`` merged and the
        left chunk's ``id``; the others' other fields are dropped. (langchain-core also
        drops the left chunk's own usage, tool calls and name here, or fails for a left
        tool or chat chunk; this keeps them.)
        """
        if isinstance(other, BaseMessageChunk):
            if type(other) is type(self):
                return add_chunks(self, other)
            return _add_other_kinds(self, [other])
        if isinstance(other, (list, tuple)) and all(isinstance(o, BaseMessageChunk) for o in other):
            if all(type(o) is type(self) for o in other):
                return add_chunks(self, *other)
            return _add_other_kinds(self, other)
        return NotImplemented


class HumanMessage(BaseMessage):
    """A message from the user."""

    __slots__ = ()
    type: ClassVar[str] = "human"


class SystemMessage(BaseMessage):
    """Instructions for the model, usually first in the conversation."""

    __slots__ = ()
    type: ClassVar[str] = "system"


class ChatMessage(BaseMessage):
    """A message with an arbitrary ``role``."""

    __slots__ = ("role",)
    type: ClassVar[str] = "chat"
    _fields: ClassVar[tuple[str, ...]] = (*_BASE_FIELDS, "role")

    def __init__(self, content: Content = "", *, role: str, **fields: Any) -> None:
        super().__init__(content, **fields)
        self.role = role


class ToolOutputMixin:
    """Marks objects a tool may return as its output as they are.

    A tool answering a tool call wraps what it returns in a :class:`ToolMessage`,
    unless it is one of these (or a list of them): ``ToolMessage`` itself, or a class
    of yours that mixes this in (a command for the agent runtime, say).
    """


class ToolMessage(BaseMessage, ToolOutputMixin):
    """The result of a tool call, sent back to the model.

    ``tool_call_id`` is the ``id`` of the :class:`ToolCall` it answers; ``artifact`` is
    any value for the application that is not sent to the model; ``status`` is
    ``"success"`` or ``"error"``. Content that is not a string or a list of blocks is
    made a string, as in langchain-core (``ToolMessage(5, ...)`` holds ``"5"``).
    """

    __slots__ = ("artifact", "status", "tool_call_id")
    type: ClassVar[str] = "tool"
    _fields: ClassVar[tuple[str, ...]] = (*_BASE_FIELDS, "tool_call_id", "artifact", "status")

    def __init__(
        self,
        content: Content | object = "",
        *,
        tool_call_id: str,
        artifact: Any = None,
        status: Literal["success", "error"] = "success",
        **fields: Any,
    ) -> None:
        super().__init__(_tool_content(content), **fields)
        self.tool_call_id = str(tool_call_id)
        self.artifact = artifact
        self.status = status


def _tool_content(content: Any) -> Content:
    """A tool's result as message content: what is not a string (or block) becomes one.

    As langchain-core: ``5`` becomes ``"5"``, ``{"a": 1}`` becomes ``"{'a': 1}"``, and
    list items that are neither strings nor dicts become strings.
    """
    if isinstance(content, str):
        return content
    if isinstance(content, tuple):
        content = list(content)
    if isinstance(content, list):
        return [x if isinstance(x, (str, dict)) else str(x) for x in content]
    return str(content)


class AIMessage(BaseMessage):
    """A message from the model.

    ``tool_calls`` are the tools it asks to call (with parsed ``args``),
    ``invalid_tool_calls`` the ones whose arguments did not parse, and
    ``usage_metadata`` its token counts.
    """

    __slots__ = ("invalid_tool_calls", "tool_calls", "usage_metadata")
    type: ClassVar[str] = "ai"
    _fields: ClassVar[tuple[str, ...]] = (
        *_BASE_FIELDS,
        "tool_calls",
        "invalid_tool_calls",
        "usage_metadata",
    )

    def __init__(
        self,
        content: Content = "",
        *,
        tool_calls: list[ToolCall] | None = None,
        invalid_tool_calls: list[InvalidToolCall] | None = None,
        usage_metadata: UsageMetadata | None = None,
        additional_kwargs: dict[str, Any] | None = None,
        response_metadata: dict[str, Any] | None = None,
        name: str | None = None,
        id: str | int | None = None,
        type: str | None = None,
        content_blocks: list[Any] | None = None,
    ) -> None:
        if content_blocks is not None:
            # As langchain-core: tool_call blocks are the message's tool calls unless
            # tool_calls is given.
            content = content_blocks
            if tool_calls is None:
                tool_calls = [
                    cast(ToolCall, b)
                    for b in content_blocks
                    if isinstance(b, dict) and b.get("type") == "tool_call"
                ] or None
        BaseMessage.__init__(
            self,
            content,
            additional_kwargs=additional_kwargs,
            response_metadata=response_metadata,
            name=name,
            id=id,
            type=type,
        )
        self.tool_calls = [] if tool_calls is None else [_as_tool_call(t) for t in tool_calls]
        self.invalid_tool_calls = [] if invalid_tool_calls is None else invalid_tool_calls
        self.usage_metadata = usage_metadata
        if additional_kwargs and not tool_calls and not invalid_tool_calls:
            raw = additional_kwargs.get("tool_calls")
            if raw:
                self.tool_calls, self.invalid_tool_calls = _parse_openai_tool_calls(raw)

    @property
    def content_blocks(self) -> list[dict[str, Any]]:
        """``content`` as standard content blocks, with the tool calls and reasoning.

        As langchain-core: list content of an ``output_version="v1"`` message is already
        standard blocks and is returned as is; string content of an OpenAI message
        (``model_provider="openai"``) is its text, tool calls and refusal; otherwise the
        content's blocks, then each tool call not already in them, with the reasoning
        of ``additional_kwargs["reasoning_content"]`` first.
        """
        if self.response_metadata.get("output_version") == "v1" and isinstance(self.content, list):
            return cast("list[dict[str, Any]]", self.content)
        if self.response_metadata.get("model_provider") == "openai" and isinstance(
            self.content, str
        ):
            return _openai_chat_completions_blocks(self, chunk=False)
        blocks = BaseMessage.content_blocks.fget(self)  # type: ignore[attr-defined]
        if self.tool_calls:
            in_content = {
                b.get("id")
                for b in self.content
                if isinstance(b, dict) and b.get("type") == "tool_call"
            }
            for call in self.tool_calls:
                if (id_ := call.get("id")) and id_ not in in_content:
                    block: dict[str, Any] = {
                        "type": "tool_call",
                        "id": id_,
                        "name": call["name"],
                        "args": call["args"],
                    }
                    for extra in ("index", "extras"):
                        if extra in call:
                            block[extra] = cast("dict[str, Any]", call)[extra]
                    blocks.append(block)
        return _with_reasoning(self, blocks)

    def pretty_repr(self, html: bool = False) -> str:
        """The title and content, then the tool calls (langchain-core's format exactly)."""
        base = super().pretty_repr(html=html)
        lines: list[str] = []
        if self.tool_calls:
            lines.append("Tool Calls:")
            for tc in self.tool_calls:
                lines.extend(_format_tool_call_lines(tc))
        if self.invalid_tool_calls:
            lines.append("Invalid Tool Calls:")
            for itc in self.invalid_tool_calls:
                lines.extend(_format_tool_call_lines(itc))
        return (base.strip() + "\n" + "\n".join(lines)).strip()


def _with_reasoning(msg: BaseMessage, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``blocks`` with ``additional_kwargs["reasoning_content"]`` first as a reasoning
    block, unless they have one (Ollama, DeepSeek, xAI and Groq put reasoning there)."""
    reasoning = msg.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and not any(b.get("type") == "reasoning" for b in blocks):
        blocks.insert(0, {"type": "reasoning", "reasoning": reasoning})
    return blocks


def _openai_chat_completions_blocks(msg: AIMessage, *, chunk: bool) -> list[dict[str, Any]]:
    """Standard blocks of an OpenAI Chat Completions message (string content): its text,
    its tool calls (tool call chunks for a chunk not yet complete), then its refusal."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": msg.content}] if msg.content else []
    if chunk and getattr(msg, "chunk_position", None) != "last":
        for c in cast("AIMessageChunk", msg).tool_call_chunks:
            block: dict[str, Any] = {
                "type": "tool_call_chunk",
                "id": c.get("id"),
                "name": c.get("name"),
                "args": c.get("args"),
            }
            if c.get("index") is not None:
                block["index"] = c["index"]
            blocks.append(block)
    else:
        for call in msg.tool_calls:
            blocks.append(
                {
                    "type": "tool_call",
                    "name": call["name"],
                    "args": call["args"],
                    "id": call.get("id"),
                }
            )
    if refusal := msg.additional_kwargs.get("refusal"):
        blocks.append({"type": "refusal", "refusal": refusal})
    return blocks


def _parse_openai_tool_calls(raw: Any) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Tool calls in OpenAI's format (``additional_kwargs["tool_calls"]``) as ``tool_calls``
    and ``invalid_tool_calls``, as langchain-core reads them; malformed input is skipped."""
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    if not isinstance(raw, list):
        return calls, invalid
    for item in raw:
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict):
            continue
        name = function.get("name")
        arguments = function.get("arguments")
        try:
            args = json.loads(arguments) if arguments else {}
        except (TypeError, ValueError):
            invalid.append(invalid_tool_call(name=name, args=arguments, id=item.get("id")))
            continue
        calls.append(tool_call(name=name or "", args=args or {}, id=item.get("id")))
    return calls, invalid


def _openai_tool_call_chunks(raw: Any) -> list[ToolCallChunk]:
    chunks: list[ToolCallChunk] = []
    for item in raw if isinstance(raw, list) else ():
        function = item.get("function") if isinstance(item, dict) else None
        if isinstance(function, dict):
            chunks.append(
                tool_call_chunk(
                    name=function.get("name"),
                    args=function.get("arguments"),
                    id=item.get("id"),
                    index=item.get("index"),
                )
            )
    return chunks


def _as_tool_call(t: Any) -> ToolCall:
    if isinstance(t, dict) and "name" in t and "args" in t:
        if t.get("type") == "tool_call" and "id" in t:
            return cast(ToolCall, t)
        return tool_call(name=t["name"], args=t["args"], id=t.get("id"))
    raise InvalidInputError(
        f"A tool call must be a dict with 'name', 'args' and 'id' keys, got {t!r}. "
        "Build one with runnables.messages.tool_call(name=..., args={...}, id=...)."
    )


class AIMessageChunk(AIMessage, BaseMessageChunk):
    """A piece of a streamed model message.

    ``tool_call_chunks`` carry tool calls as they stream; ``tool_calls`` lists the
    calls whose arguments are already complete valid JSON objects.
    """

    __slots__ = ("chunk_position", "tool_call_chunks")
    type: ClassVar[str] = "AIMessageChunk"
    _fields: ClassVar[tuple[str, ...]] = (
        *AIMessage._fields,
        "tool_call_chunks",
        "chunk_position",
    )

    def __init__(
        self,
        content: Content = "",
        *,
        tool_call_chunks: list[ToolCallChunk] | None = None,
        tool_calls: list[ToolCall] | None = None,
        invalid_tool_calls: list[InvalidToolCall] | None = None,
        usage_metadata: UsageMetadata | None = None,
        additional_kwargs: dict[str, Any] | None = None,
        response_metadata: dict[str, Any] | None = None,
        name: str | None = None,
        id: str | None = None,
        chunk_position: Literal["last"] | None = None,
        type: str | None = None,
        content_blocks: list[Any] | None = None,
    ) -> None:
        # Written out (not via super()) because this runs once per streamed token.
        if type is not None and type != "AIMessageChunk":
            BaseMessage.__init__(self, type=type)
        if content_blocks is not None:
            content = content_blocks
        if content.__class__ is not str:
            content = _check_content(content, self)
        self.content = content
        self.additional_kwargs = {} if additional_kwargs is None else additional_kwargs
        self.response_metadata = {} if response_metadata is None else response_metadata
        self.name = name
        self.id = id if id is None or id.__class__ is str else _check_id(id)
        self.usage_metadata = usage_metadata
        self.chunk_position = chunk_position
        if (
            additional_kwargs
            and not tool_call_chunks
            and not tool_calls
            and not invalid_tool_calls
            and additional_kwargs.get("tool_calls")
        ):
            tool_call_chunks = _openai_tool_call_chunks(additional_kwargs["tool_calls"])
        if tool_call_chunks:
            self.tool_call_chunks = [_as_tool_call_chunk(c) for c in tool_call_chunks]
            if tool_calls is None and invalid_tool_calls is None:
                self.tool_calls, self.invalid_tool_calls = _parse_tool_call_chunks(
                    self.tool_call_chunks, final=False
                )
                return
        elif tool_calls:
            # A chunk built from complete calls streams them as chunks too.
            self.tool_call_chunks = [
                tool_call_chunk(name=t["name"], args=json.dumps(t["args"]), id=t.get("id"))
                for t in tool_calls
            ]
        else:
            self.tool_call_chunks = []
        self.tool_calls = [] if tool_calls is None else [_as_tool_call(t) for t in tool_calls]
        self.invalid_tool_calls = [] if invalid_tool_calls is None else invalid_tool_calls

    @property
    def content_blocks(self) -> list[dict[str, Any]]:
        """As :attr:`AIMessage.content_blocks`; a chunk with no content whose tool calls
        are still streaming (not ``chunk_position="last"``) gives its tool call chunks."""
        if self.response_metadata.get("output_version") == "v1" and isinstance(self.content, list):
            return cast("list[dict[str, Any]]", self.content)
        if self.response_metadata.get("model_provider") == "openai" and isinstance(
            self.content, str
        ):
            return _openai_chat_completions_blocks(self, chunk=True)
        blocks: list[dict[str, Any]] = AIMessage.content_blocks.fget(self)  # type: ignore[attr-defined]
        if self.tool_call_chunks and not self.content and self.chunk_position != "last":
            blocks = [b for b in blocks if b["type"] not in ("tool_call", "invalid_tool_call")]
            for c in self.tool_call_chunks:
                block: dict[str, Any] = {
                    "type": "tool_call_chunk",
                    "id": c.get("id"),
                    "name": c.get("name"),
                    "args": c.get("args"),
                }
                if c.get("index") is not None:
                    block["index"] = c["index"]
                blocks.append(block)
        return blocks


def _as_tool_call_chunk(c: Any) -> ToolCallChunk:
    if isinstance(c, dict):
        if c.get("type") == "tool_call_chunk" and len(c) == 5:
            return cast(ToolCallChunk, c)
        return tool_call_chunk(
            name=c.get("name"), args=c.get("args"), id=c.get("id"), index=c.get("index")
        )
    raise InvalidInputError(
        f"A tool call chunk must be a dict with 'name', 'args', 'id' and 'index' keys, got "
        f"{c!r}. Build one with runnables.messages.tool_call_chunk(...)."
    )


def _parse_args(args: str | None) -> dict[str, Any] | None:
    """The arguments as a dict if they are a complete JSON object, else None."""
    if not args:
        return {}
    # A complete object ends with '}': skip json.loads on the (many) partial prefixes.
    if not args.rstrip().endswith("}"):
        return None
    try:
        value = json.loads(args)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _parse_tool_call_chunks(
    chunks: list[ToolCallChunk], *, final: bool
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """The tool calls of a chunk's tool call chunks, and those that are invalid.

    While streaming (``final=False``) only complete JSON objects count. For the finished
    message (``final=True``), as langchain-core's ``message_chunk_to_message``, arguments
    that are the prefix of a JSON object are parsed leniently (``'{"b": '`` is ``{}``);
    what is not an object at all is an invalid tool call with no ``error``.
    """
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for c in chunks:
        args = _parse_args(c["args"])
        if args is None and final:
            args = _parse_partial_args(c["args"])
        if args is not None:
            calls.append(tool_call(name=c["name"] or "", args=args, id=c["id"]))
        elif final:
            invalid.append(invalid_tool_call(name=c["name"], args=c["args"], id=c["id"]))
    return calls, invalid


def _parse_partial_args(args: str | None) -> dict[str, Any] | None:
    """The arguments as a dict if they are (a prefix of) a JSON object, else None."""
    # Imported here: the output parsers import the messages package.
    from runnables.output_parsers.partial_json import parse_partial_json

    try:
        value = parse_partial_json(args or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class HumanMessageChunk(HumanMessage, BaseMessageChunk):
    """A piece of a streamed human message."""

    __slots__ = ()
    type: ClassVar[str] = "HumanMessageChunk"


class SystemMessageChunk(SystemMessage, BaseMessageChunk):
    """A piece of a streamed system message."""

    __slots__ = ()
    type: ClassVar[str] = "SystemMessageChunk"


class ChatMessageChunk(ChatMessage, BaseMessageChunk):
    """A piece of a streamed chat message with a role."""

    __slots__ = ()
    type: ClassVar[str] = "ChatMessageChunk"


class ToolMessageChunk(ToolMessage, BaseMessageChunk):
    """A piece of a streamed tool message."""

    __slots__ = ()
    type: ClassVar[str] = "ToolMessageChunk"


class FunctionMessage(BaseMessage):
    """The result of a (legacy OpenAI) function call; ``name`` is the function's name."""

    __slots__ = ()
    type: ClassVar[str] = "function"

    def __init__(self, content: Content = "", *, name: str, **fields: Any) -> None:
        if not name:
            raise InvalidArgumentError(
                "FunctionMessage needs the name of the function it answers: pass name=... ."
            )
        super().__init__(content, name=name, **fields)


class FunctionMessageChunk(FunctionMessage, BaseMessageChunk):
    """A piece of a streamed function message."""

    __slots__ = ()
    type: ClassVar[str] = "FunctionMessageChunk"


class RemoveMessage(BaseMessage):
    """A request to delete the message with this ``id`` from a list of messages.

    Has no content; used by code that manages conversation state (LangGraph reducers).
    """

    __slots__ = ()
    type: ClassVar[str] = "remove"

    def __init__(self, id: str, **fields: Any) -> None:
        if fields.get("content"):
            raise InvalidArgumentError(
                f"RemoveMessage has no content, got content={fields['content']!r}; pass only "
                "the id of the message to remove."
            )
        fields.pop("content", None)
        super().__init__("", id=id, **fields)


AnyMessage = AIMessage | HumanMessage | SystemMessage | ToolMessage | ChatMessage

_CHUNK_TO_MESSAGE: dict[type[BaseMessage], type[BaseMessage]] = {
    AIMessageChunk: AIMessage,
    HumanMessageChunk: HumanMessage,
    SystemMessageChunk: SystemMessage,
    ChatMessageChunk: ChatMessage,
    ToolMessageChunk: ToolMessage,
    FunctionMessageChunk: FunctionMessage,
}


_MESSAGE_TO_CHUNK: dict[type[BaseMessage], type[BaseMessageChunk]] = {
    v: cast(type[BaseMessageChunk], k) for k, v in _CHUNK_TO_MESSAGE.items()
}


def _message_to_chunk(message: BaseMessage) -> BaseMessageChunk:
    """The chunk of ``message``'s own kind holding all of it (chunks unchanged)."""
    if isinstance(message, BaseMessageChunk):
        return message
    if isinstance(message, AIMessage):
        return AIMessageChunk(
            message.content,
            tool_calls=message.tool_calls,
            invalid_tool_calls=message.invalid_tool_calls,
            usage_metadata=message.usage_metadata,
            additional_kwargs=message.additional_kwargs,
            response_metadata=message.response_metadata,
            name=message.name,
            id=message.id,
            chunk_position="last",
        )
    target = _MESSAGE_TO_CHUNK.get(type(message))
    if target is None:
        raise InputTypeError(
            f"{type(message).__name__} has no chunk type; use one of "
            f"{sorted(t.__name__ for t in _MESSAGE_TO_CHUNK)}."
        )
    fields = {f: getattr(message, f) for f in message._fields if f != "content"}
    return target(message.content, **fields)


def message_chunk_to_message(chunk: BaseMessage) -> BaseMessage:
    """The complete message a (summed) chunk stands for; other messages unchanged.

    For an AI chunk, tool calls whose arguments never became valid JSON move to
    ``invalid_tool_calls``.
    """
    target = _CHUNK_TO_MESSAGE.get(type(chunk))
    if target is None:
        return chunk
    fields = {f: getattr(chunk, f) for f in target._fields if f != "content"}
    if isinstance(chunk, AIMessageChunk) and chunk.tool_call_chunks:
        calls, invalid = _parse_tool_call_chunks(chunk.tool_call_chunks, final=True)
        fields["tool_calls"] = calls
        fields["invalid_tool_calls"] = [*chunk.invalid_tool_calls, *invalid]
    return target(chunk.content, **fields)


# ---------------------------------------------------------------------- merging


def merge_content(first: Content, *others: Content) -> Content:
    """Merge message contents in order (see the module docstring for the rules)."""
    merged: Content = "" if first is None else first
    if isinstance(merged, list):
        merged = list(merged)
    for content in others:
        if isinstance(merged, str):
            if isinstance(content, str):
                merged += content
            else:
                # As in langchain-core: the string becomes the list's first element,
                # even an empty one, and is not joined to a string after it.
                merged = [merged, *content]
        elif isinstance(content, list):
            merged = _merge_blocks(merged, content)
        elif not content:
            pass
        elif merged and isinstance(merged[-1], str):
            merged[-1] += content
        else:
            merged.append(content)
    return merged


def _merge_blocks(left: list[Any], right: list[Any]) -> list[Any]:
    """Append ``right``'s blocks to ``left``, merging dict blocks that are pieces of one.

    As langchain-core's ``merge_lists``: a dict with an integer ``index`` (or a string one
    starting ``lc_``) merges into the first earlier dict with the same index whose ``id``
    does not differ (either empty counts as the same); the later piece's ``type`` is not
    merged. A ``non_standard`` piece adds its ``value`` to a non-standard block, and to a
    standard block as its ``extras``.
    """
    out = left
    for block in right:
        index = block.get("index") if isinstance(block, dict) else None
        if type(index) is int or (isinstance(index, str) and index.startswith("lc_")):
            for i, existing in enumerate(out):
                if (
                    isinstance(existing, dict)
                    and "index" in existing
                    and existing["index"] == index
                    and (
                        existing.get("id") in (None, "")
                        or block.get("id") in (None, "")
                        or existing.get("id") == block.get("id")
                    )
                ):
                    out[i] = merge_dicts(existing, _piece(existing, block))
                    break
            else:
                out.append(block)
        else:
            # Strings in two lists stay separate elements, as in langchain-core.
            out.append(block)
    return out


def merge_lists(left: list[Any] | None, *others: list[Any] | None) -> list[Any] | None:
    """Merge lists of content blocks or chunks in order (langchain-core's ``merge_lists``).

    Dict pieces of one block merge as :func:`_merge_blocks` describes; ``None`` lists are
    skipped, and the result is ``None`` only if every list is. No input list is changed.
    """
    merged = None if left is None else list(left)
    for other in others:
        if other is None:
            continue
        merged = list(other) if merged is None else _merge_blocks(merged, other)
    return merged


def _piece(existing: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """What of ``block`` merges into ``existing`` (see :func:`_merge_blocks`)."""
    if existing.get("type") and block.get("type") == "non_standard" and "value" in block:
        value = {k: v for k, v in block["value"].items() if k != "type"}
        if existing["type"] != "non_standard":
            return {"extras": value}
        return {"value": value, "index": block["index"]}
    return {k: v for k, v in block.items() if k != "type"}


def _finish_v1_content(chunk: AIMessageChunk) -> None:
    """The last chunk of a ``output_version="v1"`` stream, as langchain-core completes it:
    tool call chunk blocks become the parsed tool calls (keeping their ``extras``), and
    server tool call chunks whose arguments are complete JSON become server tool calls."""
    if chunk.response_metadata.get("output_version") != "v1" or not isinstance(chunk.content, list):
        return
    content = list(chunk.content)
    calls = {c["id"]: c for c in chunk.tool_calls if c.get("id")} if chunk.tool_call_chunks else {}
    for i, block in enumerate(content):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "tool_call_chunk" and block.get("id") in calls:
            call = calls[block["id"]]
            done: dict[str, Any] = {
                "type": "tool_call",
                "name": call["name"],
                "args": call["args"],
                "id": call["id"],
            }
            if "extras" in block:
                done["extras"] = block["extras"]
            content[i] = done
        elif kind in ("server_tool_call", "server_tool_call_chunk"):
            raw = block.get("args") or "{}"
            if isinstance(raw, str):
                try:
                    args = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(args, dict):
                    content[i] = {**block, "type": "server_tool_call", "args": args}
    chunk.content = content


#: Fields that langchain-core's messages always show in repr (required, or a factory default).
_REPR_ALWAYS = frozenset(
    {
        "content",
        "additional_kwargs",
        "response_metadata",
        "tool_calls",
        "invalid_tool_calls",
        "tool_call_chunks",
        "tool_call_id",
        "role",
    }
)
#: Defaults of the other fields (None unless listed): shown only when different.
_REPR_DEFAULTS: dict[str, Any] = {"status": "success"}
#: Fields a message class leaves out of its repr (ToolMessage: repr=False there).
_REPR_HIDDEN: dict[str, tuple[str, ...]] = {
    "ToolMessage": ("additional_kwargs", "response_metadata")
}

#: String values under these keys identify something; equal values are not concatenated.
_IDENTITY_KEYS = frozenset(
    {"id", "type", "index", "model", "model_name", "model_provider", "output_version"}
)
#: Int values under these keys identify or timestamp something; they are not summed.
_KEEP_INT_KEYS = frozenset({"index", "created", "timestamp"})


def merge_dicts(left: Mapping[str, Any], *others: Mapping[str, Any]) -> dict[str, Any]:
    """Merge dicts key by key: strings concatenate, numbers add, dicts and lists merge."""
    merged = dict(left)
    for right in others:
        for key, value in right.items():
            old = merged.get(key)
            if old is None:
                if value is not None or key not in merged:
                    merged[key] = value
            elif value is None:
                continue
            elif isinstance(old, str) and isinstance(value, str):
                if not (key in _IDENTITY_KEYS and (old == value or not value)):
                    merged[key] = old + value
            elif isinstance(old, dict) and isinstance(value, dict):
                merged[key] = merge_dicts(old, value)
            elif isinstance(old, list) and isinstance(value, list):
                merged[key] = _merge_blocks(list(old), value)
            elif old == value:
                continue
            elif (
                isinstance(old, (int, float))
                and isinstance(value, (int, float))
                and not isinstance(old, bool)
                and not isinstance(value, bool)
            ):
                merged[key] = value if key in _KEEP_INT_KEYS else old + value
            else:
                raise InputTypeError(
                    f"Cannot merge chunks: key {key!r} holds {old!r} in one chunk and "
                    f"{value!r} in the next, a value of unsupported type "
                    f"{type(value).__name__!r} for merging."
                )
    return merged


def add_usage(left: UsageMetadata | None, right: UsageMetadata | None) -> UsageMetadata:
    """Add two token counts, nested details included (``None`` counts as empty)."""
    if not left and not right:
        # As in langchain-core: no counts on either side add up to zero counts.
        return {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    if not left:
        return cast(UsageMetadata, dict(right or {}))
    if not right:
        return cast(UsageMetadata, dict(left))
    return cast(UsageMetadata, _add_counts(cast(Mapping[str, Any], left), cast(Any, right)))


def subtract_usage(left: UsageMetadata | None, right: UsageMetadata | None) -> UsageMetadata:
    """``left`` minus ``right``, count by count and nested details included, never below
    zero (langchain-core's ``subtract_usage``; ``None`` counts as empty)."""
    if not left and not right:
        return {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    if not left or not right:
        return cast(UsageMetadata, left or right)
    return cast(UsageMetadata, _subtract_counts(cast(Any, left), cast(Any, right)))


def _subtract_counts(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    return _combine_counts(left, right, lambda a, b: max(a - b, 0), "subtract")


def _add_counts(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    return _combine_counts(left, right, operator.add, "add")


def _combine_counts(
    left: Mapping[str, Any],
    right: Mapping[str, Any],
    op: Callable[[int, int], int],
    verb: str,
) -> dict[str, Any]:
    """``op`` on the ints at each key, recursing into dicts, as langchain-core's usage
    arithmetic does: a key missing on one side counts as 0 (or as an empty dict), and any
    other value (a float, None, a string) is refused rather than combined somehow."""
    out: dict[str, Any] = {}
    for key in (*left, *(k for k in right if k not in left)):
        a, b = left.get(key, 0), right.get(key, 0)
        if isinstance(a, int) and isinstance(b, int):
            out[key] = op(a, b)
            continue
        a, b = left.get(key, {}), right.get(key, {})
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out[key] = _combine_counts(a, b, op, verb)
            continue
        types = [type(side[key]).__name__ for side in (left, right) if key in side]
        raise InvalidInputError(
            f"Unknown value types {types} under usage_metadata key {key!r} "
            f"({left.get(key)!r} and {right.get(key)!r}): runnables can only {verb} token "
            "counts that are ints or dicts of ints, as langchain-core; report counts as ints."
        )
    return out


def _merge_tool_call_chunks(lists: Iterable[list[ToolCallChunk]]) -> list[ToolCallChunk]:
    out: list[ToolCallChunk] = []
    by_index: dict[int, int] = {}
    for chunks in lists:
        for c in chunks:
            idx = c["index"]
            pos = by_index.get(idx) if idx is not None else None
            if pos is None:
                if idx is not None:
                    by_index[idx] = len(out)
                out.append(c)
                continue
            old = out[pos]
            out[pos] = tool_call_chunk(
                name=old["name"] or c["name"],
                args=(old["args"] or "") + (c["args"] or "")
                if old["args"] is not None or c["args"] is not None
                else None,
                id=old["id"] or c["id"],
                index=idx,
            )
    return out


_LC_PREFIXES = ("lc_", "run-", "lc_run-")


def _best_id(ids: Iterable[str | None]) -> str | None:
    # Prefer a provider's id over one the library made up ("run-..." / "lc_...").
    fallback = None
    for id_ in ids:
        if not id_:
            continue
        if not id_.startswith(_LC_PREFIXES):
            return id_
        if fallback is None:
            fallback = id_
    return fallback


C = TypeVar("C", bound=BaseMessageChunk)


def _add_other_kinds(first: C, others: Sequence[BaseMessageChunk]) -> C:
    """``first + others`` where some are of another kind (see ``BaseMessageChunk.__add__``)."""
    new = first.model_copy(deep=True)  # shares no list or dict with ``first``
    new.content = merge_content(first.content, *(o.content for o in others))
    new.additional_kwargs = merge_dicts(
        first.additional_kwargs, *(o.additional_kwargs for o in others)
    )
    new.response_metadata = merge_dicts(
        first.response_metadata, *(o.response_metadata for o in others)
    )
    return new


def add_ai_message_chunks(left: AIMessageChunk, *others: AIMessageChunk) -> AIMessageChunk:
    """Sum AI message chunks (langchain-core's name for :func:`add_chunks` on them)."""
    return add_chunks(left, *others)


def add_chunks(first: C, *others: BaseMessageChunk) -> C:
    """Sum chunks in one pass (linear in total size, unlike repeated ``+``)."""
    if not others:
        return first
    cls = type(first)
    for o in others:
        if not isinstance(o, cls):
            raise InputTypeError(
                f"Cannot add {o!r} (a {type(o).__name__}) to a {cls.__name__}; only chunks "
                "of the same kind add up. Convert messages with message_chunk_to_message."
            )
        if isinstance(first, ToolMessageChunk) and isinstance(o, ToolMessageChunk):
            if o.tool_call_id != first.tool_call_id:
                raise InvalidInputError(
                    "Cannot add ToolMessageChunks with different tool_call_id values: "
                    f"{first.tool_call_id!r} and {o.tool_call_id!r}."
                )
        elif isinstance(first, FunctionMessageChunk) and o.name != first.name:
            raise InvalidInputError(
                "Cannot concatenate FunctionMessageChunks with different names: "
                f"{first.name!r} and {o.name!r}."
            )
        elif (
            isinstance(first, ChatMessageChunk)
            and isinstance(o, ChatMessageChunk)
            and o.role != first.role
        ):
            raise InvalidInputError(
                "Cannot concatenate ChatMessageChunks with different roles: "
                f"{first.role!r} and {o.role!r}."
            )
    everything: tuple[BaseMessageChunk, ...] = (first, *others)
    contents = [c.content for c in everything]
    if all(type(c) is str for c in contents):
        content: Content = "".join(cast(list[str], contents))
    else:
        content = merge_content(contents[0], *contents[1:])
    additional = (
        merge_dicts(*[c.additional_kwargs for c in everything])
        if any(c.additional_kwargs for c in everything)
        else {}
    )
    metadata = (
        merge_dicts(*[c.response_metadata for c in everything])
        if any(c.response_metadata for c in everything)
        else {}
    )
    new = object.__new__(cls)
    new.content = content
    new.additional_kwargs = additional
    new.response_metadata = metadata
    new.name = next((c.name for c in everything if c.name), None)
    new.id = _best_id(c.id for c in everything)
    if isinstance(new, AIMessageChunk):
        ai: Sequence[AIMessageChunk] = [c for c in everything if isinstance(c, AIMessageChunk)]
        usage: UsageMetadata | None = None
        for c in ai:
            if c.usage_metadata is not None:
                usage = add_usage(usage, c.usage_metadata)
        new.usage_metadata = usage
        new.chunk_position = "last" if any(c.chunk_position == "last" for c in ai) else None
        if any(c.tool_call_chunks for c in ai):
            new.tool_call_chunks = _merge_tool_call_chunks(c.tool_call_chunks for c in ai)
            new.tool_calls, new.invalid_tool_calls = _parse_tool_call_chunks(
                new.tool_call_chunks, final=False
            )
        else:
            new.tool_call_chunks = []
            new.tool_calls = [t for c in ai for t in c.tool_calls]
            new.invalid_tool_calls = [t for c in ai for t in c.invalid_tool_calls]
        if new.chunk_position == "last" and metadata:
            _finish_v1_content(cast(AIMessageChunk, new))
    elif isinstance(new, ToolMessageChunk):
        src = cast(ToolMessageChunk, first)
        new.tool_call_id = src.tool_call_id
        new.artifact = next(
            (a for c in everything if (a := getattr(c, "artifact", None)) is not None), None
        )
        new.status = (
            "error"
            if any(getattr(c, "status", "success") == "error" for c in everything)
            else "success"
        )
    elif isinstance(new, ChatMessageChunk):
        new.role = cast(ChatMessageChunk, first).role
    return new
