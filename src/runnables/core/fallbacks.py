"""``RunnableWithFallbacks``: try other runnables when one fails (``with_fallbacks``)."""

from __future__ import annotations

import copy
import functools
import inspect
import types
import typing
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

from runnables.core import offload as _offload
from runnables.core.base import Input, Output, Runnable, call, call_transform, coerce_to_runnable
from runnables.core.chunks import ListIter, gather_input
from runnables.core.config import Context, RunnableConfig
from runnables.core.retry import _Replay
from runnables.core.tasks import aclose
from runnables.errors import ConfigError, InvalidInputError

__all__ = ["RunnableWithFallbacks"]


def _returns_runnable(attr: Any) -> bool:
    """Whether a callable is annotated as returning a runnable (or a union of them)."""
    if not callable(attr):
        return False
    try:
        hint = typing.get_type_hints(attr).get("return")
    except Exception:  # an annotation that does not resolve says nothing
        return False
    return hint is not None and _is_runnable_type(hint)


def _is_runnable_type(hint: Any) -> bool:
    if inspect.isclass(hint):
        return issubclass(hint, Runnable)
    origin = typing.get_origin(hint)
    if inspect.isclass(origin):
        return issubclass(origin, Runnable)
    if origin is typing.Union or origin is types.UnionType:
        return all(_is_runnable_type(t) for t in typing.get_args(hint))
    return False


