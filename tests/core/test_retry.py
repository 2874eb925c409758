"""RunnableRetry (``with_retry``): attempts, waits, batches, streams and deadlines."""

from __future__ import annotations

import asyncio
import types
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from runnables import ConfigError, RunnableLambda
from runnables.core import retry as retry_module
from runnables.core.retry import RunnableRetry

NO_WAIT: dict[str, Any] = {"wait_exponential_jitter": False}


class Flaky:
    """Fails the first ``failures`` calls per input, then returns the input doubled."""

    def __init__(self, failures: int, exc: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.exc = exc
        self.calls: Counter[Any] = Counter()
        self.raised: list[Exception] = []

    def __call__(self, x: Any) -> Any:
        self.calls[x] += 1
        if self.calls[x] <= self.failures:
            err = self.exc(f"attempt {self.calls[x]} for {x!r} failed")
            self.raised.append(err)
            raise err
        return x * 2


class Sleeps:
    """Stands in for ``asyncio`` in the retry module, recording the waits asked for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def async_sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    sleeps = Sleeps()
    monkeypatch.setattr(retry_module, "asyncio", sleeps)
    return sleeps


@pytest.fixture
def sync_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(retry_module, "time", types.SimpleNamespace(sleep=waits.append))
    return waits


# ---------------------------------------------------------------------- invoke


async def test_ainvoke_retries_until_an_attempt_succeeds() -> None:
    flaky = Flaky(2)
    step = RunnableLambda(flaky).with_retry(**NO_WAIT)
    assert isinstance(step, RunnableRetry)
    assert await step.ainvoke(3) == 6
    assert flaky.calls[3] == 3


def test_sync_invoke_retries_inline() -> None:
    flaky = Flaky(1)
    step = RunnableLambda(flaky).with_retry(**NO_WAIT)
    assert step._needs_loop() is False
    assert step.invoke(4) == 8
    assert flaky.calls[4] == 2


async def test_when_attempts_run_out_the_last_error_is_raised_unchanged() -> None:
    flaky = Flaky(10)
    step = RunnableLambda(flaky, name="fetch").with_retry(stop_after_attempt=3, **NO_WAIT)
    with pytest.raises(ConnectionError) as info:
        await step.ainvoke(1)
    assert flaky.calls[1] == 3
    assert info.value is flaky.raised[-1]
    assert str(info.value) == "attempt 3 for 1 failed"
    assert "(raised in runnables step 'fetch')" in info.value.__notes__
    assert "(gave up after 3 attempts)" in info.value.__notes__


def test_sync_invoke_raises_the_real_error_too() -> None:
    flaky = Flaky(10, exc=TimeoutError)
    with pytest.raises(TimeoutError, match="attempt 2 for 'x' failed"):
        RunnableLambda(flaky).with_retry(stop_after_attempt=2, **NO_WAIT).invoke("x")


async def test_errors_of_other_types_are_not_retried() -> None:
    flaky = Flaky(5, exc=KeyError)
    step = RunnableLambda(flaky).with_retry(retry_if_exception_type=(ConnectionError,), **NO_WAIT)
    with pytest.raises(KeyError) as info:
        await step.ainvoke(1)
    assert flaky.calls[1] == 1
    assert not any("gave up" in note for note in info.value.__notes__)


async def test_a_predicate_decides_which_errors_to_retry() -> None:
    calls = Counter[str]()

    def fn(x: str) -> str:
        calls[x] += 1
        if calls[x] < 3:
            raise RuntimeError("transient" if x == "t" else "permanent")
        return x

    step = RunnableRetry(
        bound=RunnableLambda(fn),
        retry_exception_types=lambda exc: "transient" in str(exc),
        wait_exponential_jitter=False,
    )
    assert await step.ainvoke("t") == "t"
    with pytest.raises(RuntimeError, match="permanent"):
        await step.ainvoke("p")
    assert calls == {"t": 3, "p": 1}


async def test_one_attempt_means_no_retry() -> None:
    flaky = Flaky(1)
    with pytest.raises(ConnectionError) as info:
        await RunnableLambda(flaky).with_retry(stop_after_attempt=1).ainvoke(1)
    assert flaky.calls[1] == 1
    assert not any("gave up" in note for note in info.value.__notes__)


async def test_async_bound_step_is_retried() -> None:
    calls = 0

    async def fn(x: int) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls < 3:
            raise OSError("try again")
        return x

    assert await RunnableLambda(fn).with_retry(**NO_WAIT).ainvoke(7) == 7
    assert calls == 3


async def test_a_retried_chain_reruns_every_step() -> None:
    first_calls = 0

    def first(x: int) -> int:
        nonlocal first_calls
        first_calls += 1
        return x

    flaky = Flaky(1)
    chain = (RunnableLambda(first) | RunnableLambda(flaky)).with_retry(**NO_WAIT)
    assert await chain.ainvoke(2) == 4
    assert first_calls == 2


# ---------------------------------------------------------------------- waits


async def test_waits_grow_exponentially_between_attempts(async_sleeps: Sleeps) -> None:
    step = RunnableLambda(Flaky(3)).with_retry(
        stop_after_attempt=4,
        exponential_jitter_params={"initial": 0.5, "exp_base": 3, "jitter": 0},
    )
    assert await step.ainvoke(1) == 2
    assert async_sleeps.waits == [0.5, 1.5, 4.5]


async def test_waits_are_capped_by_max_and_jittered_within_bounds(async_sleeps: Sleeps) -> None:
    step = RunnableLambda(Flaky(4)).with_retry(
        stop_after_attempt=5,
        exponential_jitter_params={"initial": 1, "max": 3, "jitter": 0.25},
    )
    await step.ainvoke(1)
    first, second, third, fourth = async_sleeps.waits
    assert 1 <= first <= 1.25
    assert 2 <= second <= 2.25
    assert third == fourth == 3


async def test_no_waits_without_exponential_jitter(async_sleeps: Sleeps) -> None:
    await RunnableLambda(Flaky(2)).with_retry(**NO_WAIT).ainvoke(1)
    assert async_sleeps.waits == []


def test_sync_drive_waits_with_time_sleep_not_asyncio(
    sync_sleeps: list[float], async_sleeps: Sleeps
) -> None:
    step = RunnableLambda(Flaky(2)).with_retry(
        exponential_jitter_params={"initial": 0.25, "jitter": 0}
    )
    assert step.invoke(1) == 2
    assert sync_sleeps == [0.25, 0.5]
    assert async_sleeps.waits == []


async def test_a_deadline_too_close_for_the_next_wait_stops_retrying() -> None:
    flaky = Flaky(10)
    step = (
        RunnableLambda(flaky)
        .with_retry(stop_after_attempt=5, exponential_jitter_params={"initial": 60, "jitter": 0})
        .with_timeout(30)
    )
    # Waiting 60 s would overrun the 30 s budget: the real error comes back at once,
    # rather than a StepTimeoutError half a minute later.
    with pytest.raises(ConnectionError) as info:
        await asyncio.wait_for(step.ainvoke(1), timeout=10)
    assert flaky.calls[1] == 1
    assert any("deadline" in note for note in info.value.__notes__)


def test_a_deadline_stops_sync_retries_too(sync_sleeps: list[float]) -> None:
    flaky = Flaky(10)
    step = (
        RunnableLambda(flaky)
        .with_retry(exponential_jitter_params={"initial": 60, "jitter": 0})
        .with_timeout(30)
    )
    with pytest.raises(ConnectionError):
        step.invoke(1)
    assert flaky.calls[1] == 1
    assert sync_sleeps == []


async def test_retries_within_the_deadline_still_happen(async_sleeps: Sleeps) -> None:
    flaky = Flaky(2)
    step = (
        RunnableLambda(flaky)
        .with_retry(exponential_jitter_params={"initial": 0.01, "jitter": 0})
        .with_timeout(60)
    )
    assert await step.ainvoke(1) == 2
    assert async_sleeps.waits == [0.01, 0.02]


# ---------------------------------------------------------------------- batch


async def test_abatch_retries_only_the_inputs_that_failed() -> None:
    calls = Counter[int]()

    def fn(x: int) -> int:
        calls[x] += 1
        if x % 2 and calls[x] < 3:
            raise ConnectionError(x)
        return x

    out = await RunnableLambda(fn).with_retry(**NO_WAIT).abatch([1, 2, 3, 4])
    assert out == [1, 2, 3, 4]
    assert calls == {1: 3, 2: 1, 3: 3, 4: 1}


def test_sync_batch_retries_only_the_inputs_that_failed() -> None:
    calls = Counter[int]()

    def fn(x: int) -> int:
        calls[x] += 1
        if x == 2 and calls[x] < 2:
            raise ConnectionError(x)
        return x

    assert RunnableLambda(fn).with_retry(**NO_WAIT).batch([1, 2, 3]) == [1, 2, 3]
    assert calls == {1: 1, 2: 2, 3: 1}


async def test_abatch_return_exceptions_gives_the_last_error_per_failed_input() -> None:
    calls = Counter[int]()

    def fn(x: int) -> int:
        calls[x] += 1
        if x == 2:
            raise ValueError(f"{x} failed on attempt {calls[x]}")
        return x

    out = await RunnableLambda(fn).with_retry(**NO_WAIT).abatch([1, 2], return_exceptions=True)
    assert out[0] == 1
    assert isinstance(out[1], ValueError) and str(out[1]) == "2 failed on attempt 3"
    assert calls == {1: 1, 2: 3}


def _one_two_fail(calls: Counter[int]) -> Any:
    def fn(x: int) -> int:
        calls[x] += 1
        if x == 1:
            raise ValueError("x is 1")
        if x == 2:
            raise RuntimeError("x is 2")
        return x

    return fn


def test_batch_retries_every_failed_input_when_the_first_failure_is_retryable() -> None:
    # langchain-core's rounds: input 1's ValueError is retryable, so input 2 (whose
    # RuntimeError is not) runs again with it; input 0 succeeded and does not.
    calls = Counter[int]()
    retried = RunnableLambda(_one_two_fail(calls)).with_retry(
        stop_after_attempt=2, retry_if_exception_type=(ValueError,), **NO_WAIT
    )
    with pytest.raises(ValueError, match="x is 1"):
        retried.batch([1, 2, 0])
    assert calls == {1: 2, 2: 2, 0: 1}
    calls.clear()
    out = retried.batch([1, 2, 0], return_exceptions=True)
    assert isinstance(out[0], ValueError) and isinstance(out[1], RuntimeError) and out[2] == 0
    assert calls == {1: 2, 2: 2, 0: 1}


async def test_abatch_stops_when_the_first_failure_is_not_retryable() -> None:
    calls = Counter[int]()
    retried = RunnableLambda(_one_two_fail(calls)).with_retry(
        stop_after_attempt=3, retry_if_exception_type=(ValueError,), **NO_WAIT
    )
    out = await retried.abatch([2, 1, 0], return_exceptions=True)
    assert isinstance(out[0], RuntimeError) and isinstance(out[1], ValueError) and out[2] == 0
    assert calls == {2: 1, 1: 1, 0: 1}
    calls.clear()
    out = await retried.abatch(
        [1, 2, 0], [{"tags": ["a"]}, {"tags": ["b"]}, {}], return_exceptions=True
    )
    assert calls == {1: 3, 2: 3, 0: 1}


# ---------------------------------------------------------------------- streams


async def test_astream_retries_a_failure_before_the_first_chunk() -> None:
    attempts = 0

    async def gen(x: str) -> AsyncIterator[str]:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("not yet")
        for ch in x:
            yield ch

    step = RunnableLambda(gen).with_retry(**NO_WAIT)
    assert [c async for c in step.astream("ab")] == ["a", "b"]
    assert attempts == 3


async def test_astream_does_not_retry_after_the_first_chunk() -> None:
    attempts = 0

    async def gen(x: str) -> AsyncIterator[str]:
        nonlocal attempts
        attempts += 1
        yield "partial"
        raise ConnectionError(f"dropped on attempt {attempts}")

    step = RunnableLambda(gen).with_retry(**NO_WAIT)
    seen: list[str] = []
    with pytest.raises(ConnectionError, match="dropped on attempt 1") as info:
        async for chunk in step.astream("x"):
            seen.append(chunk)
    assert seen == ["partial"]
    assert attempts == 1
    assert not any("gave up" in note for note in info.value.__notes__)


def test_sync_stream_follows_the_same_rule() -> None:
    attempts = 0

    def gen(x: str) -> Iterator[str]:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("early")
        yield "a"
        yield "b"

    assert list(RunnableLambda(gen).with_retry(**NO_WAIT).stream("x")) == ["a", "b"]
    assert attempts == 2


async def test_astream_gives_up_with_the_last_error() -> None:
    async def gen(x: str) -> AsyncIterator[str]:
        raise ConnectionError("never")
        yield x  # pragma: no cover

    with pytest.raises(ConnectionError, match="never") as info:
        [c async for c in RunnableLambda(gen).with_retry(**NO_WAIT).astream("x")]
    assert "(gave up after 3 attempts)" in info.value.__notes__


async def test_atransform_replays_the_input_stream_to_each_attempt() -> None:
    pulled: list[str] = []
    received: list[list[str]] = []

    async def source() -> AsyncIterator[str]:
        for part in ["a", "b", "c"]:
            pulled.append(part)
            yield part

    async def consume(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        got = [c async for c in chunks]
        received.append(got)
        if len(received) == 1:
            raise ConnectionError("failed after reading the input")
        yield "".join(got)

    from runnables import RunnableGenerator

    step = RunnableGenerator(consume).with_retry(**NO_WAIT)
    assert [c async for c in step.atransform(source())] == ["abc"]
    assert received == [["a", "b", "c"], ["a", "b", "c"]]
    assert pulled == ["a", "b", "c"]  # the source itself was read once


async def test_an_error_from_the_input_stream_is_not_retried() -> None:
    attempts = 0

    async def source() -> AsyncIterator[str]:
        yield "a"
        raise ConnectionError("upstream broke")

    async def consume(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        nonlocal attempts
        attempts += 1
        async for _ in chunks:
            pass
        yield "done"

    from runnables import RunnableGenerator

    step = RunnableGenerator(consume).with_retry(**NO_WAIT)
    with pytest.raises(ConnectionError, match="upstream broke"):
        [c async for c in step.atransform(source())]
    assert attempts == 1


async def test_an_empty_stream_is_not_an_error() -> None:
    async def nothing(x: Any) -> AsyncIterator[Any]:
        return
        yield  # pragma: no cover

    assert [c async for c in RunnableLambda(nothing).with_retry().astream(1)] == []


# ---------------------------------------------------------------------- structure


async def test_retry_attempts_are_tagged_in_events() -> None:
    step = RunnableLambda(Flaky(1), name="flaky").with_retry(**NO_WAIT)
    starts = [
        e["tags"]
        async for e in step.astream_events(1)
        if e["event"] == "on_chain_start" and e["name"] == "flaky"
    ]
    # The retry's own run, then attempt 1 (untagged) and attempt 2.
    assert any("retry:attempt:2" in tags for tags in starts)


async def test_a_streamed_retry_of_one_attempt_is_one_run_as_langchain_core() -> None:
    def success(_: str) -> str:
        return "success"

    def fail(_: str) -> None:
        raise ValueError("fail")

    chain = RunnableLambda(success) | RunnableLambda(fail).with_retry(stop_after_attempt=1)
    events: list[dict[str, Any]] = []
    with pytest.raises(ValueError, match="fail"):
        async for event in chain.astream_events("q"):
            events.append(event)
    assert [(e["event"], e["name"], e["tags"]) for e in events] == [
        ("on_chain_start", "RunnableSequence", []),
        ("on_chain_start", "success", ["seq:step:1"]),
        ("on_chain_stream", "success", ["seq:step:1"]),
        ("on_chain_start", "fail", ["seq:step:2"]),
        ("on_chain_end", "success", ["seq:step:1"]),
    ]


def test_the_retry_wraps_and_is_named_after_its_step() -> None:
    inner = RunnableLambda(lambda x: x, name="inner")
    step = inner.with_retry()
    assert step.get_name() == "inner"
    assert list(step._children()) == [inner]


def test_an_async_step_needs_a_loop() -> None:
    async def fn(x: Any) -> Any:
        return x

    assert RunnableLambda(fn).with_retry()._needs_loop() is True


def test_call_arguments_reach_the_bound_step() -> None:
    flaky = Flaky(1)

    def fn(x: int, extra: int = 0) -> int:
        return int(flaky(x)) + extra

    assert RunnableLambda(fn).with_retry(**NO_WAIT).bind(extra=1).invoke(2) == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"stop_after_attempt": 0}, "at least 1"),
        ({"stop_after_attempt": 2.5}, "whole number"),
        ({"exponential_jitter_params": {"inital": 1}}, "Unknown exponential_jitter_params"),
        ({"exponential_jitter_params": {"max": -1}}, "at least 0"),
        ({"retry_if_exception_type": ("ValueError",)}, "tuple of exception classes"),
    ],
)
def test_bad_settings_raise_a_clear_error(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RunnableLambda(lambda x: x).with_retry(**kwargs)


def test_a_lone_exception_class_is_accepted() -> None:
    flaky = Flaky(1, exc=ValueError)
    step = RunnableRetry(
        bound=RunnableLambda(flaky),
        retry_exception_types=ValueError,  # type: ignore[arg-type]
        wait_exponential_jitter=False,
    )
    assert step.invoke(1) == 2
