"""Configurable runnables: fields and alternatives chosen per call by ``config['configurable']``.

``runnable.configurable_fields(temperature=ConfigurableField(id="temp"))`` makes a
runnable whose ``temperature`` attribute a call can override with
``config={"configurable": {"temp": 0.2}}``; ``configurable_alternatives`` lets a call
pick a different runnable altogether. ``config_specs`` lists what a chain accepts (the
serving layer builds its config schema from it).

A configured instance is a shallow copy of the default with the fields set, made once
per distinct configuration and reused.
"""

from __future__ import annotations

import copy
import enum
import functools
import types
import typing
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple, cast

from runnables.core.base import (
    Input,
    Output,
    Runnable,
    call,
    call_transform,
    coerce_to_runnable,
    langchain_step,
)
from runnables.core.binding import RunnableBinding
from runnables.core.config import Context, RunnableConfig, make_context, merge_configs
from runnables.core.tasks import aclose
from runnables.errors import ConfigError

__all__ = [
    "AnyConfigurableField",
    "ConfigurableField",
    "ConfigurableFieldMultiOption",
    "ConfigurableFieldSingleOption",
    "ConfigurableFieldSpec",
    "RunnableConfigurableAlternatives",
    "RunnableConfigurableFields",
    "collect_specs",
    "get_unique_config_specs",
]


# ---------------------------------------------------------------------- field declarations


class ConfigurableField(NamedTuple):
    """A field a call can set to any value: ``config['configurable'][id]``.

    >>> from runnables import RunnableLambda
    >>> step = RunnableLambda(lambda x: x).configurable_fields(  # doctest: +SKIP
    ...     name=ConfigurableField(id="step_name", description="What to call the step")
    ... )
    """

    id: str
    name: str | None = None
    description: str | None = None
    annotation: Any | None = None
    is_shared: bool = False

    def __hash__(self) -> int:
        return hash((self.id, self.annotation))


class ConfigurableFieldSingleOption(NamedTuple):
    """A field a call sets by naming one of ``options``; ``default`` names the default."""

    id: str
    options: Mapping[str, Any]
    default: str
    name: str | None = None
    description: str | None = None
    is_shared: bool = False

    def __hash__(self) -> int:
        return hash((self.id, tuple(self.options.keys()), self.default))


class ConfigurableFieldMultiOption(NamedTuple):
    """A field a call sets to a list of ``options`` by naming them; ``default`` names some."""

    id: str
    options: Mapping[str, Any]
    default: Sequence[str]
    name: str | None = None
    description: str | None = None
    is_shared: bool = False

    def __hash__(self) -> int:
        return hash((self.id, tuple(self.options.keys()), tuple(self.default)))


AnyConfigurableField = (
    ConfigurableField | ConfigurableFieldSingleOption | ConfigurableFieldMultiOption
)


class ConfigurableFieldSpec(NamedTuple):
    """One entry of ``config_specs``: a key ``config['configurable']`` accepts."""

    id: str
    annotation: Any
    name: str | None = None
    description: str | None = None
    default: Any = None
    is_shared: bool = False
    dependencies: list[str] | None = None


_DECLARATIONS: dict[str, type[Any]] = {
    "ConfigurableField": ConfigurableField,
    "ConfigurableFieldSingleOption": ConfigurableFieldSingleOption,
    "ConfigurableFieldMultiOption": ConfigurableFieldMultiOption,
}


def _as_declaration(spec: Any) -> Any:
    """Accept langchain-core's declarations too (same names and fields), as ours."""
    if isinstance(spec, (ConfigurableField, ConfigurableFieldSingleOption)):
        return spec
    ours = _DECLARATIONS.get(type(spec).__name__)
    if ours is not None and not isinstance(spec, ours) and hasattr(spec, "_asdict"):
        return ours(**spec._asdict())
    return spec


def get_unique_config_specs(specs: Iterable[ConfigurableFieldSpec]) -> list[ConfigurableFieldSpec]:
    """The specs sorted by id, duplicates dropped; two *different* specs for one id raise."""
    by_id: dict[str, ConfigurableFieldSpec] = {}
    for spec in specs:
        seen = by_id.get(spec.id)
        if seen is None:
            by_id[spec.id] = spec
        elif seen != spec:
            raise ConfigError(
                f"Two different configurable fields use the id {spec.id!r}: {seen!r} and "
                f"{spec!r}. Give them different ids, or declare them identically (with "
                "is_shared=True if one value should set both)."
            )
    return [by_id[k] for k in sorted(by_id)]


