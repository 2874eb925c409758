"""``ModelStep``: a runnable that is also a pydantic model, for classes users subclass.

langchain-core users extend tools, retrievers and chat histories by subclassing and
declaring fields (``class MyRetriever(BaseRetriever): k: int = 3``), then construct them
with keywords (``MyRetriever(k=5)``). Those classes build on this base so declared fields
are constructor arguments, validated, compared by value and copied with ``model_copy``.

Only these user-extended classes pay for pydantic: the engine's own steps stay plain
classes, and this module is imported only when one of them is used.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Generic

from pydantic import BaseModel, ConfigDict
from pydantic._internal._model_construction import ModelMetaclass

from runnables.core.base import Input, Output, Runnable

__all__ = ["ModelStep"]


class _StepMetaclass(ModelMetaclass):
    # Runnable gives every step a class attribute ``name = None``; a subclass declaring
    # ``name: str = "search"`` (as langchain-core's tools do) would make pydantic warn
    # that the field shadows it. Shadowing it is the point, so that one warning is muted.
    def __new__(mcs, *args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r'Field name "name" in ".*" shadows an attribute in parent'
            )
            return super().__new__(mcs, *args, **kwargs)


class ModelStep(
    BaseModel, Runnable[Input, Output], Generic[Input, Output], metaclass=_StepMetaclass
):
    """A :class:`~runnables.Runnable` whose declared fields are pydantic fields."""

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    # The engine's class-level hooks stay class attributes, not pydantic fields.
    _run_type: ClassVar[str] = "chain"  # type: ignore[misc]
    _is_leaf: ClassVar[bool] = False  # type: ignore[misc]
    _inline: ClassVar[Any] = None  # type: ignore[misc]
    _ainline: ClassVar[Any] = None  # type: ignore[misc]

    name: str | None = None
    """The step's name in events and graphs (the class name when unset)."""

    # Steps are identified by object, as the engine's plain steps are (pydantic would
    # make a model with __eq__ unhashable).
    __hash__ = object.__hash__

    def __repr_args__(self) -> Any:
        # pydantic's repr of the declared fields, without unset defaults of None.
        return [(k, v) for k, v in super().__repr_args__() if v is not None]
