"""What a step takes and returns: the types behind ``InputType`` and ``OutputType``.

Each step class answers for its own types: ``Runnable._input_type()`` and
``Runnable._output_type(fed)`` (the output when the input is of type ``fed``, which
matters for steps that pass their input on: a passthrough, an assign, a pick). The
default reads the ``[Input, Output]`` a subclass gave ``Runnable``, else the types of
the runnable it wraps (``bound``, ``runnable`` or ``default``), else ``Any``;
``RunnableLambda``, ``RunnableSequence``, ``RunnableParallel``, the passthroughs,
``RunnableBinding``, ``RunnableBranch``, ``RouterRunnable`` and ``RunnableEach``
override them. This module holds what they share: reading a function's annotations,
the struct types (``TypedDict``) that describe dicts, and the two hooks below. It
needs no pydantic (``schema.py`` builds the models, on demand) and no ``Runnable``.

Declaring the types of a new step
---------------------------------
A step class can define either or both of these methods; they win over its class's answer::

    class PromptTemplate(Runnable[dict[str, Any], PromptValue]):
        def _input_type_hint(self) -> Any:
            return TypedDict("PromptInput", {v: str for v in self.input_variables})

        def _output_type_hint(self) -> Any:
            return PromptValue
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import sys
import typing
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin

import typing_extensions

if typing.TYPE_CHECKING:
    from pydantic import BaseModel

    from runnables.core.base import Runnable

__all__ = [
    "ITERABLES",
    "element_type",
    "fields_of",
    "first_param_type",
    "first_typed",
    "hints_of",
    "input_type",
    "is_any",
    "is_model",
    "is_open",
    "is_struct",
    "one_of",
    "output_given",
    "output_type",
    "return_type",
    "struct_type",
]

_CACHE_SIZE = 1024

# Called with names known only at run time, which type checkers do not model.
_TYPED_DICT: Any = typing_extensions.TypedDict


# ---------------------------------------------------------------------- struct types


def struct_type(name: str, fields: Mapping[str, Any], *, open: bool = False) -> Any:
    """A ``TypedDict`` named ``name`` with ``fields`` (all required).

    ``open=True`` marks a dict that may hold other keys too (the output of
    ``RunnableAssign`` when its input is not known): its model allows extra keys.
    The same name and fields give the same class, so models built from it are cached.
    """
    items = tuple(fields.items())
    try:
        hash(items)
    except TypeError:
        return _make_struct(name, items, open)
    return _cached_struct(name, items, open)


def _make_struct(name: str, items: tuple[tuple[str, Any], ...], open: bool) -> Any:
    struct: Any = _TYPED_DICT(name, dict(items))
    # Named as before this module was split from schema.py, so reprs do not change.
    struct.__module__ = "runnables.core.schema"
    struct.__runnables_struct__ = True
    struct.__runnables_open__ = open
    return struct


_cached_struct = functools.lru_cache(maxsize=_CACHE_SIZE)(_make_struct)


def is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and tp.__dict__.get("__runnables_struct__", False) is True


def fields_of(tp: Any) -> dict[str, Any] | None:
    """The keys and value types of a dict-like type, or None if it is not one."""
    if is_model(tp):
        return {
            (f.alias or k): (f.annotation if f.annotation is not None else Any)
            for k, f in tp.model_fields.items()
        }
    if typing_extensions.is_typeddict(tp):
        try:
            return dict(typing.get_type_hints(tp))
        except Exception:
            return dict(getattr(tp, "__annotations__", {}))
    return None


def is_model(tp: Any) -> typing.TypeGuard[type[BaseModel]]:
    """Whether ``tp`` is a pydantic model class.

    Only once pydantic is loaded can a class be one, and this asks without loading it:
    ``import runnables`` stays free of pydantic until a schema is asked for.
    """
    pydantic = sys.modules.get("pydantic")
    return isinstance(tp, type) and pydantic is not None and issubclass(tp, pydantic.BaseModel)


def is_open(tp: Any) -> bool:
    return is_struct(tp) and bool(tp.__dict__.get("__runnables_open__"))


# ---------------------------------------------------------------------- functions


def is_any(tp: Any) -> bool:
    return tp is Any or tp is None or tp is inspect.Parameter.empty


def hints_of(func: Any) -> dict[str, Any]:
    """The resolved annotations of ``func``; unresolvable ones are left out (read as Any)."""
    target = func
    while isinstance(target, functools.partial):
        target = target.func
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        # A callable object: its annotations are on its class's __call__.
        target = type(target).__call__ if callable(target) else target
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:
        # A forward reference that does not resolve: keep the annotations that are real
        # types rather than losing them all.
        raw = getattr(target, "__annotations__", None) or {}
        return {k: v for k, v in raw.items() if not isinstance(v, str)}


def first_param_type(func: Any) -> Any:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return Any
    for param in params:
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            return hints_of(func).get(param.name, Any)
        if param.kind is param.VAR_POSITIONAL:
            return Any
    return Any


_SYNC_ITERABLES = {
    collections.abc.Iterator,
    collections.abc.Iterable,
    collections.abc.Generator,
}
_ASYNC_ITERABLES = {
    collections.abc.AsyncIterator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncGenerator,
}
#: The generic iterable kinds, sync and async, whose element type a generator step has.
ITERABLES = _SYNC_ITERABLES | _ASYNC_ITERABLES


def element_type(tp: Any, iterables: set[Any]) -> Any:
    """``T`` for ``Iterator[T]`` (or the async kinds in ``iterables``); else Any."""
    if get_origin(tp) in iterables:
        args = get_args(tp)
        return args[0] if args else Any
    return Any


def return_type(func: Any) -> Any:
    """What ``func`` returns: its return annotation, the yielded type for a generator
    function, the awaited type for an async one (``Any`` when not annotated)."""
    returned = hints_of(func).get("return", Any)
    if inspect.isgeneratorfunction(func):
        return element_type(returned, _SYNC_ITERABLES)
    if inspect.isasyncgenfunction(func):
        return element_type(returned, _ASYNC_ITERABLES)
    if get_origin(returned) in (collections.abc.Awaitable, collections.abc.Coroutine):
        args = get_args(returned)
        returned = args[-1] if args else Any
    return returned


# ---------------------------------------------------------------------- dispatch


def input_type(runnable: Runnable[Any, Any]) -> Any:
    """The type of input ``runnable`` accepts (``Any`` when it cannot be told)."""
    hint = getattr(runnable, "_input_type_hint", None)
    return hint() if hint is not None else runnable._input_type()


def output_type(runnable: Runnable[Any, Any]) -> Any:
    """The type of output ``runnable`` produces (``Any`` when it cannot be told)."""
    return output_given(runnable, input_type(runnable))


def output_given(runnable: Runnable[Any, Any], fed: Any) -> Any:
    """The output type of ``runnable`` when its input is of type ``fed``."""
    hint = getattr(runnable, "_output_type_hint", None)
    return hint() if hint is not None else runnable._output_type(fed)


def first_typed(candidates: Any) -> Any:
    """The first of ``candidates`` that is not ``Any`` (else ``Any``)."""
    for tp in candidates:
        if not is_any(tp):
            return tp
    return Any


def one_of(outputs: list[Any]) -> Any:
    """The union of the types a choice of steps may return (Any if one is unknown)."""
    if not outputs or any(is_any(t) for t in outputs):
        return Any
    unique = list(dict.fromkeys(outputs))
    return unique[0] if len(unique) == 1 else Union[tuple(unique)]  # noqa: UP007
