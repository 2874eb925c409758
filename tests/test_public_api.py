"""The public API: every exported name imports and is documented; importing is light."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from typing import Any

import pytest

import runnables

PUBLIC = sorted(runnables.__all__)

# Optional parts and the reference implementation: importing the core must not pull them
# in (they are extras, or only used by the benchmarks).
NOT_IMPORTED_BY_CORE = ["fastapi", "httpx", "llama_cpp", "langchain_core", "uvicorn", "starlette"]


def test_all_names_each_public_object_once() -> None:
    assert len(set(runnables.__all__)) == len(runnables.__all__)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_imports(name: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"from runnables import {name}", namespace)
    assert namespace[name] is getattr(runnables, name)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_class_and_function_has_a_docstring(name: str) -> None:
    obj = getattr(runnables, name)
    if not callable(obj):
        pytest.skip(f"{name} is a value, not a class or function")
    doc = inspect.getdoc(obj)
    assert doc, f"runnables.{name} has no docstring."
    if inspect.isclass(obj):
        # A class's docstring must be its own, not one inherited from a base class.
        assert "__doc__" in vars(obj) and vars(obj)["__doc__"], (
            f"runnables.{name} only inherits its docstring from a base class."
        )


def test_the_package_has_a_docstring_and_a_version() -> None:
    assert inspect.getdoc(runnables)
    assert isinstance(runnables.__version__, str)


def _modules_after_import() -> set[str]:
    code = "import json, sys, runnables; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return {name.split(".")[0] for name in json.loads(done.stdout)}


@pytest.fixture(scope="module")
def imported() -> set[str]:
    """Top-level packages in sys.modules after a fresh ``import runnables``."""
    return _modules_after_import()


@pytest.mark.parametrize("module", NOT_IMPORTED_BY_CORE)
def test_import_runnables_does_not_import_optional_packages(
    imported: set[str], module: str
) -> None:
    assert module not in imported, f"'import runnables' imported {module!r}."


def test_import_runnables_does_not_import_pydantic(imported: set[str]) -> None:
    # Schemas are built on demand (get_input_schema...); plain chains never need pydantic.
    assert "pydantic" not in imported


def test_langchain_names_addable_dict_and_runnable_serializable_are_exported() -> None:
    from runnables import AddableDict, Runnable, RunnableSerializable

    class Shout(RunnableSerializable[str, str]):
        def invoke(self, input: str, config: Any = None, **kwargs: Any) -> str:
            return input.upper()

    # Every runnable still passes isinstance with it, as when it was Runnable itself.
    assert issubclass(RunnableSerializable, Runnable)
    assert isinstance((lambda s: s) | Shout(), RunnableSerializable)
    assert (Shout() | (lambda s: s + "!")).invoke("hi") == "HI!"
    assert AddableDict(a="x") + {"a": "y", "b": 1} == {"a": "xy", "b": 1}
    assert {"a": "x"} + AddableDict(a="y") == {"a": "xy"}
