"""Prompt values: what a prompt template produces and a model consumes.

A model accepts either kind: a chat model reads ``to_messages()``, a text model
``to_string()``.
"""

from __future__ import annotations

from collections.abc import Sequence

from runnables.errors import UnsupportedError
from runnables.messages import BaseMessage, HumanMessage, get_buffer_string

__all__ = ["ChatPromptValue", "PromptValue", "StringPromptValue"]


class PromptValue:
    """A formatted prompt, readable as a string or as a list of chat messages."""

    __slots__ = ()

    def to_string(self) -> str:
        """The prompt as one string."""
        raise UnsupportedError(f"{type(self).__name__} must implement to_string().")

    def to_messages(self) -> list[BaseMessage]:
        """The prompt as chat messages."""
        raise UnsupportedError(f"{type(self).__name__} must implement to_messages().")


class StringPromptValue(PromptValue):
    """A prompt that is one string (from :class:`~runnables.prompts.PromptTemplate`).

    As messages it is a single human message.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def to_string(self) -> str:
        """The text."""
        return self.text

    def to_messages(self) -> list[BaseMessage]:
        """The text as one human message."""
        return [HumanMessage(self.text)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StringPromptValue) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"StringPromptValue(text={self.text!r})"


class ChatPromptValue(PromptValue):
    """A prompt that is a list of messages (from a ``ChatPromptTemplate``).

    As a string it is the messages one per line, ``"Human: ..."``, ``"AI: ..."``.
    """

    __slots__ = ("messages",)

    def __init__(self, messages: Sequence[BaseMessage]) -> None:
        self.messages = list(messages)

    def to_string(self) -> str:
        """The messages as a transcript (``get_buffer_string``)."""
        return get_buffer_string(self.messages)

    def to_messages(self) -> list[BaseMessage]:
        """A copy of the list of messages."""
        return list(self.messages)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChatPromptValue) and other.messages == self.messages

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ChatPromptValue(messages={self.messages!r})"
