"""XMLOutputParser: langchain-core's dict shape, streaming, and the safe parser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from runnables import RunnableGenerator
from runnables.messages import AIMessageChunk
from runnables.output_parsers import OutputParserException, XMLOutputParser

XML = """<?xml version="1.0" encoding="UTF-8"?>
<foo>
    <bar>
        <baz></baz>
        <baz>slim.shady</baz>
    </bar>
    <baz>tag</baz>
</foo>"""

EXPECTED = {"foo": [{"bar": [{"baz": None}, {"baz": "slim.shady"}]}, {"baz": "tag"}]}


@pytest.mark.parametrize("parser", ["defusedxml", "xml"])
def test_parse_gives_langchain_cores_nested_dicts(parser: Any) -> None:
    assert XMLOutputParser(parser=parser).invoke(XML) == EXPECTED
    fenced = f"Here you go:\n```xml\n{XML}\n```"
    assert XMLOutputParser(parser=parser).invoke(fenced) == EXPECTED


def test_streaming_yields_each_innermost_element_with_its_path() -> None:
    def pieces(_: Any) -> Iterator[Any]:
        text = "Sure!\n" + XML.split("\n", 1)[1] + "\nThat is all."
        for i in range(0, len(text), 7):
            yield AIMessageChunk(text[i : i + 7])

    chunks = list((RunnableGenerator(pieces) | XMLOutputParser()).stream(None))
    assert chunks == [
        {"foo": [{"bar": [{"baz": None}]}]},
        {"foo": [{"bar": [{"baz": "slim.shady"}]}]},
        {"foo": [{"baz": "tag"}]},
    ]


def test_bad_xml_is_an_output_parser_exception_with_the_text() -> None:
    with pytest.raises(OutputParserException, match="Failed to parse XML") as info:
        XMLOutputParser().invoke("<foo><bar></foo>")
    assert info.value.llm_output == "<foo><bar></foo>"


def test_the_safe_parser_refuses_entity_expansion() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;&a;</x>'
    with pytest.raises(ValueError, match=r"EntitiesForbidden\(name=.a."):
        XMLOutputParser().invoke(bomb)


def test_format_instructions_list_the_tags() -> None:
    text = XMLOutputParser(tags=["movies", "movie"]).get_format_instructions()
    assert "['movies', 'movie']" in text and "formatted as a XML file" in text


def test_an_unknown_parser_name_is_refused() -> None:
    with pytest.raises(ValueError, match="'lxml'"):
        XMLOutputParser(parser="lxml")  # type: ignore[arg-type]
