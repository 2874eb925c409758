"""Chat history: where a conversation's messages are kept between calls.

Implement :class:`BaseChatMessageHistory` for a store (or use
:class:`InMemoryChatMessageHistory`), and wrap a chain in
:class:`RunnableWithMessageHistory` so each call reads the session's past messages and
appends the new turn; the session is picked by ``config["configurable"]["session_id"]``.
"""

from runnables.chat_history.base import BaseChatMessageHistory, InMemoryChatMessageHistory
from runnables.chat_history.runnable import RunnableWithMessageHistory

__all__ = ["BaseChatMessageHistory", "InMemoryChatMessageHistory", "RunnableWithMessageHistory"]
