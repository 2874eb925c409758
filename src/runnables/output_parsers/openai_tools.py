"""Parsers of a model's tool calls: as JSON dicts, one tool's arguments, or pydantic models.

They read ``AIMessage.tool_calls`` (or, for a message that has none, OpenAI-style
``additional_kwargs["tool_calls"]``). Streaming, they yield the calls parsed so far each
time they grow, arguments included as partial JSON, as langchain-core's do.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from pydantic import SkipValidation

from runnables.core.config import Context
from runnables.errors import InvalidInputError, UnsupportedError
from runnables.messages.base import AIMessage, AIMessageChunk, BaseMessage
from runnables.output_parsers.base import BaseOutputParser, OutputParserException
from runnables.output_parsers.partial_json import parse_partial_json

_logger = logging.getLogger(__name__)

_MAX_TOKENS_ERROR = (
    "Output parser received a `max_tokens` stop reason. The output is likely "
    "incomplete—please increase `max_tokens` or shorten your prompt."
)

__all__ = [
    "JsonOutputKeyToolsParser",
    "JsonOutputToolsParser",
    "PydanticToolsParser",
    "parse_tool_call",
    "parse_tool_calls",
]


def parse_tool_call(
    raw_tool_call: dict[str, Any],
    *,
    partial: bool = False,
    strict: bool = False,
    return_id: bool = True,
) -> dict[str, Any] | None:
    """A tool call from OpenAI's format (``{"function": {"name", "arguments"}, "id"}``)."""
    if "function" not in raw_tool_call:
        return None
    arguments = raw_tool_call["function"]["arguments"]
    if partial:
        try:
            args = parse_partial_json(arguments, strict=strict)
        except (ValueError, TypeError):
            return None
    elif not arguments:
        args = {}
    else:
        try:
            args = json.loads(arguments, strict=strict)
        except json.JSONDecodeError as exc:
            raise OutputParserException(
                f"Function {raw_tool_call['function']['name']} arguments:\n\n{arguments}\n\n"
                f"are not valid JSON. Received JSONDecodeError {exc}"
            ) from exc
    parsed: dict[str, Any] = {"name": raw_tool_call["function"]["name"] or "", "args": args or {}}
    if return_id:
        parsed["id"] = raw_tool_call.get("id")
        parsed["type"] = "tool_call"
    return parsed


def parse_tool_calls(
    raw_tool_calls: list[dict[str, Any]],
    *,
    partial: bool = False,
    strict: bool = False,
    return_id: bool = True,
) -> list[dict[str, Any]]:
    """Every tool call of a list in OpenAI's format; all argument errors in one exception."""
    out: list[dict[str, Any]] = []
    errors: list[str] = []
    for raw in raw_tool_calls:
        try:
            parsed = parse_tool_call(raw, partial=partial, strict=strict, return_id=return_id)
        except OutputParserException as exc:
            errors.append(str(exc))
            continue
        if parsed:
            out.append(parsed)
    if errors:
        raise OutputParserException("\n\n".join(errors))
    return out


def _message_of(value: Any) -> BaseMessage:
    if isinstance(value, BaseMessage):
        return value
    message = getattr(value, "message", None)  # a ChatGeneration
    if isinstance(message, BaseMessage):
        return message
    raise OutputParserException(
        f"This output parser can only be used with a chat generation or message, got "
        f"{value!r} (a {type(value).__name__}). Put it right after a chat model."
    )


class JsonOutputToolsParser(BaseOutputParser[Any]):
    """The model's tool calls as dicts ``{"type": name, "args": {...}}``.

    ``return_id`` adds each call's ``id``; ``first_tool_only`` returns the first call (or
    ``None``) instead of a list; ``strict`` refuses control characters in strings.

    >>> from runnables.messages import AIMessage
    >>> msg = AIMessage("", tool_calls=[{"name": "add", "args": {"a": 1}, "id": "c1"}])
    >>> JsonOutputToolsParser().invoke(msg)
    [{'args': {'a': 1}, 'type': 'add'}]
    """

    strict: bool = False
    """Refuse control characters in JSON strings (``json.loads(strict=True)``)."""
    return_id: bool = False
    """Add each call's ``id`` to its dict."""
    first_tool_only: bool = False
    """Return only the first call (or ``None``) instead of a list."""

    # ------------------------------------------------------------------ parsing

    def _tool_calls(self, message: BaseMessage, partial: bool) -> list[dict[str, Any]]:
        if isinstance(message, AIMessageChunk) and partial and message.tool_call_chunks:
            calls = []
            for chunk in message.tool_call_chunks:
                try:
                    args = parse_partial_json(chunk["args"] or "{}", strict=self.strict)
                except (ValueError, TypeError):
                    continue
                call: dict[str, Any] = {"name": chunk["name"] or "", "args": args or {}}
                if self.return_id:
                    call["id"] = chunk["id"]
                    call["type"] = "tool_call"
                calls.append(call)
        elif isinstance(message, AIMessage) and message.tool_calls:
            calls = [dict(tc) for tc in message.tool_calls]
            if not self.return_id:
                for tc in calls:
                    tc.pop("id", None)
        else:
            raw = message.additional_kwargs.get("tool_calls")
            if not raw:
                return []
            calls = parse_tool_calls(
                copy.deepcopy(raw), partial=partial, strict=self.strict, return_id=self.return_id
            )
        for tc in calls:
            tc["type"] = tc.pop("name")
        return calls

    def parse_result(self, result: Sequence[Any], *, partial: bool = False) -> Any:
        """Parse the first generation (or message) of ``result``."""
        calls = self._tool_calls(_message_of(result[0]), partial)
        if self.first_tool_only:
            return calls[0] if calls else None
        return calls

    def parse(self, text: str) -> Any:
        """Tool calls live in messages, not text: pass the model's message instead."""
        raise UnsupportedError(
            f"{type(self).__name__} parses a model's message (its tool calls), not text; put "
            "it right after a chat model."
        )

    async def _ainvoke(self, input: Any, ctx: Context) -> Any:
        return self.parse_result([input])

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[Any]:
        merged: Any = None
        previous: Any = _NOTHING
        try:
            async for chunk in inputs:
                message = _message_of(chunk)
                if not isinstance(message, AIMessageChunk):
                    message = AIMessageChunk(
                        message.content,
                        tool_calls=getattr(message, "tool_calls", None),
                        additional_kwargs=message.additional_kwargs,
                    )
                merged = message if merged is None else merged + message
                try:
                    parsed = self.parse_result([merged], partial=True)
                except OutputParserException:
                    continue
                if parsed is not None and parsed != previous:
                    previous = copy.deepcopy(parsed)
                    yield parsed
            if merged is not None:
                final = self.parse_result([_complete(merged)], partial=False)
                if final != previous:
                    yield final
        finally:
            aclose = getattr(inputs, "aclose", None)
            if aclose is not None:
                await aclose()


