"""PydanticOutputParser: partial dicts while streaming, a validated model at the end."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from runnables.output_parsers import JsonOutputParser, OutputParserException, PydanticOutputParser


class City(BaseModel):
    name: str
    population: int


def test_invoke_returns_a_validated_model() -> None:
    parser = PydanticOutputParser(pydantic_object=City)
    assert parser.invoke('{"name": "Oslo", "population": 709000}') == City(
        name="Oslo", population=709000
    )


async def test_stream_gives_partial_dicts_then_the_model() -> None:
    parser = PydanticOutputParser(pydantic_object=City)
    outs = [x async for x in parser.atransform(list('{"name": "Oslo", "population": 7}'))]
    assert all(isinstance(o, dict) for o in outs[:-1])
    assert {"name": "Os"} in outs
    assert outs[-1] == City(name="Oslo", population=7)


def test_json_that_does_not_fit_the_model_is_an_output_parser_error() -> None:
    with pytest.raises(OutputParserException, match="Failed to parse City from completion"):
        PydanticOutputParser(pydantic_object=City).invoke('{"name": "Oslo"}')


def test_a_non_model_class_is_refused_with_a_clear_error() -> None:
    with pytest.raises(TypeError, match="pydantic model class"):
        PydanticOutputParser(pydantic_object=dict)  # type: ignore[type-var]  # on purpose


def test_pydantic_v1_model_is_accepted_like_langchain() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pydantic.v1 import BaseModel as V1BaseModel

    class Forecast(V1BaseModel):
        temperature: int
        forecast: str

    parser = PydanticOutputParser(pydantic_object=Forecast)
    assert "temperature" in parser.get_format_instructions()
    assert "temperature" in JsonOutputParser(pydantic_object=Forecast).get_format_instructions()
    result = parser.invoke('{"temperature": 20, "forecast": "Sunny"}')
    assert isinstance(result, Forecast) and result.temperature == 20
    with pytest.raises(OutputParserException, match="Failed to parse Forecast"):
        parser.invoke('{"temperature": "oof", "forecast": "Sunny"}')
    with pytest.raises(TypeError, match="pydantic model class, got 'x'"):
        PydanticOutputParser(pydantic_object="x")  # type: ignore[arg-type]