class RunnableWithFallbacks(Runnable[Input, Output]):
    """Run ``runnable``; if it raises one of ``exceptions_to_handle``, try each of
    ``fallbacks`` in order on the same input, and return the first success.

    Made by ``runnable.with_fallbacks([...])``.

    >>> from runnables import RunnableLambda
    >>> def primary(x):
    ...     raise ConnectionError("down")
    >>> RunnableLambda(primary).with_fallbacks([RunnableLambda(lambda x: "backup")]).invoke(1)
    'backup'

    Rules (langchain-core's, except where noted):

    - An error that is not one of ``exceptions_to_handle`` propagates at once.
    - When every runnable fails, the *first* error is raised unchanged (the primary's,
      usually the most informative), with a note naming the last fallback's error.
    - With ``exception_key``, the input must be a dict; each fallback receives the
      input with the previous error under that key. Unlike langchain-core the caller's
      dict is not modified: each fallback gets a copy.
    - ``abatch``/``batch``: each input falls back on its own, so fallbacks run only for
      the inputs that failed. An input whose every runnable failed gets the *last*
      error (raised, or in its place with ``return_exceptions``), as langchain-core's
      batch does, with a note naming the first.
    - ``astream``/``stream``/``transform``: a runnable that fails *before its first
      output chunk* hands over to the next one (the input stream is replayed to it).
      Once a chunk has been yielded, a later error propagates unchanged: switching
      runnables mid-stream would mix two answers.
    """

    def __init__(
        self,
        *,
        runnable: Runnable[Input, Output],
        fallbacks: Sequence[Runnable[Input, Output]],
        exceptions_to_handle: tuple[type[BaseException], ...] = (Exception,),
        exception_key: str | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(fallbacks, (Runnable, str)) or not isinstance(fallbacks, Sequence):
            raise ConfigError(
                f"fallbacks must be a list of runnables, got {fallbacks!r}. Wrap a single "
                "fallback in a list: with_fallbacks([other])."
            )
        if isinstance(exceptions_to_handle, type) and issubclass(
            exceptions_to_handle, BaseException
        ):
            exceptions_to_handle = (exceptions_to_handle,)
        if not isinstance(exceptions_to_handle, tuple) or not all(
            isinstance(t, type) and issubclass(t, BaseException) for t in exceptions_to_handle
        ):
            raise ConfigError(
                f"exceptions_to_handle must be a tuple of exception classes, got "
                f"{exceptions_to_handle!r}."
            )
        if exception_key is not None and not isinstance(exception_key, str):
            raise ConfigError(f"exception_key must be a string or None, got {exception_key!r}.")
        self.runnable: Runnable[Input, Output] = coerce_to_runnable(runnable)
        self.fallbacks: list[Runnable[Input, Output]] = [coerce_to_runnable(f) for f in fallbacks]
        self.exceptions_to_handle = exceptions_to_handle
        self.exception_key = exception_key
        self.name = name
        self._nl_generation = -1
        self._nl = True
        #: Set on the copy that ``batch``/``abatch`` run: which error an input that
        #: failed everywhere gets (langchain-core: invoke the first, batch the last).
        self._raise_last = False

    @property
    def runnables(self) -> list[Runnable[Input, Output]]:
        """The runnable, then the fallbacks, in the order they are tried."""
        return [self.runnable, *self.fallbacks]

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        return super().get_name(suffix, name=name)

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        return self.runnables

    def _needs_loop(self) -> bool:
        if self._nl_generation != _offload.generation:
            self._nl = any(r._needs_loop() for r in self.runnables)
            self._nl_generation = _offload.generation
        return self._nl

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable[Input, Output]:
        return RunnableWithFallbacks(
            runnable=self.runnable._with_kwargs(kwargs),
            fallbacks=[f._with_kwargs(kwargs) for f in self.fallbacks],
            exceptions_to_handle=self.exceptions_to_handle,
            exception_key=self.exception_key,
            name=self.name,
        )

    def __getattr__(self, name: str) -> Any:
        """An attribute of the primary runnable (langchain-core's rule): ``model.with_
        fallbacks([...]).model_name`` is the primary's. A method returning a runnable
        (``bind_tools``, ``with_structured_output``...) is applied to the primary and to
        each fallback, and the results are wrapped in fallbacks again."""
        # Only public names: the engine's own probes (``_x``, dunders, a half-built copy)
        # must see this object's attributes, never the primary's.
        if name.startswith("_") or "runnable" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        attr = getattr(self.runnable, name)
        if not _returns_runnable(attr):
            return attr

        @functools.wraps(attr)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            return RunnableWithFallbacks(
                runnable=attr(*args, **kwargs),
                fallbacks=[getattr(f, name)(*args, **kwargs) for f in self.fallbacks],
                exceptions_to_handle=self.exceptions_to_handle,
                exception_key=self.exception_key,
                name=self.name,
            )

        return wrapped

    def _check_input(self, input: Any) -> None:
        if self.exception_key is not None and not isinstance(input, Mapping):
            raise InvalidInputError(
                f"{self.get_name()} has exception_key={self.exception_key!r}, so its input "
                f"must be a dict (the error is passed to fallbacks under that key), got "
                f"{input!r} (a {type(input).__name__})."
            )

    def _input_for(self, input: Any, last_error: BaseException | None) -> Any:
        if self.exception_key is None or last_error is None:
            return input
        return {**input, self.exception_key: last_error}

    def _batch_form(self) -> RunnableWithFallbacks[Input, Output]:
        view = copy.copy(self)
        view._raise_last = True
        return view

    async def abatch(
        self,
        inputs: Sequence[Input],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Output]:
        """Run on many inputs; an input that fails everywhere gets the last error."""
        return await Runnable.abatch(
            self._batch_form(), inputs, config, return_exceptions=return_exceptions, **kwargs
        )

    def batch(
        self,
        inputs: Sequence[Input],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Output]:
        """Run on many inputs; an input that fails everywhere gets the last error."""
        return Runnable.batch(
            self._batch_form(), inputs, config, return_exceptions=return_exceptions, **kwargs
        )

    def _all_failed(self, first: BaseException, last: BaseException) -> BaseException:
        if self._raise_last and last is not first:
            last.add_note(
                f"(it was the last of {len(self.runnables)} runnables to fail; the first "
                f"raised {type(first).__name__}: {first})"
            )
            return last
        if last is not first:
            first.add_note(
                f"(all {len(self.fallbacks)} fallback(s) failed too; the last raised "
                f"{type(last).__name__}: {last})"
            )
        return first

    async def _ainvoke(self, input: Input, ctx: Context) -> Output:
        self._check_input(input)
        first_error: BaseException | None = None
        last_error: BaseException | None = None
        for runnable in self.runnables:
            try:
                return cast(Output, await call(runnable, self._input_for(input, last_error), ctx))
            except self.exceptions_to_handle as exc:
                if first_error is None:
                    first_error = exc
                last_error = exc
        assert first_error is not None and last_error is not None
        raise self._all_failed(first_error, last_error)

    async def _atransform(
        self, inputs: AsyncIterator[Input], ctx: Context
    ) -> AsyncIterator[Output]:
        if self.exception_key is not None:
            # Each fallback needs the whole dict to add the error to.
            value = await gather_input(inputs)
            self._check_input(value)
            inputs = ListIter((value,))
        replay = _Replay(inputs)
        first_error: BaseException | None = None
        last_error: BaseException | None = None
        for runnable in self.runnables:
            if self.exception_key is not None and last_error is not None:
                source: AsyncIterator[Any] = ListIter((self._input_for(value, last_error),))
            else:
                source = replay.attempt()
            stream = call_transform(runnable, source, ctx)
            try:
                try:
                    first = await stream.__anext__()
                except StopAsyncIteration:
                    return
                except self.exceptions_to_handle as exc:
                    if replay.failed_upstream():
                        raise
                    if first_error is None:
                        first_error = exc
                    last_error = exc
                    continue
                yield first
                # From here on errors propagate: the caller has seen this runnable's output.
                async for chunk in stream:
                    yield chunk
                return
            finally:
                await aclose(stream)
                await aclose(source)
        assert first_error is not None and last_error is not None
        raise self._all_failed(first_error, last_error)

    def __repr__(self) -> str:
        return f"RunnableWithFallbacks(runnable={self.runnable!r}, fallbacks={self.fallbacks!r})"
