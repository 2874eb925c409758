"""RunnableSerializable subclasses: aliases, model validators, configurable_fields, custom
methods
(kept from before the one-base change; tests/core/test_serializable.py checks that base)."""

from __future__ import annotations

from typing import Any, Self

import pytest
from pydantic import ConfigDict, Field, ValidationError, model_validator

from runnables import ConfigError, ConfigurableField, RunnableLambda, RunnableSerializable


class Suffix(RunnableSerializable[str, str]):
    suffix: str = Field(alias="suffix_alias")
    _derived: str = ""

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def derive(self) -> Self:
        if self.suffix == "bad":
            raise ValueError("suffix may not be 'bad'")
        self._derived = self.suffix.upper()
        return self

    def invoke(self, input: str, config: Any = None, **kwargs: Any) -> str:
        return input + self._derived


def test_fields_are_validated_and_aliases_accepted() -> None:
    assert Suffix(suffix_alias="a").invoke("x") == "xA"
    assert Suffix(suffix="b", name="sfx").get_name() == "sfx"
    with pytest.raises(ValidationError):
        Suffix(suffix=1)


def test_configurable_fields_rebuilds_so_validators_see_the_configured_value() -> None:
    step = Suffix(suffix="a").configurable_fields(suffix=ConfigurableField(id="suffix"))
    assert step.invoke("x", {"configurable": {"suffix": "c"}}) == "xC"
    # An unknown top-level key, on purpose: RunnableConfig does not declare it.
    assert step.invoke("x", {"suffix": "d"}) == "xD"  # type: ignore[arg-type]
    assert step.invoke("x") == "xA"


def test_configured_value_failing_validation_is_a_config_error() -> None:
    step = Suffix(suffix="a").configurable_fields(suffix=ConfigurableField(id="suffix"))
    with pytest.raises(ConfigError, match="'bad'"):
        step.invoke("x", {"configurable": {"suffix": "bad"}})


def test_every_runnable_is_an_instance_and_chains_compose() -> None:
    assert isinstance(RunnableLambda(len), RunnableSerializable)
    assert not isinstance(RunnableLambda(len), Suffix)
    assert (Suffix(suffix="a") | (lambda s: s + "!")).batch(["x", "y"]) == ["xA!", "yA!"]


class Greeter(RunnableSerializable[str, str]):
    greeting: str

    def invoke(self, input: str, config: Any = None, **kwargs: Any) -> str:
        return f"{self.greeting} {input}"

    def current(self) -> str:
        return self.greeting

    def current_w_config(self, config: Any = None) -> str:
        return self.greeting


def _configurable() -> Any:
    return Greeter(greeting="hi").configurable_fields(greeting=ConfigurableField(id="greeting"))


def test_custom_methods_pass_through_configurable_fields() -> None:
    step = _configurable()
    assert step.current() == "hi"
    assert step.current_w_config({"configurable": {"greeting": "yo"}}) == "yo"
    assert step.current_w_config(config={"configurable": {"greeting": "yo"}}) == "yo"
    with pytest.raises(AttributeError):
        step.not_a_method()


def test_custom_methods_use_the_config_bound_by_with_config() -> None:
    bound = _configurable().with_config(configurable={"greeting": "hey"})
    assert bound.current() == "hey"
    assert bound.with_types().current_w_config() == "hey"
    # A config passed to the method overrides the bound one.
    assert bound.current_w_config(config={"configurable": {"greeting": "yo"}}) == "yo"


def test_custom_methods_pass_through_alternatives_to_the_default_only() -> None:
    step = _configurable().configurable_alternatives(
        ConfigurableField(id="which"), other=RunnableLambda(len)
    )
    assert step.current_w_config({"configurable": {"greeting": "yo"}}) == "yo"
    with pytest.raises(AttributeError):
        RunnableLambda(len).with_config(tags=["t"]).current()
