"""``RunnableSerializable``: a runnable whose settings are pydantic fields.

langchain-core's base class for runnables declared as pydantic models::

    class Suffix(RunnableSerializable[str, str]):
        suffix: str

        def invoke(self, input, config=None, **kwargs):
            return input + self.suffix

Fields are validated at construction, and ``configurable_fields`` builds the configured
copy through the constructor, so the model's validators run on per-call values too.
Imported on first use (``runnables.RunnableSerializable``), so plain chains never import
pydantic.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from runnables.core.base import Input, Output, Runnable

__all__ = ["RunnableSerializable"]


if TYPE_CHECKING:
    # Named for the type checker only: without it mypy cannot see the metaclass, and
    # every subclass of RunnableSerializable (users' too) fails with a metaclass conflict.
    from pydantic._internal._model_construction import ModelMetaclass as _ModelMetaclass
else:
    _ModelMetaclass = type(BaseModel)


class _AnyRunnableIsOne(_ModelMetaclass):
    # Before this class existed ``RunnableSerializable`` was ``Runnable`` itself, and
    # code annotating or checking with it must keep accepting every runnable.
    def __instancecheck__(cls, instance: Any) -> bool:  # noqa: N805 (a metaclass method)
        if cls is RunnableSerializable:
            return isinstance(instance, Runnable)
        return bool(super().__instancecheck__(instance))


with warnings.catch_warnings():
    # The ``name`` field deliberately replaces Runnable's plain ``name`` attribute.
    warnings.filterwarnings("ignore", message='Field name "name"', category=UserWarning)

    class RunnableSerializable(BaseModel, Runnable[Input, Output], metaclass=_AnyRunnableIsOne):
        """A runnable declared as a pydantic model (langchain-core's base class).

        Subclass it, declare fields, implement ``invoke`` or ``ainvoke``. ``isinstance``
        with this class accepts every runnable, as it did when it was ``Runnable``.
        """

        model_config = ConfigDict(arbitrary_types_allowed=True)

        name: str | None = None
        """The name shown in traces and graphs; the class name when unset."""
