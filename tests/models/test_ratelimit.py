"""The rate limiter, on a fake clock: computed waits, token correction, shared budgets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runnables.errors import ConfigError
from runnables.messages import AIMessage, BaseMessage
from runnables.models import BaseChatModel, FunctionChatModel, InMemoryRateLimiter, RateLimiter


class FakeClock:
    """Time that moves only when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now = max(self.now, self.now + seconds)
        await asyncio.sleep(0)


async def test_requests_are_spaced_by_a_computed_wait_without_polling() -> None:
    clock = FakeClock()
    limiter = RateLimiter(requests_per_minute=60, clock=clock, sleep=clock.sleep)
    reservations = [limiter.reserve()[1] for _ in range(4)]
    # First goes now; the others queue one second apart (60 per minute, no burst).
    assert reservations == pytest.approx([0.0, 1.0, 2.0, 3.0])


async def test_tokens_per_minute_delays_a_request_until_its_tokens_fit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(tokens_per_minute=600, clock=clock, sleep=clock.sleep)
    await limiter.aacquire(600)  # the whole minute's budget
    _, wait = limiter.reserve(60)
    assert wait == pytest.approx(6.0)  # 60 tokens at 10 tokens a second


async def test_correction_from_reported_usage_moves_later_requests() -> None:
    clock = FakeClock()
    limiter = RateLimiter(tokens_per_minute=600, clock=clock, sleep=clock.sleep)
    r = await limiter.aacquire(100)
    limiter.correct(r, 400)  # the response used more than estimated
    limiter.correct(r, 10_000)  # settling twice changes nothing
    _, wait = limiter.reserve(300)
    assert wait == pytest.approx(10.0)  # 600 - 400 = 200 left; 100 more at 10/s


async def test_a_cancelled_waiter_gives_its_share_back() -> None:
    clock = FakeClock()
    blocked = asyncio.Event()

    async def never(seconds: float) -> None:
        blocked.set()
        await asyncio.Event().wait()

    limiter = RateLimiter(requests_per_minute=60, clock=clock, sleep=never)
    await limiter.aacquire()
    task = asyncio.create_task(limiter.aacquire())
    await blocked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limiter.reserve()[1] == pytest.approx(1.0)  # not 2.0


