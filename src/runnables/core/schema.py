"""Input, output and config types of runnables, and the pydantic models built from them.

``input_type(r)`` and ``output_type(r)`` answer ``r.InputType`` / ``r.OutputType``;
``model_for(name, tp)`` turns a type into the pydantic model behind ``r.input_schema``
and ``r.output_schema``; ``config_model(r, include)`` builds ``r.config_schema()``.

How types are found:

- ``RunnableLambda``: the annotation of the function's first parameter, and its return
  annotation (the yielded type for a generator function, the awaited type for an async
  one). A missing annotation is ``Any``.
- ``RunnableSequence``: the input of the first step; the output of the last step, as fed
  by the steps before it (so ``step | RunnablePassthrough.assign(...)`` knows the keys
  that pass through).
- ``RunnableParallel``: the input of the first branch whose input is not ``Any``; the
  output is a ``TypedDict`` with one key per branch.
- ``RunnablePassthrough``: its ``input_type`` (or ``Any``); the output is the input.
- ``RunnableAssign``: a dict in; out, the input's keys (when known) plus the added ones.
- ``RunnablePick``: a dict in; the picked value (or dict) out.
- ``RunnableBinding``: the types given to ``with_types``, else those of ``bound``.
- ``RunnableBranch``: the first typed input of its options and conditions; out, the
  union of its options' outputs. ``RouterRunnable``: ``RouterInput`` in, the union out.
- ``RunnableEach``: lists of the wrapped step's types. Retries, fallbacks and
  configurables: the types of the runnable they wrap (``bound``, ``runnable``, ``default``).
- Anything else: ``Any``, unless the class declares its types (below).

Declaring the types of a new step
---------------------------------
A step class can define either or both of these methods; they win over everything above::

    class PromptTemplate(Runnable[dict[str, Any], PromptValue]):
        def _input_type_hint(self) -> Any:
            return TypedDict("PromptInput", {v: str for v in self.input_variables})

        def _output_type_hint(self) -> Any:
            return PromptValue

A ``TypedDict`` or pydantic model describes a dict (an object in JSON schema); any other
type becomes a ``pydantic.RootModel``.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import keyword
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union, cast, get_args, get_origin

import typing_extensions
from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

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
    struct.__module__ = __name__
    struct.__runnables_struct__ = True
    struct.__runnables_open__ = open
    return struct


_cached_struct = functools.lru_cache(maxsize=_CACHE_SIZE)(_make_struct)


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and tp.__dict__.get("__runnables_struct__", False) is True


def _fields_of(tp: Any) -> dict[str, Any] | None:
    """The keys and value types of a dict-like type, or None if it is not one."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
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


def _is_open(tp: Any) -> bool:
    return _is_struct(tp) and bool(tp.__dict__.get("__runnables_open__"))


# ---------------------------------------------------------------------- functions


def _is_any(tp: Any) -> bool:
    return tp is Any or tp is None or tp is inspect.Parameter.empty


def _hints_of(func: Any) -> dict[str, Any]:
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


def _first_param_type(func: Any) -> Any:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return Any
    for param in params:
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            return _hints_of(func).get(param.name, Any)
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


def _element_type(tp: Any, iterables: set[Any]) -> Any:
    """``T`` for ``Iterator[T]`` (or the async kinds in ``iterables``); else Any."""
    if get_origin(tp) in iterables:
        args = get_args(tp)
        return args[0] if args else Any
    return Any


def _return_type(func: Any) -> Any:
    returned = _hints_of(func).get("return", Any)
    if inspect.isgeneratorfunction(func):
        return _element_type(returned, _SYNC_ITERABLES)
    if inspect.isasyncgenfunction(func):
        return _element_type(returned, _ASYNC_ITERABLES)
    if get_origin(returned) in (collections.abc.Awaitable, collections.abc.Coroutine):
        args = get_args(returned)
        returned = args[-1] if args else Any
    # A function that returns a runnable has it run: its output is not known here.
    if inspect.isclass(returned) and issubclass(returned, Runnable):
        return Any
    origin = get_origin(returned)
    if inspect.isclass(origin) and issubclass(origin, Runnable):
        return Any
    return returned


# ---------------------------------------------------------------------- dispatch


def _hook(runnable: Runnable[Any, Any], method: str) -> Callable[[], Any] | None:
    return cast("Callable[[], Any] | None", getattr(runnable, method, None))


def _optional_class(module: str, name: str) -> type | None:
    """A step class written in a module that may not exist yet."""
    try:
        mod = __import__(f"runnables.core.{module}", fromlist=[name])
    except ImportError:
        return None
    found = getattr(mod, name, None)
    return found if isinstance(found, type) else None


