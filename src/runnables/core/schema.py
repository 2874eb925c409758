"""The pydantic models of runnables' input, output and config types.

``model_for(name, tp)`` turns a type (``r.InputType``, ``r.OutputType``, see
``step_types``, where each step class answers for its own types) into the pydantic
model behind ``r.input_schema`` and ``r.output_schema``; ``config_model(r, include)``
builds ``r.config_schema()``. Loaded on demand: ``import runnables`` never imports
pydantic, only asking for a schema does.

A ``TypedDict`` or pydantic model describes a dict (an object in JSON schema); any other
type becomes a ``pydantic.RootModel``.
"""

from __future__ import annotations

import collections.abc
import functools
import keyword
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Union, cast, get_args, get_origin

import typing_extensions
from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

from runnables.core.config import RunnableConfig
from runnables.core.step_types import (
    input_type,
    is_any,
    is_open,
    is_struct,
    output_type,
    struct_type,
)

if typing.TYPE_CHECKING:
    from runnables.core.base import Runnable
from runnables.errors import InvalidArgumentError

__all__ = [
    "config_model",
    "fields_model",
    "input_type",
    "json_type",
    "model_for",
    "object_model",
    "output_type",
    "struct_type",
]

#: The keys of ``RunnableConfig`` that ``config_schema(include=...)`` may add.
CONFIG_KEYS = ("tags", "metadata", "run_name", "max_concurrency", "recursion_limit")

_CACHE_SIZE = 1024

# Called with names known only at run time, which type checkers do not model.
_TYPED_DICT: Any = typing_extensions.TypedDict


# ---------------------------------------------------------------------- models


def model_for(name: str, tp: Any) -> type[BaseModel]:
    """A pydantic model named ``name`` that validates values of type ``tp``.

    A pydantic model is returned as it is; a ``TypedDict`` built by this module (a
    parallel's output, say) becomes a model with one field per key; any other type
    becomes a ``RootModel`` (its value is ``.root``). Models are cached, since the
    serving layer asks for them often. A type pydantic cannot handle falls back to Any.

    >>> model_for("Count", int).model_validate(3).root
    3
    """
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    try:
        hash((name, tp))
    except TypeError:
        return _build_model(name, tp)
    return _cached_model(name, tp)


def _build_model(name: str, tp: Any) -> type[BaseModel]:
    if is_any(tp):
        tp = Any
    try:
        if is_struct(tp):
            return _object_model(
                name,
                {k: (_compat(v), ...) for k, v in tp.__annotations__.items()},
                extra="allow" if is_open(tp) else None,
            )
        return _root_model(name, _compat(tp))
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError, NameError):
        # The model is a description, not a gate the library relies on: a type pydantic
        # cannot take must not break get_graph() or the runnable itself.
        return _root_model(name, Any)


_cached_model = functools.lru_cache(maxsize=_CACHE_SIZE)(_build_model)


def fields_model(
    name: str, required: Mapping[str, Any], optional: Mapping[str, Any]
) -> type[BaseModel]:
    """A model with one field per key (``optional`` ones default to None).

    This is the shape langchain-core gives a prompt's input schema: the variables are
    the top-level ``properties`` of its JSON schema.
    """
    items = (tuple(required.items()), tuple(optional.items()))
    try:
        hash(items)
    except TypeError:
        return _build_fields_model(name, *items)
    return _cached_fields_model(name, *items)


def _build_fields_model(
    name: str,
    required: tuple[tuple[str, Any], ...],
    optional: tuple[tuple[str, Any], ...],
) -> type[BaseModel]:
    fields: dict[str, tuple[Any, Any]] = {k: (_compat(v), ...) for k, v in required}
    fields.update((k, (_compat(v), None)) for k, v in optional if k not in fields)
    try:
        return _object_model(name, fields)
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError, NameError):
        return _object_model(name, {k: (Any, d) for k, (_, d) in fields.items()})


_cached_fields_model = functools.lru_cache(maxsize=_CACHE_SIZE)(_build_fields_model)


def json_type(model: type[BaseModel]) -> Any:
    """The top-level ``type`` of ``model``'s JSON schema; None when it has none or when a
    type in it has no JSON schema (an arbitrary class): a description, never an error."""
    try:
        return model.model_json_schema().get("type")
    except Exception:
        return None


def object_model(name: str, fields: Mapping[str, tuple[Any, Any]]) -> type[BaseModel]:
    """A model with one field per key, each ``(type, default)`` (``...``: required)."""
    try:
        return _object_model(name, {k: (_compat(tp), d) for k, (tp, d) in fields.items()})
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError, NameError):
        return _object_model(name, {k: (Any, d) for k, (_, d) in fields.items()})


def _root_model(name: str, tp: Any) -> type[BaseModel]:
    base: Any = RootModel[tp]
    return cast(
        "type[BaseModel]",
        type(
            name,
            (base,),
            {
                "__module__": __name__,
                "model_config": ConfigDict(arbitrary_types_allowed=True),
            },
        ),
    )


def _field_name(key: str, taken: set[str]) -> str:
    """A python name for the dict key ``key``; the key itself when pydantic allows it."""
    ok = (
        key.isidentifier()
        and not keyword.iskeyword(key)
        and not key.startswith("_")
        and not hasattr(BaseModel, key)
    )
    if ok and key not in taken:
        return key
    base = "field_" + "".join(c if c.isalnum() else "_" for c in key).strip("_")
    candidate, n = base, 1
    while candidate in taken or hasattr(BaseModel, candidate):
        n += 1
        candidate = f"{base}_{n}"
    return candidate


