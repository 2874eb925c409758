"""Prompts are pydantic models, as in langchain-core: fields, equality, copies, errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from runnables import ConfigurableField
from runnables.messages import HumanMessage, SystemMessage
from runnables.prompts import (
    ChatMessagePromptTemplate,
    ChatPromptTemplate,
    FewShotChatMessagePromptTemplate,
    FewShotPromptTemplate,
    HumanMessagePromptTemplate,
    MessagesPlaceholder,
    PromptTemplate,
)


def test_prompts_and_message_templates_are_pydantic_models_with_declared_fields() -> None:
    prompt = PromptTemplate.from_template("Hi {name}")
    assert isinstance(prompt, BaseModel)
    assert {"template", "template_format", "validate_template", "input_variables"} <= set(
        PromptTemplate.model_fields
    )
    assert {"partial_variables", "optional_variables", "input_types", "metadata", "tags"} <= set(
        PromptTemplate.model_fields
    )
    assert {"messages", "validate_template"} <= set(ChatPromptTemplate.model_fields)
    assert set(MessagesPlaceholder.model_fields) == {"variable_name", "optional", "n_messages"}
    assert {"prompt", "additional_kwargs"} <= set(HumanMessagePromptTemplate.model_fields)
    assert "role" in ChatMessagePromptTemplate.model_fields
    assert {"examples", "example_prompt", "suffix", "prefix"} <= set(
        FewShotPromptTemplate.model_fields
    )
    assert {"examples", "example_prompt"} <= set(FewShotChatMessagePromptTemplate.model_fields)


def test_fields_are_constructor_keywords_and_model_dump_shows_them() -> None:
    prompt = PromptTemplate(
        template="{a} {b}",
        input_variables=["a", "b"],
        partial_variables={"b": "x"},
        metadata={"v": 1},
        tags=["t"],
    )
    dumped = prompt.model_dump()
    assert dumped["template"] == "{a} {b}"
    assert dumped["input_variables"] == ["a"]
    assert dumped["partial_variables"] == {"b": "x"}
    assert (dumped["metadata"], dumped["tags"]) == ({"v": 1}, ["t"])
    placeholder = MessagesPlaceholder(variable_name="history", optional=True, n_messages=2)
    assert placeholder.model_dump() == {
        "variable_name": "history",
        "optional": True,
        "n_messages": 2,
    }


def test_equality_compares_fields() -> None:
    assert PromptTemplate.from_template("{a}") == PromptTemplate(template="{a}")
    assert PromptTemplate.from_template("{a}") != PromptTemplate.from_template("{b}")
    assert PromptTemplate.from_template("{a}") != PromptTemplate.from_template(
        "{a}", partial_variables={"z": 1}
    )
    chat = ChatPromptTemplate.from_messages([("system", "Be {tone}."), ("human", "{q}")])
    assert chat == ChatPromptTemplate.from_messages([("system", "Be {tone}."), ("human", "{q}")])
    assert chat != ChatPromptTemplate.from_messages([("system", "Be {tone}!"), ("human", "{q}")])
    assert MessagesPlaceholder("h") == MessagesPlaceholder(variable_name="h")
    assert MessagesPlaceholder("h") != MessagesPlaceholder("h", optional=True)
    blocks: Any = [{"type": "text", "text": "{q}"}]
    assert ChatPromptTemplate([("human", blocks)]) == ChatPromptTemplate([("human", blocks)])
    # Still usable as a dict key or in a set, by identity, as every other step.
    assert len({chat, chat}) == 1


def test_model_copy_with_update_rebuilds_and_without_copies() -> None:
    prompt = PromptTemplate.from_template("Hello {name}")
    same = prompt.model_copy()
    assert same == prompt and same is not prompt
    chat = ChatPromptTemplate.from_messages([("human", "{q}")])
    updated = chat.model_copy(update={"messages": [("system", "Be {tone}."), ("human", "{q}")]})
    assert updated.input_variables == ["q", "tone"]
    assert updated.format_messages(tone="brief", q="Why?") == [
        SystemMessage("Be brief."),
        HumanMessage("Why?"),
    ]
    assert chat.input_variables == ["q"]


def test_wrong_field_types_are_validation_errors_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="tags"):
        PromptTemplate("{a}", tags="t")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="variable_name"):
        MessagesPlaceholder(variable_name=3)  # type: ignore[arg-type]
    # A ValidationError is a ValueError, as langchain-core users catch it.
    with pytest.raises(ValueError, match="metadata"):
        ChatPromptTemplate([("human", "{q}")], metadata=[1])  # type: ignore[arg-type]


def test_configurable_fields_on_a_chat_prompt_rebuild_it_per_call() -> None:
    prompt = ChatPromptTemplate.from_messages([("human", "{q}")]).configurable_fields(
        messages=ConfigurableField(id="msgs")
    )
    config: Any = {"configurable": {"msgs": [("ai", "{q}!")]}}
    assert prompt.invoke({"q": "x"}, config).to_messages()[0].content == "x!"
    assert prompt.invoke({"q": "x"}).to_messages() == [HumanMessage("x")]


def test_partial_on_a_few_shot_prompt_keeps_its_fields() -> None:
    few_shot = FewShotPromptTemplate(
        examples=[{"q": "1"}],
        example_prompt=PromptTemplate.from_template("{q}"),
        prefix="{lead}",
        suffix="{question}",
    )
    filled = few_shot.partial(lead="Examples:")
    assert filled.input_variables == ["question"]
    assert filled.format(question="2") == "Examples:\n\n1\n\n2"
    assert few_shot.input_variables == ["lead", "question"]


def test_changing_a_message_templates_fields_takes_effect() -> None:
    # Formatting uses what was compiled from the fields; setting or copying with new
    # fields recompiles it.
    message = HumanMessagePromptTemplate.from_template("{a}")
    message.prompt = PromptTemplate.from_template("{a}!")
    assert message.format(a="x") == HumanMessage("x!")
    copied = message.model_copy(update={"additional_kwargs": {"k": 1}})
    assert copied.format(a="y").additional_kwargs == {"k": 1}
    assert message.format(a="y").additional_kwargs == {}
    role = ChatMessagePromptTemplate.from_template("{a}", role="critic")
    role.role = "judge"
    assert role.format(a="z").role == "judge"


def test_a_chat_prompt_formats_every_kind_of_entry_in_order() -> None:
    class Shouting(HumanMessagePromptTemplate):
        def format(self, **kwargs: Any) -> Any:
            return HumanMessage(self.prompt.format(**kwargs).upper())

    prompt = ChatPromptTemplate(
        [
            SystemMessage("fixed"),
            Shouting(prompt=PromptTemplate.from_template("{q}")),
            ("ai", "{q}"),
            MessagesPlaceholder("history"),
        ]
    )
    prompt.append(("human", "last {q}"))
    out = prompt.format_messages(q="hi", history=[("human", "h")])
    assert [m.content for m in out] == ["fixed", "HI", "hi", "h", "last hi"]


def test_a_deep_copy_formats_with_its_own_fields() -> None:
    import copy

    message = HumanMessagePromptTemplate.from_template("{a}")
    chat = ChatPromptTemplate([message, ("ai", "{a}?")])
    for copied in (copy.deepcopy(chat), chat.model_copy(deep=True)):
        entry = copied.messages[0]
        entry.prompt = PromptTemplate.from_template("{a}!")
        assert [m.content for m in copied.format_messages(a="x")] == ["x!", "x?"]
    assert [m.content for m in chat.format_messages(a="x")] == ["x", "x?"]
    prompt = PromptTemplate.from_template("{a}{b}", partial_variables={"b": "1"})
    assert copy.deepcopy(prompt).format(a="0") == "01"