def _delegate(runnable: Runnable[Any, Any]) -> Runnable[Any, Any] | None:
    """The runnable a wrapper of unknown kind stands for (retry, configurable, ...)."""
    for attr in ("bound", "runnable", "default"):
        inner = getattr(runnable, attr, None)
        if isinstance(inner, Runnable):
            return inner
    return None


def _branch_options(runnable: Runnable[Any, Any]) -> list[Runnable[Any, Any]] | None:
    """The runnables a branch (``branches`` + ``default``) may run, or None."""
    branches = getattr(runnable, "branches", None)
    default = getattr(runnable, "default", None)
    if not isinstance(branches, Sequence) or not isinstance(default, Runnable):
        return None
    options: list[Runnable[Any, Any]] = []
    for pair in branches:
        if isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], Runnable):
            options.append(pair[1])
    return [*options, default]


def _branch_conditions(runnable: Runnable[Any, Any]) -> list[Runnable[Any, Any]]:
    branches = getattr(runnable, "branches", None) or ()
    return [
        pair[0]
        for pair in branches
        if isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], Runnable)
    ]


def input_type(runnable: Runnable[Any, Any]) -> Any:
    """The type of input ``runnable`` accepts (``Any`` when it cannot be told)."""
    from runnables.core.binding import RunnableBinding
    from runnables.core.function import RunnableGenerator, RunnableLambda
    from runnables.core.parallel import RunnableParallel
    from runnables.core.passthrough import RunnableAssign, RunnablePassthrough, RunnablePick
    from runnables.core.sequence import RunnableSequence

    hook = _hook(runnable, "_input_type_hint")
    if hook is not None:
        return hook()
    if isinstance(runnable, RunnableLambda):
        return _first_param_type(runnable.func if runnable.func is not None else runnable.afunc)
    if isinstance(runnable, RunnableSequence):
        return input_type(runnable.steps[0])
    if isinstance(runnable, RunnableParallel):
        return _first_typed(input_type(step) for step in runnable.steps__.values())
    if isinstance(runnable, RunnableBinding):
        if runnable.custom_input_type is not None:
            return runnable.custom_input_type
        return input_type(runnable.bound)
    if isinstance(runnable, RunnablePassthrough):
        return Any if runnable.input_type is None else runnable.input_type
    if isinstance(runnable, (RunnableAssign, RunnablePick)):
        return dict[str, Any]
    if isinstance(runnable, RunnableGenerator):
        fn = runnable._transform or runnable._atransform_fn
        return _element_type(_first_param_type(fn), _SYNC_ITERABLES | _ASYNC_ITERABLES)
    each = _optional_class("each", "RunnableEach")
    if each is not None and isinstance(runnable, each):
        inner = _delegate(runnable)
        return Any if inner is None else list[input_type(inner)]  # type: ignore[misc]
    router = _optional_class("router", "RouterRunnable")
    if router is not None and isinstance(runnable, router):
        return getattr(sys.modules[router.__module__], "RouterInput", dict[str, Any])
    options = _branch_options(runnable)
    if options is not None:
        found = _first_typed(input_type(r) for r in [*options, *_branch_conditions(runnable)])
        if not _is_any(found):
            return found
        # As langchain-core: with no typed option, the branch's own ``[Input, Output]``.
        declared = _generic_args(runnable)
        return found if declared is None or isinstance(declared[0], typing.TypeVar) else declared[0]
    declared = _generic_args(runnable)
    if declared is not None and not isinstance(declared[0], typing.TypeVar):
        return declared[0]
    inner = _delegate(runnable)
    return Any if inner is None else input_type(inner)


def _generic_args(runnable: Runnable[Any, Any]) -> tuple[Any, Any] | None:
    """The ``[Input, Output]`` a subclass gave ``Runnable`` (``class G(Runnable[str, int])``).

    langchain-core reads the class's ``__orig_bases__``; the nearest class in the MRO
    that parameterizes a ``Runnable`` base is read here, so a subclass of ``G`` has G's.
    """
    # ``RunnableBranch[int, int](...)``: typing records the subscription on the instance.
    subscribed = getattr(runnable, "__orig_class__", None)
    if subscribed is not None and len(get_args(subscribed)) == 2:
        return get_args(subscribed)[0], get_args(subscribed)[1]
    for cls in type(runnable).__mro__:
        for base in cls.__dict__.get("__orig_bases__", ()):
            origin = get_origin(base)
            args = get_args(base)
            if isinstance(origin, type) and issubclass(origin, Runnable) and len(args) == 2:
                return args[0], args[1]
    return None


