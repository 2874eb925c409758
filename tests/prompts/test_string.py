"""PromptTemplate: variables, partials, formats, errors, and running as a step."""

from __future__ import annotations

from typing import Any

import pytest

from runnables import ConfigurableField, RunnableConfig
from runnables.prompts import (
    InvalidPromptTemplateError,
    PromptInputError,
    PromptTemplate,
    StringPromptValue,
)


def test_from_template_finds_the_variables_and_formats() -> None:
    prompt = PromptTemplate.from_template("Tell me a {adjective} joke about {topic}")
    assert prompt.input_variables == ["adjective", "topic"]
    assert prompt.format(adjective="dry", topic="cats") == "Tell me a dry joke about cats"


def test_input_variables_are_the_templates_own_like_langchain() -> None:
    # langchain-core 1.8.3 derives them from the template; given ones are only checked
    # (with validate_template).
    assert PromptTemplate("This is a {foo} test.", input_variables=[]).input_variables == ["foo"]
    assert PromptTemplate("{foo}", input_variables=["bar"]).input_variables == ["foo"]
    prompt = PromptTemplate(template="Hi {name}", input_variables=["name"])
    assert prompt.invoke({"name": "Ada"}) == StringPromptValue("Hi Ada")


def test_a_single_variable_template_accepts_the_bare_value() -> None:
    assert PromptTemplate.from_template("Hi {name}").invoke("Ada").to_string() == "Hi Ada"  # type: ignore[arg-type]  # a bare value for its one variable


def test_a_bare_value_for_a_template_with_two_variables_is_an_error() -> None:
    with pytest.raises(PromptInputError, match="expects a dict of its variables"):
        PromptTemplate.from_template("{a} {b}").invoke("x")  # type: ignore[arg-type]  # a bare value for its one variable


def test_missing_variable_error_names_it_lists_expected_and_suggests_the_close_name() -> None:
    prompt = PromptTemplate.from_template("Dear {name}, about {topic}")
    with pytest.raises(PromptInputError) as info:
        prompt.invoke({"nmae": "Ada", "topic": "x"})
    msg = str(info.value)
    assert "missing the variable 'name'" in msg
    assert "It expects 'name', 'topic'" in msg
    assert "did you mean 'name'?" in msg
    assert isinstance(info.value, KeyError)
    assert info.value.missing == ["name"]


def test_format_without_a_variable_raises_the_same_clear_error() -> None:
    with pytest.raises(PromptInputError, match="missing the variable 'b'"):
        PromptTemplate.from_template("{a} {b}").format(a=1)


def test_json_in_an_f_string_template_gets_the_escape_hint() -> None:
    prompt = PromptTemplate.from_template('Answer like {"a": 1} about {q}')
    with pytest.raises(PromptInputError, match=r"escape its braces"):
        prompt.invoke({"q": "x"})


def test_partial_with_values_and_functions() -> None:
    calls = []

    def today() -> str:
        calls.append(1)
        return "Monday"

    prompt = PromptTemplate.from_template("{greeting}, it is {day}. {q}")
    partial = prompt.partial(greeting="Hello", day=today)
    assert partial.input_variables == ["q"]
    assert prompt.input_variables == ["day", "greeting", "q"]  # the original is unchanged
    assert partial.invoke("Why?").to_string() == "Hello, it is Monday. Why?"  # type: ignore[arg-type]  # a bare value for its one variable
    assert partial.invoke("Again?").to_string() == "Hello, it is Monday. Again?"  # type: ignore[arg-type]  # a bare value for its one variable
    assert len(calls) == 2  # the function runs at each format


@pytest.mark.parametrize("template", ["{user.name}", "{items[0]}", "{}", "{0}", "{a:{b}}"])
def test_unsafe_or_positional_fields_are_refused(template: str) -> None:
    with pytest.raises(InvalidPromptTemplateError):
        PromptTemplate.from_template(template)