def _object_model(
    name: str,
    fields: Mapping[str, tuple[Any, Any]],
    *,
    extra: str | None = None,
) -> type[BaseModel]:
    """A model with one field per key; keys python cannot name become aliases."""
    definitions: dict[str, Any] = {}
    taken = set(fields)
    for key, (tp, default) in fields.items():
        info = default if isinstance(default, type(Field())) else Field(default)
        py_name = _field_name(key, taken - {key})
        taken.add(py_name)
        if py_name != key:
            info = Field(
                info.default,
                alias=key,
                title=info.title,
                description=info.description,
            )
        definitions[py_name] = (tp, info)
    config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)
    if extra is not None:
        config["extra"] = cast(Any, extra)
    model: type[BaseModel] = create_model(
        name, __config__=config, __module__=__name__, **definitions
    )
    return model


# On Python < 3.12 pydantic only takes typing_extensions.TypedDict; users write
# typing.TypedDict, so rebuild those (and types nesting them) the way pydantic wants.
_NEEDS_TD_REWRITE = sys.version_info < (3, 12)
_TYPING_TYPEDDICT_META = type(cast(Any, typing.TypedDict)("_Probe", {}))


def _compat(tp: Any) -> Any:
    if not _NEEDS_TD_REWRITE:
        return tp
    try:
        return _compat_cached(tp)
    except TypeError:  # unhashable annotation
        return _rewrite(tp)


def _rewrite(tp: Any) -> Any:
    if typing_extensions.is_typeddict(tp):
        if is_struct(tp) or type(tp) is not _TYPING_TYPEDDICT_META:
            return tp
        return _rewrite_typeddict(tp)
    origin, args = get_origin(tp), get_args(tp)
    if origin is None or not args or origin is typing.Literal:
        return tp
    new_args = tuple(_compat(a) if not isinstance(a, (list, str)) else a for a in args)
    if new_args == args:
        return tp
    try:
        if origin is typing.Annotated:
            return typing.Annotated[new_args[0], *new_args[1:]]
        if origin in (Union, types.UnionType):
            return Union[new_args]  # noqa: UP007
        if origin in (collections.abc.Callable,):
            return tp
        return origin[new_args]
    except TypeError:
        return tp


def _rewrite_typeddict(tp: Any) -> Any:
    try:
        hints = typing.get_type_hints(tp, include_extras=True)
    except Exception:
        hints = dict(tp.__annotations__)
    required = getattr(tp, "__required_keys__", frozenset(hints))
    fields: dict[str, Any] = {}
    for key, hint in hints.items():
        inner = hint
        while get_origin(inner) in (typing.Required, typing.NotRequired):
            inner = get_args(inner)[0]
        inner = _compat(inner)
        fields[key] = typing.Required[inner] if key in required else typing.NotRequired[inner]
    rebuilt: Any = _TYPED_DICT(tp.__name__, fields)
    rebuilt.__module__ = tp.__module__
    rebuilt.__doc__ = tp.__doc__
    rebuilt.__qualname__ = getattr(tp, "__qualname__", tp.__name__)
    return rebuilt


_compat_cached = functools.lru_cache(maxsize=_CACHE_SIZE)(_rewrite)


# ---------------------------------------------------------------------- config


def config_model(runnable: Runnable[Any, Any], include: Sequence[str] | None) -> type[BaseModel]:
    """The model of the config ``runnable`` accepts.

    It has a ``configurable`` field (a model with one field per configurable field or
    alternative reachable from ``runnable``) when there are any, plus the top-level
    config keys named in ``include`` (from ``tags``, ``metadata``, ``run_name``,
    ``max_concurrency``, ``recursion_limit``; ``configurable`` in ``include`` is
    accepted and changes nothing).
    """
    keys = [k for k in (include or ()) if k != "configurable"]
    hints = typing.get_type_hints(RunnableConfig)
    for key in keys:
        if key not in hints:
            raise InvalidArgumentError(
                f"config_schema(include=...) got {key!r}, which is not a config key. "
                f"Use some of {sorted(k for k in hints if k != 'configurable')!r}."
            )
    try:
        specs = list(runnable.config_specs)
    except ImportError:
        # Configurable fields are an optional part of the engine: without the module
        # there is nothing configurable.
        specs = []
    name = runnable.get_name("Config")
    spec_rows = tuple(
        (
            str(s.id),
            s.annotation,
            getattr(s, "name", None),
            getattr(s, "description", None),
            getattr(s, "default", None),
        )
        for s in specs
    )
    key_rows = tuple((k, hints[k]) for k in keys)
    try:
        hash((name, spec_rows, key_rows))
    except TypeError:
        return _build_config_model(name, spec_rows, key_rows)
    return _cached_config_model(name, spec_rows, key_rows)


def _build_config_model(
    name: str,
    spec_rows: tuple[tuple[str, Any, str | None, str | None, Any], ...],
    key_rows: tuple[tuple[str, Any], ...],
) -> type[BaseModel]:
    fields: dict[str, tuple[Any, Any]] = {}
    if spec_rows:
        configurable = _object_model(
            "Configurable",
            {
                spec_id: (
                    annotation,
                    Field(default, title=title, description=description),
                )
                for spec_id, annotation, title, description, default in spec_rows
            },
        )
        fields["configurable"] = (configurable, None)
    for key, tp in key_rows:
        fields[key] = (tp, None)
    return _object_model(name, fields)


_cached_config_model = functools.lru_cache(maxsize=_CACHE_SIZE)(_build_config_model)
