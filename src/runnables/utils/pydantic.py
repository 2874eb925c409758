"""Pydantic helpers as ``langchain_core.utils.pydantic`` has them.

runnables describes schemas with pydantic v2 models only, so these are the v2 branch of
langchain-core's helpers; a pydantic v1 model gets an error saying so.

>>> from pydantic import BaseModel
>>> class Args(BaseModel):
...     query: str
>>> model_json_schema(Args)["properties"]
{'query': {'title': 'Query', 'type': 'string'}}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = ["model_json_schema", "model_validate"]
from runnables.errors import ArgumentTypeError


def model_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a pydantic model class (``model.model_json_schema()``).

    Raises:
        TypeError: ``model`` is not a pydantic v2 model class (a v1 one included).
    """
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model.model_json_schema()
    raise ArgumentTypeError(
        f"model_json_schema() takes a pydantic v2 BaseModel subclass, got {model!r}; "
        "runnables does not support pydantic v1 models: define it with pydantic.BaseModel."
    )


def model_validate(model: type[BaseModel], obj: Any) -> BaseModel:
    """``obj`` validated as an instance of the pydantic model class ``model``
    (``model.model_validate(obj)``), as langchain-core's helper of the same name.

    >>> class Args(BaseModel):
    ...     query: str
    >>> model_validate(Args, {"query": "cats"})
    Args(query='cats')

    Raises:
        TypeError: ``model`` is not a pydantic v2 model class (a v1 one included).
        pydantic.ValidationError: ``obj`` does not match the model (a ``ValueError``).
    """
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model.model_validate(obj)
    raise ArgumentTypeError(
        f"model_validate() takes a pydantic v2 BaseModel subclass, got {model!r}; "
        "runnables does not support pydantic v1 models: define it with pydantic.BaseModel."
    )