def test_jinja2_renders_in_a_sandbox() -> None:
    prompt = PromptTemplate.from_template(
        "{% for x in items %}{{ x }};{% endfor %}{{ who }}", template_format="jinja2"
    )
    assert prompt.input_variables == ["items", "who"]
    assert prompt.format(items=[1, 2], who="me") == "1;2;me"
    from jinja2.exceptions import SecurityError

    evil = PromptTemplate.from_template(
        "{{ x.__class__.__base__.__subclasses__() }}", template_format="jinja2"
    )
    with pytest.raises(SecurityError):
        evil.format(x="")


def test_unknown_template_format_is_refused() -> None:
    with pytest.raises(InvalidPromptTemplateError, match="Unsupported template format: handlebars"):
        PromptTemplate("{{a}}", template_format="handlebars")  # type: ignore[arg-type]


def test_adding_templates_concatenates_them() -> None:
    prompt = PromptTemplate.from_template("{a} and ") + "{b}"
    assert prompt.input_variables == ["a", "b"]
    assert prompt.format(a=1, b=2) == "1 and 2"


async def test_ainvoke_abatch_astream_and_sync_invoke_agree() -> None:
    prompt = PromptTemplate.from_template("Q: {q}")
    assert prompt._needs_loop() is False
    assert (await prompt.ainvoke({"q": "1"})).to_string() == "Q: 1"
    batch = await prompt.abatch([{"q": "1"}, {"q": "2"}])
    assert [v.to_string() for v in batch] == ["Q: 1", "Q: 2"]
    assert [v async for v in prompt.astream({"q": "3"})] == [StringPromptValue("Q: 3")]
    assert prompt.invoke({"q": "4"}).to_messages()[0].content == "Q: 4"


def test_input_schema_lists_the_variables() -> None:
    schema = PromptTemplate.from_template("{a} {b}").get_input_jsonschema()
    body = schema["$defs"]["PromptTemplateInput"] if "$defs" in schema else schema
    assert sorted(body["required"]) == ["a", "b"]


def test_jinja2_format_without_a_variable_is_an_error_not_empty_text() -> None:
    prompt = PromptTemplate.from_template("{{ a }} and {{ b }}", template_format="jinja2")
    with pytest.raises(PromptInputError) as info:
        prompt.format(a=1)
    assert "PromptTemplate is missing the variable 'b'" in str(info.value)
    assert "It expects 'a', 'b'" in str(info.value)
    assert info.value.missing == ["b"]


def test_jinja2_variable_missing_inside_a_loop_is_named() -> None:
    # format does not check input_variables (as in langchain-core): rendering finds it.
    prompt = PromptTemplate(
        "{% for x in items %}{{ x }}{{ sep }}{% endfor %}",
        template_format="jinja2",
    )
    with pytest.raises(PromptInputError, match="missing the variable 'sep'"):
        prompt.format(items=[1])


def test_jinja2_is_defined_tests_still_work_under_strict_undefined() -> None:
    prompt = PromptTemplate(
        "{% if extra is defined %}{{ extra }}{% else %}none{% endif %}",
        input_variables=[],
        template_format="jinja2",
    )
    assert prompt.format() == "none"
    assert prompt.format(extra="x") == "x"


def test_jinja2_templates_cannot_change_the_values_passed_in() -> None:
    items: list[int] = [1]
    from jinja2.exceptions import SecurityError

    prompt = PromptTemplate.from_template("{{ items.append(2) }}", template_format="jinja2")
    with pytest.raises(SecurityError, match="unsafe"):
        prompt.format(items=items)
    assert items == [1]


async def test_configurable_template_takes_effect_for_the_call_that_sets_it() -> None:
    prompt = PromptTemplate.from_template("Hello {name}").configurable_fields(
        template=ConfigurableField(id="tmpl")
    )
    assert prompt.invoke({"name": "Ada"}).to_string() == "Hello Ada"
    config: RunnableConfig = {"configurable": {"tmpl": "Bye {name}"}}
    assert prompt.invoke({"name": "Ada"}, config).to_string() == "Bye Ada"
    assert (await prompt.ainvoke({"name": "Ada"}, config)).to_string() == "Bye Ada"
    # The default is untouched.
    assert prompt.invoke({"name": "Ada"}).to_string() == "Hello Ada"


