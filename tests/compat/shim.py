"""A pytest plugin that runs langchain-core's tests against runnables.

Loaded with ``-p shim`` (``tests/compat`` on ``sys.path``), before any conftest, in one
of two modes set by ``COMPAT_MODE``:

- ``collect``: the real langchain-core is imported, as its own suite does; each
  collected test is written to ``COMPAT_OUT`` with the not-applicable rule its source
  matches (``rules.py``). This is the suite's denominator: a file that fails to import
  under runnables still counts every test it has.
- ``run``: every ``langchain_core`` import is served by runnables (an import-alias
  finder placed first on ``sys.meta_path``); the tests listed as not applicable in
  ``COMPAT_SKIP`` are deselected; each test's outcome and, for a failure, its error
  line are written to ``COMPAT_OUT``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import inspect
import json
import os
import pkgutil
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from rules import not_applicable

MODE = os.environ.get("COMPAT_MODE", "run")

# Where a name imported from langchain_core.<package>... is looked for, in order. A
# package not listed is looked for in ``runnables.<package>`` (so the modules the
# section-3 APIs add are found once they exist), then in the public packages.
PACKAGES: dict[str, list[str]] = {
    "runnables": ["runnables", "runnables.core"],
    "prompts": ["runnables.prompts"],
    "prompt_values": ["runnables.prompts"],
    "output_parsers": ["runnables.output_parsers"],
    "messages": ["runnables.messages"],
    "language_models": ["runnables.models"],
    "outputs": ["runnables.models", "runnables.messages"],
    "exceptions": ["runnables.errors", "runnables.output_parsers"],
    "utils": ["runnables.models", "runnables.messages", "runnables.core"],
    "tools": ["runnables.tools", "runnables.models"],
    "caches": ["runnables.models"],
    "rate_limiters": ["runnables.models"],
    "documents": ["runnables.documents"],
    "retrievers": ["runnables.retrievers"],
    "vectorstores": ["runnables.vectorstores"],
    "embeddings": ["runnables.embeddings"],
    "chat_history": ["runnables.chat_history"],
    # langchain-core's tracers package holds ConsoleCallbackHandler, a handler here.
    "tracers": ["runnables.callbacks"],
}
PUBLIC = [
    "runnables",
    "runnables.messages",
    "runnables.prompts",
    "runnables.output_parsers",
    "runnables.models",
    "runnables.errors",
]
# langchain-core packages that have no counterpart: importing a name from them fails.
NO_COUNTERPART = {"load", "pydantic_v1", "globals", "env", "sys_info"}


def _module_and_children(name: str) -> list[types.ModuleType]:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return []
    found = [module]
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        if info.name.startswith("_"):  # runnables' private helpers are not its API
            continue
        try:
            found.append(importlib.import_module(f"{name}.{info.name}"))
        except ImportError:
            continue
    return found


class _Alias(types.ModuleType):
    """A ``langchain_core...`` module whose names are runnables' names."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        parts = name.split(".")[1:]
        self._parts = parts
        self._found: list[types.ModuleType] | None = None
        self._submodules: frozenset[str] | None = None

    def warm(self) -> None:
        """Find the modules that serve this one, and langchain-core's submodules of it,
        once, at import: an attribute looked up later (inside an event loop, where
        langchain-core's conftest has blockbuster refuse file-system calls) reads no
        files."""
        if self._found is None:
            self._found = self._find_sources()
        if self._submodules is None:
            where = _real_root().joinpath(*self._parts)
            self._submodules = frozenset(
                entry.name.removesuffix(".py")
                for entry in (where.iterdir() if where.is_dir() else ())
                if entry.suffix == ".py" or (entry / "__init__.py").is_file()
            )

    def _sources(self) -> list[types.ModuleType]:
        self.warm()
        assert self._found is not None
        return self._found

    def _find_sources(self) -> list[types.ModuleType]:
        parts = self._parts
        if not parts:
            names = PUBLIC
        elif parts[0] in NO_COUNTERPART:
            return []
        else:
            names = [
                *PACKAGES.get(parts[0], []),
                f"runnables.{parts[0]}",
                *(f"runnables.{'.'.join(parts[: i + 1])}" for i in range(1, len(parts))),
                *PUBLIC,
            ]
        sources: list[types.ModuleType] = []
        for module_name in dict.fromkeys(names):
            sources += _module_and_children(module_name)
        return sources

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        fact = FACTS.get(f"{self.__name__}.{attr}", FACTS)
        if fact is not FACTS:
            return fact
        if f"{self.__name__}.{attr}" in PRIVATE:
            value = _private(f"{self.__name__}.{attr}")
            setattr(self, attr, value)
            return value
        for module in self._sources():
            # Only what a module exports (its __all__) is its API: not the helpers it
            # imports for itself.
            exported = getattr(module, "__all__", None)
            if attr in vars(module) and (exported is None or attr in exported):
                value = vars(module)[attr]
                setattr(self, attr, value)
                return value
            if exported is not None and attr in exported:
                # Exported lazily (the module's __getattr__ imports it on first use).
                value = getattr(module, attr)
                setattr(self, attr, value)
                return value
        # ``from langchain_core import tools`` asks the package for the attribute first;
        # a submodule langchain-core has is that module, served like any import.
        self.warm()
        assert self._submodules is not None
        if attr in self._submodules:
            return importlib.import_module(f"{self.__name__}.{attr}")
        # A name runnables lacks imports as a placeholder that fails when used, so only
        # the tests that use it fail (with the name in their error), not the whole file.
        missing = _missing(f"{self.__name__}.{attr}")
        setattr(self, attr, missing)
        return missing


