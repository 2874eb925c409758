"""Response caches for chat models, keyed by the messages and the model's parameters.

``prompt`` is the conversation serialized to JSON and ``llm_string`` the model's class
and parameters (bound ``stop``, ``temperature``, ``tools``...), so the same messages
sent with different parameters are different entries. A model uses the cache passed as
``cache=``, or else the global one set with :func:`set_llm_cache`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

from runnables.errors import InvalidArgumentError, UnsupportedError
from runnables.messages import AIMessage, convert_to_message, message_to_dict

__all__ = ["BaseCache", "InMemoryCache", "SQLiteCache", "get_llm_cache", "set_llm_cache"]


class BaseCache:
    """What a model cache implements: ``lookup``/``update``/``clear`` and async twins.

    The async methods default to the sync ones (right for in-memory caches).
    """

    def lookup(self, prompt: str, llm_string: str) -> AIMessage | None:
        """The cached response for these messages and parameters, or None.

        The caller owns what this returns and may change it, so return a copy of what
        is stored (as :class:`InMemoryCache` and :class:`SQLiteCache` do), never the
        stored object itself.
        """
        raise UnsupportedError(f"{type(self).__name__} must implement lookup().")

    def update(self, prompt: str, llm_string: str, return_val: AIMessage) -> None:
        """Store a response."""
        raise UnsupportedError(f"{type(self).__name__} must implement update().")

    def clear(self) -> None:
        """Forget every entry."""
        raise UnsupportedError(f"{type(self).__name__} must implement clear().")

    async def alookup(self, prompt: str, llm_string: str) -> AIMessage | None:
        """Async :meth:`lookup`."""
        return self.lookup(prompt, llm_string)

    async def aupdate(self, prompt: str, llm_string: str, return_val: AIMessage) -> None:
        """Async :meth:`update`."""
        self.update(prompt, llm_string, return_val)

    async def aclear(self) -> None:
        """Async :meth:`clear`."""
        self.clear()


class InMemoryCache(BaseCache):
    """A dict of responses; with ``maxsize``, the least recently used are dropped.

    Entries are deep copies, stored and returned: a caller changing a response it got
    (``reply.tool_calls.append(...)``) changes neither the cache nor later hits.
    """

    def __init__(self, *, maxsize: int | None = None) -> None:
        if maxsize is not None and maxsize < 1:
            raise InvalidArgumentError(f"maxsize must be at least 1 or None, got {maxsize!r}.")
        self.maxsize = maxsize
        self._data: OrderedDict[tuple[str, str], AIMessage] = OrderedDict()

    def lookup(self, prompt: str, llm_string: str) -> AIMessage | None:
        key = (prompt, llm_string)
        hit = self._data.get(key)
        if hit is None:
            return None
        if self.maxsize is not None:
            self._data.move_to_end(key)
        return hit.model_copy(deep=True)

    def update(self, prompt: str, llm_string: str, return_val: AIMessage) -> None:
        self._data[(prompt, llm_string)] = return_val.model_copy(deep=True)
        self._data.move_to_end((prompt, llm_string))
        if self.maxsize is not None and len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()


class SQLiteCache(BaseCache):
    """Responses stored in a SQLite file, so they survive restarts.

    The async methods run the queries on a worker thread, so a slow disk does not block
    the event loop.
    """

    def __init__(self, database_path: str | Path = ".runnables.db") -> None:
        self.database_path = str(database_path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.database_path, check_same_thread=False)
        with self._lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                "prompt TEXT NOT NULL, llm TEXT NOT NULL, response TEXT NOT NULL, "
                "PRIMARY KEY (prompt, llm))"
            )
            self._conn.commit()

    def lookup(self, prompt: str, llm_string: str) -> AIMessage | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT response FROM responses WHERE prompt = ? AND llm = ?",
                (prompt, llm_string),
            ).fetchone()
        if row is None:
            return None
        msg = convert_to_message(json.loads(row[0]))
        return msg if isinstance(msg, AIMessage) else None

    def update(self, prompt: str, llm_string: str, return_val: AIMessage) -> None:
        data = json.dumps(message_to_dict(return_val), default=str)
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses (prompt, llm, response) VALUES (?, ?, ?)",
                (prompt, llm_string, data),
            )
            self._conn.commit()

    def clear(self) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM responses")
            self._conn.commit()

    async def alookup(self, prompt: str, llm_string: str) -> AIMessage | None:
        return await asyncio.to_thread(self.lookup, prompt, llm_string)

    async def aupdate(self, prompt: str, llm_string: str, return_val: AIMessage) -> None:
        await asyncio.to_thread(self.update, prompt, llm_string, return_val)

    async def aclear(self) -> None:
        await asyncio.to_thread(self.clear)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()


_GLOBAL: BaseCache | None = None


def set_llm_cache(cache: BaseCache | None) -> None:
    """Set the cache every model uses unless given its own (``None`` turns it off)."""
    global _GLOBAL
    _GLOBAL = cache


def get_llm_cache() -> BaseCache | None:
    """The global model cache, if one is set."""
    return _GLOBAL