def output_type(runnable: Runnable[Any, Any]) -> Any:
    """The type of output ``runnable`` produces (``Any`` when it cannot be told)."""
    return _output_given(runnable, input_type(runnable))


def _first_typed(candidates: Any) -> Any:
    for tp in candidates:
        if not _is_any(tp):
            return tp
    return Any


def _output_given(runnable: Runnable[Any, Any], fed: Any) -> Any:
    """The output type of ``runnable`` when its input is of type ``fed``.

    The input matters for steps that pass it on: a passthrough, an assign, a pick.
    """
    from runnables.core.binding import RunnableBinding
    from runnables.core.function import RunnableGenerator, RunnableLambda
    from runnables.core.parallel import RunnableParallel
    from runnables.core.passthrough import RunnableAssign, RunnablePassthrough, RunnablePick
    from runnables.core.sequence import RunnableSequence

    hook = _hook(runnable, "_output_type_hint")
    if hook is not None:
        return hook()
    if isinstance(runnable, RunnableLambda):
        return _return_type(runnable.func if runnable.func is not None else runnable.afunc)
    if isinstance(runnable, RunnableSequence):
        current = fed
        for step in runnable.steps:
            current = _output_given(step, current)
        return current
    if isinstance(runnable, RunnableParallel):
        fields = {k: _output_given(step, fed) for k, step in runnable.steps__.items()}
        return struct_type(runnable.get_name("Output"), fields)
    if isinstance(runnable, RunnableBinding):
        if runnable.custom_output_type is not None:
            return runnable.custom_output_type
        if runnable.custom_input_type is not None:
            fed = runnable.custom_input_type
        return _output_given(runnable.bound, fed)
    if isinstance(runnable, RunnablePassthrough):
        return fed if runnable.input_type is None else runnable.input_type
    if isinstance(runnable, RunnableAssign):
        return _assign_output(runnable, fed)
    if isinstance(runnable, RunnablePick):
        return _pick_output(runnable, fed)
    if isinstance(runnable, RunnableGenerator):
        fn = runnable._transform or runnable._atransform_fn
        returned = _hints_of(fn).get("return", Any)
        return _element_type(returned, _SYNC_ITERABLES | _ASYNC_ITERABLES)
    each = _optional_class("each", "RunnableEach")
    if each is not None and isinstance(runnable, each):
        inner = _delegate(runnable)
        if inner is None:
            return Any
        item = get_args(fed)[0] if get_origin(fed) in (list, Sequence) and get_args(fed) else Any
        return list[_output_given(inner, item)]  # type: ignore[misc]
    router = _optional_class("router", "RouterRunnable")
    if router is not None and isinstance(runnable, router):
        return _one_of([output_type(r) for r in runnable.runnables.values()])  # type: ignore[attr-defined]
    options = _branch_options(runnable)
    if options is not None:
        return _one_of([_output_given(r, fed) for r in options])
    declared = _generic_args(runnable)
    if declared is not None and not isinstance(declared[1], typing.TypeVar):
        return declared[1]
    inner = _delegate(runnable)
    return Any if inner is None else _output_given(inner, fed)


def _one_of(outputs: list[Any]) -> Any:
    """The union of the types a choice of steps may return (Any if one is unknown)."""
    if not outputs or any(_is_any(t) for t in outputs):
        return Any
    unique = list(dict.fromkeys(outputs))
    return unique[0] if len(unique) == 1 else Union[tuple(unique)]  # noqa: UP007


def _assign_output(runnable: Any, fed: Any) -> Any:
    added = _output_given(runnable.mapper, fed)
    added_fields = _fields_of(added) or {}
    known = _fields_of(fed)
    name = runnable.get_name("Output")
    if known is None or _is_open(fed):
        return struct_type(name, {**(known or {}), **added_fields}, open=True)
    return struct_type(name, {**known, **added_fields})


def _pick_output(runnable: Any, fed: Any) -> Any:
    known = _fields_of(fed)
    if isinstance(runnable.keys, str):
        if known is None or runnable.keys not in known or _is_open(fed):
            return Any
        return known[runnable.keys]
    if known is None or _is_open(fed) or not all(k in known for k in runnable.keys):
        return dict[str, Any]
    return struct_type(runnable.get_name("Output"), {k: known[k] for k in runnable.keys})


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
    if _is_any(tp):
        tp = Any
    try:
        if _is_struct(tp):
            return _object_model(
                name,
                {k: (_compat(v), ...) for k, v in tp.__annotations__.items()},
                extra="allow" if _is_open(tp) else None,
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
        if _is_struct(tp) or type(tp) is not _TYPING_TYPEDDICT_META:
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
    from runnables.core.config import RunnableConfig

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
