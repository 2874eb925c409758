"""ChatPromptTemplate and MessagesPlaceholder."""

from __future__ import annotations

from typing import Any

import pytest

from runnables.messages import AIMessage, HumanMessage, SystemMessage
from runnables.prompts import (
    ChatPromptTemplate,
    ChatPromptValue,
    HumanMessagePromptTemplate,
    InvalidPromptTemplateError,
    MessagesPlaceholder,
    PromptInputError,
    SystemMessagePromptTemplate,
)


def test_from_messages_accepts_tuples_strings_messages_and_templates() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [
            SystemMessagePromptTemplate.from_template("You speak {lang}."),
            SystemMessage("Be brief."),
            ("ai", "Hello, I am {bot}."),
            "{question}",
            HumanMessagePromptTemplate.from_template("Thanks"),
        ]
    )
    assert prompt.input_variables == ["bot", "lang", "question"]
    messages = prompt.invoke({"lang": "French", "bot": "B", "question": "Why?"}).to_messages()
    assert messages == [
        SystemMessage("You speak French."),
        SystemMessage("Be brief."),
        AIMessage("Hello, I am B."),
        HumanMessage("Why?"),
        HumanMessage("Thanks"),
    ]


def test_from_template_is_one_human_message() -> None:
    value = ChatPromptTemplate.from_template("Hi {name}").invoke("Ada")  # type: ignore[arg-type]  # a bare value for its one variable
    assert value == ChatPromptValue([HumanMessage("Hi Ada")])
    assert value.to_string() == "Human: Hi Ada"


def test_required_placeholder_takes_message_likes_and_is_an_input_variable() -> None:
    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("human", "{q}")])
    assert prompt.input_variables == ["history", "q"]
    out = prompt.invoke({"history": [("human", "a"), AIMessage("b")], "q": "c"}).to_messages()
    assert out == [HumanMessage("a"), AIMessage("b"), HumanMessage("c")]
    with pytest.raises(PromptInputError, match="missing the variable 'history'"):
        prompt.invoke({"q": "c"})


def test_optional_placeholder_may_be_left_out_and_n_messages_keeps_the_last() -> None:
    prompt = ChatPromptTemplate.from_messages([("placeholder", "{history}"), ("human", "{q}")])
    assert prompt.input_variables == ["q"] and prompt.optional_variables == ["history"]
    assert prompt.invoke({"q": "hi"}).to_messages() == [HumanMessage("hi")]
    last_two = ChatPromptTemplate.from_messages([MessagesPlaceholder("h", n_messages=2)])
    assert last_two.invoke({"h": ["1", "2", "3"]}).to_messages() == [
        HumanMessage("2"),
        HumanMessage("3"),
    ]


def test_a_placeholder_given_a_string_is_a_clear_error() -> None:
    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history")])
    with pytest.raises(PromptInputError, match="must be a list of messages"):
        prompt.invoke({"history": "oops"})


def test_misspelled_variable_is_named_with_a_suggestion() -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "Speak {language}"), ("human", "{q}")])
    with pytest.raises(PromptInputError) as info:
        prompt.invoke({"langauge": "fr", "q": "x"})
    assert "'language'" in str(info.value) and "did you mean 'language'?" in str(info.value)


@pytest.mark.parametrize(
    "entry", [("robot", "hi"), ("placeholder", "history"), 42, {"role": "human"}]
)
def test_bad_entries_are_refused_with_a_clear_error(entry: object) -> None:
    with pytest.raises(InvalidPromptTemplateError):
        ChatPromptTemplate.from_messages([entry])


def test_partial_fills_variables_of_message_templates() -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "{a}"), ("human", "{b}")])
    partial = prompt.partial(a="A")
    assert partial.input_variables == ["b"]
    assert partial.invoke("B").to_messages() == [SystemMessage("A"), HumanMessage("B")]  # type: ignore[arg-type]  # a bare value for its one variable


def test_adding_chat_prompts_concatenates_messages() -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "{a}")]) + ("human", "{b}")
    assert prompt.input_variables == ["a", "b"]
    assert len(prompt) == 2


def test_jinja2_chat_templates() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("human", "{{ x | upper }}")], template_format="jinja2"
    )
    assert prompt.invoke({"x": "hi"}).to_messages() == [HumanMessage("HI")]


async def test_abatch_and_astream() -> None:
    prompt = ChatPromptTemplate.from_template("{q}")
    values = await prompt.abatch(["a", "b"])  # type: ignore[list-item]  # bare values, as above
    assert [v.to_messages()[0].content for v in values] == ["a", "b"]
    assert [v async for v in prompt.astream("c")] == [ChatPromptValue([HumanMessage("c")])]  # type: ignore[arg-type]  # a bare value for its one variable
    assert prompt._needs_loop() is False


def test_format_messages_missing_a_variable_names_the_chat_prompt_and_all_its_variables() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer in {language}, as {persona}."), ("human", "{q}")]
    )
    with pytest.raises(PromptInputError) as info:
        prompt.format_messages(q="x")
    msg = str(info.value)
    assert msg.startswith("ChatPromptTemplate is missing the variables 'language', 'persona' (")
    assert "It expects 'language', 'persona', 'q'" in msg
    assert info.value.missing == ["language", "persona"]
    assert info.value.expected == ["language", "persona", "q"]