def test_a_configured_template_takes_its_own_variables() -> None:
    prompt = PromptTemplate.from_template("Hello {name}").configurable_fields(
        template=ConfigurableField(id="tmpl")
    )
    config: RunnableConfig = {"configurable": {"tmpl": "{greeting}, {name}"}}
    assert prompt.invoke({"greeting": "Hi", "name": "Ada"}, config).to_string() == "Hi, Ada"
    with pytest.raises(KeyError, match="greeting"):
        prompt.invoke({"name": "Ada"}, config)


def test_setting_the_template_recompiles_it() -> None:
    prompt = PromptTemplate.from_template("Hello {name}")
    copy = prompt.model_copy(update={"template": "{a}{b}"})
    assert copy.input_variables == ["a", "b"]
    assert copy.format(a=1, b=2) == "12"
    assert prompt.format(name="Ada") == "Hello Ada"
    with pytest.raises(InvalidPromptTemplateError, match="as a string"):
        prompt.template = 3  # type: ignore[assignment]


def test_prompts_with_the_same_fields_are_equal_like_langchain() -> None:
    template = "This is a {foo} test."
    assert PromptTemplate.from_template(template) == PromptTemplate(
        template=template, input_variables=["foo"]
    )
    assert PromptTemplate.from_template(template) != PromptTemplate.from_template("{foo}")
    assert PromptTemplate.from_template("{a}") != PromptTemplate.from_template("{a}").partial(a=1)
    # Still usable as a key, as every step is.
    assert len({PromptTemplate.from_template("{a}"), PromptTemplate.from_template("{a}")}) == 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: PromptTemplate("{foo}", ["bar"], validate_template=True),
            r"Invalid prompt schema; check for mismatched or missing input parameters from "
            r"\['bar'\]",
        ),
        (
            lambda: PromptTemplate("{foo}", template_format="bar"),  # type: ignore[arg-type]  # on purpose
            "Unsupported template format: bar",
        ),
        (lambda: PromptTemplate("{a:{b}}"), "Nested replacement fields are not allowed"),
        (lambda: PromptTemplate("{a.b}"), "Invalid variable name"),
    ],
)
def test_template_errors_carry_langchains_wording(make: Any, message: str) -> None:
    # Users' tests and except-clauses match on langchain-core's messages.
    with pytest.raises(ValueError, match=message):
        make()


def test_strict_formatter_keywords_only() -> None:
    from runnables.prompts.formatting import formatter

    assert formatter.format("{value:.2f} {name!r:>6}", value=3.14159, name="cat") == "3.14  'cat'"
    with pytest.raises(ValueError, match="keyword argument"):
        formatter.format("{}", "x")
    with pytest.raises(ValueError, match="Invalid format specifier"):
        formatter.format("{name:{name.__class__.__name__}}", name="hello")
    formatter.validate_input_variables("Hi {name}", ["name"])
    with pytest.raises(KeyError):
        formatter.validate_input_variables("Hi {name}", ["other"])


def test_mustache_schema_nests_dotted_names_and_sections() -> None:
    from runnables.prompts.mustache import mustache_schema

    schema = mustache_schema("{{x.y}} {{x}} {{#s}}{{z}}{{/s}}").model_json_schema()
    assert schema["title"] == "PromptInput"
    assert schema["properties"]["x"] == {"$ref": "#/$defs/x", "default": None}
    assert schema["$defs"]["x"]["properties"] == {
        "y": {"default": None, "title": "Y", "type": "string"}
    }
    assert schema["$defs"]["s"]["properties"]["z"]["type"] == "string"
    model = mustache_schema("{{name}}")
    assert model(name="Ada").name == "Ada"
