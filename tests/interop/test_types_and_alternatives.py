"""langchain-core steps' types in runnables chains, and as configurable alternatives."""

from __future__ import annotations

import pytest
from langchain_core.language_models import FakeListChatModel as LCFakeChat
from langchain_core.output_parsers import StrOutputParser as LCStrOutputParser
from langchain_core.prompts import ChatPromptTemplate as LCChatPromptTemplate
from langchain_core.tools import tool

from runnables import ConfigurableField, RunnableLambda
from runnables.core.base import coerce_to_runnable
from runnables.errors import ConfigError
from runnables.messages import AIMessage
from runnables.models.fake import FakeListChatModel


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_a_chain_starting_with_a_langchain_prompt_reports_its_variables() -> None:
    prompt = LCChatPromptTemplate.from_template("Hi {name}, {question}")
    chain = coerce_to_runnable(prompt) | RunnableLambda(lambda v: v.to_string())
    schema = chain.get_input_schema().model_json_schema()
    assert schema["properties"].keys() == {"name", "question"}
    assert schema["required"] == ["name", "question"]
    assert schema == prompt.get_input_schema().model_json_schema()


def test_a_chain_starting_with_a_langchain_tool_reports_its_arguments() -> None:
    chain = coerce_to_runnable(add) | RunnableLambda(str)
    schema = chain.get_input_schema().model_json_schema()
    assert schema["properties"] == {
        "a": {"title": "A", "type": "integer"},
        "b": {"title": "B", "type": "integer"},
    }
    assert chain.invoke({"a": 1, "b": 2}) == "3"


def test_a_chain_ending_with_a_langchain_parser_reports_its_output_type() -> None:
    chain = RunnableLambda(lambda x: x) | LCStrOutputParser()
    assert chain.OutputType is str
    assert chain.get_output_schema().model_json_schema()["type"] == "string"


def test_configurable_alternatives_take_a_langchain_chat_model() -> None:
    model = FakeListChatModel(responses=["ours"]).configurable_alternatives(
        ConfigurableField(id="model"),
        theirs=LCFakeChat(responses=["theirs"]),  # type: ignore[arg-type]  # langchain-core's own type where runnables' is named: the interop under test
    )
    assert model.invoke("x").content == "ours"
    out = model.invoke("x", {"configurable": {"model": "theirs"}})
    assert type(out) is AIMessage and out.content == "theirs"


async def test_a_callable_langchain_alternative_is_a_step_not_a_factory() -> None:
    # A langchain-core tool is callable: it must run as the step, not be called
    # with no arguments as a factory would be.
    step = RunnableLambda[dict[str, int], int](lambda d: d["a"] - d["b"]).configurable_alternatives(
        ConfigurableField(id="op"),
        add=add,  # type: ignore[arg-type]  # langchain-core's own type where runnables' is named: the interop under test
    )
    assert await step.ainvoke({"a": 5, "b": 2}) == 3
    assert await step.ainvoke({"a": 5, "b": 2}, {"configurable": {"op": "add"}}) == 7


def test_a_non_runnable_alternative_still_names_the_fix() -> None:
    with pytest.raises(ConfigError, match="must be a runnable or a function"):
        RunnableLambda(str).configurable_alternatives(ConfigurableField(id="k"), bad=3)  # type: ignore[arg-type]