class MissingAPIError(BaseException):
    """A test used a langchain-core name that runnables does not have.

    A BaseException, so neither the code under test nor ``pytest.raises(Exception)``
    catches it: the test fails with the missing name.
    """


class _MissingMeta(type):
    def __getattr__(cls, attr: str) -> Any:
        if attr.startswith("_"):  # pytest and mock probe private names while collecting
            raise AttributeError(attr)
        raise MissingAPIError(f"missing API: {cls._missing_path} (used .{attr})")

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        # A test's own subclass names the langchain-core class it derives from.
        raise MissingAPIError(f"missing API: {cls._missing_path}")


def _missing(path: str) -> type:
    """A class standing for ``path``: it can be subclassed and named in annotations, but
    calling it, instantiating a subclass or reading its attributes fails.

    A missing warning class (named in ``filterwarnings`` marks) is a real warning class
    that runnables never emits, so ``pytest.warns`` with it fails.
    """
    name = path.rsplit(".", 1)[1]
    if name.endswith("Warning"):
        return type(name, (DeprecationWarning,), {"__module__": path.rsplit(".", 1)[0]})
    return _MissingMeta(
        path.rsplit(".", 1)[1],
        (),
        {
            "__qualname__": path,
            "__module__": path,
            "_missing_path": path,
            "__class_getitem__": classmethod(lambda cls, item: cls),
        },
    )


# Private langchain-core helpers that tests import and that runnables has a genuine
# counterpart for, with the same meaning (not its API: served under the private name
# only): langchain-core path -> "runnables module" or "runnables module:name".
PRIVATE: dict[str, str] = {
    # Tools: the run-time-injected marker and the ToolMessage output formatting.
    "langchain_core.tools.base._DirectlyInjectedToolArg": "runnables.tools.base",
    "langchain_core.tools.base._format_output": "runnables.tools.base",
    "langchain_core.tools.base._is_message_content_block": "runnables.tools.base",
    "langchain_core.tools.base._normalize_message_content": "runnables.tools.base",
    # A Mermaid node id, as langchain-core writes it.
    "langchain_core.runnables.graph_mermaid._to_safe_id": "runnables.core.graph:_safe_id",
    # What gathers a stream's chunks into one value.
    "langchain_core.runnables.base._ChunkAccumulator": "runnables.core.chunks:ChunkAccumulator",
    # The chat-entry converter: a (role, template) tuple, a string, a message or a
    # message template into one chat prompt entry.
    "langchain_core.prompts.chat._convert_to_message_template": "runnables.prompts.chat",
    # Merging lists of content blocks / tool call chunks piece by piece.
    "langchain_core.utils._merge.merge_lists": "runnables.messages.base:merge_lists",
}


def _private(path: str) -> Any:
    module, _, name = PRIVATE[path].partition(":")
    return getattr(importlib.import_module(module), name or path.rsplit(".", 1)[1])


