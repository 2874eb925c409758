"""Config reaches user functions and nested calls, the way langchain-core passes it."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import pytest

from runnables import (
    ConfigError,
    ConfigWarning,
    RecursionLimitError,
    Runnable,
    RunnableConfig,
    RunnableLambda,
    ensure_config,
    get_config,
    merge_configs,
    patch_config,
)

CONFIG: RunnableConfig = {
    "tags": ["a"],
    "metadata": {"user": "u1"},
    "configurable": {"model": "small"},
}


def _spy(seen: list[RunnableConfig]) -> RunnableLambda[Any, Any]:
    def step(x: Any, config: RunnableConfig) -> Any:
        seen.append(config)
        return x

    return RunnableLambda(step)


def _check(config: RunnableConfig) -> None:
    assert "a" in config["tags"]
    assert config["metadata"]["user"] == "u1"
    assert config["configurable"]["model"] == "small"


async def test_function_with_config_parameter_receives_tags_metadata_configurable() -> None:
    seen: list[RunnableConfig] = []
    chain = RunnableLambda(lambda x: x) | _spy(seen) | {"k": _spy(seen)}
    await chain.ainvoke(1, CONFIG)
    await chain.abatch([1, 2], CONFIG)
    [_ async for _ in chain.astream(1, CONFIG)]
    await asyncio.to_thread(chain.invoke, 1, CONFIG)
    assert len(seen) == 10
    for config in seen:
        _check(config)


async def test_async_and_generator_functions_receive_config() -> None:
    seen: list[RunnableConfig] = []

    async def afunc(x: Any, config: RunnableConfig) -> Any:
        seen.append(config)
        return x

    def gen(x: Any, config: RunnableConfig) -> Iterator[Any]:
        seen.append(config)
        yield x

    await (RunnableLambda(afunc) | RunnableLambda(gen)).ainvoke(1, CONFIG)
    assert len(seen) == 2
    for config in seen:
        _check(config)


async def test_nested_call_inside_a_step_inherits_config_through_the_context() -> None:
    seen: list[RunnableConfig] = []
    inner = _spy(seen)

    async def outer(x: Any) -> Any:
        # No config passed on: the nested call finds the caller's.
        return await inner.ainvoke(x)

    def sync_outer(x: Any) -> Any:
        return inner.invoke(x, {"tags": ["b"]})

    await RunnableLambda(outer).ainvoke(1, CONFIG)
    await RunnableLambda(sync_outer).ainvoke(1, CONFIG)
    await asyncio.to_thread(RunnableLambda(sync_outer).invoke, 1, CONFIG)
    assert len(seen) == 3
    for config in seen:
        _check(config)
    assert set(seen[1]["tags"]) == {"a", "b"}  # a nested config adds to the inherited one


async def test_nested_call_in_a_concurrent_branch_inherits_its_own_config() -> None:
    seen: dict[int, RunnableConfig] = {}
    inner = RunnableLambda(lambda x: x, name="inner")

    async def outer(x: int) -> Any:
        await asyncio.sleep(0)
        seen[x] = get_config()
        return await inner.ainvoke(x)

    step = RunnableLambda(outer)
    await step.abatch([1, 2], [{"metadata": {"n": 1}}, {"metadata": {"n": 2}}])
    assert seen[1]["metadata"] == {"n": 1}
    assert seen[2]["metadata"] == {"n": 2}


async def test_ensure_config_inside_a_step_returns_the_calls_config() -> None:
    seen: list[RunnableConfig] = []

    def step(x: Any) -> Any:
        seen.append(ensure_config())
        return x

    await RunnableLambda(step).ainvoke(1, {**CONFIG, "max_concurrency": 3, "recursion_limit": 7})
    _check(seen[0])
    assert seen[0]["max_concurrency"] == 3
    assert seen[0]["recursion_limit"] == 7


def test_ensure_config_outside_a_call_has_the_defaults() -> None:
    config = ensure_config()
    assert config["tags"] == []
    assert config["metadata"] == {}
    assert config["configurable"] == {}
    assert config["recursion_limit"] == 25


async def test_with_config_binds_config_and_call_config_adds_to_it() -> None:
    seen: list[RunnableConfig] = []
    bound = _spy(seen).with_config(tags=["bound"], metadata={"m": 1})
    await bound.ainvoke(1, {"tags": ["call"], "metadata": {"n": 2}})
    assert set(seen[0]["tags"]) >= {"bound", "call"}
    assert seen[0]["metadata"] == {"m": 1, "n": 2}


async def test_run_name_is_not_inherited_by_nested_steps() -> None:
    seen: list[RunnableConfig] = []
    await (RunnableLambda(lambda x: x) | _spy(seen)).ainvoke(1, {"run_name": "top"})
    assert "run_name" not in seen[0]


def test_recursion_limit_applies_to_functions_that_return_runnables() -> None:
    def deeper(n: int) -> Any:
        return RunnableLambda(lambda _: n) if n == 0 else RunnableLambda(lambda _: deeper(n - 1))

    step: Runnable[int, Any] = RunnableLambda(deeper)
    assert step.invoke(3) == 0
    with pytest.raises(RecursionLimitError, match="recursion_limit"):
        RunnableLambda[int, Any](lambda _: deeper(30)).invoke(0)
    assert RunnableLambda[int, Any](lambda _: deeper(30)).invoke(0, {"recursion_limit": 40}) == 0


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"max_concurrency": 0}, "0"),
        ({"max_concurrency": "2"}, "'2'"),
        ({"timeout": -1}, "-1"),
        ({"tags": "a"}, "'a'"),
    ],
)
async def test_bad_config_values_are_config_errors_naming_the_value(
    config: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as info:
        await RunnableLambda(lambda x: x).ainvoke(1, config)  # type: ignore[arg-type]
    assert named in str(info.value)


async def test_unknown_config_keys_move_into_configurable_as_in_langchain_core() -> None:
    seen: list[RunnableConfig] = []
    chain = RunnableLambda(lambda x: x) | _spy(seen)
    config: dict[str, Any] = {
        "thread_id": "t1",
        "user_id": 7,
        "dropped": None,
        "configurable": {"model": "small", "thread_id": "overridden"},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these keys looks like a typo
        assert await chain.ainvoke(1, config) == 1  # type: ignore[arg-type]
        assert chain.invoke(1, {"thread_id": "t2"}) == 1  # type: ignore[arg-type]
        bound = chain.with_config(thread_id="t3")
        assert await bound.ainvoke(1) == 1
    assert [c["configurable"] for c in seen] == [
        # The top-level key wins over the same key in configurable, as in langchain-core.
        {"model": "small", "thread_id": "t1", "user_id": 7},
        {"thread_id": "t2"},
        {"thread_id": "t3"},
    ]
    assert all("thread_id" not in c and "dropped" not in c for c in seen)


async def test_nested_calls_inherit_a_moved_configurable_key() -> None:
    seen: list[RunnableConfig] = []
    inner = _spy(seen)

    async def outer(x: int) -> int:
        result: int = await inner.ainvoke(x)
        return result

    await RunnableLambda(outer).ainvoke(1, {"thread_id": "t1"})  # type: ignore[arg-type]
    assert seen[0]["configurable"] == {"thread_id": "t1"}


def test_ensure_config_moves_unknown_keys_into_configurable() -> None:
    config = ensure_config({"thread_id": "t1", "tags": ["a"]})  # type: ignore[arg-type]
    assert config["configurable"] == {"thread_id": "t1"}
    assert config["tags"] == ["a"]
    assert "thread_id" not in config


@pytest.mark.parametrize(
    ("key", "meant", "value"),
    [
        ("max_concurency", "max_concurrency", 2),
        ("tag", "tags", ["a"]),
        ("callback", "callbacks", []),
        ("Tags", "tags", ["a"]),
        ("runname", "run_name", "n"),
    ],
)
async def test_misspelt_config_key_warns_with_the_key_meant_and_does_not_act_as_it(
    key: str, meant: str, value: Any
) -> None:
    seen: list[RunnableConfig] = []
    with pytest.warns(ConfigWarning) as record:
        await _spy(seen).ainvoke(1, {key: value})  # type: ignore[arg-type]
    message = str(record[0].message)
    assert f"{key!r}" in message
    assert f"did you mean {meant!r}" in message
    # langchain-core's meaning still holds: the key is a configurable value.
    assert seen[0]["configurable"] == {key: value}
    assert not seen[0].get(meant)


async def test_abatch_rejects_a_config_list_of_the_wrong_length() -> None:
    with pytest.raises(ConfigError, match="3 inputs but 2 configs"):
        await RunnableLambda(lambda x: x).abatch([1, 2, 3], [{}, {}])


def test_merge_and_patch_configs() -> None:
    merged = merge_configs(
        {"tags": ["a"], "metadata": {"x": 1}}, {"tags": ["b"], "metadata": {"y": 2}}
    )
    assert merged == {"tags": ["a", "b"], "metadata": {"x": 1, "y": 2}}
    assert patch_config({"run_name": "n", "tags": ["a"]}, run_name=None) == {"tags": ["a"]}


async def test_a_streaming_steps_config_does_not_leak_into_the_consumers_loop() -> None:
    async def tokens(x: str) -> AsyncIterator[str]:
        for t in x:
            yield t

    outside: list[list[str]] = []
    async for _ in (RunnableLambda(lambda x: x) | RunnableLambda(tokens)).astream(
        "ab", {"tags": ["inside"]}
    ):
        # The consumer's own code runs outside the call: nested calls made here must
        # not inherit the stream's config.
        outside.append(get_config()["tags"])
    assert outside == [[], []]


async def test_configurable_model_and_checkpoint_ns_strings_show_in_metadata() -> None:
    # langchain-core 1.8.3's ensure_config: only "model" and "checkpoint_ns", only string
    # values, and never over a metadata key that is already set.
    async def agen(x: int) -> Any:
        yield x

    chain = RunnableLambda(lambda x: x, name="a") | RunnableLambda(agen, name="b")
    config: RunnableConfig = {
        "configurable": {"model": "m", "checkpoint_ns": "ns", "thread_id": "t", "x": 1},
        "metadata": {"checkpoint_ns": "mine"},
    }
    events = [e async for e in chain.astream_events(1, config, version="v2")]
    assert {repr(e["metadata"]) for e in events} == {repr({"checkpoint_ns": "mine", "model": "m"})}
    plain = [e async for e in chain.astream_events(1, {"thread_id": "t", "model": 5}, version="v2")]  # type: ignore[arg-type]
    assert all(e["metadata"] == {} for e in plain)


def test_ensure_config_copies_a_configurable_model_into_metadata() -> None:
    assert ensure_config({"configurable": {"model": "m"}})["metadata"] == {"model": "m"}
    assert ensure_config({"model": "m"})["metadata"] == {"model": "m"}  # type: ignore[arg-type]
    assert ensure_config({"configurable": {"thread_id": "t"}})["metadata"] == {}


async def test_a_bound_configurable_model_shows_in_the_bound_steps_metadata() -> None:
    seen: list[dict[str, Any]] = []

    def f(x: int, config: RunnableConfig) -> int:
        seen.append(dict(config.get("metadata", {})))
        return x

    bound = RunnableLambda(f).with_config(configurable={"model": "m"})
    await bound.ainvoke(1)
    assert seen == [{"model": "m"}]


def test_merge_configs_accumulates_lc_versions_across_three_configs() -> None:
    merged = merge_configs(
        {"metadata": {"lc_versions": {"a": "1"}, "k": 1}},
        {"metadata": {"lc_versions": {"b": "2"}}},
        {"metadata": {"lc_versions": {"c": "3"}, "k": 2}},
    )
    assert merged["metadata"] == {"lc_versions": {"a": "1", "b": "2", "c": "3"}, "k": 2}


def test_merge_configs_does_not_share_or_mutate_lc_versions_inputs() -> None:
    first: dict[str, str] = {"a": "1"}
    merged = merge_configs({"metadata": {"lc_versions": first}}, {"metadata": {"x": 1}})
    assert merged["metadata"]["lc_versions"] == {"a": "1"}
    assert merged["metadata"]["lc_versions"] is not first
    merge_configs({"metadata": {"lc_versions": first}}, {"metadata": {"lc_versions": {"b": "2"}}})
    assert first == {"a": "1"}


def test_merge_configs_non_dict_lc_versions_replaces_the_dict() -> None:
    merged = merge_configs(
        {"metadata": {"lc_versions": {"a": "1"}}}, {"metadata": {"lc_versions": "x"}}
    )
    assert merged["metadata"]["lc_versions"] == "x"


def test_merging_configs_joins_their_callbacks_as_langchain_core_does() -> None:
    from runnables.callbacks import CallbackManager, StdOutCallbackHandler
    from runnables.callbacks.console import ConsoleCallbackHandler

    first, second = StdOutCallbackHandler(), ConsoleCallbackHandler()
    assert merge_configs({"callbacks": [first]}, {"callbacks": [second]})["callbacks"] == [
        first,
        second,
    ]
    manager = CallbackManager(handlers=[first])
    for merged in (
        merge_configs({"callbacks": manager}, {"callbacks": [second]}),
        merge_configs({"callbacks": [second]}, {"callbacks": manager}),
    ):
        assert isinstance(merged["callbacks"], CallbackManager)
        assert merged["callbacks"] is not manager
        assert merged["callbacks"].handlers == [first, second]
    assert manager.handlers == [first]  # neither input changes
    assert merge_configs({"callbacks": [first]}, {"callbacks": None})["callbacks"] == [first]


def test_a_default_recursion_limit_does_not_override_a_set_one() -> None:
    assert merge_configs({"recursion_limit": 50}, {"recursion_limit": 25})["recursion_limit"] == 50
    assert merge_configs({"recursion_limit": 50}, {"recursion_limit": 60})["recursion_limit"] == 60
    assert merge_configs({}, {"recursion_limit": 25})["recursion_limit"] == 25


class _Length(Runnable[str, int]):
    """A subclass with only its own public invoke, as users write for langchain-core."""

    def __init__(self) -> None:
        self.configs: list[Any] = []

    def invoke(self, input: str, config: RunnableConfig | None = None, **kwargs: Any) -> int:
        self.configs.append(config)
        return len(input)


_ENSURED: RunnableConfig = {"tags": [], "metadata": {}, "callbacks": None, "recursion_limit": 25}


def test_a_public_only_subclass_gets_langchain_cores_config_from_each_method() -> None:
    step = _Length()
    # stream (langchain-core's default): invoke with the caller's config, unchanged.
    assert list(step.stream("hello", {"metadata": {"k": "v"}})) == [5]
    assert step.configs == [{"metadata": {"k": "v"}}]
    step.configs.clear()
    # batch: each config completed with ensure_config's keys.
    assert step.batch(["ab", "abc"], [{"tags": ["t"]}, {"metadata": {"k": "v"}}]) == [2, 3]
    assert sorted(step.configs, key=lambda c: c["tags"]) == [
        {**_ENSURED, "configurable": {}, "metadata": {"k": "v"}},
        {**_ENSURED, "configurable": {}, "tags": ["t"]},
    ]
    step.configs.clear()
    # with_config: the binding's config merged in (merge_configs' keys).
    assert step.with_config(tags=["a"]).invoke("x") == 1
    assert list(step.with_config(tags=["a"]).stream("x", {"metadata": {"k": "v"}})) == [1]
    assert step.configs == [
        {"tags": ["a"], "metadata": {}, "configurable": {}},
        {"tags": ["a"], "metadata": {"k": "v"}, "configurable": {}},
    ]


async def test_a_public_only_subclass_gets_the_callers_config_from_ainvoke_and_astream() -> None:
    step = _Length()
    assert await step.ainvoke("hello", {"callbacks": []}) == 5
    assert [c async for c in step.astream("hi")] == [2]
    assert step.configs == [{"callbacks": []}, None]


class _Words(Runnable[str, str]):
    """A langchain-core-style subclass with its own invoke and its own astream."""

    def invoke(self, input: str, config: RunnableConfig | None = None, **kwargs: Any) -> str:
        raise AssertionError("a stream should go through astream, not invoke")

    async def astream(
        self, input: str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[str]:
        for word in input.split():
            yield word + " "


async def test_a_public_astream_subclass_streams_through_its_astream_in_a_chain() -> None:
    # As langchain-core's default atransform: a chain streams such a step through its
    # astream (it used to call invoke and yield its one result).
    chain = RunnableLambda(str.strip) | _Words()
    assert [c async for c in chain.astream("  a b c ")] == ["a ", "b ", "c "]


async def test_a_public_astream_subclass_streams_its_chunks_in_events() -> None:
    events = [e async for e in _Words().astream_events("a b", version="v2")]
    assert [(e["event"], e["data"]) for e in events] == [
        ("on_chain_start", {"input": "a b"}),
        ("on_chain_stream", {"chunk": "a "}),
        ("on_chain_stream", {"chunk": "b "}),
        ("on_chain_end", {"output": "a b "}),
    ]


def test_ensure_config_inside_a_step_replaces_each_given_key_as_langchain_core() -> None:
    # langchain-core's ensure_config updates the inherited config with the given keys;
    # merging them added the caller's tags and metadata to a config that named its own.
    seen: list[RunnableConfig] = []

    def step(x: int, config: RunnableConfig) -> int:
        given: dict[str, Any] = {"tags": ["own"], "metadata": {"k": 1}, "extra": "e"}
        seen.append(ensure_config(cast(RunnableConfig, given)))
        seen.append(ensure_config({"recursion_limit": 7}))
        return x

    RunnableLambda(step).invoke(
        1, {"tags": ["caller"], "metadata": {"m": 2}, "configurable": {"c": 3}}
    )
    own, limited = seen
    assert own["tags"] == ["own"]
    assert own["metadata"] == {"k": 1}
    assert own["configurable"] == {"c": 3, "extra": "e"}  # unknown keys join the inherited
    assert limited["tags"] == ["caller"] and limited["metadata"] == {"m": 2}
    assert limited["recursion_limit"] == 7
    limited["tags"].append("changed")  # a copy: the step's own config is untouched
    assert ensure_config()["tags"] == []


def test_ensure_config_outside_a_call_has_langchain_cores_keys() -> None:
    assert ensure_config() == {
        "tags": [],
        "metadata": {},
        "callbacks": None,
        "recursion_limit": 25,
        "configurable": {},
    }
