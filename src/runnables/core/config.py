"""Run configuration: the public ``RunnableConfig`` and the engine's internal ``Context``.

A user passes a ``RunnableConfig`` dict (the same keys as langchain-core). The engine
turns it once per call into a :class:`Context`, a small object that every step of the
call receives. Nested calls made from inside a step (a function that calls
``other.ainvoke``) find the caller's context through a context variable and inherit its
tags, metadata, callbacks, configurable values, concurrency budget and deadline.

The common case, a call with no config and no enclosing call, uses a shared root
context and never touches the context variable, so a plain ``ainvoke`` pays nothing
for configuration.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any, TypedDict, cast
from uuid import UUID

from runnables.core.limiter import Limiter
from runnables.errors import ConfigError, ConfigWarning

if TYPE_CHECKING:
    from runnables.callbacks.manager import AsyncCallbackManager, CallbackManager
    from runnables.core.tracing import Run, Tracer

__all__ = [
    "RunnableConfig",
    "_merge_metadata_dicts",
    "ensure_config",
    "get_async_callback_manager_for_config",
    "get_callback_manager_for_config",
    "get_config",
    "merge_configs",
    "patch_config",
]

DEFAULT_RECURSION_LIMIT = 25


class RunnableConfig(TypedDict, total=False):
    """Options for one call; every key is optional.

    The keys and their meaning are langchain-core's, plus ``timeout``:

    - ``tags``, ``metadata``: labels for tracing and events; inherited by nested steps.
    - ``callbacks``: callback handlers (objects with ``on_chain_start`` and friends).
    - ``run_name``, ``run_id``: the name and id of this call's own run (not inherited).
    - ``max_concurrency``: the most steps doing work at once across the *whole* call,
      nested batches and parallel branches included (one budget, never multiplied).
    - ``recursion_limit``: how deep functions may keep returning runnables.
    - ``configurable``: values for configurable fields and alternatives.
    - ``timeout``: seconds for the whole call, shared by nested steps and retries.
    """

    tags: list[str]
    metadata: dict[str, Any]
    callbacks: Any
    run_name: str
    run_id: UUID | None
    max_concurrency: int | None
    recursion_limit: int
    configurable: dict[str, Any]
    timeout: float | None


_KNOWN_KEYS = frozenset(RunnableConfig.__annotations__)


class Context:
    """What one call carries down to every step. Internal; steps receive it as ``ctx``.

    ``config`` is the inheritable part of the user's config (what a function that asks
    for ``config`` receives). ``limiter`` is the call's one concurrency budget,
    ``deadline`` an absolute ``time.monotonic()`` value, ``tracers`` the observers of
    this call (empty when nobody listens), ``run`` the run record of the enclosing step
    when tracing, and ``sync`` says the call is being driven without an event loop.
    """

    __slots__ = (
        "config",
        "deadline",
        "limiter",
        "recursion_limit",
        "returned",
        "run",
        "run_id",
        "run_name",
        "running",
        "sync",
        "timeout",
        "tracers",
    )

    def __init__(
        self,
        config: RunnableConfig,
        *,
        limiter: Limiter | None = None,
        deadline: float | None = None,
        timeout: float | None = None,
        tracers: tuple[Tracer, ...] = (),
        run: Run | None = None,
        sync: bool = False,
        recursion_limit: int = DEFAULT_RECURSION_LIMIT,
        run_name: str | None = None,
        run_id: UUID | None = None,
    ) -> None:
        self.config = config
        self.limiter = limiter
        self.deadline = deadline
        self.timeout = timeout
        self.tracers = tracers
        self.run = run
        self.sync = sync
        # Names of the leaf steps running now; kept only under a deadline, to name the
        # step in a timeout error.
        self.running: list[str] | None = [] if deadline is not None else None
        self.recursion_limit = recursion_limit
        self.returned = 0  # runnables returned by functions so far, one inside another
        self.run_name = run_name
        self.run_id = run_id

    def replace(self, **changes: Any) -> Context:
        """A copy with some fields changed (the running list is shared, not copied)."""
        new = Context.__new__(Context)
        for slot in Context.__slots__:
            setattr(new, slot, changes[slot] if slot in changes else getattr(self, slot))
        if "deadline" in changes and new.deadline is not None and new.running is None:
            new.running = []
        return new

    def child_config(self) -> RunnableConfig:
        """The config a user function that asks for ``config`` receives."""
        cfg = dict(self.config)
        if self.limiter is not None:
            cfg["max_concurrency"] = self.limiter.limit
        if self.deadline is not None:
            cfg["timeout"] = max(0.0, self.deadline - time.monotonic())
        cfg["recursion_limit"] = self.recursion_limit
        return cfg  # type: ignore[return-value]

    def public_config(self) -> RunnableConfig:
        """The config a subclass's own public ``invoke``/``ainvoke`` receives from a
        container or a batch: langchain-core's ``ensure_config`` keys, then this call's."""
        cfg: dict[str, Any] = {
            "tags": [],
            "metadata": {},
            "callbacks": None,
            "recursion_limit": DEFAULT_RECURSION_LIMIT,
            "configurable": {},
        }
        cfg.update(self.child_config())
        return cfg  # type: ignore[return-value]

    def merged_config(self) -> RunnableConfig:
        """The config a ``with_config`` binding hands its bound runnable's own public
        ``invoke``: langchain-core's ``merge_configs`` keys (no ``callbacks`` unless set,
        ``recursion_limit`` only when not the default)."""
        cfg: dict[str, Any] = {"tags": [], "metadata": {}, "configurable": {}}
        cfg.update(self.child_config())
        if cfg["recursion_limit"] == DEFAULT_RECURSION_LIMIT:
            del cfg["recursion_limit"]
        return cfg  # type: ignore[return-value]

    @property
    def is_root(self) -> bool:
        return self is ROOT or self is SYNC_ROOT


ROOT = Context({})
SYNC_ROOT = Context({}, sync=True)

#: The context of the call whose step is running now (``None``: no call, or a plain one).
CURRENT: ContextVar[Context | None] = ContextVar("runnables_context", default=None)

#: Installed by ``runnables.otel.instrument()``: at most one function that returns the
#: tracers of a new root call (empty when the call is not to be recorded). Changed in
#: place, so modules that imported it see it; empty unless instrumented, so a plain call
#: pays one truth test.
ROOT_HOOK: list[Callable[[], tuple[Tracer, ...]]] = []


def _check(config: RunnableConfig) -> RunnableConfig:
    """Validate ``config`` and return it with any unknown keys moved into ``configurable``.

    langchain-core's meaning: a top-level key it does not know (``{"thread_id": "t1"}``)
    is a configurable value, and ``None`` values are dropped. A key that looks like a
    misspelling of a config key (``"max_concurency"``) is moved too, but with a
    :class:`ConfigWarning`, since the option the user meant is not taking effect.
    """
    if not _KNOWN_KEYS.issuperset(config):
        config = _move_unknown_keys(config)
    mc = config.get("max_concurrency")
    if mc is not None and (not isinstance(mc, int) or isinstance(mc, bool) or mc < 1):
        raise ConfigError(
            f"config['max_concurrency'] must be a whole number of at least 1 or None, got {mc!r}."
        )
    timeout = config.get("timeout")
    if timeout is not None and (
        not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0
    ):
        raise ConfigError(
            f"config['timeout'] must be a number of seconds above 0 or None, got {timeout!r}."
        )
    tags = config.get("tags")
    if tags is not None and (isinstance(tags, str) or not isinstance(tags, (list, tuple))):
        raise ConfigError(f"config['tags'] must be a list of strings, got {tags!r}.")
    return config


def _move_unknown_keys(config: RunnableConfig) -> RunnableConfig:
    out: dict[str, Any] = {}
    moved: dict[str, Any] = {}
    for key, value in cast(dict[str, Any], config).items():
        if key in _KNOWN_KEYS:
            out[key] = value
            continue
        meant = get_close_matches(str(key).lower(), _KNOWN_KEYS, n=1, cutoff=0.84)
        if meant:
            warnings.warn(
                f"Unknown config key {key!r}: did you mean {meant[0]!r}? It was put under "
                f"config['configurable'][{key!r}] (langchain-core's rule for unknown keys), "
                f"so it does not act as {meant[0]!r}. Spell it {meant[0]!r}, or pass it inside "
                "'configurable' to silence this warning.",
                ConfigWarning,
                # Reported at this line (calls come in at different depths), so the
                # default filter shows each misspelling once, not once per call.
                stacklevel=1,
            )
        if value is not None:
            moved[key] = value
    if moved:
        out["configurable"] = {**(out.get("configurable") or {}), **moved}
    return cast(RunnableConfig, out)


def make_context(config: RunnableConfig | None, *, sync: bool = False) -> Context:
    """Build the context for a public call from its config and the enclosing call."""
    parent = CURRENT.get()
    if parent is None and ROOT_HOOK:
        tracers = ROOT_HOOK[0]()
        if tracers:
            parent = Context({}, tracers=tracers, sync=sync)
    if not config:
        if parent is None:
            return SYNC_ROOT if sync else ROOT
        if parent.sync == sync:
            return parent
        return parent.replace(sync=sync)
    base = parent if parent is not None else (SYNC_ROOT if sync else ROOT)
    if base.sync != sync:
        base = base.replace(sync=sync)
    return derive(base, config, sort_tags=False)


def derive(base: Context, config: RunnableConfig, *, sort_tags: bool = True) -> Context:
    """The context for ``config`` applied on top of ``base`` (an enclosing call's).

    ``sort_tags``: a bound config (``with_config``) leaves the tags sorted, as
    langchain-core's ``merge_configs`` does, so runs and events list tags in the same
    order; a call's own config keeps the caller's order, as there.
    """
    config = _check(config)
    # Not at module level: tracing loads the callbacks package, which imports this module.
    from runnables.core.tracing import tracers_for

    sync = base.sync
    inherited: dict[str, Any] = dict(base.config)
    if "tags" in config:
        tags = dict.fromkeys([*inherited.get("tags", ()), *config["tags"]])
        inherited["tags"] = sorted(tags, key=str) if sort_tags else list(tags)
    elif sort_tags and inherited.get("tags"):
        inherited["tags"] = sorted(inherited["tags"], key=str)
    if "metadata" in config:
        inherited["metadata"] = {**inherited.get("metadata", {}), **config["metadata"]}
    if "configurable" in config:
        inherited["configurable"] = {**inherited.get("configurable", {}), **config["configurable"]}
        _configurable_to_metadata(inherited)
    if "callbacks" in config:
        inherited["callbacks"] = config["callbacks"]
    limiter = base.limiter
    mc = config.get("max_concurrency")
    if mc is not None and (limiter is None or mc < limiter.limit):
        # A nested call may narrow the budget, never widen it: the outer limit still holds.
        limiter = Limiter(mc, parent=limiter)
    deadline, timeout = base.deadline, base.timeout
    t = config.get("timeout")
    if t is not None:
        mine = time.monotonic() + t
        if deadline is None or mine < deadline:
            deadline, timeout = mine, float(t)
    tracers = base.tracers
    callbacks = config.get("callbacks")
    if callbacks and callbacks is not base.config.get("callbacks"):
        # The same handlers the enclosing call already reports to (a step passing its
        # own config on to a nested call) are not added twice: its runs would be
        # reported twice. langchain-core hands such a step its child callback manager.
        tracers = tracers_for(callbacks, tracers)
    ctx = Context(
        inherited,  # type: ignore[arg-type]
        limiter=limiter,
        deadline=deadline,
        timeout=timeout,
        tracers=tracers,
        run=base.run,
        sync=sync,
        recursion_limit=config.get("recursion_limit", base.recursion_limit),
        run_name=config.get("run_name"),
        run_id=config.get("run_id"),
    )
    if deadline is not None and base.running is not None and deadline == base.deadline:
        ctx.running = base.running
    return ctx


#: The configurable values langchain-core 1.8 copies into the metadata (when strings).
_METADATA_FROM_CONFIGURABLE = ("model", "checkpoint_ns")


def _configurable_to_metadata(config: dict[str, Any]) -> None:
    """Copy ``configurable``'s ``model`` and ``checkpoint_ns`` into ``metadata``.

    langchain-core 1.8's ``ensure_config`` rule: each of those two keys whose value is a
    string and that the metadata does not already have is added to it, so runs and
    events show them. Only those keys; other configurable values stay out of metadata.
    """
    configurable = config.get("configurable")
    if not configurable:
        return
    metadata = config.get("metadata") or {}
    added: dict[str, Any] | None = None
    for key in _METADATA_FROM_CONFIGURABLE:
        value = configurable.get(key)
        if isinstance(value, str) and key not in metadata:
            if added is None:
                added = dict(metadata)  # the metadata dict may be shared with the caller's
            added[key] = value
    if added is not None:
        config["metadata"] = added


def ensure_config(config: RunnableConfig | None = None) -> RunnableConfig:
    """The config in effect: the enclosing call's inherited config merged with ``config``.

    Inside a step, ``ensure_config()`` returns what the step was called with. Unknown
    top-level keys of ``config`` move into ``configurable``, and string values of
    ``configurable``'s ``model`` and ``checkpoint_ns`` are copied into ``metadata`` when
    it lacks them, as in langchain-core.
    """
    parent = CURRENT.get()
    base: dict[str, Any] = {"tags": [], "metadata": {}, "callbacks": None}
    base["recursion_limit"] = DEFAULT_RECURSION_LIMIT
    base["configurable"] = {}
    if parent is not None:
        inherited: dict[str, Any] = dict(parent.child_config())
        for key, value in inherited.items():
            if value is not None:
                base[key] = value.copy() if key in _COPIED_KEYS else value
    if config:
        # As langchain-core: each key given replaces the inherited one (a step passing
        # ``{"tags": ["x"]}`` gets ["x"], not its caller's tags plus "x"); unknown keys
        # join ``configurable``.
        given_configurable = config.get("configurable")
        if not _KNOWN_KEYS.issuperset(config):
            config = _move_unknown_keys(config)
        given: dict[str, Any] = dict(config)
        for key, value in given.items():
            if value is None:
                continue
            if key == "configurable" and given_configurable is None:
                value = {**base["configurable"], **value}  # only moved keys: added
            base[key] = value.copy() if key in _COPIED_KEYS else value
        _configurable_to_metadata(base)
    return base  # type: ignore[return-value]


#: Keys whose value ``ensure_config`` copies, so changing its result changes no caller's.
_COPIED_KEYS = frozenset({"tags", "metadata", "callbacks", "configurable"})


def get_config() -> RunnableConfig:
    """The config of the call whose step is running now (empty outside any call)."""
    return ensure_config(None)


def _merge_metadata_dicts(base: Mapping[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """``incoming`` over ``base``, except that ``lc_versions`` mappings accumulate.

    langchain-core 1.8's rule (exported under its name, which code written for it
    imports): metadata is last-writer-wins, but the ``lc_versions`` dict each package
    adds its version to is merged key by key, so core's and partners' versions coexist.
    The result never shares an ``lc_versions`` dict with either input.
    """
    merged = {**base, **incoming}
    base_versions = base.get("lc_versions")
    incoming_versions = incoming.get("lc_versions")
    if isinstance(incoming_versions, Mapping):
        if isinstance(base_versions, Mapping):
            merged["lc_versions"] = {**base_versions, **incoming_versions}
        else:
            merged["lc_versions"] = {**incoming_versions}
    elif "lc_versions" not in incoming and isinstance(base_versions, Mapping):
        merged["lc_versions"] = {**base_versions}
    return merged


def merge_configs(*configs: RunnableConfig | None) -> RunnableConfig:
    """Merge configs left to right: tags and metadata accumulate, other keys override.

    Metadata is last-writer-wins per key, except ``lc_versions`` (see
    :func:`_merge_metadata_dicts`).
    """
    out: dict[str, Any] = {}
    for cfg in configs:
        if not cfg:
            continue
        for key, value in cast(dict[str, Any], cfg).items():
            if key == "tags":
                out["tags"] = list(dict.fromkeys([*out.get("tags", []), *(value or [])]))
            elif key == "metadata":
                out[key] = _merge_metadata_dicts(out.get(key, {}), value or {})
            elif key == "configurable":
                out[key] = {**out.get(key, {}), **(value or {})}
            elif key == "callbacks":
                out[key] = _merge_callbacks(out.get(key), value)
            elif key == "recursion_limit":
                # The default is what every config has unless told: it overrides nothing.
                if value != DEFAULT_RECURSION_LIMIT or key not in out:
                    out[key] = value
            else:
                out[key] = value
    return out  # type: ignore[return-value]


def _merge_callbacks(base: Any, these: Any) -> Any:
    """Two configs' ``callbacks`` together, as langchain-core merges them.

    Handler lists are joined; with a callback manager on either side, the result is a
    copy of that manager with the other side's handlers added (inheritable), and two
    managers merge. Neither input is changed.
    """
    if these is None:
        return base
    if isinstance(these, (list, tuple)):
        if base is None:
            return list(these)
        if isinstance(base, (list, tuple)):
            return [*base, *these]
        manager = base.copy()
        for handler in these:
            manager.add_handler(handler, inherit=True)
        return manager
    if base is None:
        return these.copy()
    if isinstance(base, (list, tuple)):
        manager = these.copy()
        for handler in base:
            manager.add_handler(handler, inherit=True)
        return manager
    return base.merge(these)


def patch_config(config: RunnableConfig | None, **changes: Any) -> RunnableConfig:
    """A copy of ``config`` with some keys replaced (``None`` values are dropped)."""
    out: dict[str, Any] = dict(config or {})
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out  # type: ignore[return-value]


def _config_callbacks(config: RunnableConfig) -> Any:
    callbacks = config.get("callbacks")
    return list(callbacks) if isinstance(callbacks, tuple) else callbacks


def get_callback_manager_for_config(config: RunnableConfig) -> CallbackManager:
    """A callback manager for ``config``: its callbacks, tags and metadata, all
    inheritable (langchain-core's helper, for code that reports its own runs)."""
    from runnables.callbacks.manager import CallbackManager

    return CallbackManager.configure(
        inheritable_callbacks=_config_callbacks(config),
        inheritable_tags=config.get("tags"),
        inheritable_metadata=config.get("metadata"),
    )


def get_async_callback_manager_for_config(config: RunnableConfig) -> AsyncCallbackManager:
    """The async twin of :func:`get_callback_manager_for_config`."""
    from runnables.callbacks.manager import AsyncCallbackManager

    return AsyncCallbackManager.configure(
        inheritable_callbacks=_config_callbacks(config),
        inheritable_tags=config.get("tags"),
        inheritable_metadata=config.get("metadata"),
    )
