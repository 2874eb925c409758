"""Few-shot prompts, mustache templates, prompt files and pretty_repr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runnables.prompts import (
    ChatPromptTemplate,
    FewShotChatMessagePromptTemplate,
    FewShotPromptTemplate,
    HumanMessagePromptTemplate,
    InvalidPromptTemplateError,
    MessagesPlaceholder,
    PromptTemplate,
    load_prompt,
)

EXAMPLES = [{"q": "2+2", "a": "4"}, {"q": "3+3", "a": "6"}]


def test_few_shot_prompt_joins_prefix_examples_and_suffix() -> None:
    prompt = FewShotPromptTemplate(
        examples=EXAMPLES,
        example_prompt=PromptTemplate.from_template("Q: {q} A: {a}"),
        prefix="Solve {kind}.",
        suffix="Q: {question} A:",
    )
    assert prompt.input_variables == ["kind", "question"]
    assert prompt.invoke({"kind": "sums", "question": "4+4"}).to_string() == (
        "Solve sums.\n\nQ: 2+2 A: 4\n\nQ: 3+3 A: 6\n\nQ: 4+4 A:"
    )


class _Shortest:
    """A selector that keeps examples whose question is shorter than the input's."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def select_examples(self, input_variables: dict[str, Any]) -> list[dict[str, str]]:
        self.seen.append(input_variables)
        return [e for e in EXAMPLES if len(e["q"]) < len(input_variables["question"])]

    async def aselect_examples(self, input_variables: dict[str, Any]) -> list[dict[str, str]]:
        return self.select_examples(input_variables)[:1]


async def test_an_example_selector_picks_examples_per_input_sync_and_async() -> None:
    selector = _Shortest()
    prompt = FewShotPromptTemplate(
        example_selector=selector,
        example_prompt=PromptTemplate.from_template("{q}={a}"),
        suffix="{question}=",
        example_separator="\n",
    )
    assert prompt.format(question="10+10") == "2+2=4\n3+3=6\n10+10="
    assert selector.seen == [{"question": "10+10"}]
    assert await prompt.aformat(question="10+10") == "2+2=4\n10+10="


def test_examples_and_selector_are_exclusive_and_one_is_required() -> None:
    example_prompt = PromptTemplate.from_template("{q}")
    with pytest.raises(InvalidPromptTemplateError, match="Only one of 'examples'"):
        FewShotPromptTemplate(
            examples=EXAMPLES,
            example_selector=_Shortest(),
            example_prompt=example_prompt,
            suffix="",
        )
    with pytest.raises(InvalidPromptTemplateError, match="One of 'examples'"):
        FewShotPromptTemplate(example_prompt=example_prompt, suffix="")


def test_validate_template_checks_declared_variables() -> None:
    with pytest.raises(InvalidPromptTemplateError, match=r"from \[\]. The template also uses"):
        FewShotPromptTemplate(
            examples=EXAMPLES,
            example_prompt=PromptTemplate.from_template("{q}"),
            suffix="{question}",
            input_variables=[],
            validate_template=True,
        )


def test_an_example_lacking_a_key_is_an_error_naming_it() -> None:
    prompt = FewShotPromptTemplate(
        examples=[{"q": "1"}],
        example_prompt=PromptTemplate.from_template("{q}{a}"),
        suffix="",
    )
    with pytest.raises(InvalidPromptTemplateError, match=r"lacks \['a'\]"):
        prompt.format()


def test_few_shot_chat_messages_inside_a_chat_prompt() -> None:
    few_shot = FewShotChatMessagePromptTemplate(
        examples=[{"input": "2+2", "output": "4"}],
        example_prompt=ChatPromptTemplate.from_messages([("human", "{input}"), ("ai", "{output}")]),
    )
    assert [m.text for m in few_shot.format_messages()] == ["2+2", "4"]
    assert few_shot.format() == "Human: 2+2\nAI: 4"
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You do sums."), few_shot, ("human", "{input}")]
    )
    assert prompt.input_variables == ["input"]
    messages = prompt.invoke({"input": "3+3"}).to_messages()
    assert [(m.type, m.text) for m in messages] == [
        ("system", "You do sums."),
        ("human", "2+2"),
        ("ai", "4"),
        ("human", "3+3"),
    ]


def test_mustache_templates_render_sections_and_escape_as_langchain_core() -> None:
    prompt = PromptTemplate.from_template(
        "Hi {{name}}!{{#items}} [{{.}}]{{/items}}{{^items}} none{{/items}} {{{raw}}}",
        template_format="mustache",
    )
    assert prompt.input_variables == ["items", "name", "raw"]
    assert prompt.format(name="A&B", items=[1, 2], raw="<b>") == "Hi A&amp;B! [1] [2] <b>"
    assert prompt.format(name="x", items=[], raw="") == "Hi x! none "
    nested = PromptTemplate.from_template("{{user.name}}", template_format="mustache")
    assert nested.input_variables == ["user"]
    assert nested.format(user={"name": "Ann"}) == "Ann"


