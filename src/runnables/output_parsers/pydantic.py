"""``PydanticOutputParser``: a model's JSON output validated into a pydantic model."""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from runnables.output_parsers.base import OutputParserException
from runnables.output_parsers.json import JsonOutputParser

__all__ = ["PydanticOutputParser"]

M = TypeVar("M", bound=BaseModel)


class PydanticOutputParser(JsonOutputParser, Generic[M]):
    """Parse a model's JSON output into an instance of ``pydantic_object``.

    ``invoke`` returns the validated model. Streaming yields partial dicts as the JSON
    arrives (a partial object usually lacks required fields, so it cannot be a model
    yet) and then, last, the validated model.

    >>> from pydantic import BaseModel
    >>> class City(BaseModel):
    ...     name: str
    ...     population: int
    >>> PydanticOutputParser(pydantic_object=City).invoke('{"name": "Oslo", "population": 709000}')
    City(name='Oslo', population=709000)
    """

    _always_yields_final = True

    def __init__(self, pydantic_object: type[M], *, name: str | None = None) -> None:
        if not (isinstance(pydantic_object, type) and issubclass(pydantic_object, BaseModel)):
            raise TypeError(
                f"PydanticOutputParser needs a pydantic model class, got {pydantic_object!r}. "
                "Pass a subclass of pydantic.BaseModel as pydantic_object=."
            )
        super().__init__(pydantic_object, name=name)
        self.pydantic_object: type[M] = pydantic_object

    def parse(self, text: str) -> M:
        """Parse and validate a complete output."""
        return self._final(super().parse(text))

    def _final(self, value: Any) -> M:
        if isinstance(value, self.pydantic_object):
            return value
        try:
            return self.pydantic_object.model_validate(value)
        except ValidationError as exc:
            shown = json.dumps(value, ensure_ascii=False)
            raise OutputParserException(
                f"Failed to parse {self.pydantic_object.__name__} from completion "
                f"{shown[:2000]}: the model's JSON does not match "
                f"{self.pydantic_object.__name__} ({exc.error_count()} error(s)).\n{exc}",
                llm_output=shown,
            ) from exc

    @property
    def OutputType(self) -> type[M]:  # noqa: N802 - langchain-core's name
        """The pydantic model this parser returns."""
        return self.pydantic_object