def test_a_named_chat_prompt_owns_its_missing_variable_error() -> None:
    prompt = ChatPromptTemplate([("human", "{q} {r}")], name="qa_prompt")
    with pytest.raises(PromptInputError, match=r"^qa_prompt is missing the variable 'r'"):
        prompt.format(q="x")


def test_a_variable_left_out_of_explicit_input_variables_is_still_owned_by_the_chat_prompt() -> (
    None
):
    prompt = ChatPromptTemplate([("system", "{a}"), ("human", "{q}")], input_variables=["q"])
    with pytest.raises(PromptInputError) as info:
        prompt.format_messages(q="x")
    assert str(info.value).startswith("ChatPromptTemplate is missing the variable 'a'")
    assert info.value.expected == ["a", "q"]


def test_jinja2_chat_template_missing_a_variable_is_an_error() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "{{ a }}"), ("human", "{{ q }}")], template_format="jinja2"
    )
    with pytest.raises(PromptInputError, match="ChatPromptTemplate is missing the variable 'a'"):
        prompt.format_messages(q="x")


def test_a_message_template_with_content_blocks_formats_every_block_as_langchain_core() -> None:
    from langchain_core.prompts import ChatPromptTemplate as LcChatPromptTemplate

    entries: list[Any] = [
        ("system", "Describe in {language}."),
        (
            "human",
            [
                {"type": "text", "text": "{q}"},
                {"type": "image_url", "image_url": {"url": "{img}", "detail": "{level}"}},
                "and {{literal}} {q}",
                {"type": "image_url", "image_url": "{img}"},
                {"type": "file", "source": {"url": "{img}"}, "cache_control": {"type": "x"}},
            ],
        ),
    ]
    values = {"language": "French", "q": "What is it?", "img": "https://a/b.png", "level": "high"}
    ours = ChatPromptTemplate.from_messages(entries)
    theirs = LcChatPromptTemplate.from_messages(entries)
    assert ours.input_variables == theirs.input_variables == ["img", "language", "level", "q"]
    got = ours.invoke(values).to_messages()
    expected = theirs.invoke(values).to_messages()
    assert [type(m).__name__ for m in got] == [type(m).__name__ for m in expected]
    assert [m.content for m in got] == [m.content for m in expected]
    assert got[1].content[2] == {"type": "text", "text": "and {literal} What is it?"}


def test_content_blocks_keep_the_role_and_missing_variables_name_the_chat_prompt() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("ai", [{"type": "text", "text": "{a}"}]), ("human", [{"type": "text", "text": "{b}"}])]
    )
    messages = prompt.invoke({"a": "A", "b": "B"}).to_messages()
    assert messages == [
        AIMessage([{"type": "text", "text": "A"}]),
        HumanMessage([{"type": "text", "text": "B"}]),
    ]
    with pytest.raises(PromptInputError, match="ChatPromptTemplate is missing the variable 'b'"):
        prompt.format_messages(a="A")
    assert prompt.partial(a="A").invoke("B").to_messages()[0].content == [  # type: ignore[arg-type]  # a bare value for its one variable
        {"type": "text", "text": "A"}
    ]


def test_content_blocks_with_jinja2_templates() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("human", [{"type": "text", "text": "{{ q | upper }}"}])], template_format="jinja2"
    )
    assert prompt.invoke({"q": "hi"}).to_messages()[0].content == [{"type": "text", "text": "HI"}]


def test_a_content_block_that_is_not_a_string_or_dict_is_refused() -> None:
    with pytest.raises(InvalidPromptTemplateError, match="content block"):
        ChatPromptTemplate.from_messages([("human", [42])])


def test_configurable_messages_take_effect_with_their_own_variables() -> None:
    from runnables import ConfigurableField

    prompt = ChatPromptTemplate.from_messages([("human", "{question}")]).configurable_fields(
        messages=ConfigurableField(id="msgs")
    )
    config: Any = {"configurable": {"msgs": [("system", "Be {tone}."), ("human", "{question}")]}}
    out = prompt.invoke({"tone": "brief", "question": "Why?"}, config)
    assert out.to_messages() == [SystemMessage("Be brief."), HumanMessage("Why?")]
    assert prompt.invoke({"question": "Why?"}).to_messages() == [HumanMessage("Why?")]


def test_a_message_template_plus_a_string_is_a_chat_prompt() -> None:
    from runnables.prompts import SystemMessagePromptTemplate

    prompt = SystemMessagePromptTemplate.from_template("Be {tone}.") + "{question}"
    assert isinstance(prompt, ChatPromptTemplate)
    assert prompt.input_variables == ["question", "tone"]
    assert prompt.format_messages(tone="brief", question="Why?") == [
        SystemMessage("Be brief."),
        HumanMessage("Why?"),
    ]


def test_input_schema_has_langchains_shape_with_optional_variables_defaulting_to_none() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Be {tone}."), MessagesPlaceholder("history", optional=True), ("human", "{q}")]
    )
    schema = prompt.get_input_schema().model_json_schema()
    assert schema["title"] == "PromptInput"
    assert schema["type"] == "object"
    assert schema["required"] == ["q", "tone"]
    assert set(schema["properties"]) == {"q", "tone", "history"}
    assert schema["properties"]["history"]["default"] is None
    assert "$ref" not in schema
    # A chain takes its first step's schema, as in langchain-core.
    from runnables import RunnableLambda

    assert (prompt | RunnableLambda(lambda v: v)).get_input_schema() is prompt.get_input_schema()