async def test_a_model_call_waits_for_the_limiter_and_corrects_with_usage() -> None:
    clock = FakeClock()
    limiter = RateLimiter(requests_per_minute=60, clock=clock, sleep=clock.sleep)

    def answer(messages: list[BaseMessage]) -> AIMessage:
        return AIMessage(
            "ok", usage_metadata={"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
        )

    model = FunctionChatModel(answer, rate_limiter=limiter)
    await model.abatch(["a", "b", "c"])
    assert len(clock.sleeps) == 2
    assert clock.now == pytest.approx(2.0)  # the third request started two seconds in


async def test_waiting_for_the_rate_limit_does_not_hold_a_max_concurrency_slot() -> None:
    # Model A is rate limited and must wait; model B is not. With max_concurrency=1,
    # B must be able to run while A waits for the limiter.
    clock = FakeClock()
    gate = asyncio.Event()
    a_waiting = asyncio.Event()

    async def limiter_sleep(seconds: float) -> None:
        a_waiting.set()
        await gate.wait()

    limiter = RateLimiter(requests_per_minute=60, clock=clock, sleep=limiter_sleep)
    limiter.reserve()  # use up the burst so the next request waits
    order: list[str] = []

    async def a_fn(messages: list[BaseMessage]) -> str:
        order.append("a")
        return "a"

    async def b_fn(messages: list[BaseMessage]) -> str:
        await a_waiting.wait()
        order.append("b")
        gate.set()
        return "b"

    a = FunctionChatModel(a_fn, rate_limiter=limiter)
    b = FunctionChatModel(b_fn)
    from runnables import RunnableParallel

    both = RunnableParallel(a=a, b=b)
    out = await asyncio.wait_for(both.ainvoke("x", {"max_concurrency": 1}), timeout=30)
    assert order == ["b", "a"]
    assert out["a"].content == "a"


def test_in_memory_rate_limiter_takes_langchain_core_arguments() -> None:
    limiter = InMemoryRateLimiter(
        requests_per_second=2, check_every_n_seconds=0.5, max_bucket_size=2
    )
    assert limiter.requests_per_minute == 120
    assert [limiter.reserve()[1] for _ in range(3)] == pytest.approx([0.0, 0.0, 0.5], abs=0.01)


def test_bad_limits_are_config_errors_naming_the_value() -> None:
    with pytest.raises(ConfigError, match="-1"):
        RateLimiter(requests_per_minute=-1)
    with pytest.raises(ConfigError, match="needs requests_per_minute"):
        RateLimiter()


def test_sync_invoke_respects_the_limiter(monkeypatch: Any) -> None:
    clock = FakeClock()
    limiter = RateLimiter(requests_per_minute=6000, clock=clock, sleep=clock.sleep)
    model: BaseChatModel = FunctionChatModel(lambda m: "hi", rate_limiter=limiter)
    assert model.invoke("x").content == "hi"
    assert model.invoke("x").content == "hi"
    assert clock.sleeps == pytest.approx([0.01])


def test_a_correction_settles_what_was_taken_not_an_estimate_above_the_bucket() -> None:
    clock = FakeClock()
    # A 100-token bucket that refills at 10 tokens a second.
    limiter = RateLimiter(
        tokens_per_minute=600, max_token_bucket=100, clock=clock, sleep=clock.sleep
    )
    r, _ = limiter.reserve(1000)  # more than the bucket: takes the whole bucket
    limiter.correct(r, 10)  # used 10, so 90 come back (not 990)
    _, wait = limiter.reserve(100)
    assert wait == pytest.approx(1.0)  # 10 tokens short, at 10 a second


def test_a_refund_never_fills_the_bucket_above_capacity() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        tokens_per_minute=600, max_token_bucket=100, clock=clock, sleep=clock.sleep
    )
    r, _ = limiter.reserve(50)
    clock.now += 60  # the bucket refills to its capacity meanwhile
    limiter.correct(r, 0)  # the refund of 50 must not lift it to 150
    assert limiter.reserve(100)[1] == pytest.approx(0.0)
    assert limiter.reserve(10)[1] == pytest.approx(1.0)


def test_cancelling_gives_back_no_more_than_the_bucket_holds() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        requests_per_minute=60, tokens_per_minute=600, max_token_bucket=100, clock=clock
    )
    r, _ = limiter.reserve(1000)
    clock.now += 60
    limiter.cancel(r)
    assert limiter.reserve(100)[1] == pytest.approx(0.0)
    assert limiter.reserve(10)[1] == pytest.approx(1.0)


def _reporting_model(limiter: RateLimiter, total_tokens: int) -> FunctionChatModel:
    """A model whose responses report ``total_tokens`` of usage, streamed or not."""

    def answer(messages: list[BaseMessage]) -> AIMessage:
        return AIMessage(
            "ok",
            usage_metadata={
                "input_tokens": total_tokens - 1,
                "output_tokens": 1,
                "total_tokens": total_tokens,
            },
        )

    return FunctionChatModel(answer, rate_limiter=limiter)


@pytest.mark.parametrize("path", ["ainvoke", "astream"])
async def test_reported_usage_of_a_model_call_moves_the_next_calls_wait(path: str) -> None:
    clock = FakeClock()
    limiter = RateLimiter(tokens_per_minute=600, clock=clock, sleep=clock.sleep)
    model = _reporting_model(limiter, total_tokens=400)  # "hi" is estimated at 1 token

    async def call(text: str) -> None:
        if path == "ainvoke":
            await model.ainvoke(text)
        else:
            _ = [c async for c in model.astream(text)]

    await call("hi")
    assert clock.sleeps == []
    # 600 - 400 = 200 tokens left; this call is estimated at 300, so it waits for 100
    # more at 10 a second. Had the estimate stood (1 token), it would not wait at all.
    await call("x" * 1200)
    assert clock.sleeps == pytest.approx([10.0])