def collect_specs(runnable: Runnable[Any, Any]) -> list[ConfigurableFieldSpec]:
    """Every configurable field reachable from ``runnable``, unique by id.

    Walks ``_children()``; a runnable that defines its own ``config_specs`` (the
    configurable runnables here, or a user's subclass) answers for itself and its
    children.
    """
    found: list[ConfigurableFieldSpec] = []
    seen: set[int] = set()
    _walk(runnable, found, seen)
    return get_unique_config_specs(found)


_BASE_SPECS = Runnable.__dict__["config_specs"]


def _walk(step: Runnable[Any, Any], found: list[ConfigurableFieldSpec], seen: set[int]) -> None:
    if id(step) in seen:
        return
    seen.add(id(step))
    if getattr(type(step), "config_specs", _BASE_SPECS) is not _BASE_SPECS:
        found.extend(step.config_specs)
        return
    # A binding reports its bound runnable's children as its own (graphs skip it), so
    # look through it to the bound runnable, which may itself be configurable.

    if isinstance(step, RunnableBinding):
        _walk(step.bound, found, seen)
        return
    for child in step._children():
        _walk(child, found, seen)


_ENUMS: dict[Any, type[enum.StrEnum]] = {}


def _enum_for(key: Any, title: str, values: Iterable[str]) -> type[enum.StrEnum]:
    """One enum class per declaration, so repeated ``config_specs`` compare equal."""
    found = _ENUMS.get(key)
    if found is not None:
        return found
    made = cast("type[enum.StrEnum]", enum.StrEnum(title, [(v, v) for v in values]))
    return _ENUMS.setdefault(key, made)


def _options_spec(
    spec: ConfigurableFieldSingleOption | ConfigurableFieldMultiOption,
) -> ConfigurableFieldSpec:
    options = _enum_for(spec, spec.name or spec.id, spec.options)
    annotation: Any = options
    if isinstance(spec, ConfigurableFieldMultiOption):
        annotation = Sequence[options]  # type: ignore[valid-type]
    return ConfigurableFieldSpec(
        id=spec.id,
        annotation=annotation,
        name=spec.name,
        description=spec.description,
        default=spec.default,
        is_shared=spec.is_shared,
    )


def _prefix_spec(spec: ConfigurableFieldSpec, prefix: str) -> ConfigurableFieldSpec:
    return spec if spec.is_shared else spec._replace(id=f"{prefix}/{spec.id}")


# ---------------------------------------------------------------------- shared plumbing


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a configuration value (types kept: 1 and True differ)."""
    if isinstance(value, Mapping):
        return (dict, tuple(sorted((repr(k), _freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple, set, frozenset)):
        items = (_freeze(v) for v in value)
        return (
            type(value),
            tuple(sorted(items, key=repr)) if isinstance(value, (set, frozenset)) else tuple(items),
        )
    hash(value)  # raises TypeError for values that cannot key a cache
    return (type(value), value)


_CACHE_SIZE = 64


class _Cache:
    """A small bounded map from a configuration to the runnable built for it."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[Any, Runnable[Any, Any]] = {}

    def get_or_build(self, key: Any, build: Callable[[], Runnable[Any, Any]]) -> Runnable[Any, Any]:
        """The runnable for ``key``, built on first use (``key=None``: never cached)."""
        if key is None:
            return build()
        found = self._items.get(key)
        if found is not None:
            return found
        made = build()
        if len(self._items) >= _CACHE_SIZE:
            # Oldest first. Sync calls may build from several threads at once; losing a
            # race here only means evicting a different entry.
            try:
                self._items.pop(next(iter(self._items)), None)
            except (RuntimeError, StopIteration):
                pass
        return self._items.setdefault(key, made)


def _configurable(ctx: Context) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], ctx.config.get("configurable") or {})


def _has_configurable(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("configurable"), dict)


