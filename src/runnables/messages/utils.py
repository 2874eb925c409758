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

from runnables.errors import InvalidArgumentError, InvalidInputError
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
    raise InvalidInputError(f"Unknown BaseMessage type {type(message).__name__}.")


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
    if isinstance(token_counter, str):
        if token_counter == "approximate":
            return count_tokens_approximately
        raise InvalidArgumentError(
            f"Invalid token_counter shortcut {token_counter!r}. Use 'approximate', a "
            "function of a list of messages, or a chat model."
        )
    counter = getattr(token_counter, "get_num_tokens_from_messages", None)
    if counter is not None:
        return counter  # type: ignore[no-any-return]
    if callable(token_counter):
        import inspect

        try:
            first = next(iter(inspect.signature(token_counter).parameters.values()), None)
        except (TypeError, ValueError):
            first = None
        if first is not None and first.annotation in (BaseMessage, "BaseMessage"):
            # A function of one message: the count of a list is the sum.
            return lambda messages: sum(token_counter(m) for m in messages)
        return token_counter  # type: ignore[no-any-return]
    raise InvalidArgumentError(
        f"token_counter must be a function of a list of messages (or of one message), a "
        f"chat model, or 'approximate', got {token_counter!r}."
    )


def _default_text_splitter(text: str) -> list[str]:
    splits = text.split("\n")
    return [piece + "\n" for piece in splits[:-1]] + splits[-1:]


def trim_messages(
    messages: Sequence[MessageLikeRepresentation] | None = None,
    *,
    max_tokens: int,
    token_counter: Any,
    strategy: Literal["first", "last"] = "last",
    allow_partial: bool = False,
    end_on: Any = None,
    start_on: Any = None,
    include_system: bool = False,
    text_splitter: Callable[[str], list[str]] | None = None,
) -> Any:
    """The messages that fit ``max_tokens``, from the start (``"first"``) or the end
    (``"last"``), with langchain-core's rules.

    ``token_counter`` counts tokens: a function of a list of messages (or of one
    message, annotated ``BaseMessage``), a chat model (its
    ``get_num_tokens_from_messages``), or ``"approximate"``. ``allow_partial`` keeps the
    part of the first message that does not fit whole (content blocks, else text split
    by ``text_splitter``, lines by default). With ``"last"``, ``include_system`` keeps a
    leading system message and ``start_on`` drops messages from the front until one of
    those types; ``end_on`` drops messages from the end until one of those types.

    >>> from runnables.messages import HumanMessage, AIMessage
    >>> msgs = [HumanMessage("a"), AIMessage("b"), HumanMessage("c")]
    >>> trim_messages(msgs, max_tokens=2, token_counter=len)
    [AIMessage(content='b'), HumanMessage(content='c')]
    """
    if messages is None:
        return _as_step(trim_messages, {k: v for k, v in locals().items() if k != "messages"})
    if strategy not in ("first", "last"):
        raise InvalidArgumentError(
            f"Unrecognized strategy={strategy!r}. Supported strategies are 'last' and 'first'."
        )
    if start_on and strategy == "first":
        raise InvalidArgumentError("start_on parameter is only valid with strategy='last'")
    if include_system and strategy == "first":
        raise InvalidArgumentError("include_system parameter is only valid with strategy='last'")
    count = _counter(token_counter)
    split = text_splitter or _default_text_splitter
    msgs = convert_to_messages(messages)
    if strategy == "first":
        return _first_max_tokens(
            msgs, max_tokens, count, split, "first" if allow_partial else None, end_on
        )
    if end_on:
        while msgs and not _matches_type(msgs[-1], end_on):
            msgs = msgs[:-1]
    system: BaseMessage | None = None
    if include_system and msgs and isinstance(msgs[0], SystemMessage):
        system, msgs = msgs[0], msgs[1:]
    remaining = max_tokens
    if system is not None:
        remaining = max(0, max_tokens - count([system]))
    kept = _first_max_tokens(
        msgs[::-1], remaining, count, split, "last" if allow_partial else None, start_on
    )[::-1]
    return [system, *kept] if system is not None else kept


def _first_max_tokens(
    messages: list[BaseMessage],
    max_tokens: int,
    count: Callable[[list[BaseMessage]], int],
    split: Callable[[str], list[str]],
    partial: Literal["first", "last"] | None,
    end_on: Any,
) -> list[BaseMessage]:
    messages = list(messages)
    if not messages:
        return messages
    if count(messages) <= max_tokens:
        if end_on:
            while messages and not _matches_type(messages[-1], end_on):
                messages.pop()
        return messages
    # The longest prefix that fits, by binary search (counting can be expensive).
    left, right = 0, len(messages)
    while left < right:
        mid = (left + right + 1) // 2
        if count(messages[:mid]) <= max_tokens:
            left = mid
        else:
            right = mid - 1
    idx = left
    if partial and idx < len(messages):
        included = False
        excluded = messages[idx].model_copy(deep=True)
        if isinstance(excluded.content, list):
            blocks = list(excluded.content)
            if partial == "last":
                blocks.reverse()
            for size in range(len(blocks) - 1, 0, -1):
                candidate = blocks[:size]
                excluded.content = candidate[::-1] if partial == "last" else candidate
                if count([*messages[:idx], excluded]) <= max_tokens:
                    messages = [*messages[:idx], excluded]
                    idx += 1
                    included = True
                    break
        if not included:
            excluded = messages[idx].model_copy(deep=True)
            text: str | None = None
            if isinstance(excluded.content, str):
                text = excluded.content
            else:
                for block in excluded.content:
                    if isinstance(block, str):
                        text = block
                        break
                    if block.get("type") == "text":
                        text = block.get("text")
                        break
            if text:
                pieces = split(text)
                if partial == "last":
                    pieces.reverse()
                base = count(messages[:idx])
                lo, hi = 0, len(pieces)
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    excluded.content = "".join(pieces[:mid])
                    if base + count([excluded]) <= max_tokens:
                        lo = mid
                    else:
                        hi = mid - 1
                if lo > 0:
                    kept = pieces[:lo]
                    if partial == "last":
                        kept.reverse()
                    excluded.content = "".join(kept)
                    messages = [*messages[:idx], excluded]
                    idx += 1
    if end_on:
        while idx > 0 and not _matches_type(messages[idx - 1], end_on):
            idx -= 1
    return messages[:idx]


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
        raise InvalidArgumentError(
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
