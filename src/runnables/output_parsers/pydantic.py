"""``PydanticOutputParser``: a model's JSON output validated into a pydantic model."""

from __future__ import annotations

import json
import sys
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from runnables.errors import ArgumentTypeError
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
        v1 = False
        if not (isinstance(pydantic_object, type) and issubclass(pydantic_object, BaseModel)):
            v1 = _is_v1_model(pydantic_object)
            if not v1:
                raise ArgumentTypeError(
                    f"PydanticOutputParser needs a pydantic model class, got "
                    f"{pydantic_object!r}. Pass a subclass of pydantic.BaseModel (or of "
                    "pydantic.v1.BaseModel) as pydantic_object=."
                )
        super().__init__(pydantic_object, name=name)
        self.pydantic_object: type[M] = pydantic_object
        #: A ``pydantic.v1`` model (langchain-core accepts both): validated with ``parse_obj``.
        self._v1 = v1

    def parse(self, text: str) -> M:
        """Parse and validate a complete output."""
        return self._final(super().parse(text))

    def _final(self, value: Any) -> M:
        if isinstance(value, self.pydantic_object):
            return value
        if self._v1:
            return self._final_v1(value)
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

    def _final_v1(self, value: Any) -> M:
        from pydantic.v1 import ValidationError as V1ValidationError

        try:
            return self.pydantic_object.parse_obj(value)  # type: ignore[no-any-return]
        except V1ValidationError as exc:
            shown = json.dumps(value, ensure_ascii=False)
            raise OutputParserException(
                f"Failed to parse {self.pydantic_object.__name__} from completion "
                f"{shown[:2000]}: the model's JSON does not match "
                f"{self.pydantic_object.__name__}.\n{exc}",
                llm_output=shown,
            ) from exc

    @property
    def OutputType(self) -> type[M]:  # noqa: N802 - langchain-core's name
        """The pydantic model this parser returns."""
        return self.pydantic_object


def _is_v1_model(obj: Any) -> bool:
    """Whether ``obj`` is a ``pydantic.v1`` model class (pydantic.v1 is imported only then)."""
    if not isinstance(obj, type) or "pydantic" not in sys.modules:
        return False
    v1 = sys.modules.get("pydantic.v1")
    return v1 is not None and issubclass(obj, v1.BaseModel)