def resolve_configurable(
    runnable: Runnable[Any, Any], config: RunnableConfig | None
) -> tuple[Runnable[Any, Any], RunnableConfig]:
    """The runnable a call with ``config`` would run, through every configurable layer,
    and the config it would get (an alternative's key prefixes stripped)."""
    ctx = make_context(config)
    while True:
        if isinstance(runnable, RunnableConfigurableFields):
            runnable = runnable._prepare(ctx)
        elif isinstance(runnable, RunnableConfigurableAlternatives):
            runnable, ctx = runnable._prepare(ctx)
        else:
            return runnable, ctx.config


def configured_method(
    dynamic: Runnable[Any, Any], name: str, bound_config: RunnableConfig | None = None
) -> Any:
    """``dynamic``'s default's attribute ``name``; a method is wrapped so that a config
    passed to it (``config=`` or positionally) picks the configured runnable first.

    langchain-core's passthrough: ``configurable.my_method({"configurable": {...}})``
    runs ``my_method`` of the runnable that config selects, with that config.
    """
    default = dynamic.__dict__.get("default")
    if default is None or name.startswith("_"):
        raise AttributeError(name)
    attr = getattr(default, name)
    if not callable(attr):
        return attr

    @functools.wraps(attr)
    def method(*args: Any, **kwargs: Any) -> Any:
        if _has_configurable(kwargs.get("config")):
            merged = merge_configs(bound_config, kwargs["config"])
            runnable, config = resolve_configurable(dynamic, merged)
            return getattr(runnable, name)(*args, **{**kwargs, "config": config})
        for i, arg in enumerate(args):
            if _has_configurable(arg):
                runnable, config = resolve_configurable(dynamic, merge_configs(bound_config, arg))
                return getattr(runnable, name)(*args[:i], config, *args[i + 1 :], **kwargs)
        if bound_config:
            runnable, _ = resolve_configurable(dynamic, bound_config)
            return getattr(runnable, name)(*args, **kwargs)
        return attr(*args, **kwargs)

    return method


# ---------------------------------------------------------------------- fields