# Facts about the environment that langchain-core re-exports, not its API: the tests use
# them in skip conditions at import time.
FACTS: dict[str, Any] = {}
# langchain_core.utils.json's ``json`` is the standard library's module (tests patch its
# ``loads`` to count how often the JSON helpers decode): the same object under runnables.
FACTS["langchain_core.utils.json.json"] = json
try:
    import pydantic
    from packaging.version import Version

    FACTS["langchain_core.utils.pydantic.PYDANTIC_VERSION"] = Version(pydantic.VERSION)
    FACTS["langchain_core.utils.pydantic.PYDANTIC_MAJOR_VERSION"] = Version(pydantic.VERSION).major
except ImportError:  # pragma: no cover - pydantic and packaging come with the test deps
    pass


def _real_root() -> Path:
    spec = importlib.machinery.PathFinder.find_spec("langchain_core")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "The compatibility suite needs langchain-core installed to know its module "
            "layout: pip install -e '.[compat]'."
        )
    return Path(next(iter(spec.submodule_search_locations)))


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``langchain_core`` and those of its submodules that langchain-core has.

    Only real module paths are served, so ``from langchain_core.x import name`` with a
    name runnables lacks fails with ImportError instead of returning a module.
    """

    def __init__(self) -> None:
        self.root = _real_root()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "langchain_core" and not fullname.startswith("langchain_core."):
            return None
        where = self.root.joinpath(*fullname.split(".")[1:])
        if fullname != "langchain_core" and not (
            where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()
        ):
            # Raised, not None: no other finder may look for it on the root's __path__.
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        spec = importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        if fullname == "langchain_core":
            # The root's path is runnables' own folder: langchain-core's conftest checks
            # with blockbuster that code under that path never blocks the event loop.
            import runnables

            spec.submodule_search_locations = list(runnables.__path__)
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _Alias(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        if isinstance(module, _Alias):
            module.warm()


class _NotInstalled(importlib.abc.MetaPathFinder):
    """Packages that langchain-core's own test environment does not have.

    langchain-core's tests probe for them (``try: import langgraph`` ... ``except
    ImportError``) and skip what needs them; here they are installed for the interop
    tests, and built on the real langchain-core, so they are hidden as they would be in
    langchain-core's run.
    """

    HIDDEN = ("langgraph", "langchain_openai")

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if any(fullname == name or fullname.startswith(name + ".") for name in self.HIDDEN):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


sys.meta_path.insert(0, _NotInstalled())

if MODE == "run":
    for loaded in [
        m for m in sys.modules if m == "langchain_core" or m.startswith("langchain_core.")
    ]:
        del sys.modules[loaded]
    sys.meta_path.insert(0, _Finder())
    # Under the shim langchain-core's handler classes are runnables' own, so a call with
    # callbacks routes them through runnables' interop adapter; its first import reads
    # files, which blockbuster (langchain-core's conftest) refuses inside an event loop:
    # the call would fail before the code under test runs. Imported here, outside any.
    try:
        importlib.import_module("runnables.interop.adapter")
    except ImportError:  # pragma: no cover - the interop extra is part of the compat deps
        pass


def _source(item: pytest.Item) -> str:
    func = getattr(item, "function", None)
    try:
        return inspect.getsource(func) if func is not None else ""
    except (OSError, TypeError):
        return ""


_out: dict[str, Any] = {}


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if MODE == "collect":
        for item in items:
            rule = not_applicable(_source(item))
            _out[item.nodeid] = rule.name if rule is not None else None
        return
    skip_file = os.environ.get("COMPAT_SKIP")
    skip = set(json.loads(Path(skip_file).read_text())) if skip_file else set()
    kept = [item for item in items if item.nodeid not in skip]
    dropped = [item for item in items if item.nodeid in skip]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _out[report.nodeid] = {"outcome": "error", "error": _error_line(report)}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if MODE != "run":
        return
    if report.when == "call" or report.failed or (report.when == "setup" and report.skipped):
        outcome: str = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "passed"
        entry: dict[str, Any] = {"outcome": outcome}
        if report.failed:
            entry["error"] = _error_line(report)
        if report.nodeid not in _out or report.failed:
            _out[report.nodeid] = entry


def _error_line(report: pytest.CollectReport | pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).strip().splitlines()[0][:300]
    text = str(report.longrepr).strip().splitlines()
    errors = [line for line in text if line.startswith("E ")]
    return (errors[0][1:].strip() if errors else (text[-1] if text else ""))[:300]


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("COMPAT_OUT")
    if path:
        with open(path, "w") as f:
            json.dump(_out, f, indent=0, sort_keys=True)
