"""``PydanticOutputParser``: a model's JSON output validated into a pydantic model."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, SkipValidation, ValidationError

from runnables.errors import ArgumentTypeError
from runnables.output_parsers.base import OutputParserException
from runnables.output_parsers.json import JsonOutputParser

__all__ = ["PydanticOutputParser"]

if TYPE_CHECKING:
    # pydantic v1 models are accepted too (as langchain-core's TBaseModel); named for
    # the type checker only, so importing the parser never imports pydantic.v1.
    from pydantic.v1 import BaseModel as V1BaseModel

M = TypeVar("M", bound="BaseModel | V1BaseModel")


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

    _always_yields_final: ClassVar[bool] = True

    # Checked in __init__ (a pydantic or pydantic.v1 model class), so not by pydantic.
    pydantic_object: Annotated[type[M], SkipValidation()]  # type: ignore[assignment]
    """The pydantic model to validate the output into."""

    def __init__(
        self,
        model: type[M] | None = None,
        /,
        *,
        pydantic_object: type[M] | None = None,
        **fields: Any,
    ) -> None:
        # The model class may also be given by position (runnables' older signature);
        # both spellings are typed, so ``PydanticOutputParser[City]`` is inferred.
        if model is not None:
            pydantic_object = model
        if pydantic_object is not None:
            fields["pydantic_object"] = pydantic_object
        given = fields.get("pydantic_object")
        if "pydantic_object" in fields and not (
            (isinstance(given, type) and issubclass(given, BaseModel)) or _is_v1_model(given)
        ):
            raise ArgumentTypeError(
                f"PydanticOutputParser needs a pydantic model class, got {given!r}. Pass a "
                "subclass of pydantic.BaseModel (or of pydantic.v1.BaseModel) as "
                "pydantic_object=."
            )
        super().__init__(**fields)

    @property
    def _v1(self) -> bool:
        """Whether the model is a ``pydantic.v1`` one (validated with ``parse_obj``)."""
        return not issubclass(self.pydantic_object, BaseModel)

    def parse(self, text: str) -> M:
        """Parse and validate a complete output."""
        return self._final(super().parse(text))

    def _final(self, value: Any) -> M:
        if isinstance(value, self.pydantic_object):
            return value
        if self._v1:
            return self._final_v1(value)
        model = cast("type[BaseModel]", self.pydantic_object)  # v1 models went above
        try:
            return cast(M, model.model_validate(value))
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
            return cast(M, cast("type[V1BaseModel]", self.pydantic_object).parse_obj(value))
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
