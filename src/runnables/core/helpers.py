"""langchain-core's small runnable helpers: ``add``/``aadd``, ``get_config_list``,
``run_in_executor``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import warnings
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from concurrent.futures import Executor
from typing import Any, ParamSpec, TypeVar, cast

from runnables.core.config import RunnableConfig, ensure_config
from runnables.errors import ConfigError, InvalidArgumentError

__all__ = ["aadd", "add", "get_config_list", "run_in_executor"]

T = TypeVar("T")
P = ParamSpec("P")


def add(addables: Iterable[Any]) -> Any:
    """Sum chunks with ``+`` in order (``None`` for none), as langchain-core's ``add``.

    >>> from runnables import AddableDict
    >>> add([AddableDict(a="x"), AddableDict(a="y", b=1)])
    {'a': 'xy', 'b': 1}
    """
    final: Any = None
    for chunk in addables:
        final = chunk if final is None else final + chunk
    return final


async def aadd(addables: AsyncIterable[Any]) -> Any:
    """Sum the chunks of an async iterable with ``+`` (``None`` for none)."""
    final: Any = None
    async for chunk in addables:
        final = chunk if final is None else final + chunk
    return final


def get_config_list(
    config: RunnableConfig | Sequence[RunnableConfig] | None, length: int
) -> list[RunnableConfig]:
    """One config per input of a batch of ``length`` (langchain-core's helper).

    A list must have exactly ``length`` configs; a single config is repeated, except its
    ``run_id``, which only the first input keeps (a ``RuntimeWarning`` says so).
    """
    if length < 0:
        raise InvalidArgumentError(f"length must be >= 0, but got {length}.")
    if isinstance(config, Sequence) and not isinstance(config, dict):
        if len(config) != length:
            raise ConfigError(
                f"config must be a list of the same length as inputs, but got {len(config)} "
                f"configs for {length} inputs"
            )
        return [ensure_config(c) for c in config]
    if length > 1 and isinstance(config, dict) and config.get("run_id") is not None:
        warnings.warn(
            "Provided run_id be used only for the first element of the batch.",
            category=RuntimeWarning,
            stacklevel=3,
        )
        rest = cast(RunnableConfig, {k: v for k, v in config.items() if k != "run_id"})
        return [ensure_config(rest) if i else ensure_config(config) for i in range(length)]
    return [ensure_config(cast("RunnableConfig | None", config)) for _ in range(length)]


async def run_in_executor(
    executor_or_config: Executor | RunnableConfig | None,
    func: Callable[P, T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run a sync function on a worker thread (or ``executor``), with the caller's
    context variables, and await its result.

    ``StopIteration`` becomes ``RuntimeError`` (a future cannot carry it), as in
    langchain-core.
    """

    def wrapper() -> T:
        try:
            return func(*args, **kwargs)
        except StopIteration as exc:
            raise RuntimeError from exc

    loop = asyncio.get_running_loop()
    if executor_or_config is None or isinstance(executor_or_config, dict):
        context = contextvars.copy_context()
        return await loop.run_in_executor(None, functools.partial(context.run, wrapper))
    return await loop.run_in_executor(executor_or_config, wrapper)
