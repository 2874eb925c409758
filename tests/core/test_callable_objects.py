"""Callable objects are steps like the functions their ``__call__`` is."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from runnables import RunnableLambda


class AsyncDouble:
    async def __call__(self, x: int) -> int:
        return 2 * x


class AsyncCounter:
    async def __call__(self, n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i


class SyncCounter:
    def __call__(self, n: int) -> Iterator[int]:
        yield from range(n)


async def test_an_object_with_an_async_call_is_awaited() -> None:
    assert await RunnableLambda(AsyncDouble()).ainvoke(3) == 6
    assert RunnableLambda(AsyncDouble()).invoke(3) == 6
    assert await (RunnableLambda[int, int](lambda x: x + 1) | AsyncDouble()).ainvoke(1) == 4


async def test_an_object_with_an_async_generator_call_streams() -> None:
    assert [c async for c in RunnableLambda(AsyncCounter()).astream(3)] == [0, 1, 2]
    assert await RunnableLambda(AsyncCounter()).ainvoke(3) == 3  # 0 + 1 + 2


async def test_an_object_with_a_generator_call_streams() -> None:
    assert [c async for c in RunnableLambda(SyncCounter()).astream(3)] == [0, 1, 2]
    assert list(RunnableLambda(SyncCounter()).stream(3)) == [0, 1, 2]
