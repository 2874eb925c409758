"""Configurable fields and alternatives: chosen per call from ``config['configurable']``."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from runnables import ConfigError, Runnable, RunnableConfig, RunnableLambda
from runnables.core.config import Context
from runnables.core.configurable import (
    ConfigurableField,
    ConfigurableFieldMultiOption,
    ConfigurableFieldSingleOption,
    ConfigurableFieldSpec,
    RunnableConfigurableAlternatives,
    RunnableConfigurableFields,
    collect_specs,
    get_unique_config_specs,
)


class Scale(Runnable[int, Any]):
    """A sync step with plain attributes to configure."""

    factor: int
    made = 0

    def __init__(self, factor: int = 2, unit: str = "", tools: Sequence[str] = ()) -> None:
        self.factor = factor
        self.unit = unit
        self.tools = list(tools)
        self.seen: list[int] = []

    def invoke(self, input: int, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        self.seen.append(id(self))
        if self.tools:
            return (input * self.factor, self.tools)
        return f"{input * self.factor}{self.unit}" if self.unit else input * self.factor

    def __copy__(self) -> Scale:
        Scale.made += 1
        new = Scale.__new__(Scale)
        new.__dict__.update(self.__dict__)
        return new


class SlowScale(Runnable[int, int]):
    """An async step that waits for a gate, so two calls overlap."""

    def __init__(self, factor: int, gate: asyncio.Event, arrived: list[int]) -> None:
        self.factor = factor
        self.gate = gate
        self.arrived = arrived

    async def _ainvoke(self, input: int, ctx: Context) -> int:
        self.arrived.append(self.factor)
        if len(self.arrived) == 2:
            self.gate.set()
        await self.gate.wait()
        return input * self.factor

    async def _atransform(self, inputs: AsyncIterator[int], ctx: Context) -> AsyncIterator[int]:
        async for x in inputs:
            for _ in range(self.factor):
                yield x


def _factor_field(**kwargs: Any) -> RunnableConfigurableFields[int, Any]:
    field = ConfigurableField(id="factor", name="Factor", description="What to multiply by")
    return Scale(**kwargs).configurable_fields(factor=field)  # type: ignore[return-value]


def _conf(**values: Any) -> RunnableConfig:
    return {"configurable": values}


# ---------------------------------------------------------------------- fields


def test_a_configured_field_overrides_the_attribute_for_that_call() -> None:
    step = _factor_field()
    assert isinstance(step, RunnableConfigurableFields)
    assert step.invoke(3) == 6
    assert step.invoke(3, _conf(factor=10)) == 30
    assert step.invoke(3) == 6
    assert isinstance(step.default, Scale)
    assert step.default.factor == 2  # the default is never modified


async def test_ainvoke_and_with_config_see_the_configured_value() -> None:
    step = _factor_field()
    assert await step.ainvoke(2, _conf(factor=5)) == 10
    assert await step.with_config(configurable={"factor": 7}).ainvoke(2) == 14


def test_without_configuration_the_default_itself_runs() -> None:
    step = _factor_field()
    default = step.default
    assert isinstance(default, Scale)
    step.invoke(1)
    step.invoke(1, _conf(unrelated="value"))
    assert default.seen == [id(default), id(default)]


def test_a_configured_instance_is_built_once_per_distinct_configuration() -> None:
    step = _factor_field()
    before = Scale.made
    for _ in range(3):
        step.invoke(1, _conf(factor=3))
        step.invoke(1, _conf(factor=4))
    assert Scale.made - before == 2


def test_equal_values_of_different_types_are_different_configurations() -> None:
    # annotation=Any: values of any type are accepted (unit is declared str otherwise)
    step = Scale().configurable_fields(unit=ConfigurableField(id="unit", annotation=Any))
    step.invoke(1, _conf(unit=1))
    before = Scale.made
    step.invoke(1, _conf(unit=True))
    assert Scale.made == before + 1


def test_unhashable_values_work_without_caching() -> None:
    step = Scale().configurable_fields(tools=ConfigurableField(id="tools", annotation=Any))
    assert step.invoke(2, _conf(tools=["search"])) == (4, ["search"])
    assert step.invoke(2, _conf(tools={"a": [1]})) == (4, {"a": [1]})


async def test_concurrent_calls_with_different_configs_each_see_their_own() -> None:
    gate, arrived = asyncio.Event(), list[int]()
    step = SlowScale(1, gate, arrived).configurable_fields(factor=ConfigurableField(id="k"))
    out = await asyncio.wait_for(
        asyncio.gather(step.ainvoke(10, _conf(k=2)), step.ainvoke(10, _conf(k=3))), timeout=5
    )
    assert list(out) == [20, 30]
    assert sorted(arrived) == [2, 3]


async def test_astream_streams_the_configured_instance() -> None:
    step = SlowScale(1, asyncio.Event(), []).configurable_fields(factor=ConfigurableField(id="k"))
    assert [c async for c in step.astream(5)] == [5]
    assert [c async for c in step.astream(5, _conf(k=3))] == [5, 5, 5]


async def test_abatch_configures_each_input_from_its_own_config() -> None:
    step = _factor_field()
    out = await step.abatch([1, 1, 1], [_conf(factor=2), _conf(factor=3), {}])
    assert out == [2, 3, 2]


def test_single_option_picks_a_value_by_name() -> None:
    step = Scale().configurable_fields(
        unit=ConfigurableFieldSingleOption(
            id="unit", options={"metres": "m", "feet": "ft"}, default="metres"
        )
    )
    assert step.invoke(2) == "4m"
    assert step.invoke(2, _conf(unit="feet")) == "4ft"


def test_an_unknown_option_lists_the_options() -> None:
    step = Scale().configurable_fields(
        unit=ConfigurableFieldSingleOption(id="unit", options={"m": "m", "ft": "ft"}, default="m")
    )
    with pytest.raises(ConfigError, match=r"'yards'.*\['ft', 'm'\]"):
        step.invoke(2, _conf(unit="yards"))


def test_multi_option_picks_a_list_of_values_by_name() -> None:
    options = {"search": "web_search", "calc": "calculator", "mail": "send_mail"}
    step = Scale().configurable_fields(
        tools=ConfigurableFieldMultiOption(id="tools", options=options, default=["search"])
    )
    assert step.invoke(1) == (2, ["web_search"])
    assert step.invoke(1, _conf(tools=["calc", "mail"])) == (2, ["calculator", "send_mail"])
    with pytest.raises(ConfigError, match="list of option names"):
        step.invoke(1, _conf(tools="calc"))
    with pytest.raises(ConfigError, match="'nope'"):
        step.invoke(1, _conf(tools=["nope"]))


def test_a_field_that_does_not_exist_is_rejected_with_the_attributes() -> None:
    with pytest.raises(ConfigError) as info:
        Scale().configurable_fields(facter=ConfigurableField(id="f"))
    message = str(info.value)
    assert "'facter'" in message and "'factor'" in message


def test_a_read_only_property_is_rejected() -> None:
    class Step(Scale):
        @property
        def doubled(self) -> int:
            return self.factor * 2

    with pytest.raises(ConfigError, match="read-only property"):
        Step().configurable_fields(doubled=ConfigurableField(id="d"))


def test_an_option_default_that_is_not_an_option_is_rejected() -> None:
    with pytest.raises(ConfigError, match="not one of its options"):
        Scale().configurable_fields(
            unit=ConfigurableFieldSingleOption(id="u", options={"m": "m"}, default="km")
        )
    with pytest.raises(ConfigError, match="not among its options"):
        Scale().configurable_fields(
            tools=ConfigurableFieldMultiOption(id="t", options={"a": 1}, default=["b"])
        )


def test_a_value_that_is_not_a_declaration_is_rejected() -> None:
    with pytest.raises(ConfigError, match="needs a ConfigurableField"):
        Scale().configurable_fields(factor="factor")


def test_configurable_fields_again_adds_fields() -> None:
    step = _factor_field().configurable_fields(unit=ConfigurableField(id="unit"))
    assert step.invoke(2, _conf(factor=3, unit="kg")) == "6kg"


def test_langchain_core_declarations_are_accepted() -> None:
    from langchain_core.runnables import ConfigurableField as LcField

    step = Scale().configurable_fields(factor=LcField(id="factor"))
    assert step.invoke(2, _conf(factor=4)) == 8


def test_a_configurable_step_inside_a_chain_is_configured_by_the_call() -> None:
    chain = RunnableLambda[int, int](lambda x: x + 1) | _factor_field() | RunnableLambda(str)
    assert chain.invoke(1, _conf(factor=10)) == "20"
    assert chain.invoke(1) == "4"


def test_sync_only_steps_drive_inline() -> None:
    assert _factor_field()._needs_loop() is False
    gate: asyncio.Event = asyncio.Event()
    slow = SlowScale(1, gate, []).configurable_fields(factor=ConfigurableField(id="k"))
    assert slow._needs_loop() is True


def test_it_is_named_after_its_default_and_has_it_as_child() -> None:
    step = RunnableLambda(lambda x: x, name="inner").configurable_fields(
        name=ConfigurableField(id="n")
    )
    assert step.get_name() == "inner"
    assert list(step._children()) == [step.default]  # type: ignore[attr-defined]


def test_call_arguments_apply_to_the_configured_instance() -> None:
    def fn(x: int, extra: int = 0) -> int:
        return x + extra

    step = RunnableLambda(fn).configurable_fields(name=ConfigurableField(id="n"))
    assert step.bind(extra=5).invoke(1, _conf(n="renamed")) == 6
    assert step.bind(extra=5).invoke(1) == 6


# ---------------------------------------------------------------------- specs


def test_config_specs_describe_each_field() -> None:
    (spec,) = _factor_field().config_specs
    assert spec == ConfigurableFieldSpec(
        id="factor",
        annotation=int,
        name="Factor",
        description="What to multiply by",
        default=2,
    )


def test_option_specs_are_enums_of_the_option_names() -> None:
    step = Scale().configurable_fields(
        unit=ConfigurableFieldSingleOption(id="unit", options={"m": "m", "ft": "ft"}, default="m"),
        tools=ConfigurableFieldMultiOption(id="tools", options={"a": 1, "b": 2}, default=["a"]),
    )
    specs = {s.id: s for s in step.config_specs}
    unit = specs["unit"].annotation
    assert issubclass(unit, enum.Enum) and {m.value for m in unit} == {"m", "ft"}
    assert specs["unit"].default == "m"
    assert specs["tools"].default == ["a"]
    # Asking twice gives equal specs (one enum class per declaration).
    assert step.config_specs == step.config_specs


def test_config_specs_are_collected_through_a_chain_and_bindings() -> None:
    a = _factor_field()
    b = Scale().configurable_fields(unit=ConfigurableField(id="unit"))
    chain = RunnableLambda(int) | a.with_config(tags=["x"]) | {"b": b, "c": RunnableLambda(str)}
    assert [s.id for s in chain.config_specs] == ["factor", "unit"]
    assert [s.id for s in collect_specs(chain)] == ["factor", "unit"]


def test_conflicting_specs_for_one_id_are_an_error() -> None:
    a = Scale(factor=2).configurable_fields(factor=ConfigurableField(id="same"))
    b = Scale(factor=3).configurable_fields(factor=ConfigurableField(id="same"))
    with pytest.raises(ConfigError, match="'same'"):
        (a | RunnableLambda(int) | b).config_specs  # noqa: B018


def test_identical_specs_are_merged() -> None:
    spec = ConfigurableFieldSpec(id="x", annotation=int)
    assert get_unique_config_specs([spec, spec]) == [spec]


def test_a_plain_chain_has_no_specs() -> None:
    assert (RunnableLambda(int) | RunnableLambda(str)).config_specs == []


# ---------------------------------------------------------------------- alternatives


def _case_alternatives(**kwargs: Any) -> RunnableConfigurableAlternatives[str, str]:
    return RunnableLambda(str.upper, name="upper").configurable_alternatives(  # type: ignore[return-value]
        ConfigurableField(id="case"),
        default_key="upper",
        lower=RunnableLambda(str.lower, name="lower"),
        title=lambda: RunnableLambda(str.title, name="title"),
        **kwargs,
    )


def test_alternatives_default_runs_without_configuration() -> None:
    step = _case_alternatives()
    assert isinstance(step, RunnableConfigurableAlternatives)
    assert step.invoke("hi There") == "HI THERE"
    assert step.invoke("hi There", _conf(case="upper")) == "HI THERE"


async def test_an_alternative_is_picked_by_its_key() -> None:
    step = _case_alternatives()
    assert await step.ainvoke("hi There", _conf(case="lower")) == "hi there"
    assert await step.ainvoke("hi there", _conf(case="title")) == "Hi There"


def test_an_unknown_alternative_lists_the_keys() -> None:
    with pytest.raises(ConfigError) as info:
        _case_alternatives().invoke("x", _conf(case="snake"))
    message = str(info.value)
    assert "'snake'" in message and "['upper', 'lower', 'title']" in message


async def test_alternatives_stream_the_chosen_runnable() -> None:
    async def spell(x: str) -> AsyncIterator[str]:
        for ch in x:
            yield ch

    step = RunnableLambda(str.upper).configurable_alternatives(
        ConfigurableField(id="mode"), spell=RunnableLambda(spell)
    )
    assert [c async for c in step.astream("ab")] == ["AB"]
    assert [c async for c in step.astream("ab", _conf(mode="spell"))] == ["a", "b"]


def test_a_factory_alternative_is_called_when_picked() -> None:
    made = 0

    def factory() -> Runnable[str, str]:
        nonlocal made
        made += 1
        return RunnableLambda(str.swapcase)

    step = RunnableLambda(str.upper).configurable_alternatives(
        ConfigurableField(id="c"), swap=factory
    )
    step.invoke("aB")
    assert made == 0
    assert step.invoke("aB", _conf(c="swap")) == "Ab"
    assert made == 1


def test_alternative_specs_offer_the_keys() -> None:
    specs = {s.id: s for s in _case_alternatives().config_specs}
    case = specs["case"]
    assert case.default == "upper"
    assert {m.value for m in case.annotation} == {"upper", "lower", "title"}


def test_prefix_keys_namespaces_each_alternatives_fields() -> None:
    step = _factor_field().configurable_alternatives(
        ConfigurableField(id="model"),
        default_key="small",
        prefix_keys=True,
        big=Scale(factor=100).configurable_fields(factor=ConfigurableField(id="factor")),
    )
    ids = sorted(s.id for s in step.config_specs)
    assert ids == ["model", "model==big/factor", "model==small/factor"]
    assert step.invoke(1, _conf(**{"model==small/factor": 5})) == 5
    assert step.invoke(1, _conf(model="big")) == 100
    assert step.invoke(1, _conf(**{"model": "big", "model==big/factor": 7})) == 7
    # The other alternative's namespaced value does not leak into this one.
    assert step.invoke(1, _conf(**{"model": "big", "model==small/factor": 7})) == 100


def test_without_prefix_keys_alternatives_share_field_ids() -> None:
    step = _factor_field().configurable_alternatives(
        ConfigurableField(id="model"),
        big=Scale(factor=100).configurable_fields(factor=ConfigurableField(id="big_factor")),
    )
    assert sorted(s.id for s in step.config_specs) == ["big_factor", "factor", "model"]
    assert step.invoke(1, _conf(model="big", big_factor=3)) == 3


def test_configurable_fields_on_alternatives_apply_to_the_default() -> None:
    step = Scale().configurable_alternatives(
        ConfigurableField(id="which"), other=RunnableLambda(lambda x: -x)
    )
    configured = step.configurable_fields(factor=ConfigurableField(id="factor"))
    assert configured.invoke(2, _conf(factor=5)) == 10
    assert configured.invoke(2, _conf(which="other", factor=5)) == -2


def test_alternatives_need_a_loop_if_any_choice_might() -> None:
    async def afn(x: Any) -> Any:
        return x

    assert _case_alternatives()._needs_loop() is True  # a factory: unknown until called
    sync_only = RunnableLambda(str).configurable_alternatives(
        ConfigurableField(id="k"), b=RunnableLambda(repr)
    )
    assert sync_only._needs_loop() is False
    with_async = RunnableLambda(str).configurable_alternatives(
        ConfigurableField(id="k"), b=RunnableLambda(afn)
    )
    assert with_async._needs_loop() is True


def test_bad_alternatives_are_rejected() -> None:
    with pytest.raises(ConfigError, match="needs a ConfigurableField"):
        RunnableLambda(str).configurable_alternatives("model", b=RunnableLambda(repr))
    with pytest.raises(ConfigError, match="also the default_key"):
        RunnableLambda(str).configurable_alternatives(
            ConfigurableField(id="m"), default=RunnableLambda(repr)
        )
    with pytest.raises(ConfigError, match="runnable or a function"):
        RunnableLambda(str).configurable_alternatives(ConfigurableField(id="m"), b=42)  # type: ignore[arg-type]


async def test_the_chosen_alternative_is_its_own_run_in_events() -> None:
    starts = [
        e["name"]
        async for e in _case_alternatives().astream_events("x", _conf(case="lower"))
        if e["event"] == "on_chain_start"
    ]
    assert "lower" in starts and "upper" not in starts


def test_the_cache_of_configured_instances_is_bounded() -> None:
    step = _factor_field()
    for factor in range(200):
        assert step.invoke(1, _conf(factor=factor)) == factor
    assert len(step._cache._items) <= 64


class _Scaled(Runnable[float, float]):
    """A step with a declared attribute type (class annotation) and one declared only by
    its __init__ parameter."""

    factor: float

    def __init__(self, factor: float = 2.0, label: str | None = None) -> None:
        self.factor = factor
        self.label = label

    async def _ainvoke(self, input: float, ctx: Any) -> float:
        return input * self.factor


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [("factor", "3", "float"), ("factor", True, "float"), ("label", 5, "str | None")],
)
def test_configurable_value_of_the_wrong_type_is_a_config_error_naming_it(
    field: str, value: Any, expected: str
) -> None:
    step = _Scaled().configurable_fields(**{field: ConfigurableField(id=f"my_{field}")})
    with pytest.raises(ConfigError) as caught:
        step.invoke(1.0, {"configurable": {f"my_{field}": value}})
    message = str(caught.value)
    assert f"'my_{field}'" in message and repr(value) in message and expected in message


def test_configurable_values_of_the_declared_type_pass() -> None:
    step = _Scaled().configurable_fields(
        factor=ConfigurableField(id="factor"), label=ConfigurableField(id="label")
    )
    assert step.invoke(1.0, {"configurable": {"factor": 3}}) == 3.0  # an int is a float
    assert step.invoke(1.0, {"configurable": {"factor": 0.5, "label": None}}) == 0.5
    typed = _Scaled().configurable_fields(factor=ConfigurableField(id="f", annotation=int))
    with pytest.raises(ConfigError, match=r"declared as int"):
        typed.invoke(1.0, {"configurable": {"f": 1.5}})


async def test_a_configurable_chat_model_run_is_the_configured_models_with_its_ls_metadata() -> (
    None
):
    # As in langchain-core, configurable fields add no run of their own: the events show
    # the configured model's run, with a chat model's ls_* metadata.
    from itertools import cycle

    from runnables import ConfigurableField
    from runnables.messages import AIMessage
    from runnables.models import GenericFakeChatModel

    model = GenericFakeChatModel(messages=cycle([AIMessage("hello", id="a")]))
    configurable = model.configurable_fields(messages=ConfigurableField(id="messages"))
    configured = configurable.with_config(
        {"configurable": {"messages": cycle([AIMessage("bye", id="b")])}}
    )
    events = [e async for e in configured.astream_events("hi", version="v2")]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "on_chat_model_start" and kinds[-1] == "on_chat_model_end"
    assert set(kinds[1:-1]) == {"on_chat_model_stream"}
    for event in events:
        assert event["name"] == "GenericFakeChatModel"
        assert event["metadata"]["ls_model_type"] == "chat"
        assert event["metadata"]["ls_provider"] == "genericfakechatmodel"
    assert events[-1]["data"]["output"].content == "bye"
