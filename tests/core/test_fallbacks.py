"""RunnableWithFallbacks: other runnables tried in order when one fails."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from runnables import ConfigError, RunnableGenerator, RunnableLambda
from runnables.core.fallbacks import RunnableWithFallbacks
from runnables.errors import InvalidInputError


class Recorder:
    """A step that records its inputs and fails for the inputs in ``fail_on``."""

    def __init__(
        self, name: str, fail_on: Any = (), exc: type[Exception] = ConnectionError
    ) -> None:
        self.name = name
        self.fail_on = fail_on
        self.exc = exc
        self.calls: Counter[Any] = Counter()
        self.raised: list[Exception] = []

    def __call__(self, x: Any) -> Any:
        key = x if not isinstance(x, dict) else x.get("q")
        self.calls[key] += 1
        if self.fail_on == "all" or key in self.fail_on:
            err = self.exc(f"{self.name} failed on {key!r}")
            self.raised.append(err)
            raise err
        return f"{self.name}:{key}"

    def step(self) -> RunnableLambda[Any, Any]:
        return RunnableLambda(self, name=self.name)


def test_invoke_uses_the_primary_when_it_works() -> None:
    primary, backup = Recorder("primary"), Recorder("backup")
    step = primary.step().with_fallbacks([backup.step()])
    assert isinstance(step, RunnableWithFallbacks)
    assert step.invoke(1) == "primary:1"
    assert backup.calls == {}


async def test_ainvoke_falls_back_in_order_until_one_works() -> None:
    a, b, c = Recorder("a", "all"), Recorder("b", "all"), Recorder("c")
    step = a.step().with_fallbacks([b.step(), c.step()])
    assert await step.ainvoke(1) == "c:1"
    assert (a.calls[1], b.calls[1], c.calls[1]) == (1, 1, 1)


def test_sync_invoke_falls_back() -> None:
    step = Recorder("a", "all").step().with_fallbacks([Recorder("b").step()])
    assert step._needs_loop() is False
    assert step.invoke("x") == "b:x"


async def test_when_all_fail_the_first_error_is_raised() -> None:
    a, b = Recorder("a", "all"), Recorder("b", "all", exc=TimeoutError)
    step = a.step().with_fallbacks([b.step()])
    with pytest.raises(ConnectionError) as info:
        await step.ainvoke(1)
    assert info.value is a.raised[0]
    assert str(info.value) == "a failed on 1"
    assert any("'a'" in note for note in info.value.__notes__)
    assert any("TimeoutError: b failed on 1" in note for note in info.value.__notes__)


async def test_errors_outside_exceptions_to_handle_propagate_at_once() -> None:
    a, b = Recorder("a", "all", exc=KeyError), Recorder("b")
    step = a.step().with_fallbacks([b.step()], exceptions_to_handle=(ConnectionError,))
    with pytest.raises(KeyError):
        await step.ainvoke(1)
    assert b.calls == {}


async def test_an_unhandled_error_from_a_fallback_propagates_too() -> None:
    a, b, c = Recorder("a", "all"), Recorder("b", "all", exc=KeyError), Recorder("c")
    step = a.step().with_fallbacks([b.step(), c.step()], exceptions_to_handle=(ConnectionError,))
    with pytest.raises(KeyError):
        await step.ainvoke(1)
    assert c.calls == {}


async def test_exception_key_passes_the_previous_error_to_each_fallback() -> None:
    seen: list[dict[str, Any]] = []

    def primary(x: dict[str, Any]) -> Any:
        raise ValueError("primary broke")

    def second(x: dict[str, Any]) -> Any:
        seen.append(dict(x))
        raise ValueError("second broke")

    def third(x: dict[str, Any]) -> Any:
        seen.append(dict(x))
        return f"recovered from {x['error']}"

    step = RunnableLambda(primary).with_fallbacks(
        [RunnableLambda(second), RunnableLambda(third)], exception_key="error"
    )
    original = {"q": 1}
    assert await step.ainvoke(original) == "recovered from second broke"
    assert str(seen[0]["error"]) == "primary broke"
    assert str(seen[1]["error"]) == "second broke"
    assert seen[0]["q"] == 1
    assert original == {"q": 1}  # the caller's dict is not modified


def test_exception_key_needs_a_dict_input() -> None:
    step = Recorder("a", "all").step().with_fallbacks([Recorder("b").step()], exception_key="error")
    with pytest.raises(InvalidInputError, match="must be a dict"):
        step.invoke("not a dict")


def test_the_primary_does_not_see_the_exception_key() -> None:
    inputs: list[dict[str, Any]] = []

    def primary(x: dict[str, Any]) -> str:
        inputs.append(x)
        return "ok"

    step = RunnableLambda(primary).with_fallbacks(
        [RunnableLambda[dict[str, Any], str](lambda x: "fb")], exception_key="error"
    )
    assert step.invoke({"q": 1}) == "ok"
    assert inputs == [{"q": 1}]


# ---------------------------------------------------------------------- batch


async def test_abatch_falls_back_only_for_the_inputs_that_failed() -> None:
    primary, backup = Recorder("primary", fail_on={2, 4}), Recorder("backup")
    step = primary.step().with_fallbacks([backup.step()])
    out = await step.abatch([1, 2, 3, 4])
    assert out == ["primary:1", "backup:2", "primary:3", "backup:4"]
    assert backup.calls == {2: 1, 4: 1}
    assert primary.calls == {1: 1, 2: 1, 3: 1, 4: 1}


def test_sync_batch_falls_back_per_input() -> None:
    primary, backup = Recorder("primary", fail_on={"b"}), Recorder("backup")
    out = primary.step().with_fallbacks([backup.step()]).batch(["a", "b"])
    assert out == ["primary:a", "backup:b"]
    assert backup.calls == {"b": 1}


async def test_abatch_return_exceptions_puts_the_last_error_in_place() -> None:
    primary = Recorder("primary", fail_on={2})
    backup = Recorder("backup", fail_on={2})
    out = (
        await primary.step().with_fallbacks([backup.step()]).abatch([1, 2], return_exceptions=True)
    )
    assert out[0] == "primary:1"
    assert out[1] is backup.raised[0]  # langchain-core's batch keeps the last error


async def test_abatch_raises_the_last_error_when_an_input_exhausts_its_fallbacks() -> None:
    primary = Recorder("primary", fail_on={2})
    with pytest.raises(ConnectionError, match="b failed on 2"):
        await primary.step().with_fallbacks([Recorder("b", fail_on={2}).step()]).abatch([1, 2])


# ---------------------------------------------------------------------- streams


def _streamer(name: str, fail_before: bool = False, fail_after: bool = False) -> Any:
    async def gen(x: str) -> AsyncIterator[str]:
        if fail_before:
            raise ConnectionError(f"{name} failed before output")
        yield f"{name}-1"
        if fail_after:
            raise ConnectionError(f"{name} failed mid-stream")
        yield f"{name}-2"

    return RunnableLambda(gen, name=name)


async def test_astream_falls_back_when_the_failure_is_before_the_first_chunk() -> None:
    step = _streamer("a", fail_before=True).with_fallbacks([_streamer("b")])
    assert [c async for c in step.astream("x")] == ["b-1", "b-2"]


async def test_astream_does_not_fall_back_after_the_first_chunk() -> None:
    backup_runs = 0

    async def backup(x: str) -> AsyncIterator[str]:
        nonlocal backup_runs
        backup_runs += 1
        yield "backup"

    step = _streamer("a", fail_after=True).with_fallbacks([RunnableLambda(backup)])
    seen: list[str] = []
    with pytest.raises(ConnectionError, match="a failed mid-stream"):
        async for chunk in step.astream("x"):
            seen.append(chunk)
    assert seen == ["a-1"]
    assert backup_runs == 0


def test_sync_stream_falls_back_before_the_first_chunk() -> None:
    def broken(x: str) -> Iterator[str]:
        raise ConnectionError("no")
        yield x  # pragma: no cover

    def works(x: str) -> Iterator[str]:
        yield from x

    step = RunnableLambda(broken).with_fallbacks([RunnableLambda(works)])
    assert list(step.stream("ab")) == ["a", "b"]


async def test_astream_raises_the_first_error_when_all_fail_early() -> None:
    step = _streamer("a", fail_before=True).with_fallbacks([_streamer("b", fail_before=True)])
    with pytest.raises(ConnectionError, match="a failed before output"):
        [c async for c in step.astream("x")]


async def test_astream_with_exception_key_passes_the_error() -> None:
    async def primary(x: dict[str, Any]) -> AsyncIterator[str]:
        raise ValueError("nope")
        yield ""  # pragma: no cover

    async def backup(x: dict[str, Any]) -> AsyncIterator[str]:
        yield f"{x['q']} after {x['err']}"

    step = RunnableLambda(primary).with_fallbacks([RunnableLambda(backup)], exception_key="err")
    assert [c async for c in step.astream({"q": 1})] == ["1 after nope"]


async def test_atransform_replays_the_input_stream_to_the_fallback() -> None:
    pulled: list[str] = []

    async def source() -> AsyncIterator[str]:
        for part in ["a", "b"]:
            pulled.append(part)
            yield part

    async def broken(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        async for _ in chunks:
            pass
        raise ConnectionError("broke after reading")
        yield ""  # pragma: no cover

    async def joined(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        yield "".join([c async for c in chunks])

    step = RunnableGenerator(broken).with_fallbacks([RunnableGenerator(joined)])
    assert [c async for c in step.atransform(source())] == ["ab"]
    assert pulled == ["a", "b"]


async def test_an_error_from_the_input_stream_does_not_trigger_fallbacks() -> None:
    fallback_runs = 0

    async def source() -> AsyncIterator[str]:
        yield "a"
        raise ConnectionError("upstream broke")

    async def consume(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        async for _ in chunks:
            pass
        yield "done"

    async def fallback(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        nonlocal fallback_runs
        fallback_runs += 1
        yield "fallback"

    step = RunnableGenerator(consume).with_fallbacks([RunnableGenerator(fallback)])
    with pytest.raises(ConnectionError, match="upstream broke"):
        [c async for c in step.atransform(source())]
    assert fallback_runs == 0


# ---------------------------------------------------------------------- structure


def test_runnables_lists_the_primary_then_the_fallbacks() -> None:
    a, b, c = RunnableLambda(str), RunnableLambda(repr), RunnableLambda(ascii)
    step = a.with_fallbacks([b, c])
    assert step.runnables == [a, b, c]
    assert list(step._children()) == [a, b, c]


def test_an_async_fallback_makes_it_need_a_loop() -> None:
    async def afn(x: Any) -> Any:
        return x

    assert RunnableLambda(str).with_fallbacks([RunnableLambda(afn)])._needs_loop() is True


async def test_async_steps_fall_back() -> None:
    async def primary(x: int) -> int:
        await asyncio.sleep(0)
        raise ConnectionError("down")

    async def backup(x: int) -> int:
        await asyncio.sleep(0)
        return -x

    step = RunnableLambda(primary).with_fallbacks([RunnableLambda(backup)])
    assert await step.ainvoke(3) == -3


def test_call_arguments_reach_every_runnable() -> None:
    def primary(x: int, extra: int = 0) -> int:
        raise ConnectionError(x + extra)

    def backup(x: int, extra: int = 0) -> int:
        return x + extra

    step = RunnableLambda(primary).with_fallbacks([RunnableLambda(backup)])
    assert step.bind(extra=10).invoke(1) == 11


def test_a_single_runnable_instead_of_a_list_is_explained() -> None:
    with pytest.raises(ConfigError, match="list of runnables"):
        RunnableLambda(str).with_fallbacks(RunnableLambda(repr))  # type: ignore[arg-type]


def test_bad_exceptions_to_handle_are_explained() -> None:
    with pytest.raises(ConfigError, match="tuple of exception classes"):
        RunnableLambda(str).with_fallbacks([RunnableLambda(repr)], exceptions_to_handle=("x",))  # type: ignore[arg-type]


def _fails_with_the_previous_error(inputs: dict[str, Any]) -> str:
    if inputs["text"] == "ok":
        return "ok"
    if "error" not in inputs:
        raise ValueError("no previous error")
    raise RuntimeError("the fallback failed too")


def test_batch_gives_an_input_that_failed_everywhere_the_last_error() -> None:
    step = RunnableLambda(_fails_with_the_previous_error)
    chain = step.with_fallbacks([step], exception_key="error")
    out = chain.batch([{"text": "ok"}, {"text": "x"}], return_exceptions=True)
    assert out[0] == "ok"
    assert isinstance(out[1], RuntimeError)
    with pytest.raises(RuntimeError) as info:
        chain.batch([{"text": "ok"}, {"text": "x"}])
    assert any("ValueError: no previous error" in note for note in info.value.__notes__)


async def test_abatch_gives_the_last_error_but_ainvoke_the_first() -> None:
    step = RunnableLambda(_fails_with_the_previous_error)
    chain = step.with_fallbacks([step], exception_key="error")
    out = await chain.abatch([{"text": "x"}], return_exceptions=True)
    assert isinstance(out[0], RuntimeError)
    with pytest.raises(RuntimeError):
        await chain.abatch([{"text": "x"}])
    with pytest.raises(ValueError):
        await chain.ainvoke({"text": "x"})


class _Configurable(RunnableLambda[Any, str]):
    tag: str

    def __init__(self, tag: str) -> None:
        super().__init__(lambda x: f"{self.tag}:{x}")
        self.tag = tag

    def tagged(self, suffix: str) -> _Configurable:
        return _Configurable(self.tag + suffix)


def test_attributes_come_from_the_primary_and_runnable_methods_apply_to_every_one() -> None:
    chain = _Configurable("a").with_fallbacks([_Configurable("b")])
    assert chain.tag == "a"
    tagged = chain.tagged("!")
    assert isinstance(tagged, RunnableWithFallbacks)
    assert [r.tag for r in tagged.runnables if isinstance(r, _Configurable)] == ["a!", "b!"]
    assert tagged.invoke(1) == "a!:1"
    with pytest.raises(AttributeError, match="missing"):
        _ = chain.missing