def test_mustache_chat_prompt_and_a_standalone_section_line() -> None:
    chat = ChatPromptTemplate.from_messages(
        [("system", "{{#rules}}\n- {{.}}\n{{/rules}}\n"), ("human", "{{q}}")],
        template_format="mustache",
    )
    system, human = chat.invoke({"rules": ["be brief", "be kind"], "q": "hi"}).to_messages()
    assert system.text == "- be brief\n- be kind\n"
    assert human.text == "hi"


def test_an_unclosed_mustache_section_is_an_error_saying_how_to_close_it() -> None:
    with pytest.raises(InvalidPromptTemplateError, match=r"never closes section 'a'.*\{\{/a\}\}"):
        PromptTemplate.from_template("{{#a}}x", template_format="mustache")


def test_from_file_and_from_template_file(tmp_path: Path) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text("Tell me about {topic}.", encoding="utf-8")
    assert PromptTemplate.from_file(path).format(topic="owls") == "Tell me about owls."
    message = HumanMessagePromptTemplate.from_template_file(path, ["topic"])
    assert message.format(topic="bats").text == "Tell me about bats."


def test_load_prompt_reads_json_and_yaml_files(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    Path("template.txt").write_text("Q: {q} A: {a}", encoding="utf-8")
    Path("plain.json").write_text(
        json.dumps({"_type": "prompt", "template": "Hi {name}", "input_variables": ["name"]})
    )
    assert load_prompt("plain.json").format(name="Ann") == "Hi Ann"
    Path("few.yaml").write_text(
        "_type: few_shot\n"
        "prefix: Sums\n"
        "suffix: 'Q: {question} A:'\n"
        "input_variables: [question]\n"
        "examples:\n  - {q: '1+1', a: '2'}\n"
        "example_prompt:\n  _type: prompt\n  template_path: template.txt\n"
        "  input_variables: [q, a]\n"
    )
    few = load_prompt("few.yaml")
    assert few.format(question="2+2") == "Sums\n\nQ: 1+1 A: 2\n\nQ: 2+2 A:"


def test_load_prompt_refuses_escaping_paths_and_jinja2(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    Path("escape.json").write_text(json.dumps({"template_path": "../secret.txt"}))
    with pytest.raises(ValueError, match=r"contains '\.\.' components"):
        load_prompt("escape.json")
    Path("jinja.json").write_text(json.dumps({"template": "{{x}}", "template_format": "jinja2"}))
    with pytest.raises(ValueError, match="'jinja2' format is no longer supported"):
        load_prompt("jinja.json")
    with pytest.raises(ValueError, match=r"unsupported file type '\.txt'"):
        load_prompt("template.txt")


def test_pretty_repr_matches_langchain_core() -> None:
    assert PromptTemplate.from_template("Hi {name}").pretty_repr() == "Hi {name}"
    chat = ChatPromptTemplate.from_messages(
        [("system", "Be {tone}."), MessagesPlaceholder("history")]
    )
    assert chat.pretty_repr() == (
        "================================ System Message ================================\n\n"
        "Be {tone}.\n\n"
        "============================= Messages Placeholder =============================\n\n"
        "{history}"
    )


def test_validate_template_only_warns_for_jinja2() -> None:
    pytest.importorskip("jinja2")
    with pytest.warns(UserWarning, match="Extra variables"):
        FewShotPromptTemplate(
            examples=EXAMPLES,
            example_prompt=PromptTemplate.from_template("{q}"),
            suffix="{{ question }}",
            input_variables=["question", "extra"],
            template_format="jinja2",
            validate_template=True,
        )


def test_a_message_template_plus_a_few_shot_prompt_is_a_chat_prompt() -> None:
    from runnables.prompts import SystemMessagePromptTemplate

    few_shot = FewShotChatMessagePromptTemplate(
        examples=[{"input": "1", "output": "2"}],
        example_prompt=ChatPromptTemplate.from_messages([("human", "{input}"), ("ai", "{output}")]),
    )
    prompt = SystemMessagePromptTemplate.from_template("Count.") + few_shot
    assert isinstance(prompt, ChatPromptTemplate)
    assert [m.text for m in prompt.format_messages()] == ["Count.", "1", "2"]


async def test_a_chat_prompt_awaits_an_async_example_selector_in_async_calls() -> None:
    selector = _Shortest()
    few_shot = FewShotChatMessagePromptTemplate(
        example_selector=selector,
        example_prompt=ChatPromptTemplate.from_messages([("human", "{q}"), ("ai", "{a}")]),
    )
    prompt = ChatPromptTemplate.from_messages([few_shot, ("human", "{question}")])
    sync_texts = [m.text for m in prompt.invoke({"question": "10+10"}).to_messages()]
    assert sync_texts == ["2+2", "4", "3+3", "6", "10+10"]  # sync: select_examples
    value = await prompt.ainvoke({"question": "10+10"})
    assert [m.text for m in value.to_messages()] == ["2+2", "4", "10+10"]  # aselect_examples
    formatted = await prompt.aformat_messages(question="10+10")
    assert [m.text for m in formatted] == ["2+2", "4", "10+10"]
