"""``RunnableSerializable``: the one base of every runnable whose settings are pydantic fields.

langchain-core declares its extendable classes as pydantic models, and users extend them
the same way::

    class Suffix(RunnableSerializable[str, str]):
        suffix: str

        def invoke(self, input, config=None, **kwargs):
            return input + self.suffix

Prompts, output parsers, chat models, tools, retrievers and chat histories all build on
this class, so for each of them, as in langchain-core: declared fields (with defaults,
``Field(...)`` and validators, on subclasses too) are constructor keywords, a bad value
raises pydantic's ``ValidationError`` (a ``ValueError``) naming the field, ``==`` compares
the class and the fields, ``model_copy(update=...)`` and ``model_fields`` work, ``repr``
shows the fields that differ from their defaults, and ``configurable_fields`` builds the
configured copy through the constructor, so validators run on per-call values too.

The engine's own steps (sequences, lambdas, parallels...) stay plain classes, and this
module is imported only when one of these classes is used, so plain chains never import
pydantic.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict
from pydantic._internal._model_construction import ModelMetaclass

from runnables.core.base import Input, Output, Runnable

__all__ = ["RunnableSerializable"]


class _SerializableMetaclass(ModelMetaclass):
    # Runnable gives every step a class attribute ``name = None``; the ``name`` field (and
    # a subclass declaring ``name: str = "search"``, as langchain-core's tools do) would
    # make pydantic warn that it shadows it. Shadowing it is the point: that one warning
    # is muted.
    def __new__(mcs, *args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r'Field name "name" in ".*" shadows an attribute in parent'
            )
            return super().__new__(mcs, *args, **kwargs)

    # Before this class existed ``RunnableSerializable`` was ``Runnable`` itself, and code
    # annotating or checking with it must keep accepting every runnable.
    def __instancecheck__(cls, instance: Any) -> bool:  # noqa: N805 - a metaclass method
        if cls is RunnableSerializable:
            return isinstance(instance, Runnable)
        return bool(super().__instancecheck__(instance))


class RunnableSerializable(  # type: ignore[misc]
    BaseModel, Runnable[Input, Output], metaclass=_SerializableMetaclass
):
    """A runnable declared as a pydantic model (langchain-core's base class).

    Subclass it, declare fields, implement ``invoke`` or ``ainvoke`` (or the engine's
    ``_ainvoke``). ``isinstance`` with this class itself accepts every runnable, as it
    did when it was ``Runnable``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    # The engine's class-level hooks stay class attributes, not pydantic private
    # attributes, also when a subclass assigns them in its body (pydantic reads these
    # ClassVar declarations from the bases).
    _run_type: ClassVar[str] = "chain"  # type: ignore[misc]
    _is_leaf: ClassVar[bool] = False  # type: ignore[misc]
    _inline: ClassVar[Any] = None  # type: ignore[misc]
    _ainline: ClassVar[Any] = None  # type: ignore[misc]
    _public_only: ClassVar[bool] = False

    name: str | None = None
    """The name shown in traces and graphs; the class name when unset."""

    # Steps are identified by object, as the engine's plain steps are (pydantic would
    # make a model with ``__eq__`` unhashable): a step can key a cache or a set.
    __hash__ = object.__hash__

    def __repr_args__(self) -> Any:
        # langchain-core's rule: the fields whose value differs from their default
        # (a default made by a factory counts as None), then anything else pydantic shows.
        fields = type(self).model_fields
        out = []
        for key, value in super().__repr_args__():
            info = fields.get(key) if key is not None else None
            if info is not None:
                default = None if info.default_factory is not None else info.default
                try:
                    if bool(default == value):
                        continue
                except Exception:
                    pass
            out.append((key, value))
        return out

    def _init_params(self) -> dict[str, Any]:
        """The fields as constructor keywords (what a rebuilt copy is made from)."""
        fields = type(self).model_fields
        return {k: v for k, v in self.__dict__.items() if k in fields}

    def _configured(self, values: Mapping[str, Any]) -> Self:
        """This step with ``values`` set, for a call that configures them
        (``configurable_fields``): built anew through the constructor, as langchain-core
        does, so the constructor's checks and the validators run on the new values."""
        return type(self)(**{**self._init_params(), **values})

    def _copy_with(self, values: Mapping[str, Any]) -> Self:
        """A shallow copy with ``values`` assigned: for a class whose copies must share
        what its constructor makes (a connection pool, a loaded model)."""
        made = copy.copy(self)
        for key, value in values.items():
            setattr(made, key, value)
        return made
