"""``RunnableRetry``: run a runnable again when it fails (``runnable.with_retry()``)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypedDict, cast

from runnables.core.base import Input, Output, Runnable
from runnables.core.chunks import ListIter
from runnables.core.config import Context, RunnableConfig
from runnables.core.deadline import remaining
from runnables.core.leaf import call, call_transform
from runnables.core.tasks import aclose
from runnables.errors import ConfigError

__all__ = ["ExponentialJitterParams", "RunnableRetry"]


class ExponentialJitterParams(TypedDict, total=False):
    """How long to wait between attempts: ``min(max, initial * exp_base ** (n - 1) + jitter)``
    seconds after the ``n``-th failed attempt, where ``jitter`` is drawn uniformly from
    ``[0, jitter]``. The defaults are tenacity's (and so langchain-core's): ``initial=1``,
    ``max`` unbounded, ``exp_base=2``, ``jitter=1``.
    """

    initial: float
    max: float
    exp_base: float
    jitter: float


_JITTER_DEFAULTS: dict[str, float] = {
    "initial": 1.0,
    "max": float("inf"),
    "exp_base": 2.0,
    "jitter": 1.0,
}

RetryIf = tuple[type[BaseException], ...] | Callable[[BaseException], bool]


def _call_attempt(
    step: Runnable[Any, Any], input: Any, ctx: Context, attempt: int
) -> Awaitable[Any]:
    return call(step, input, ctx, f"retry:attempt:{attempt}" if attempt > 1 else None)


def _transform_attempt(
    step: Runnable[Any, Any], inputs: AsyncIterator[Any], ctx: Context, attempt: int
) -> AsyncIterator[Any]:
    tag = f"retry:attempt:{attempt}" if attempt > 1 else None
    return call_transform(step, inputs, ctx, tag)


class _Replay:
    """Records an input stream as it is read, so each attempt can read it from the start.

    An attempt reads what earlier attempts already pulled, then pulls the rest from the
    source (once). An error raised by the *source* is remembered: it is not the wrapped
    step's failure, so it is never retried.
    """

    __slots__ = ("done", "error", "seen", "source")

    def __init__(self, source: AsyncIterator[Any]) -> None:
        self.source = source
        self.seen: list[Any] = []
        self.done = False
        self.error: BaseException | None = None

    def attempt(self) -> AsyncIterator[Any]:
        if type(self.source) is ListIter:
            return ListIter(self.source.items)
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        i = 0
        while True:
            if i < len(self.seen):
                yield self.seen[i]
                i += 1
                continue
            if self.error is not None:
                raise self.error
            if self.done:
                return
            try:
                chunk = await self.source.__anext__()
            except StopAsyncIteration:
                self.done = True
                return
            except BaseException as exc:
                self.error = exc
                raise
            self.seen.append(chunk)
            i += 1
            yield chunk

    def failed_upstream(self) -> bool:
        return self.error is not None


class RunnableRetry(Runnable[Input, Output]):
    """Run ``bound`` again when it raises one of ``retry_exception_types``.

    Made by ``runnable.with_retry(...)``. Up to ``max_attempt_number`` attempts in all;
    between attempts it waits with exponential backoff and jitter (see
    :class:`ExponentialJitterParams`), or not at all with
    ``wait_exponential_jitter=False``. ``retry_exception_types`` may also be a function
    that receives the exception and says whether to retry it.

    >>> from runnables import RunnableLambda
    >>> flaky = RunnableLambda(call_an_unreliable_api)  # doctest: +SKIP
    >>> flaky.with_retry(stop_after_attempt=5).invoke(x)  # doctest: +SKIP

    Rules:

    - When the attempts run out, the *last* error is raised unchanged (same object,
      type and message), with a note saying how many attempts were made.
    - Waits share the call's deadline (``with_timeout``/``config['timeout']``): if the
      time left is not more than the next wait, retrying stops at once and the last
      error is raised, with a note saying so.
    - ``abatch``/``batch`` (of the retry itself), as langchain-core: the inputs run in
      rounds. After a round, the first failed input (in input order) decides: if its
      error is retryable and attempts remain, every input that failed in that round
      runs again (an input whose own error is not retryable included); inputs that
      succeeded never run again. Each failed input then holds its error from the last
      round it ran in. (Inside a chain each input is retried on its own.)
    - ``astream``/``stream``/``transform``: an attempt that fails *before its first
      output chunk* is retried (the input stream is replayed to it). Once a chunk has
      been yielded, the caller has seen output that a retry could contradict or repeat,
      so a later error propagates unchanged and is not retried.
    - An error raised by the input stream itself (the step before) is never retried.
    - Driven synchronously (``invoke`` of a chain of sync functions), waits sleep the
      calling thread; there is no event loop to yield to.

    Keep the retried part small: ``prompt | model.with_retry()`` retries the model call,
    ``(prompt | model).with_retry()`` reruns the prompt too.
    """

    def __init__(
        self,
        *,
        bound: Runnable[Input, Output],
        retry_exception_types: RetryIf = (Exception,),
        wait_exponential_jitter: bool = True,
        exponential_jitter_params: ExponentialJitterParams | Mapping[str, float] | None = None,
        max_attempt_number: int = 3,
    ) -> None:
        if (
            not isinstance(max_attempt_number, int)
            or isinstance(max_attempt_number, bool)
            or max_attempt_number < 1
        ):
            raise ConfigError(
                f"max_attempt_number (stop_after_attempt) must be a whole number of at least "
                f"1, got {max_attempt_number!r}."
            )
        rule: Any = retry_exception_types
        if isinstance(rule, type) and issubclass(rule, BaseException):
            rule = (rule,)  # a lone class is a common slip for a 1-tuple
        elif isinstance(rule, list):
            rule = tuple(rule)
        if not (
            isinstance(rule, tuple)
            and all(isinstance(t, type) and issubclass(t, BaseException) for t in rule)
        ) and (isinstance(rule, (tuple, type)) or not callable(rule)):
            raise ConfigError(
                f"retry_exception_types (retry_if_exception_type) must be a tuple of exception "
                f"classes or a function of the exception, got {retry_exception_types!r}."
            )
        params = dict(cast("Mapping[str, float]", exponential_jitter_params or {}))
        unknown = set(params) - set(_JITTER_DEFAULTS)
        if unknown:
            raise ConfigError(
                f"Unknown exponential_jitter_params key(s) {sorted(unknown)!r}; the keys are "
                f"{sorted(_JITTER_DEFAULTS)!r}."
            )
        for key, value in params.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(
                    f"exponential_jitter_params[{key!r}] must be a number of at least 0, "
                    f"got {value!r}."
                )
        self.bound = bound
        self.retry_exception_types: RetryIf = rule
        self.wait_exponential_jitter = wait_exponential_jitter
        self.exponential_jitter_params = cast(
            "ExponentialJitterParams | None", exponential_jitter_params
        )
        self.max_attempt_number = max_attempt_number
        self._jitter: dict[str, float] = {**_JITTER_DEFAULTS, **params}

    # ------------------------------------------------------------------ structure

    @property
    def name(self) -> str | None:  # type: ignore[override]
        return self.bound.name

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        return self.bound.get_name(suffix, name=name)

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        return (self.bound,)

    def _needs_loop(self) -> bool:
        return self.bound._needs_loop()

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable[Input, Output]:
        return RunnableRetry(
            bound=self.bound._with_kwargs(kwargs),
            retry_exception_types=self.retry_exception_types,
            wait_exponential_jitter=self.wait_exponential_jitter,
            exponential_jitter_params=self.exponential_jitter_params,
            max_attempt_number=self.max_attempt_number,
        )

    # ------------------------------------------------------------------ policy

    def _retryable(self, exc: BaseException) -> bool:
        rule = self.retry_exception_types
        if isinstance(rule, tuple):
            return isinstance(exc, rule)
        return bool(rule(exc))

    def _wait_after(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th failure (tenacity's formula)."""
        if not self.wait_exponential_jitter:
            return 0.0
        p = self._jitter
        wait = p["initial"] * p["exp_base"] ** (attempt - 1) + random.uniform(0, p["jitter"])
        return max(0.0, min(wait, p["max"]))

    async def _before_retry(self, exc: Exception, attempt: int, ctx: Context) -> None:
        """Wait before the next attempt, or raise ``exc`` if there must not be one."""
        if not self._retryable(exc):
            raise exc
        if attempt >= self.max_attempt_number:
            if attempt > 1:
                exc.add_note(f"(gave up after {attempt} attempts)")
            raise exc
        wait = self._wait_after(attempt)
        if ctx.deadline is not None:
            left = remaining(ctx)
            if left is not None and left <= wait:
                exc.add_note(
                    f"(stopped retrying after {attempt} attempt(s): the call's deadline leaves "
                    f"{max(left, 0.0):.3g} s, not more than the next wait of {wait:.3g} s)"
                )
                raise exc
        if wait > 0:
            if ctx.sync:
                time.sleep(wait)  # driven without a loop: nothing else could run meanwhile
            else:
                await asyncio.sleep(wait)

    # ------------------------------------------------------------------ running

    async def _ainvoke(self, input: Input, ctx: Context) -> Output:
        attempt = 1
        while True:
            try:
                return cast(Output, await _call_attempt(self.bound, input, ctx, attempt))
            except Exception as exc:
                failed = exc
            await self._before_retry(failed, attempt, ctx)
            attempt += 1

    async def _atransform(
        self, inputs: AsyncIterator[Input], ctx: Context
    ) -> AsyncIterator[Output]:
        replay = _Replay(inputs)
        attempt = 1
        while True:
            source = replay.attempt()
            # A retry allowed one attempt streams its step as its own run, as
            # langchain-core streams a retry's step (one run in the events, not a retry
            # and an attempt). With more attempts each is a child run (attempts after
            # the first tagged retry:attempt:N), so a failed attempt shows in traces.
            stream = (
                self.bound._atransform(source, ctx)
                if self.max_attempt_number == 1
                else _transform_attempt(self.bound, source, ctx, attempt)
            )
            try:
                try:
                    first = await stream.__anext__()
                except StopAsyncIteration:
                    return
                except Exception as exc:
                    if replay.failed_upstream():
                        raise
                    failed = exc
                else:
                    yield first
                    # From here on errors propagate: the caller has seen output.
                    async for chunk in stream:
                        yield chunk
                    return
            finally:
                await aclose(stream)
                await aclose(source)
            await self._before_retry(failed, attempt, ctx)
            attempt += 1

    # ------------------------------------------------------------------ batch rounds

    def _one_attempt(self) -> RunnableRetry[Input, Output]:
        return RunnableRetry(
            bound=self.bound,
            retry_exception_types=self.retry_exception_types,
            wait_exponential_jitter=self.wait_exponential_jitter,
            exponential_jitter_params=self.exponential_jitter_params,
            max_attempt_number=1,
        )

    def _next_round(self, results: list[Any], ran: list[int], attempt: int) -> list[int]:
        """The inputs to run again after round ``attempt`` ran ``ran``; [] when done."""
        failed = [i for i in ran if isinstance(results[i], Exception)]
        if not failed:
            return []
        first = results[failed[0]]
        if not self._retryable(first) or attempt >= self.max_attempt_number:
            if attempt > 1 and self._retryable(first):
                first.add_note(f"(gave up after {attempt} attempts)")
            return []
        return failed

    def batch(
        self,
        inputs: Sequence[Input],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Output]:
        """Run ``inputs`` in rounds, retrying the failed ones together (see the class)."""
        if kwargs:
            return self._with_kwargs(kwargs).batch(
                inputs, config, return_exceptions=return_exceptions
            )
        step, inputs = self._one_attempt(), list(inputs)
        results: list[Any] = [None] * len(inputs)
        pending, attempt = list(range(len(inputs))), 1
        while pending:
            # The base class's batch: one attempt per input, traced as this retry step.
            done = Runnable.batch(
                step,
                [inputs[i] for i in pending],
                _configs_for(config, pending),
                return_exceptions=True,
            )
            for i, value in zip(pending, done):
                results[i] = value
            pending = self._next_round(results, pending, attempt)
            if pending:
                time.sleep(self._wait_after(attempt))
            attempt += 1
        return _finish(results, return_exceptions)

    async def abatch(
        self,
        inputs: Sequence[Input],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Output]:
        """Run ``inputs`` in rounds, retrying the failed ones together (see the class)."""
        if kwargs:
            return await self._with_kwargs(kwargs).abatch(
                inputs, config, return_exceptions=return_exceptions
            )
        step, inputs = self._one_attempt(), list(inputs)
        results: list[Any] = [None] * len(inputs)
        pending, attempt = list(range(len(inputs))), 1
        while pending:
            done = await Runnable.abatch(
                step,
                [inputs[i] for i in pending],
                _configs_for(config, pending),
                return_exceptions=True,
            )
            for i, value in zip(pending, done):
                results[i] = value
            pending = self._next_round(results, pending, attempt)
            if pending:
                await asyncio.sleep(self._wait_after(attempt))
            attempt += 1
        return _finish(results, return_exceptions)

    def __repr__(self) -> str:
        return f"RunnableRetry(bound={self.bound!r}, max_attempt_number={self.max_attempt_number})"


def _configs_for(
    config: RunnableConfig | Sequence[RunnableConfig] | None, indices: list[int]
) -> RunnableConfig | list[RunnableConfig] | None:
    if config is None or isinstance(config, Mapping):
        return config
    configs = list(config)
    return [configs[i] for i in indices] if len(configs) > max(indices) else configs


def _finish(results: list[Any], return_exceptions: bool) -> list[Any]:
    if not return_exceptions:
        for value in results:
            if isinstance(value, Exception):
                raise value
    return results
