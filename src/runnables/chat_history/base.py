"""``BaseChatMessageHistory`` (the interface) and ``InMemoryChatMessageHistory``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from runnables.errors import UnsupportedError
from runnables.messages.base import AIMessage, BaseMessage, HumanMessage

__all__ = ["BaseChatMessageHistory", "InMemoryChatMessageHistory"]


class BaseChatMessageHistory(ABC):
    """A conversation's stored messages (langchain-core's interface).

    langchain-core 1.6.4 deprecated it (removal in 2.0.0): "See the short-term memory
    documentation for recommended alternatives:
    https://docs.langchain.com/oss/python/langchain/short-term-memory". runnables keeps
    it for code that uses it.

    Implement ``messages`` (a property or attribute), ``add_messages`` and ``clear``;
    for a store with an async client also ``aget_messages``, ``aadd_messages`` and
    ``aclear``, which otherwise run the sync methods on a worker thread so async code
    never blocks its event loop.
    """

    messages: list[BaseMessage]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

    async def aget_messages(self) -> list[BaseMessage]:
        """The stored messages."""
        from runnables.core.function import _to_thread

        return await _to_thread(lambda: self.messages)

    def add_user_message(self, message: HumanMessage | str) -> None:
        """Store a user message (a string becomes a ``HumanMessage``)."""
        self.add_message(message if isinstance(message, HumanMessage) else HumanMessage(message))

    def add_ai_message(self, message: AIMessage | str) -> None:
        """Store a model message (a string becomes an ``AIMessage``)."""
        self.add_message(message if isinstance(message, AIMessage) else AIMessage(message))

    def add_message(self, message: BaseMessage) -> None:
        """Store one message."""
        if type(self).add_messages is BaseChatMessageHistory.add_messages:
            raise UnsupportedError(
                f"{type(self).__name__} must implement 'add_messages' (or 'add_message')."
            )
        self.add_messages([message])

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Store messages, in order (override to store them in one round trip)."""
        for message in messages:
            self.add_message(message)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Store messages, in order."""
        from runnables.core.function import _to_thread

        await _to_thread(self.add_messages, messages)

    @abstractmethod
    def clear(self) -> None:
        """Remove every message."""

    async def aclear(self) -> None:
        """Remove every message."""
        from runnables.core.function import _to_thread

        await _to_thread(self.clear)

    def __str__(self) -> str:
        from runnables.messages.convert import get_buffer_string

        return get_buffer_string(self.messages)


class InMemoryChatMessageHistory(BaseChatMessageHistory, BaseModel):
    """Messages kept in a list in memory (nothing blocks, so no thread hop).

    Like :class:`BaseChatMessageHistory`, deprecated by langchain-core 1.6.4 (removal in
    2.0.0) in favour of https://docs.langchain.com/oss/python/langchain/short-term-memory;
    kept here for code that uses it.

    >>> history = InMemoryChatMessageHistory()
    >>> history.add_user_message("hi")
    >>> history.messages
    [HumanMessage(content='hi')]
    """

    messages: list[BaseMessage] = Field(default_factory=list)
    """The stored messages, oldest first."""

    async def aget_messages(self) -> list[BaseMessage]:
        """The stored messages."""
        return self.messages

    def add_message(self, message: BaseMessage) -> None:
        """Store one message."""
        self.messages.append(message)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Store messages, in order."""
        self.add_messages(messages)

    def clear(self) -> None:
        """Remove every message."""
        self.messages = []

    async def aclear(self) -> None:
        """Remove every message."""
        self.clear()
