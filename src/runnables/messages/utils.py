"""Working with lists of messages: filter, merge runs, trim to a budget, OpenAI format.

Each of ``filter_messages``, ``merge_message_runs`` and ``trim_messages`` called without
``messages`` returns a step doing that, for a chain
(``trim_messages(max_tokens=100, token_counter=len) | model``), as in langchain-core.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

from runnables.messages.base import (
    AIMessage,
    BaseMessage,
    BaseMessageChunk,
    SystemMessage,
    ToolMessage,
    _message_to_chunk,
    message_chunk_to_message,
)
from runnables.messages.convert import (
    MessageLikeRepresentation,
    convert_to_messages,
    message_to_openai_dict,
)

__all__ = [
    "convert_to_openai_messages",
    "count_tokens_approximately",
    "filter_messages",
    "merge_message_runs",
    "trim_messages",
]

_TYPE_NAMES = {
    "human": "human",
    "user": "human",
    "ai": "ai",
    "assistant": "ai",
    "system": "system",
    "tool": "tool",
    "function": "function",
    "chat": "chat",
}


def _as_step(func: Callable[..., list[BaseMessage]], kwargs: dict[str, Any]) -> Any:
    from runnables.core.function import RunnableLambda

    return RunnableLambda(functools.partial(func, **kwargs), name=func.__name__)


def _matches_type(message: BaseMessage, types: Any) -> bool:
    if isinstance(types, (str, type)):
        types = [types]
    for t in types:
        if isinstance(t, str):
            if _TYPE_NAMES.get(t, t) == message.type or t == type(message).__name__:
                return True
        elif isinstance(message, t):
            return True
    return False


def filter_messages(
    messages: Sequence[MessageLikeRepresentation] | None = None,
    *,
    include_names: Sequence[str] | None = None,
    exclude_names: Sequence[str] | None = None,
    include_types: Sequence[str | type[BaseMessage]] | None = None,
    exclude_types: Sequence[str | type[BaseMessage]] | None = None,
    include_ids: Sequence[str] | None = None,
    exclude_ids: Sequence[str] | None = None,
    exclude_tool_calls: Sequence[str] | bool | None = None,
) -> Any:
    """The messages matching any ``include_*`` rule (all, if none) and no ``exclude_*`` one.

    Types are names (``"human"``, ``"ai"``, ``"system"``, ``"tool"``...) or message
    classes. ``exclude_tool_calls=True`` drops AI tool calls and the tool messages
    answering them; a list of ids drops just those calls.

    >>> from runnables.messages import HumanMessage, AIMessage
    >>> filter_messages([HumanMessage("hi"), AIMessage("yo")], include_types=["human"])
    [HumanMessage(content='hi')]
    """
    if messages is None:
        return _as_step(filter_messages, {k: v for k, v in locals().items() if k != "messages"})
    out: list[BaseMessage] = []
    includes = (include_names, include_types, include_ids)
    for msg in convert_to_messages(messages):
        if exclude_names and msg.name in exclude_names:
            continue
        if exclude_types and _matches_type(msg, exclude_types):
            continue
        if exclude_ids and msg.id in exclude_ids:
            continue
        if exclude_tool_calls is True and (
            (isinstance(msg, AIMessage) and msg.tool_calls) or isinstance(msg, ToolMessage)
        ):
            continue
        if isinstance(exclude_tool_calls, (list, tuple, set)):
            if isinstance(msg, ToolMessage) and msg.tool_call_id in exclude_tool_calls:
                continue
            if isinstance(msg, AIMessage) and msg.tool_calls:
                kept = [tc for tc in msg.tool_calls if tc["id"] not in exclude_tool_calls]
                if not kept:  # every call excluded: the message goes, as in langchain-core
                    continue
                if len(kept) != len(msg.tool_calls):
                    content = msg.content
                    if isinstance(content, list):
                        content = [
                            b
                            for b in content
                            if not (
                                isinstance(b, dict)
                                and b.get("type") == "tool_use"
                                and b.get("id") in exclude_tool_calls
                            )
                        ]
                    msg = msg.model_copy(update={"tool_calls": kept, "content": content})
        if any(includes) and not (
            (include_names and msg.name in include_names)
            or (include_types and _matches_type(msg, include_types))
            or (include_ids and msg.id in include_ids)
        ):
            continue
        out.append(msg)
    return out


def merge_message_runs(
    messages: Sequence[MessageLikeRepresentation] | None = None, *, chunk_separator: str = "\n"
) -> Any:
    """Consecutive messages of the same kind merged into one (tool messages never are).

    String contents join with ``chunk_separator``; an AI message's tool calls add up.

    >>> from runnables.messages import HumanMessage
    >>> merge_message_runs([HumanMessage("a"), HumanMessage("b")])
    [HumanMessage(content='a\\nb')]
    """
    if messages is None:
        return _as_step(merge_message_runs, {"chunk_separator": chunk_separator})
    merged: list[BaseMessage] = []
    for msg in convert_to_messages(messages):
        last = merged[-1] if merged else None
        if (
            last is None
            or isinstance(msg, ToolMessage)
            or type(message_chunk_to_message(last)) is not type(message_chunk_to_message(msg))
        ):
            merged.append(msg)
            continue
        left = _message_to_chunk(last.model_copy(update={"id": last.id}))
        right = _message_to_chunk(msg)
        if chunk_separator and left.content and right.content:
            if isinstance(left.content, str) and isinstance(right.content, str):
                left = left.model_copy(update={"content": left.content + chunk_separator})
            elif isinstance(left.content, list):
                left = left.model_copy(update={"content": [*left.content, chunk_separator]})
        total: BaseMessageChunk = left + right
        merged[-1] = message_chunk_to_message(total)
    return merged


def _openai_role(message: BaseMessage) -> str:
    from runnables.messages.base import ChatMessage, FunctionMessage, HumanMessage

    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, SystemMessage):
        return str(message.additional_kwargs.get("__openai_role__", "system"))
    if isinstance(message, FunctionMessage):
        return "function"
    if isinstance(message, ToolMessage):
        return "tool"
    if isinstance(message, ChatMessage):
        return message.role
    raise ValueError(f"Unknown BaseMessage type {type(message).__name__}.")


def count_tokens_approximately(
    messages: Sequence[MessageLikeRepresentation],
    *,
    chars_per_token: float = 4.0,
    extra_tokens_per_message: float = 3.0,
    count_name: bool = True,
    tokens_per_image: int = 85,
    use_usage_metadata_scaling: bool = False,
    tools: Sequence[Any] | None = None,
) -> int:
    """An estimate of the tokens in ``messages``, computed as langchain-core computes it.

    Per message: the characters of its text, tool calls (for string content), tool
    call id, OpenAI role and name, divided by ``chars_per_token`` and rounded up, plus
    ``extra_tokens_per_message``; ``tokens_per_image`` per image block. ``tools`` adds
    their JSON definitions. ``use_usage_metadata_scaling`` scales the estimate up (at
    most 1.25x) by the last AI message's reported ``total_tokens``.
    """
    import json

    converted = convert_to_messages(messages)
    count = 0.0
    if tools:
        chars = 0
        for tool in tools:
            if isinstance(tool, dict):
                definition = tool
            else:
                schema = tool.tool_call_schema
                params = dict(schema) if isinstance(schema, dict) else schema.model_json_schema()
                params.pop("title", None)
                params.pop("description", None)
                definition = {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": params,
                }
            chars += len(json.dumps(definition))
        count += math.ceil(chars / chars_per_token)
    provider: str | None = None
    mixed_providers = False
    last_total: int | None = None
    count_at_last: float | None = None
    for message in converted:
        chars = 0
        if isinstance(message.content, str):
            chars += len(message.content)
        else:
            for block in message.content:
                if isinstance(block, str):
                    chars += len(block)
                elif block.get("type", "") in ("image", "image_url"):
                    count += tokens_per_image
                elif block.get("type") == "text":
                    chars += len(block.get("text", ""))
                else:
                    chars += len(repr(block))
        if (
            isinstance(message, AIMessage)
            and not isinstance(message.content, list)
            and message.tool_calls
        ):
            chars += len(repr(message.tool_calls))
        if isinstance(message, ToolMessage):
            chars += len(message.tool_call_id)
        chars += len(_openai_role(message))
        if message.name and count_name:
            chars += len(message.name)
        count += math.ceil(chars / chars_per_token)
        count += extra_tokens_per_message
        if use_usage_metadata_scaling and isinstance(message, AIMessage):
            model_provider = message.response_metadata.get("model_provider")
            if provider is None:
                provider = model_provider
            elif model_provider != provider:
                mixed_providers = True
            total = (message.usage_metadata or {}).get("total_tokens")
            if isinstance(total, int):
                last_total = total
                count_at_last = count
    if (
        use_usage_metadata_scaling
        and len(converted) > 1
        and not mixed_providers
        and provider is not None
        and last_total is not None
        and count_at_last
    ):
        count *= min(1.25, max(1.0, last_total / count_at_last))
    return math.ceil(count)


def _counter(token_counter: Any) -> Callable[[list[BaseMessage]], int]:
    if token_counter == "approximate":
        return count_tokens_approximately
    counter = getattr(token_counter, "get_num_tokens_from_messages", None)
    if counter is not None:
        return counter  # type: ignore[no-any-return]
    if callable(token_counter):
        return token_counter  # type: ignore[no-any-return]
    raise ValueError(
        f"token_counter must be a function of a list of messages, a chat model, or "
        f"'approximate', got {token_counter!r}."
    )


def trim_messages(
    messages: Sequence[MessageLikeRepresentation] | None = None,
    *,
    max_tokens: int,
    token_counter: Any,
    strategy: Literal["first", "last"] = "last",
    allow_partial: bool = False,
    end_on: Sequence[str | type[BaseMessage]] | None = None,
    start_on: Sequence[str | type[BaseMessage]] | None = None,
    include_system: bool = False,
) -> Any:
    """The longest run of messages from the start (``"first"``) or the end (``"last"``)
    whose token count fits ``max_tokens``.

    ``token_counter`` counts a list of messages: a function, a chat model (its
    ``get_num_tokens_from_messages``), or ``"approximate"``. With ``"last"``,
    ``include_system`` keeps a leading system message, ``start_on`` drops messages
    from the front of the kept run until one of those types; ``end_on`` drops messages
    from the end until one of those types. Splitting a message (``allow_partial``) is
    not supported: messages are kept or dropped whole.

    >>> from runnables.messages import HumanMessage, AIMessage
    >>> msgs = [HumanMessage("a"), AIMessage("b"), HumanMessage("c")]
    >>> trim_messages(msgs, max_tokens=2, token_counter=len)
    [AIMessage(content='b'), HumanMessage(content='c')]
    """
    if messages is None:
        return _as_step(trim_messages, {k: v for k, v in locals().items() if k != "messages"})
    if allow_partial:
        raise ValueError(
            "trim_messages(allow_partial=True) is not supported by runnables: messages are "
            "kept or dropped whole. Pass allow_partial=False."
        )
    if strategy not in ("first", "last"):
        raise ValueError(f"strategy must be 'first' or 'last', got {strategy!r}.")
    if strategy == "first" and (include_system or start_on):
        raise ValueError(
            "include_system and start_on only apply to strategy='last'; drop them or use "
            "strategy='last'."
        )
    count = _counter(token_counter)
    msgs = convert_to_messages(messages)
    if strategy == "first":
        kept = _longest_prefix(msgs, max_tokens, count)
        if end_on:
            while kept and not _matches_type(kept[-1], end_on):
                kept.pop()
        return kept
    system: list[BaseMessage] = []
    if include_system and msgs and isinstance(msgs[0], SystemMessage):
        system, msgs = [msgs[0]], msgs[1:]
    if end_on:
        while msgs and not _matches_type(msgs[-1], end_on):
            msgs = msgs[:-1]
    budget_rest = list(reversed(msgs))
    kept_reversed: list[BaseMessage] = []
    for msg in budget_rest:
        if count(system + list(reversed([*kept_reversed, msg]))) > max_tokens:
            break
        kept_reversed.append(msg)
    kept = list(reversed(kept_reversed))
    if start_on:
        while kept and not _matches_type(kept[0], start_on):
            kept.pop(0)
    if system and count(system) > max_tokens:
        system = []
    return system + kept


def _longest_prefix(
    msgs: list[BaseMessage], max_tokens: int, count: Callable[[list[BaseMessage]], int]
) -> list[BaseMessage]:
    kept: list[BaseMessage] = []
    for msg in msgs:
        if count([*kept, msg]) > max_tokens:
            break
        kept.append(msg)
    return kept


def convert_to_openai_messages(
    messages: MessageLikeRepresentation | Sequence[MessageLikeRepresentation],
    *,
    text_format: Literal["string", "block"] = "string",
    include_id: bool = False,
) -> dict[str, Any] | list[dict[str, Any]]:
    """Messages (or one message) as OpenAI chat-completions dicts.

    ``text_format="string"`` (the default) makes content that is only text a string
    (text blocks joined by newlines); ``"block"`` makes every content a list of blocks.
    ``include_id`` adds each message's ``id``. Other block formats are passed through.

    >>> from runnables.messages import HumanMessage
    >>> convert_to_openai_messages(HumanMessage("hi"))
    {'role': 'user', 'content': 'hi'}
    """
    if text_format not in ("string", "block"):
        raise ValueError(
            f"Unrecognized text_format={text_format!r}, expected one of 'string' or 'block'."
        )
    single = isinstance(messages, (BaseMessage, dict, str)) or (
        isinstance(messages, tuple) and len(messages) == 2 and isinstance(messages[0], str)
    )
    items = convert_to_messages([messages] if single else messages)  # type: ignore[list-item]
    out = []
    for message in items:
        converted = message_to_openai_dict(message)
        content = message.content
        if not content:
            converted["content"] = "" if text_format == "string" else []
            if converted.get("tool_calls"):
                converted["content"] = converted["content"] or (
                    "" if text_format == "string" else []
                )
        elif isinstance(content, str):
            converted["content"] = (
                content if text_format == "string" else [{"type": "text", "text": content}]
            )
        elif text_format == "string" and all(
            isinstance(b, str) or b.get("type") == "text" for b in content
        ):
            converted["content"] = "\n".join(
                b if isinstance(b, str) else b["text"] for b in content
            )
        if include_id and message.id:
            converted["id"] = message.id
        out.append(converted)
    return out[0] if single else out
