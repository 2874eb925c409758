"""``langchain_object | runnables_step``: a runnables chain, as the other way round is.

Python evaluates ``a | b`` by calling ``type(a).__or__`` first and asks ``b.__ror__``
only when that returns ``NotImplemented``. langchain-core's ``Runnable.__or__`` never
does: its ``coerce_to_runnable`` raises ``TypeError`` for anything that is not one of
its own runnables, a callable or a dict. So with a langchain-core object on the left,
runnables never gets a say, and only langchain-core can be taught the rule.

This module teaches it, once langchain-core's ``langchain_core.runnables.base`` is
loaded (now, if it already is; otherwise right after it is first imported, through a
finder on ``sys.meta_path`` that waits for that one module and then removes itself):

- ``lc | step`` and ``{"k": step} | lc`` (a runnables step, or a dict holding one)
  give the runnables chain ``coerce_to_runnable(lc) | step``, with runnables'
  guarantees (one ``max_concurrency`` budget, deadline, cancellation, events), as
  ``step | lc`` already does;
- wherever langchain-core itself coerces a value into one of its runnables (its
  ``RunnableSequence``, ``RunnableParallel``, ``pipe``...), a runnables step becomes
  ``step.as_langchain()``, which converts values at the boundary.

Nothing else changes: every value langchain-core accepted before is handled by its own
code, and anything it rejected but a runnables step is still rejected the same way.
``import runnables`` never imports langchain-core for this.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["install"]

_TARGET = "langchain_core.runnables.base"
_MARK = "__runnables_pipe__"


def _is_step(value: Any) -> bool:
    from runnables.core.base import Runnable

    return isinstance(value, Runnable)


def _holds_step(value: Any) -> bool:
    """A runnables step, or a dict with one among its values."""
    return _is_step(value) or (
        isinstance(value, Mapping) and any(_is_step(v) for v in value.values())
    )


def _teach(module: types.ModuleType) -> None:
    """Patch langchain-core's ``Runnable.__or__``/``__ror__`` and ``coerce_to_runnable``.

    Only the real langchain-core is patched (checked by where its functions are defined),
    and only once.
    """
    lc_runnable = getattr(module, "Runnable", None)
    original_coerce = getattr(module, "coerce_to_runnable", None)
    if (
        lc_runnable is None
        or original_coerce is None
        or getattr(original_coerce, "__module__", None) != _TARGET
        or getattr(module, _MARK, False)
    ):
        return

    def coerce_to_runnable(thing: Any) -> Any:
        if _is_step(thing):
            return thing.as_langchain()
        return original_coerce(thing)

    coerce_to_runnable.__doc__ = original_coerce.__doc__
    coerce_to_runnable.__wrapped__ = original_coerce  # type: ignore[attr-defined]
    module.coerce_to_runnable = coerce_to_runnable  # type: ignore[attr-defined]
    # Runnable and RunnableSequence (which flattens sequences) each define the operators.
    for cls in (lc_runnable, getattr(module, "RunnableSequence", None)):
        if cls is not None:
            cls.__or__ = _or(vars(cls)["__or__"])
            cls.__ror__ = _ror(vars(cls)["__ror__"])
    # Other langchain-core modules imported the function by name: point them at the
    # new one too, so a langchain-core parallel or branch built later takes our steps.
    for name, loaded in list(sys.modules.items()):
        if (
            name.startswith("langchain_core.")
            and vars(loaded).get("coerce_to_runnable") is original_coerce
        ):
            loaded.coerce_to_runnable = coerce_to_runnable  # type: ignore[attr-defined]
    setattr(module, _MARK, True)


def _or(original: Any) -> Any:
    def __or__(self: Any, other: Any) -> Any:  # noqa: N807 - the operator itself
        if _holds_step(other):
            from runnables.core.base import coerce_to_runnable

            return coerce_to_runnable(self) | other
        return original(self, other)

    __or__.__doc__ = original.__doc__
    __or__.__wrapped__ = original  # type: ignore[attr-defined]
    return __or__


def _ror(original: Any) -> Any:
    def __ror__(self: Any, other: Any) -> Any:  # noqa: N807 - the operator itself
        if _holds_step(other):
            from runnables.core.base import coerce_to_runnable

            return coerce_to_runnable(other) | coerce_to_runnable(self)
        return original(self, other)

    __ror__.__doc__ = original.__doc__
    __ror__.__wrapped__ = original  # type: ignore[attr-defined]
    return __ror__


class _Loader(importlib.abc.Loader):
    """Runs the real loader, then teaches the module it loaded."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        _teach(module)


class _WaitForLangChain(importlib.abc.MetaPathFinder):
    """Waits for ``langchain_core.runnables.base`` to be imported, then steps aside."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _TARGET:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        # The finders after this one decide where the module comes from, as they would
        # have without it.
        spec: importlib.machinery.ModuleSpec | None = None
        for finder in sys.meta_path:
            found = getattr(finder, "find_spec", None)
            spec = found(fullname, path, target) if found is not None else None
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader)
        return spec


def install() -> None:
    """Teach langchain-core's ``|`` about runnables steps, now or when it is imported."""
    loaded = sys.modules.get(_TARGET)
    if loaded is not None:
        _teach(loaded)
    elif not any(isinstance(f, _WaitForLangChain) for f in sys.meta_path):
        sys.meta_path.insert(0, _WaitForLangChain())