class RunnableConfigurableFields(Runnable[Input, Output]):
    """``default`` with some attributes set per call from ``config['configurable']``.

    Made by ``runnable.configurable_fields(attribute=ConfigurableField(id=...))``.
    ``fields`` maps attribute names of ``default`` to their declarations:

    - :class:`ConfigurableField`: the call's value is set as is.
    - :class:`ConfigurableFieldSingleOption`: the call names an option; its value is set.
    - :class:`ConfigurableFieldMultiOption`: the call names options; the list is set.

    The configured runnable is a shallow copy of ``default`` with those attributes
    set; it is built once per distinct configuration and reused. Without any
    configured value the call runs ``default`` itself.

    >>> from runnables import Runnable
    >>> class Greeter(Runnable[str, str]):
    ...     greeting = "Hello"
    ...     def invoke(self, input, config=None):
    ...         return f"{self.greeting}, {input}!"
    >>> g = Greeter().configurable_fields(greeting=ConfigurableField(id="greeting"))
    >>> g.invoke("Ada"), g.invoke("Ada", {"configurable": {"greeting": "Hi"}})
    ('Hello, Ada!', 'Hi, Ada!')

    It is transparent in traces: its run is the configured runnable's run.
    """

    #: Read by tracing (from this class's own namespace): an unnamed one records no run
    #: of its own; the configured step's run stands for it.
    _runs_as_configured: ClassVar[bool] = True

    def __init__(
        self,
        *,
        default: Runnable[Input, Output],
        fields: Mapping[str, AnyConfigurableField],
        name: str | None = None,
        _kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(default, Runnable):
            raise ConfigError(
                f"RunnableConfigurableFields needs a runnable as default, got {default!r}."
            )
        fields = {attr: _as_declaration(spec) for attr, spec in fields.items()}
        for attr, spec in fields.items():
            if not isinstance(
                spec,
                (ConfigurableField, ConfigurableFieldSingleOption, ConfigurableFieldMultiOption),
            ):
                raise ConfigError(
                    f"configurable_fields({attr}=...) needs a ConfigurableField, "
                    f"ConfigurableFieldSingleOption or ConfigurableFieldMultiOption, got "
                    f"{spec!r}."
                )
            _check_attribute(default, attr)
            if isinstance(spec, ConfigurableFieldSingleOption) and spec.default not in spec.options:
                raise ConfigError(
                    f"ConfigurableFieldSingleOption {spec.id!r} has default {spec.default!r}, "
                    f"which is not one of its options {sorted(spec.options)!r}."
                )
            if isinstance(spec, ConfigurableFieldMultiOption):
                missing = [d for d in spec.default if d not in spec.options]
                if missing:
                    raise ConfigError(
                        f"ConfigurableFieldMultiOption {spec.id!r} has default(s) {missing!r} "
                        f"that are not among its options {sorted(spec.options)!r}."
                    )
        self.default = default
        self.fields: dict[str, AnyConfigurableField] = dict(fields)
        self.name = name
        self._kwargs: dict[str, Any] = dict(_kwargs or {})
        self._cache = _Cache()
        self._declared: dict[str, Any] | None = None  # attr -> declared type, on first use

    # ------------------------------------------------------------------ structure

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        return self.default.get_name(suffix, name=name or self.name)

    @property
    def _run_type(self) -> str:  # type: ignore[override]
        return self.default._run_type

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        return (self.default,)

    def _needs_loop(self) -> bool:
        if self.default._needs_loop():
            return True
        return any(
            isinstance(v, Runnable) and v._needs_loop()
            for spec in self.fields.values()
            if not isinstance(spec, ConfigurableField)
            for v in spec.options.values()
        )

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable[Input, Output]:
        return RunnableConfigurableFields(
            default=self.default,
            fields=self.fields,
            name=self.name,
            _kwargs={**self._kwargs, **kwargs},
        )

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        specs: list[ConfigurableFieldSpec] = []
        for attr, spec in self.fields.items():
            if isinstance(spec, ConfigurableField):
                current = getattr(self.default, attr)
                specs.append(
                    ConfigurableFieldSpec(
                        id=spec.id,
                        annotation=spec.annotation or _annotation_of(self.default, attr, current),
                        name=spec.name,
                        description=spec.description,
                        default=current,
                        is_shared=spec.is_shared,
                    )
                )
            else:
                specs.append(_options_spec(spec))
        specs.extend(collect_specs(self.default))
        return get_unique_config_specs(specs)

    def configurable_fields(self, **kwargs: AnyConfigurableField) -> Runnable[Input, Output]:
        """More configurable fields on the same default (a field named again is replaced)."""
        return RunnableConfigurableFields(
            default=self.default,
            fields={**self.fields, **kwargs},
            name=self.name,
            _kwargs=self._kwargs,
        )

    # ------------------------------------------------------------------ running

    def _values(self, ctx: Context) -> tuple[dict[str, Any], list[Any]]:
        """The attribute values this call asks for, and a key naming that choice."""
        conf = _configurable(ctx)
        values: dict[str, Any] = {}
        key: list[Any] = []
        for attr, spec in self.fields.items():
            if isinstance(spec, ConfigurableField):
                if spec.id in conf:
                    value = conf[spec.id]
                    self._check_type(attr, spec, value)
                    values[attr] = value
                    key.append((attr, _freeze_or_none(value)))
            elif isinstance(spec, ConfigurableFieldSingleOption):
                chosen = conf.get(spec.id) or spec.default
                values[attr] = _option(spec, chosen)
                key.append((attr, chosen))
            else:
                names = conf.get(spec.id, spec.default)
                if isinstance(names, str) or not isinstance(names, Iterable):
                    raise ConfigError(
                        f"config['configurable'][{spec.id!r}] must be a list of option names "
                        f"from {sorted(spec.options)!r}, got {names!r}."
                    )
                names = list(names)
                values[attr] = [_option(spec, n) for n in names]
                key.append((attr, tuple(names)))
        return values, key

    def _check_type(self, attr: str, spec: ConfigurableField, value: Any) -> None:
        """Raise a ConfigError if ``value`` is not of the attribute's declared type."""
        declared = self._declared
        if declared is None:
            declared = self._declared = {}
        if attr not in declared:
            declared[attr] = spec.annotation or _declared_type(self.default, attr)
        expected = declared[attr]
        if expected is None or _matches(value, expected):
            return
        shown = getattr(expected, "__name__", None) or str(expected).replace("typing.", "")
        raise ConfigError(
            f"config['configurable'][{spec.id!r}] sets {attr!r} of "
            f"{self.default.get_name()}, declared as {shown}, to {value!r} "
            f"({type(value).__name__}). Pass a value of type {shown}."
        )

    def _prepare(self, ctx: Context) -> Runnable[Input, Output]:
        values, key = self._values(ctx)
        unchanged = all(getattr(self.default, a) is v for a, v in values.items())
        if unchanged and not self._kwargs:
            return self.default
        # A value that cannot be hashed (an object without __hash__) is not cached.
        cache_key = tuple(key) if all(k[1] is not _UNHASHABLE for k in key) else None
        return cast(
            Runnable[Input, Output],
            self._cache.get_or_build(cache_key, lambda: self._build(values)),
        )

    def _build(self, values: Mapping[str, Any]) -> Runnable[Any, Any]:
        configured = getattr(self.default, "_configured", None)
        if configured is not None:  # a pydantic runnable (RunnableSerializable)
            try:
                made: Runnable[Any, Any] = configured(values)
            except ValueError as exc:  # pydantic's ValidationError, a constructor's check
                raise ConfigError(
                    f"Configuring {self.default.get_name()} with {dict(values)!r} failed its "
                    f"validation: {exc}. Pass values its fields accept."
                ) from exc
            return made._with_kwargs(self._kwargs) if self._kwargs else made
        made = copy.copy(self.default)
        for attr, value in values.items():
            try:
                setattr(made, attr, value)
            except (AttributeError, TypeError) as exc:
                raise ConfigError(
                    f"Cannot set {attr!r} on {self.default.get_name()} to {value!r}: {exc}. "
                    "Make it a plain (writable) attribute to configure it."
                ) from exc
        if self._kwargs:
            made = made._with_kwargs(self._kwargs)
        return made

    async def _ainvoke(self, input: Input, ctx: Context) -> Output:
        # Called directly (not through `call`): the configured runnable *is* this step,
        # so it gets this step's run rather than a second, nested one.
        return await self._prepare(ctx)._ainvoke(input, ctx)

    async def _atransform(
        self, inputs: AsyncIterator[Input], ctx: Context
    ) -> AsyncIterator[Output]:
        stream = self._prepare(ctx)._atransform(inputs, ctx)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await aclose(stream)

    def __getattr__(self, name: str) -> Any:
        # Public attributes of the default (its custom methods) pass through; see
        # configured_method.
        return configured_method(self, name)

    def _configured_attribute(self, name: str, config: RunnableConfig | None) -> Any:
        # A binding's attribute passthrough: ``name`` under the binding's config.
        return configured_method(self, name, config)

    def __repr__(self) -> str:
        return f"RunnableConfigurableFields(default={self.default!r}, fields={self.fields!r})"


_UNHASHABLE = object()


def _freeze_or_none(value: Any) -> Any:
    try:
        return _freeze(value)
    except TypeError:
        return _UNHASHABLE


def _option(spec: ConfigurableFieldSingleOption | ConfigurableFieldMultiOption, chosen: Any) -> Any:
    try:
        return spec.options[chosen]
    except (KeyError, TypeError):
        raise ConfigError(
            f"config['configurable'][{spec.id!r}] is {chosen!r}, which is not one of the "
            f"options {sorted(spec.options)!r}."
        ) from None


def _check_attribute(default: Runnable[Any, Any], attr: str) -> None:
    if not isinstance(attr, str) or not hasattr(default, attr):
        public = sorted(k for k in getattr(default, "__dict__", {}) if not k.startswith("_"))
        raise ConfigError(
            f"configurable_fields({attr}=...): {default.get_name()} has no attribute "
            f"{attr!r} to configure. Its attributes are {public!r}; name one of those (for "
            "a bound or wrapped runnable, call configurable_fields on the inner one)."
        )
    declared = getattr(type(default), attr, None)
    if isinstance(declared, property) and declared.fset is None:
        raise ConfigError(
            f"configurable_fields({attr}=...): {attr!r} is a read-only property of "
            f"{type(default).__name__}, so it cannot be set per call."
        )


def _declared_type(default: Runnable[Any, Any], attr: str) -> Any:
    """The type ``attr`` is declared with: a class annotation, a property's return type,
    or the ``__init__`` parameter of that name; None when nothing declares it."""
    cls = type(default)
    candidates: list[Any] = [cls]
    prop = getattr(cls, attr, None)
    if isinstance(prop, property) and prop.fget is not None:
        candidates.append(prop.fget)
    candidates.append(cls.__init__)
    for obj in candidates:
        try:
            hints = typing.get_type_hints(obj)
        except Exception:  # forward references that do not resolve: not checkable
            continue
        found = hints.get("return" if obj is not cls and obj is not cls.__init__ else attr)
        if found is not None:
            return found
    return None


def _matches(value: Any, expected: Any) -> bool:
    """Whether ``value`` is of type ``expected``, as far as a runtime check can tell
    (the items of a container are not checked; what cannot be checked passes)."""
    if expected is Any or expected is object:
        return True
    if expected is None or expected is type(None):
        return value is None
    origin = typing.get_origin(expected)
    if origin is typing.Union or origin is types.UnionType:
        return any(_matches(value, arg) for arg in typing.get_args(expected))
    if origin is typing.Literal:
        return value in typing.get_args(expected)
    if origin is typing.Annotated:
        return _matches(value, typing.get_args(expected)[0])
    if origin is not None:
        expected = origin
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(expected, type):
        try:
            return isinstance(value, expected)
        except TypeError:
            return True
    return True


def _annotation_of(default: Runnable[Any, Any], attr: str, current: Any) -> Any:
    try:
        hints = typing.get_type_hints(type(default))
    except Exception:  # forward references that do not resolve: fall back to the value
        hints = {}
    if attr in hints:
        return hints[attr]
    return type(current) if current is not None else Any


# ---------------------------------------------------------------------- alternatives


def _langchain_or(thing: Any) -> Any:
    step = langchain_step(thing)
    return thing if step is None else step


class RunnableConfigurableAlternatives(Runnable[Input, Output]):
    """Run ``default`` or one of ``alternatives``, chosen per call by
    ``config['configurable'][which.id]`` (``default_key`` names the default).

    Made by ``runnable.configurable_alternatives(ConfigurableField(id="model"), ...)``.

    >>> from runnables import RunnableLambda
    >>> step = RunnableLambda(str.upper).configurable_alternatives(
    ...     ConfigurableField(id="case"), default_key="upper", lower=RunnableLambda(str.lower)
    ... )
    >>> step.invoke("Hi"), step.invoke("Hi", {"configurable": {"case": "lower"}})
    ('HI', 'hi')

    An alternative may be a function that makes the runnable; it is called on each
    call that picks it. With ``prefix_keys=True`` the configurable fields of each
    alternative are addressed as ``"{which.id}=={key}/{field id}"``, so two
    alternatives can have fields with the same id.
    """

    def __init__(
        self,
        *,
        which: ConfigurableField,
        default: Runnable[Input, Output],
        alternatives: Mapping[str, Runnable[Input, Output] | Callable[[], Runnable[Input, Output]]],
        default_key: str = "default",
        prefix_keys: bool = False,
        name: str | None = None,
        _kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        which = _as_declaration(which)
        if not isinstance(which, ConfigurableField):
            raise ConfigError(
                f"configurable_alternatives needs a ConfigurableField to choose by, got "
                f"{which!r}. Pass e.g. ConfigurableField(id='model')."
            )
        if default_key in alternatives:
            raise ConfigError(
                f"The alternative key {default_key!r} is also the default_key; rename the "
                "alternative or pass another default_key."
            )
        # A langchain-core runnable is a step, not a factory (some, like tools, are
        # callable): wrapped once here.
        alternatives = {
            k: a if isinstance(a, Runnable) else _langchain_or(a) for k, a in alternatives.items()
        }
        for key, alt in alternatives.items():
            if not isinstance(alt, Runnable) and not callable(alt):
                raise ConfigError(
                    f"Alternative {key!r} must be a runnable or a function that returns one, "
                    f"got {alt!r}."
                )
        self.which = which
        self.default = default
        self.alternatives: dict[str, Any] = dict(alternatives)
        self.default_key = default_key
        self.prefix_keys = prefix_keys
        self.name = name
        self._kwargs: dict[str, Any] = dict(_kwargs or {})
        self._bound_cache = _Cache()

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        return [self.default, *(a for a in self.alternatives.values() if isinstance(a, Runnable))]

    def _needs_loop(self) -> bool:
        # A factory's runnable is unknown until a call picks it: assume it needs a loop.
        return any(
            not isinstance(a, Runnable) or a._needs_loop()
            for a in (self.default, *self.alternatives.values())
        )

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable[Input, Output]:
        return self._replace(_kwargs={**self._kwargs, **kwargs})

    def _replace(self, **changes: Any) -> RunnableConfigurableAlternatives[Input, Output]:
        args: dict[str, Any] = {
            "which": self.which,
            "default": self.default,
            "alternatives": self.alternatives,
            "default_key": self.default_key,
            "prefix_keys": self.prefix_keys,
            "name": self.name,
            "_kwargs": self._kwargs,
        }
        return RunnableConfigurableAlternatives(**{**args, **changes})

    @property
    def keys(self) -> list[str]:
        """The values ``config['configurable'][which.id]`` may take."""
        return [self.default_key, *self.alternatives]

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        which = self.which
        choices = _enum_for(
            ("alternatives", which, tuple(self.keys)), which.name or which.id, self.keys
        )
        specs = [
            ConfigurableFieldSpec(
                id=which.id,
                annotation=choices,
                name=which.name,
                description=which.description,
                default=self.default_key,
                is_shared=which.is_shared,
            )
        ]
        parts: list[tuple[str, Runnable[Any, Any]]] = [(self.default_key, self.default)]
        parts += [(k, a) for k, a in self.alternatives.items() if isinstance(a, Runnable)]
        for key, runnable in parts:
            for spec in collect_specs(runnable):
                specs.append(_prefix_spec(spec, f"{which.id}=={key}") if self.prefix_keys else spec)
        return get_unique_config_specs(specs)

    def configurable_fields(self, **kwargs: AnyConfigurableField) -> Runnable[Input, Output]:
        """Configurable fields on the default runnable (the alternatives are unchanged)."""
        return self._replace(default=self.default.configurable_fields(**kwargs))

    def _prepare(self, ctx: Context) -> tuple[Runnable[Input, Output], Context]:
        conf = _configurable(ctx)
        chosen = conf.get(self.which.id, self.default_key)
        if self.prefix_keys:
            prefix = f"{self.which.id}=={chosen}/"
            stripped = {k.removeprefix(prefix): v for k, v in conf.items()}
            ctx = ctx.replace(config={**ctx.config, "configurable": stripped})
        if chosen == self.default_key:
            runnable: Runnable[Input, Output] = self.default
        elif isinstance(chosen, str) and chosen in self.alternatives:
            alt = self.alternatives[chosen]
            if not isinstance(alt, Runnable):
                made = alt()
                runnable = coerce_to_runnable(made)
                return (runnable._with_kwargs(self._kwargs) if self._kwargs else runnable), ctx
            runnable = alt
        else:
            raise ConfigError(
                f"config['configurable'][{self.which.id!r}] is {chosen!r}, which is not one of "
                f"the alternatives {self.keys!r}. Pick one of those."
            )
        if self._kwargs:
            runnable = cast(
                Runnable[Input, Output],
                self._bound_cache.get_or_build(chosen, lambda: runnable._with_kwargs(self._kwargs)),
            )
        return runnable, ctx

    async def _ainvoke(self, input: Input, ctx: Context) -> Output:
        runnable, inner = self._prepare(ctx)
        return cast(Output, await call(runnable, input, inner))

    async def _atransform(
        self, inputs: AsyncIterator[Input], ctx: Context
    ) -> AsyncIterator[Output]:
        runnable, inner = self._prepare(ctx)
        stream = call_transform(runnable, inputs, inner)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await aclose(stream)

    def __getattr__(self, name: str) -> Any:
        # The default's public attributes pass through; see configured_method.
        return configured_method(self, name)

    def _configured_attribute(self, name: str, config: RunnableConfig | None) -> Any:
        # A binding's attribute passthrough: ``name`` under the binding's config.
        return configured_method(self, name, config)

    def __repr__(self) -> str:
        return (
            f"RunnableConfigurableAlternatives(which={self.which!r}, default={self.default!r}, "
            f"alternatives={self.alternatives!r})"
        )