async def test_usage_below_the_estimate_frees_budget_for_the_next_call() -> None:
    clock = FakeClock()
    limiter = RateLimiter(tokens_per_minute=600, clock=clock, sleep=clock.sleep)
    model = _reporting_model(limiter, total_tokens=2)
    await model.ainvoke("x" * 2000)  # estimated at 500, reported 2
    await model.ainvoke("x" * 2000)  # 598 left: fits without waiting
    assert clock.sleeps == []


async def test_waiting_for_the_rate_limit_in_astream_does_not_hold_a_max_concurrency_slot() -> None:
    # As above, on the streaming path: A streams and must wait for the limiter; B is not
    # limited. With max_concurrency=1, B must run while A waits.
    clock = FakeClock()
    gate = asyncio.Event()
    a_waiting = asyncio.Event()

    async def limiter_sleep(seconds: float) -> None:
        a_waiting.set()
        await gate.wait()

    limiter = RateLimiter(requests_per_minute=60, clock=clock, sleep=limiter_sleep)
    limiter.reserve()  # use up the burst so the next request waits
    order: list[str] = []

    async def a_stream(messages: list[BaseMessage]) -> Any:
        order.append("a")
        yield "a"

    async def b_stream(messages: list[BaseMessage]) -> Any:
        await a_waiting.wait()
        order.append("b")
        gate.set()
        yield "b"

    a = FunctionChatModel(stream_func=a_stream, rate_limiter=limiter)
    b = FunctionChatModel(stream_func=b_stream)
    from runnables import RunnableParallel

    both = RunnableParallel(a=a, b=b)

    async def consume() -> list[Any]:
        return [c async for c in both.astream("x", {"max_concurrency": 1})]

    chunks = await asyncio.wait_for(consume(), timeout=30)
    assert order == ["b", "a"]
    assert "".join(c["a"].text for c in chunks if "a" in c) == "a"


async def test_cancelling_a_queued_caller_shortens_the_waits_of_those_after_it() -> None:
    clock = FakeClock()
    sleeping: list[float] = []
    asleep = asyncio.Event()

    async def sleep_until_woken(seconds: float) -> None:
        sleeping.append(seconds)
        asleep.set()
        await asyncio.Event().wait()  # only an early wake-up (or cancel) ends it

    limiter = RateLimiter(requests_per_minute=60, clock=clock, sleep=sleep_until_woken)
    await limiter.aacquire()  # the first goes at once
    second = asyncio.create_task(limiter.aacquire())
    third = asyncio.create_task(limiter.aacquire())
    while len(sleeping) < 2:
        asleep.clear()
        await asleep.wait()
    assert sleeping == pytest.approx([1.0, 2.0])
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    async with asyncio.timeout(10):  # before the fix, no third sleep ever came
        while len(sleeping) < 3:
            asleep.clear()
            await asleep.wait()
    assert sleeping[2] == pytest.approx(1.0)  # the third now waits 1 s, not 2 s
    third.cancel()
    with pytest.raises(asyncio.CancelledError):
        await third
    assert limiter.reserve()[1] == pytest.approx(1.0)  # both shares given back


async def test_a_cancel_storm_wakes_each_remaining_waiter_about_once() -> None:
    clock = FakeClock()
    sleeps: list[float] = []

    async def sleep_until_woken(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.Event().wait()

    limiter = RateLimiter(requests_per_minute=60, clock=clock, sleep=sleep_until_woken)
    await limiter.aacquire()
    n = 2000
    tasks = [asyncio.create_task(limiter.aacquire()) for _ in range(n)]
    async with asyncio.timeout(30):
        while len(sleeps) < n:
            await asyncio.sleep(0)
        for t in tasks[:-1]:  # all but the last, in one go
            t.cancel()
        await asyncio.gather(*tasks[:-1], return_exceptions=True)
        while sleeps[-1] != pytest.approx(1.0):
            await asyncio.sleep(0)
    assert len(sleeps) <= n + 5  # not one wake-up per cancel per waiter
    tasks[-1].cancel()
    await asyncio.gather(tasks[-1], return_exceptions=True)
    assert limiter.reserve()[1] == pytest.approx(1.0)
