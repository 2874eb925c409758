"""Streaming passes through: each chunk reaches the consumer before the next is produced.

Each test makes the producer of chunk N+1 wait for the consumer to have received chunk
N (an asyncio.Event, or an order log for sync generators). A step that buffered its
input or output would deadlock, which ``asyncio.wait_for`` turns into a failure.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from runnables import (
    AddableDict,
    Runnable,
    RunnableGenerator,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    RunnablePick,
    RunnableSequence,
)

TIMEOUT = 10


class Gate:
    """The consumer opens gate N when it has received chunk N."""

    def __init__(self, n: int = 8) -> None:
        self.received = [asyncio.Event() for _ in range(n)]
        self.count = 0

    async def after(self, n: int) -> None:
        """Wait until the consumer has received ``n`` chunks."""
        if n > 0:
            await self.received[n - 1].wait()

    def got_one(self) -> None:
        self.received[self.count].set()
        self.count += 1


async def consume(stream: AsyncIterator[Any], gate: Gate) -> list[Any]:
    out = []
    async for chunk in stream:
        out.append(chunk)
        gate.got_one()
    return out


def gated_source(gate: Gate, chunks: list[Any]) -> RunnableGenerator[Any, Any]:
    """An async generator step that produces chunk N+1 only after chunk N was received."""

    async def source(inputs: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for _ in inputs:
            pass
        for i, chunk in enumerate(chunks):
            await gate.after(i)
            yield chunk

    return RunnableGenerator(source)


async def test_async_generator_functions_piped_stream_each_chunk_through() -> None:
    gate = Gate()

    async def upper(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        async for c in chunks:
            yield c.upper()

    async def exclaim(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        async for c in chunks:
            yield c + "!"

    chain = gated_source(gate, ["a", "b", "c"]) | upper | exclaim
    assert isinstance(chain, RunnableSequence)
    assert isinstance(chain.steps[1], RunnableGenerator)
    out = await asyncio.wait_for(consume(chain.astream(None), gate), TIMEOUT)
    assert out == ["A!", "B!", "C!"]


async def test_runnable_lambda_over_async_generator_streams_its_chunks() -> None:
    gate = Gate()

    async def words(text: str) -> AsyncIterator[str]:
        for i, w in enumerate(text.split()):
            await gate.after(i)
            yield w

    out = await asyncio.wait_for(consume(RunnableLambda(words).astream("x y z"), gate), TIMEOUT)
    assert out == ["x", "y", "z"]


async def test_passthrough_streams_chunks_as_they_arrive() -> None:
    gate = Gate()
    chain = gated_source(gate, ["a", "b", "c"]) | RunnablePassthrough()
    out = await asyncio.wait_for(consume(chain.astream(None), gate), TIMEOUT)
    assert out == ["a", "b", "c"]


async def test_pick_streams_chunks_as_they_arrive() -> None:
    gate = Gate()
    chunks = [{"k": "a", "x": 1}, {"k": "b"}, {"k": "c"}]
    chain = gated_source(gate, chunks) | RunnablePick("k")
    out = await asyncio.wait_for(consume(chain.astream(None), gate), TIMEOUT)
    assert out == ["a", "b", "c"]


async def test_assign_streams_passed_keys_before_the_assigned_value_is_ready() -> None:
    gate = Gate()
    # AddableDict chunks add up ("ab"); plain dicts would replace each other.
    chunks = [AddableDict(text="a"), AddableDict(text="b")]

    async def count(d: dict[str, str]) -> int:
        return len(d["text"])

    chain = gated_source(gate, chunks) | RunnablePassthrough.assign(n=count)
    out = await asyncio.wait_for(consume(chain.astream(None), gate), TIMEOUT)
    assert out == [{"text": "a"}, {"text": "b"}, {"n": 2}]


async def test_parallel_yields_each_branch_chunk_keyed_and_interleaved() -> None:
    # Branch a's second chunk waits for branch b's first chunk to have been received,
    # and b's second for a's second: only interleaved streaming completes.
    seen: list[tuple[str, str]] = []
    got = {name: asyncio.Event() for name in ("a1", "b1", "a2")}

    async def branch_a(inputs: AsyncIterator[Any]) -> AsyncIterator[str]:
        async for _ in inputs:
            pass
        yield "a1"
        await got["b1"].wait()
        yield "a2"

    async def branch_b(inputs: AsyncIterator[Any]) -> AsyncIterator[str]:
        async for _ in inputs:
            pass
        await got["a1"].wait()
        yield "b1"
        await got["a2"].wait()
        yield "b2"

    par = RunnableParallel(a=RunnableGenerator(branch_a), b=RunnableGenerator(branch_b))

    async def run() -> None:
        async for chunk in par.astream(None):
            ((key, value),) = chunk.items()
            seen.append((key, value))
            if value in got:
                got[value].set()

    await asyncio.wait_for(run(), TIMEOUT)
    assert seen == [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2")]


async def test_parallel_branches_stream_an_upstream_stream_chunk_by_chunk() -> None:
    gate = Gate()

    async def prefixed(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        async for c in chunks:
            yield "p" + c

    chain = gated_source(gate, ["1", "2"]) | {
        "p": RunnableGenerator(prefixed),
        "q": RunnablePassthrough(),
    }
    out: list[dict[str, str]] = []

    async def run() -> None:
        async for chunk in chain.astream(None):
            out.append(chunk)
            if len(out) % 2 == 0:  # both branches passed chunk N on: let N+1 be produced
                gate.got_one()

    await asyncio.wait_for(run(), TIMEOUT)
    assert sorted(out[:2], key=str) == [{"p": "p1"}, {"q": "1"}]
    assert sorted(out[2:], key=str) == [{"p": "p2"}, {"q": "2"}]


async def test_astream_of_sync_generator_function_yields_before_producing_next() -> None:
    log: list[str] = []

    def numbers(x: int) -> Iterator[int]:
        for i in range(3):
            log.append(f"produce {i}")
            yield i

    async for chunk in RunnableLambda(numbers).astream(0):
        log.append(f"receive {chunk}")
    assert log == [f"{verb} {i}" for i in range(3) for verb in ("produce", "receive")]


async def test_astream_of_piped_sync_generator_yields_before_producing_next() -> None:
    log: list[str] = []

    def numbers(chunks: Iterator[int]) -> Iterator[int]:
        for c in chunks:
            for i in range(c):
                log.append(f"produce {i}")
                yield i

    chain = RunnableLambda(lambda x: x) | numbers
    async for chunk in chain.astream(3):
        log.append(f"receive {chunk}")
    assert log == [f"{verb} {i}" for i in range(3) for verb in ("produce", "receive")]


def test_sync_stream_passes_chunks_through_piped_sync_generators() -> None:
    log: list[str] = []

    def source(chunks: Iterator[int]) -> Iterator[int]:
        for c in chunks:
            for i in range(c):
                log.append(f"produce {i}")
                yield i

    def double(chunks: Iterator[int]) -> Iterator[int]:
        for c in chunks:
            log.append(f"double {c}")
            yield c * 2

    chain = RunnableGenerator(source) | double | RunnablePassthrough()
    for chunk in chain.stream(3):
        log.append(f"receive {chunk}")
    expected = []
    for i in range(3):
        expected += [f"produce {i}", f"double {i}", f"receive {i * 2}"]
    assert log == expected


def test_sync_stream_of_async_generator_step_streams_live_from_the_bridge() -> None:
    received = [threading.Event() for _ in range(3)]

    async def numbers(x: int) -> AsyncIterator[int]:
        for i in range(x):
            if i > 0:
                # Chunk i is produced only once the sync consumer has chunk i-1.
                while not received[i - 1].is_set():
                    await asyncio.sleep(0.001)
            yield i

    out = []
    for chunk in RunnableLambda(numbers).stream(3):
        out.append(chunk)
        received[chunk].set()
    assert out == [0, 1, 2]


@pytest.mark.parametrize("method", ["invoke", "ainvoke"])
async def test_invoke_of_generator_adds_up_the_chunks(method: str) -> None:
    def letters(x: str) -> Iterator[str]:
        yield from x

    step = RunnableLambda(letters)
    if method == "invoke":
        assert step.invoke("abc") == "abc"
    else:
        assert await step.ainvoke("abc") == "abc"


def test_streaming_through_a_flat_chain_of_1000_steps_has_no_recursion_error() -> None:
    from runnables import RunnableSequence

    chain: RunnableSequence[int, int] = RunnableSequence(
        *[RunnableLambda[int, int](lambda x: x + 1) for _ in range(1000)]
    )
    assert list(chain.stream(0)) == [1000]  # driven inline, no loop

    async def main() -> list[int]:
        return [c async for c in chain.astream(0)]

    assert asyncio.run(main()) == [1000]
    slow: RunnableSequence[int, int] = RunnableSequence(
        RunnableLambda(_asleep_plus_one), *chain.steps
    )  # on the bridge
    assert list(slow.stream(0)) == [1001]


async def _asleep_plus_one(x: int) -> int:
    await asyncio.sleep(0)
    return x + 1


async def test_a_streaming_step_inside_a_long_chain_still_streams_its_chunks() -> None:
    from runnables import RunnableSequence

    def spell(x: int) -> Iterator[str]:
        yield from str(x)

    plain = [RunnableLambda[int, int](lambda x: x + 1) for _ in range(600)]
    chain: RunnableSequence[int, str] = RunnableSequence(*plain, RunnableLambda(spell))
    assert [c async for c in chain.astream(0)] == ["6", "0", "0"]
    # a function that returns a runnable still streams it, at the end of a run of steps
    ending: RunnableSequence[int, str] = RunnableSequence(
        *plain, RunnableLambda[int, Runnable[int, str]](lambda x: RunnableLambda(spell))
    )
    assert [c async for c in ending.astream(0)] == ["6", "0", "0"]
