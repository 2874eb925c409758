"""Turning what users write into messages, and messages into wire formats.

:func:`convert_to_messages` accepts, for each message:

- a message object (kept as is);
- a string (a human message);
- a ``(role, content)`` tuple, with role ``human``/``user``, ``ai``/``assistant``,
  ``system``/``developer``, or ``("tool", content, tool_call_id)``;
- an OpenAI-style dict (``{"role": ..., "content": ..., "tool_calls": [...]}``), or a
  dict with ``type`` instead of ``role`` (``{"type": "human", "content": ...}``), or the
  ``{"type": ..., "data": {...}}`` form :func:`messages_to_dict` writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from runnables.errors import InputTypeError, InvalidInputError
from runnables.messages.base import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    ChatMessageChunk,
    FunctionMessage,
    HumanMessage,
    HumanMessageChunk,
    InvalidToolCall,
    RemoveMessage,
    SystemMessage,
    SystemMessageChunk,
    ToolCall,
    ToolMessage,
    ToolMessageChunk,
    invalid_tool_call,
    tool_call,
)

__all__ = [
    "MessageLikeRepresentation",
    "convert_to_message",
    "convert_to_messages",
    "get_buffer_string",
    "message_to_dict",
    "message_to_openai_dict",
    "messages_from_dict",
    "messages_to_dict",
    "messages_to_openai",
]

MessageLikeRepresentation = BaseMessage | str | tuple[str, Any] | Mapping[str, Any]

_ACCEPTED = (
    "Accepted forms: a message object (HumanMessage(...), AIMessage(...)...), a string "
    "(a human message), a (role, content) tuple with role 'human'/'user', 'ai'/'assistant', "
    "'system'/'developer' (or ('tool', content, tool_call_id)), or a dict like "
    '{"role": "user", "content": "..."}.'
)

_ROLE_CLASSES: dict[str, type[BaseMessage]] = {
    "human": HumanMessage,
    "user": HumanMessage,
    "ai": AIMessage,
    "assistant": AIMessage,
    "system": SystemMessage,
    "developer": SystemMessage,
    "tool": ToolMessage,
    "chat": ChatMessage,
    "AIMessageChunk": AIMessageChunk,
    "HumanMessageChunk": HumanMessageChunk,
    "SystemMessageChunk": SystemMessageChunk,
    "ToolMessageChunk": ToolMessageChunk,
    "ChatMessageChunk": ChatMessageChunk,
}


def convert_to_messages(
    messages: Iterable[MessageLikeRepresentation] | Any,
) -> list[BaseMessage]:
    """Turn a list of message-like values (or a prompt value) into message objects.

    >>> convert_to_messages([("system", "Be brief."), "Hi"])
    [SystemMessage(content='Be brief.'), HumanMessage(content='Hi')]
    """
    to_messages = getattr(messages, "to_messages", None)
    if to_messages is not None and not isinstance(messages, (str, Mapping)):
        out = list(to_messages())
        if out and not isinstance(out[0], BaseMessage):
            # A langchain-core prompt value: its messages are langchain-core's.
            return [convert_to_message(m) for m in out]
        return out
    if isinstance(messages, (str, Mapping, BaseMessage)):
        return [convert_to_message(messages)]
    if type(messages) is not list and type(messages).__module__.startswith("langchain_core."):
        # A langchain-core message: a pydantic model, so iterable, but one message.
        return [convert_to_message(cast(BaseMessage, messages))]
    if not isinstance(messages, Iterable):
        raise InputTypeError(
            f"Cannot turn {messages!r} (a {type(messages).__name__}) into messages: expected "
            f"a list of messages or a prompt value. {_ACCEPTED}"
        )
    return [convert_to_message(m) for m in messages]


def convert_to_message(message: MessageLikeRepresentation) -> BaseMessage:
    """Turn one message-like value into a message object (see the module docstring)."""
    if isinstance(message, BaseMessage):
        return message
    if isinstance(message, str):
        return HumanMessage(message)
    if isinstance(message, (tuple, list)):
        return _from_tuple(message)
    if isinstance(message, Mapping):
        return _from_dict(message)
    if type(message).__module__.startswith("langchain_core."):
        from runnables.interop.values import from_langchain

        converted = from_langchain(message)
        if isinstance(converted, BaseMessage):
            return converted
    raise InputTypeError(
        f"Cannot turn {message!r} (a {type(message).__name__}) into a message. {_ACCEPTED}"
    )


def _from_tuple(message: Sequence[Any]) -> BaseMessage:
    if len(message) not in (2, 3) or not isinstance(message[0], str):
        raise InputTypeError(
            f"Cannot turn {message!r} into a message: a tuple must be (role, content). {_ACCEPTED}"
        )
    role, content = message[0], message[1]
    if role == "tool":
        if len(message) != 3:
            raise InvalidInputError(
                f"Cannot turn {message!r} into a tool message: it needs the id of the tool "
                "call it answers, as ('tool', content, tool_call_id)."
            )
        return ToolMessage(content, tool_call_id=message[2])
    if len(message) == 3:
        raise InputTypeError(
            f"Cannot turn {message!r} into a message: only 'tool' tuples take a third item."
        )
    cls = _ROLE_CLASSES.get(role)
    if cls is None or cls is ChatMessage or "Chunk" in role:
        raise InvalidInputError(
            f"Unknown message role {role!r} in {message!r}. Use 'human' (or 'user'), 'ai' "
            "(or 'assistant'), 'system' (or 'developer'), or 'tool'."
        )
    if role == "developer":
        return SystemMessage(content, additional_kwargs={"__openai_role__": "developer"})
    return cls(content)


def _from_dict(message: Mapping[str, Any]) -> BaseMessage:
    if "data" in message and "type" in message and isinstance(message["data"], Mapping):
        return _from_dict({**message["data"], "type": message["type"]})
    fields = dict(message)
    role = fields.pop("role", None) or fields.pop("type", None)
    fields.pop("type", None)
    if role is None:
        raise InvalidInputError(
            f"Cannot turn {dict(message)!r} into a message: the dict has neither 'role' nor "
            f"'type'. {_ACCEPTED}"
        )
    cls = _ROLE_CLASSES.get(role)
    content = fields.pop("content", None)
    if content is None:
        content = ""
    kwargs: dict[str, Any] = {}
    for key in ("name", "id", "additional_kwargs", "response_metadata"):
        if fields.get(key) is not None:
            kwargs[key] = fields.pop(key)
    extra = {k: v for k, v in fields.items() if k not in _MESSAGE_KEYS}
    if extra:
        # As langchain-core: keys a message has no field for (an OpenAI dict's
        # "function_call", say) are kept in additional_kwargs.
        kwargs["additional_kwargs"] = {**extra, **(kwargs.get("additional_kwargs") or {})}
    if role == "developer":
        # As langchain-core: a system message that remembers OpenAI's developer role.
        kwargs["additional_kwargs"] = {
            **(kwargs.get("additional_kwargs") or {}),
            "__openai_role__": "developer",
        }
    if role == "function":
        return FunctionMessage(content, **kwargs)
    if role == "remove":
        return RemoveMessage(**kwargs)
    if cls is None:
        return ChatMessage(content, role=str(role), **kwargs)
    if issubclass(cls, ChatMessage):
        return cls(content, role=fields.get("role") or str(role), **kwargs)
    if issubclass(cls, ToolMessage):
        if "tool_call_id" not in fields:
            raise InvalidInputError(
                f"Cannot turn {dict(message)!r} into a tool message: it has no "
                "'tool_call_id' (the id of the tool call it answers)."
            )
        return cls(
            content,
            tool_call_id=fields["tool_call_id"],
            artifact=fields.get("artifact"),
            status=fields.get("status") or "success",
            **kwargs,
        )
    if issubclass(cls, AIMessage):
        calls, invalid = _tool_calls_from_dict(fields)
        usage = fields.get("usage_metadata")
        return cls(
            content, tool_calls=calls, invalid_tool_calls=invalid, usage_metadata=usage, **kwargs
        )
    return cls(content, **kwargs)


#: The keys of a message dict that are message fields (the rest go to additional_kwargs).
_MESSAGE_KEYS = frozenset(
    {
        "role",
        "type",
        "content",
        "tool_call_id",
        "artifact",
        "status",
        "tool_calls",
        "invalid_tool_calls",
        "tool_call_chunks",
        "usage_metadata",
        "chunk_position",
        "name",
        "id",
        "additional_kwargs",
        "response_metadata",
    }
)


def _tool_calls_from_dict(
    fields: Mapping[str, Any],
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = list(fields.get("invalid_tool_calls") or [])
    for raw in fields.get("tool_calls") or []:
        if "function" in raw:  # OpenAI's wire format: arguments are a JSON string
            fn = raw["function"]
            arguments = fn.get("arguments") or "{}"
            try:
                args = json.loads(arguments) if isinstance(arguments, str) else arguments
            except ValueError as exc:
                invalid.append(
                    invalid_tool_call(
                        name=fn.get("name"), args=arguments, id=raw.get("id"), error=str(exc)
                    )
                )
                continue
            if not isinstance(args, dict):
                invalid.append(
                    invalid_tool_call(
                        name=fn.get("name"),
                        args=arguments,
                        id=raw.get("id"),
                        error="The arguments are not a JSON object.",
                    )
                )
                continue
            calls.append(tool_call(name=fn.get("name", ""), args=args, id=raw.get("id")))
        else:
            calls.append(tool_call(name=raw["name"], args=raw.get("args") or {}, id=raw.get("id")))
    return calls, invalid


# ---------------------------------------------------------------------- out


def message_to_dict(message: BaseMessage) -> dict[str, Any]:
    """The ``{"type": ..., "data": {...}}`` form (langchain-core's), for storage."""
    return {"type": message.type, "data": message.model_dump()}


def messages_to_dict(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """:func:`message_to_dict` for each message."""
    return [message_to_dict(m) for m in messages]


def messages_from_dict(messages: Sequence[Mapping[str, Any]]) -> list[BaseMessage]:
    """The inverse of :func:`messages_to_dict`."""
    return [_from_dict(m) for m in messages]


_OPENAI_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def message_to_openai_dict(message: BaseMessage) -> dict[str, Any]:
    """The message in OpenAI's chat-completions format.

    >>> message_to_openai_dict(HumanMessage("Hi"))
    {'role': 'user', 'content': 'Hi'}
    """
    role: str | None
    if isinstance(message, ChatMessage):
        role = message.role
    else:
        role = _OPENAI_ROLES.get(message.type.removesuffix("MessageChunk").lower())
        if message.type == "AIMessageChunk":
            role = "assistant"
        elif role == "system" and message.additional_kwargs.get("__openai_role__") == "developer":
            role = "developer"  # a ("developer", ...) message, as langchain-openai sends it
        if role is None:
            raise InvalidInputError(
                f"Cannot send a {type(message).__name__} to an OpenAI-style API: it has no "
                "matching role."
            )
    content: Any = message.content
    if isinstance(content, list):
        content = [{"type": "text", "text": b} if isinstance(b, str) else b for b in content]
    out: dict[str, Any] = {"role": role, "content": content}
    if message.name:
        out["name"] = message.name
    if isinstance(message, AIMessage):
        calls: list[dict[str, Any]] = [
            {
                "id": t["id"],
                "type": "function",
                "function": {"name": t["name"], "arguments": json.dumps(t["args"])},
            }
            for t in message.tool_calls
        ]
        calls += [
            {
                "id": t["id"],
                "type": "function",
                "function": {"name": t["name"], "arguments": t["args"] or ""},
            }
            for t in message.invalid_tool_calls
        ]
        if calls:
            out["tool_calls"] = calls
            if not content:
                out["content"] = None
    elif isinstance(message, ToolMessage):
        out["tool_call_id"] = message.tool_call_id
    return out


def messages_to_openai(messages: Iterable[MessageLikeRepresentation]) -> list[dict[str, Any]]:
    """Message-like values in OpenAI's chat-completions format."""
    return [message_to_openai_dict(m) for m in convert_to_messages(messages)]


def get_buffer_string(
    messages: Sequence[BaseMessage],
    human_prefix: str = "Human",
    ai_prefix: str = "AI",
    *,
    system_prefix: str = "System",
    function_prefix: str = "Function",
    tool_prefix: str = "Tool",
    message_separator: str = "\n",
) -> str:
    """The conversation as ``"Role: text"`` lines (langchain-core's ``prefix`` format).

    An AI message's tool calls (or legacy ``function_call``) follow its text, as
    langchain-core prints them; ``message_separator`` goes between messages.
    """
    from runnables.messages.base import FunctionMessage

    lines = []
    for m in messages:
        if isinstance(m, HumanMessage):
            role = human_prefix
        elif isinstance(m, AIMessage):
            role = ai_prefix
        elif isinstance(m, SystemMessage):
            role = system_prefix
        elif isinstance(m, FunctionMessage):
            role = function_prefix
        elif isinstance(m, ToolMessage):
            role = tool_prefix
        elif isinstance(m, ChatMessage):
            role = m.role
        else:
            role = m.type
        line = f"{role}: {m._text()}"
        if isinstance(m, AIMessage):
            if m.tool_calls:
                line += str(m.tool_calls)
            elif "function_call" in m.additional_kwargs:
                line += str(m.additional_kwargs["function_call"])
        lines.append(line)
    return message_separator.join(lines)
