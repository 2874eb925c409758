"""Chat models are pydantic models, as langchain-core 1.8.3's ``BaseChatModel`` is: a
custom model written for langchain-core (declared fields, ``_llm_type``,
``_identifying_params``, only a sync ``_generate``) gets keywords, validation, ``==``,
``model_copy`` and per-call ``configurable_fields`` on its own fields."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field, ValidationError, field_validator

from runnables import ConfigurableField
from runnables.errors import ConfigError
from runnables.messages import AIMessage, BaseMessage
from runnables.models import (
    BaseChatModel,
    ChatGeneration,
    ChatResult,
    FakeListChatModel,
    FakeMessagesListChatModel,
    FunctionChatModel,
)


class Repeater(BaseChatModel):
    """A langchain-core style model: fields, _llm_type, _identifying_params, _generate."""

    greeting: str = "hello"
    n: int = Field(default=1, ge=1)

    @field_validator("greeting")
    @classmethod
    def _stripped(cls, value: str) -> str:
        return value.strip()

    @property
    def _llm_type(self) -> str:
        return "repeater"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"greeting": self.greeting, "n": self.n}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = AIMessage(self.greeting * self.n)
        return ChatResult(generations=[ChatGeneration(message=message)])


def test_declared_fields_are_keywords_with_defaults_and_validators() -> None:
    assert Repeater().invoke("x").content == "hello"
    model = Repeater(greeting=" hi ", n=2)
    assert model.greeting == "hi"
    assert model.invoke("x").content == "hihi"
    assert list(Repeater.model_fields) == ["name", "cache", "rate_limiter", "greeting", "n"]


def test_a_bad_value_is_a_validation_error_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="n") as info:
        Repeater(n=0)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValidationError, match="greeting"):
        Repeater(greeting=3)


def test_equality_compares_class_and_fields() -> None:
    assert Repeater(greeting="hi") == Repeater(greeting="hi")
    assert Repeater(greeting="hi") != Repeater(greeting="yo")
    assert FakeListChatModel(responses=["a"]) == FakeListChatModel(responses=["a"])
    assert FakeListChatModel(responses=["a"]) != FakeListChatModel(responses=["b"])
    messages = [AIMessage("a")]
    assert FakeMessagesListChatModel(responses=messages) == FakeMessagesListChatModel(
        responses=messages
    )


def test_model_copy_updates_fields_and_the_copy_answers_with_them() -> None:
    model = Repeater(greeting="hi")
    copied = model.model_copy(update={"n": 3})
    assert copied.invoke("x").content == "hihihi"
    assert model.invoke("x").content == "hi"
    fake = FakeListChatModel(responses=["a"]).model_copy(update={"responses": ["z"]})
    assert fake.invoke("x").content == "z"


def test_repr_shows_the_fields_that_differ_from_their_defaults() -> None:
    # langchain-core's rule (its repr also shows langchain's own version metadata).
    assert repr(Repeater(greeting="hi")) == "Repeater(greeting='hi')"
    assert repr(FakeListChatModel(responses=["a"])) == "FakeListChatModel(responses=['a'])"


def test_configurable_fields_on_a_models_own_field_take_effect_for_that_call() -> None:
    model = Repeater(greeting="hi").configurable_fields(
        greeting=ConfigurableField(id="greeting"), n=ConfigurableField(id="n")
    )
    assert model.invoke("x", {"configurable": {"greeting": "yo", "n": 2}}).content == "yoyo"
    assert model.invoke("x").content == "hi"
    with pytest.raises(ConfigError, match="n"):
        model.invoke("x", {"configurable": {"n": 0}})


async def test_the_custom_model_runs_async_batched_and_streamed() -> None:
    model = Repeater(greeting="hi")
    assert (await model.ainvoke("x")).content == "hi"
    assert [m.content for m in await model.abatch(["x", "y"])] == ["hi", "hi"]
    assert "".join([str(c.content) async for c in model.astream("x")]) == "hi"


def test_builtin_models_settings_are_fields() -> None:
    assert {"responses", "sleep", "i", "error_on_chunk_number"} <= set(
        FakeListChatModel.model_fields
    )
    assert {"func", "stream_func"} <= set(FunctionChatModel.model_fields)
    with pytest.raises(ValidationError, match="sleep"):
        FakeListChatModel(responses=["a"], sleep="soon")
