"""Prompt behaviour that langchain-core users rely on (its own unit tests check each).

Each test here failed before the change it covers: keyword arguments langchain-core's
constructors take, its error words that users' code matches, and its mustache rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runnables.errors import LangChainDeprecationWarning
from runnables.messages import ChatMessage, HumanMessage, SystemMessage
from runnables.prompts import (
    ChatMessagePromptTemplate,
    ChatPromptTemplate,
    HumanMessagePromptTemplate,
    MessagesPlaceholder,
    PromptTemplate,
    SystemMessagePromptTemplate,
)
from runnables.prompts.chat import _convert_to_message_template

# ---------------------------------------------------------------- error words


def test_positional_f_string_fields_are_invalid_variable_names() -> None:
    for template in ("{0}", "{42}"):
        with pytest.raises(ValueError, match="Invalid variable name") as info:
            ChatPromptTemplate.from_messages([("human", template)])
        assert "positional arguments" in str(info.value)
    with pytest.raises(ValueError, match="Invalid variable name") as info:
        PromptTemplate.from_template("{msg.content}")
    assert "attribute access" in str(info.value)


def test_validate_template_reports_a_positional_field_as_a_mismatched_schema() -> None:
    with pytest.raises(ValueError, match=r"missing input parameters from \[''\]"):
        PromptTemplate("{}", input_variables=[""], validate_template=True)


def test_validate_template_warns_for_jinja2_and_refuses_mustache() -> None:
    pytest.importorskip("jinja2")
    with pytest.warns(UserWarning, match="Missing variables: {'foo'} Extra variables: {'bar'}"):
        PromptTemplate("{{ foo }}", ["bar"], template_format="jinja2", validate_template=True)
    with pytest.raises(ValueError, match="Mustache templates cannot be validated"):
        PromptTemplate("{{foo}}", ["foo"], template_format="mustache", validate_template=True)
    with pytest.raises(ValueError, match="Input variables must be provided"):
        PromptTemplate("{foo}", validate_template=True)


def test_missing_variable_error_has_langchains_set_and_escape_hint() -> None:
    prompt = PromptTemplate.from_template("This is a {foo} {goingtobemissing} test.")
    with pytest.raises(KeyError) as info:
        prompt.invoke({"foo": "bar"})
    message = str(info.value)
    assert "{'goingtobemissing'}" in message
    assert "'{{goingtobemissing}}'" in message
    assert message.startswith("PromptTemplate is missing the variable 'goingtobemissing'")


def test_adding_templates_of_two_formats_says_cannot_add_templates() -> None:
    with pytest.raises(ValueError, match="Cannot add templates"):
        PromptTemplate.from_template("{a}") + PromptTemplate.from_template(
            "{{b}}", template_format="mustache"
        )


def test_unknown_role_is_an_unexpected_message_type() -> None:
    with pytest.raises(ValueError, match="Unexpected message type: foo"):
        ChatPromptTemplate([{"role": "foo", "content": "foo"}])
    with pytest.raises(ValueError, match="Unexpected message type: meow"):
        _convert_to_message_template(("meow", "question"))


def test_list_input_to_a_prompt_of_several_variables_is_a_type_error() -> None:
    prompt = ChatPromptTemplate([("system", "You are a {foo}"), MessagesPlaceholder("history")])
    with pytest.raises(TypeError):
        prompt.invoke([("user", "Hi there")])  # type: ignore[arg-type]
    single = ChatPromptTemplate([MessagesPlaceholder("history")])
    assert single.invoke([("user", "Hi")]).to_messages() == [HumanMessage("Hi")]  # type: ignore[arg-type]


# ---------------------------------------------------------------- mustache


@pytest.mark.parametrize("value", [None, [], {}, ""])
def test_mustache_renders_falsy_values_as_empty_text(value: Any) -> None:
    prompt = PromptTemplate.from_template("[{{v}}]", template_format="mustache")
    assert prompt.format(v=value) == "[]"


def test_mustache_keeps_zero_and_false_and_indexes_lists() -> None:
    prompt = PromptTemplate.from_template("{{a}} {{b}} {{c.1}}", template_format="mustache")
    assert prompt.format(a=0, b=False, c=["x", "y"]) == "0 False y"


def test_mustache_never_reads_an_objects_attributes() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("human", "{{question.__class__.__name__}}|{{question.content}}")],
        template_format="mustache",
    )
    result = prompt.invoke({"question": HumanMessage("howdy")})
    assert result.to_messages()[0].content == "|"


def test_mustache_input_schema_has_every_name_optional() -> None:
    prompt = PromptTemplate.from_template("This is a {{foo}} test.", template_format="mustache")
    assert prompt.get_input_jsonschema() == {
        "title": "PromptInput",
        "type": "object",
        "properties": {"foo": {"title": "Foo", "type": "string", "default": None}},
    }


# ---------------------------------------------------------------- keywords


def test_chat_from_template_takes_partial_variables() -> None:
    prompt = ChatPromptTemplate.from_template("hi {foo} {bar}", partial_variables={"foo": "jim"})
    entry = prompt.messages[0]
    assert isinstance(entry, HumanMessagePromptTemplate)
    assert entry.prompt == PromptTemplate(
        "hi {foo} {bar}", input_variables=["bar"], partial_variables={"foo": "jim"}
    )
    assert prompt.input_variables == ["bar"]
    assert prompt.format_messages(bar="x") == [HumanMessage("hi jim x")]


def test_message_from_template_takes_input_and_partial_variables() -> None:
    message = SystemMessagePromptTemplate.from_template(
        template="{instructions} / {history}",
        input_variables=["history"],
        partial_variables={"instructions": {}},
    )
    assert message.format(history="h") == SystemMessage("{} / h")


def test_message_from_a_list_of_templates_makes_text_blocks() -> None:
    message = SystemMessagePromptTemplate.from_template(
        template=["one {v}", "two {v}"], input_variables=["v"]
    )
    assert message.format(v="x") == SystemMessage(
        [{"type": "text", "text": "one x"}, {"type": "text", "text": "two x"}]
    )
    with pytest.raises(ValueError, match="Partial variables are not supported for list"):
        SystemMessagePromptTemplate.from_template(
            template=["one {v}"], partial_variables={"v": "x"}
        )


def test_chat_message_from_template_file_takes_role(tmp_path: Path) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text("Question: {question}\nAnswer:")
    expected = ChatMessagePromptTemplate(
        prompt=PromptTemplate("Question: {question}\nAnswer:", input_variables=["question"]),
        role="human",
    )
    actual = ChatMessagePromptTemplate.from_template_file(path, role="human")
    assert actual == expected
    assert actual != ChatMessagePromptTemplate.from_template_file(path, role="ai")
    assert actual.format(question="q") == ChatMessage("Question: q\nAnswer:", role="human")


def test_message_template_additional_kwargs_go_to_the_message() -> None:
    message = HumanMessagePromptTemplate.from_template("{q}", additional_kwargs={"k": 1})
    assert message.format(q="x").additional_kwargs == {"k": 1}


def test_chat_validate_template_checks_given_input_variables() -> None:
    messages = [HumanMessagePromptTemplate.from_template("{foo}")]
    with pytest.raises(ValueError, match=r"Got mismatched input_variables. Expected: {'foo'}"):
        ChatPromptTemplate(messages, input_variables=[], validate_template=True)
    # Without validate_template, the messages' own variables win, as in langchain-core.
    assert ChatPromptTemplate(messages, input_variables=[]).input_variables == ["foo"]
    plain = ChatPromptTemplate([HumanMessage("foo")], input_variables=["foo"])
    assert plain.input_variables == []


def test_image_path_in_a_content_block_is_refused_when_formatting() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("human", [{"type": "image_url", "image_url": {"path": "{file_path}"}}])]
    )
    with pytest.raises(ValueError, match="Loading images from 'path' has been removed"):
        prompt.format_messages(file_path="/etc/passwd")


def test_dict_content_block_is_refused_with_jinja2() -> None:
    block = {"type": "image", "source_type": "base64", "data": "{source_data}"}
    with pytest.raises(ValueError, match="jinja2"):
        ChatPromptTemplate.from_messages([("human", [block])], template_format="jinja2")


def test_convert_to_message_template_makes_entries() -> None:
    expected = HumanMessagePromptTemplate(prompt=PromptTemplate.from_template("{question}"))
    assert _convert_to_message_template(("human", "{question}")) == expected
    assert _convert_to_message_template("{question}") == expected
    assert _convert_to_message_template(HumanMessage("q")) == HumanMessage("q")


def test_from_examples_joins_prefix_examples_and_suffix() -> None:
    prompt = PromptTemplate.from_examples(
        ["Q: a\nA: 1", "Q: b\nA: 2"], "Q: {question}\nA:", ["question"], prefix="Test:"
    )
    assert prompt.template == "Test:\n\nQ: a\nA: 1\n\nQ: b\nA: 2\n\nQ: {question}\nA:"
    assert prompt.input_variables == ["question"]


def test_asdict_names_the_prompt_type_and_dict_is_deprecated() -> None:
    prompt = PromptTemplate.from_template("This is a {foo} test.")
    as_dict = prompt.asdict()
    assert as_dict["_type"] == "prompt"
    assert as_dict["template"] == "This is a {foo} test."
    assert ChatPromptTemplate.from_template("{a}").asdict()["_type"] == "chat"
    with pytest.warns(LangChainDeprecationWarning, match="asdict"):
        assert prompt.dict() == as_dict


async def test_prompt_metadata_and_tags_are_on_its_run() -> None:
    prompt = PromptTemplate(
        "This is a {foo} test.", ["foo"], metadata={"version": "1"}, tags=["t1", "t2"]
    )
    starts = [
        e
        async for e in prompt.astream_events(
            {"foo": "bar"}, {"metadata": {"foo": "bar"}, "tags": ["call"]}, version="v2"
        )
        if e["event"] == "on_prompt_start"
    ]
    assert starts[0]["metadata"] == {"version": "1", "foo": "bar"}
    assert starts[0]["tags"] == ["call", "t1", "t2"]
    # A prompt without them keeps the call's only.
    plain = PromptTemplate.from_template("{foo}")
    events = [e async for e in plain.astream_events({"foo": "x"}, version="v2")]
    assert events[0]["metadata"] == {} and events[0]["tags"] == []