_NOTHING = object()


def _complete(chunk: AIMessageChunk) -> AIMessage:
    from runnables.messages.base import message_chunk_to_message

    message = message_chunk_to_message(chunk)
    return message if isinstance(message, AIMessage) else AIMessage(chunk.content)


class JsonOutputKeyToolsParser(JsonOutputToolsParser):
    """The arguments of the calls to one tool (``key_name``).

    With ``return_id`` each result is the whole call dict; with ``first_tool_only`` the
    first such call (or ``None``).
    """

    key_name: str
    """The name of the tool whose calls are returned."""

    def __init__(self, key_name: str | None = None, /, **fields: Any) -> None:
        # The key may also be given by position (runnables' older signature).
        if key_name is not None:
            fields["key_name"] = key_name
        super().__init__(**fields)

    def parse_result(self, result: Sequence[Any], *, partial: bool = False) -> Any:
        """The matching calls of the first generation (or message) of ``result``."""
        calls = [
            c
            for c in self._tool_calls(_message_of(result[0]), partial)
            if c["type"] == self.key_name
        ]
        if self.first_tool_only:
            if not calls:
                return None
            return calls[0] if self.return_id else calls[0]["args"]
        return calls if self.return_id else [c["args"] for c in calls]


class PydanticToolsParser(JsonOutputToolsParser):
    """The model's tool calls as instances of the pydantic models in ``tools``.

    A call is matched to a model by the model's title or class name. An unknown tool
    name is an :class:`OutputParserException`; invalid arguments raise pydantic's
    ``ValidationError``. While streaming, calls whose arguments do not validate yet are
    left out.
    """

    tools: Annotated[list[type[Any]], SkipValidation()]
    """The pydantic model classes the calls are validated into."""

    def __init__(self, tools: Sequence[type[Any]] | None = None, /, **fields: Any) -> None:
        # The tools may also be given by position (runnables' older signature).
        if tools is not None:
            fields["tools"] = list(tools)
        super().__init__(**fields)

    def parse_result(self, result: Sequence[Any], *, partial: bool = False) -> Any:
        """The calls of the first generation (or message), validated into models."""
        from pydantic import ValidationError

        calls = self._tool_calls(_message_of(result[0]), partial)
        if self.first_tool_only:
            calls = calls[:1]
        by_name = {t.model_config.get("title") or t.__name__: t for t in self.tools}
        objects = []
        for call in calls:
            if not isinstance(call["args"], dict):
                if partial:
                    continue
                raise InvalidInputError(
                    f"Tool arguments must be specified as a dict, received: {call['args']}"
                )
            model = by_name.get(call["type"])
            if model is None:
                available = ", ".join(by_name) or "<no_tools>"
                raise OutputParserException(
                    f"Unknown tool type: {call['type']!r}. Available tools: {available}"
                )
            try:
                objects.append(model(**call["args"]))
            except (ValidationError, ValueError) as exc:
                if partial:
                    continue
                if any(
                    isinstance(m := getattr(r, "message", r), BaseMessage)
                    and m.response_metadata.get("stop_reason") == "max_tokens"
                    for r in result
                ):
                    # The usual cause: the model ran out of tokens mid-arguments. Logged
                    # as langchain-core logs it, and said on the error itself.
                    _logger.error(_MAX_TOKENS_ERROR, exc_info=True)
                    exc.add_note(_MAX_TOKENS_ERROR)
                raise
        if self.first_tool_only:
            return objects[0] if objects else None
        return objects
