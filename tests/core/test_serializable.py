"""The one mechanism by which runnables' extendable classes are pydantic models.

Prompts, output parsers, chat models, tools, retrievers and a user's own
``RunnableSerializable`` all build on ``RunnableSerializable``; the behaviour checked
here is langchain-core 1.8.3's for its pydantic classes.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field, ValidationError, field_validator

from runnables import ConfigurableField, RunnableSerializable
from runnables.core.base import Runnable
from runnables.core.config import RunnableConfig
from runnables.errors import ConfigError
from runnables.models import BaseChatModel
from runnables.output_parsers import BaseOutputParser, StrOutputParser
from runnables.prompts import PromptTemplate
from runnables.retrievers import BaseRetriever
from runnables.tools import BaseTool


def test_every_extendable_class_is_built_on_the_one_base() -> None:
    for cls in (BaseOutputParser, BaseChatModel, PromptTemplate, BaseTool, BaseRetriever):
        assert issubclass(cls, RunnableSerializable), cls
        assert type(cls) is type(RunnableSerializable), cls


def test_the_old_separate_bases_are_gone() -> None:
    import importlib

    with pytest.raises(ImportError):
        importlib.import_module("runnables.core.model_step")
    import runnables.models.base as models_base

    assert not hasattr(models_base, "_declared_fields")
    assert not hasattr(BaseChatModel, "_set_declared_fields")


class Suffix(RunnableSerializable[str, str]):
    suffix: str
    times: int = Field(default=1, ge=1)

    @field_validator("suffix")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        return value.strip()

    def invoke(self, input: str, config: RunnableConfig | None = None, **kwargs: Any) -> str:
        return input + self.suffix * self.times


def test_declared_fields_are_keywords_with_defaults_and_validators() -> None:
    step = Suffix(suffix=" !")
    assert step.suffix == "!"  # the validator ran
    assert step.times == 1
    assert step.invoke("hi") == "hi!"
    assert list(Suffix.model_fields) == ["name", "suffix", "times"]


def test_a_bad_value_is_a_validation_error_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="times") as info:
        Suffix(suffix="!", times=0)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="suffix"):
        Suffix()


def test_equality_compares_class_and_fields_and_the_hash_stays_identity() -> None:
    assert Suffix(suffix="!") == Suffix(suffix="!")
    assert Suffix(suffix="!") != Suffix(suffix="?")
    assert Suffix(suffix="!", name="a") != Suffix(suffix="!", name="b")

    class Other(Suffix):
        pass

    assert Other(suffix="!") != Suffix(suffix="!")
    step = Suffix(suffix="!")
    assert {step: 1}[step] == 1  # steps still key caches and sets


def test_model_copy_updates_fields() -> None:
    step = Suffix(suffix="!")
    copied = step.model_copy(update={"times": 3})
    assert copied.invoke("a") == "a!!!"
    assert step.invoke("a") == "a!"


def test_repr_shows_the_fields_that_differ_from_their_defaults() -> None:
    # langchain-core's rule (Serializable.__repr_args__).
    assert repr(Suffix(suffix="!")) == "Suffix(suffix='!')"
    assert repr(Suffix(suffix="!", times=2, name="s")) == "Suffix(name='s', suffix='!', times=2)"
    assert repr(StrOutputParser()) == "StrOutputParser()"


def test_configurable_fields_on_a_users_own_field_take_effect_for_that_call() -> None:
    step = Suffix(suffix="!").configurable_fields(
        suffix=ConfigurableField(id="suffix"), times=ConfigurableField(id="times")
    )
    assert step.invoke("a") == "a!"
    assert step.invoke("a", {"configurable": {"suffix": "?", "times": 2}}) == "a??"
    assert step.invoke("a") == "a!"
    # The configured copy is built through the constructor, so validators run.
    assert step.invoke("a", {"configurable": {"suffix": " ? "}}) == "a?"
    with pytest.raises(ConfigError, match="times") as info:
        step.invoke("a", {"configurable": {"times": 0}})
    assert isinstance(info.value, ValueError)


def test_isinstance_with_the_base_itself_accepts_every_runnable() -> None:
    from runnables import RunnableLambda

    assert isinstance(RunnableLambda(str.upper), RunnableSerializable)
    assert not isinstance(RunnableLambda(str.upper), BaseOutputParser)
    assert isinstance(StrOutputParser(), Runnable)
