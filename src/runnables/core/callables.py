"""What kind of callable a user gave: plain, async, a generator or an async generator.

A callable object counts as the kind of its ``__call__``, so a class with an
``async def __call__`` runs as an async function does.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

__all__ = ["is_async_function", "is_async_generator_function", "is_generator_function"]


def _code_of(func: Any) -> Any:
    """What to inspect for a callable: itself, or its ``__call__`` for a callable object."""
    if inspect.isroutine(func) or isinstance(func, (functools.partial, type)) or not callable(func):
        return func
    return func.__call__


def is_async_function(func: Any) -> bool:
    """``async def`` functions and callable objects whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(_code_of(func))


def is_async_generator_function(func: Any) -> bool:
    """Async generator functions and callable objects whose ``__call__`` is one."""
    return inspect.isasyncgenfunction(_code_of(func))


def is_generator_function(func: Any) -> bool:
    """Generator functions and callable objects whose ``__call__`` is one."""
    return inspect.isgeneratorfunction(_code_of(func))
