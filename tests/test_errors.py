"""One error tree: every error runnables raises is a ``RunnablesError``.

The first test reads the source of ``src/runnables`` with :mod:`ast` (no import, so it
covers modules whose optional extras are not installed) and fails on a builtin exception
class constructed or raised there, or on an exception class that does not derive from
``RunnablesError``. The rest check that each class of the tree is still caught by the
builtin ``except`` clause that langchain-core's (or an earlier runnables') users wrote.
"""

from __future__ import annotations

import ast
import builtins
import functools
from collections.abc import Callable
from pathlib import Path

import pytest

import runnables
from runnables import errors
from runnables.tools.base import ToolException

SRC = Path(runnables.__file__).parent

BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}

# Builtin exceptions that are Python's own protocols, not errors runnables raises on its
# own account, so they stay builtins anywhere. Keep this tiny: each entry says why.
PROTOCOL_BUILTINS = {
    "StopIteration",  # ends an iterator
    "StopAsyncIteration",  # ends an async iterator
    "GeneratorExit",  # closes a generator (thrown into a user's generator on close)
    "SystemExit",  # the exit status of the command-line entry points
}

# AttributeError is also a protocol (hasattr, getattr with a default), but only in a
# ``__getattr__``: anywhere else it must be a class of the tree.
GETATTR_ONLY = "AttributeError"

# One builtin in one module that is not runnables' own error, each with why.
ALLOWED_USES = {
    # A user's function raised StopIteration, which a future cannot carry: re-raised as
    # RuntimeError from it, as PEP 479 does for generators and langchain-core does here.
    ("runnables/core/helpers.py", "RuntimeError"),
    # configured_method answers the __getattr__ of configurable runnables and bindings:
    # the attribute protocol, as in a __getattr__ itself.
    ("runnables/core/configurable.py", "AttributeError"),
}

# Exception classes defined in src/runnables that are deliberately not RunnablesErrors:
# they stand for a user's error, and ``except RunnablesError`` must never catch those.
ALLOWED_CLASSES = {
    "ToolException": "a user's tool raises it to report failure to the model",
    "RemoteRowError": "a user's row exception, carried back from a Ray actor",
}


@functools.cache
def _modules() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple(
        (path, ast.parse(path.read_text(), str(path))) for path in sorted(SRC.rglob("*.py"))
    )


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(SRC.parent)}:{getattr(node, 'lineno', 0)}"


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _exception_classes() -> dict[str, tuple[str, list[str]]]:
    """Every class defined in the package: name -> (where, base names)."""
    classes: dict[str, tuple[str, list[str]]] = {}
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = [n for n in (_name(b) for b in node.bases) if n]
                classes.setdefault(node.name, (_where(path, node), bases))
    return classes


def _uses_in(path: Path, node: ast.AST, function: str | None, found: list[str]) -> None:
    """Append each builtin exception class raised or constructed under ``node``."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        function = node.name
    target: ast.expr | None = None
    if isinstance(node, ast.Raise) and node.exc is not None:
        target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    elif isinstance(node, ast.Call):
        target = node.func
    if isinstance(target, ast.Name) and target.id in BUILTIN_EXCEPTIONS:
        name = target.id
        allowed = (
            name in PROTOCOL_BUILTINS
            or issubclass(getattr(builtins, name), Warning)
            or (name == GETATTR_ONLY and function == "__getattr__")
            or (str(path.relative_to(SRC.parent)), name) in ALLOWED_USES
        )
        if not allowed:
            found.append(f"{_where(path, target)}: {name}")
    for child in ast.iter_child_nodes(node):
        _uses_in(path, child, function, found)


def _builtin_exception_uses() -> list[str]:
    """Each place a builtin exception class is raised or constructed, unless allowed."""
    found: list[str] = []
    for path, tree in _modules():
        _uses_in(path, tree, None, found)
    return sorted(set(found))


def test_runnables_raises_no_builtin_exception_of_its_own() -> None:
    # A library error must be a RunnablesError *and* the builtin (ConfigError is a
    # ValueError too): use the class in errors.py that says what went wrong.
    assert _builtin_exception_uses() == []


def test_every_exception_class_runnables_defines_is_a_runnables_error() -> None:
    classes = _exception_classes()

    def in_tree(name: str, seen: frozenset[str] = frozenset()) -> bool | None:
        """True: derives from RunnablesError; False: an exception outside it; None: not
        an exception class at all."""
        if name == "RunnablesError":
            return True
        if name in BUILTIN_EXCEPTIONS:
            return None if issubclass(getattr(builtins, name), Warning) else False
        if name not in classes or name in seen:
            # A class from another library: an exception if it is named like one.
            return False if name.endswith(("Error", "Exception")) else None
        answers = [in_tree(base, seen | {name}) for base in classes[name][1]]
        if True in answers:
            return True
        return False if False in answers else None

    outside = [
        f"{where}: {name}"
        for name, (where, _) in classes.items()
        if in_tree(name) is False and name not in ALLOWED_CLASSES
    ]
    assert outside == []


# ---------------------------------------------------------------------- the builtins still catch


def _tree() -> dict[str, tuple[Callable[[], BaseException], tuple[type[BaseException], ...]]]:
    """Each class of the tree: how to make one, and the builtins that must catch it."""
    from runnables.cli.main import CLIError
    from runnables.models import StructuredOutputError
    from runnables.models.fake import FakeListChatModelError
    from runnables.output_parsers import OutputParserException
    from runnables.prompts.formatting import (
        InvalidPromptTemplateError,
        PromptInputError,
        PromptInputTypeError,
    )
    from runnables.prompts.mustache import MustacheSyntaxError
    from runnables.providers.local.engine import ContextMemoryError
    from runnables.providers.local.weights import CacheFolderError
    from runnables.providers.openai.errors import MissingCredentialsError
    from runnables.testing.openai_server import IdleTimeoutError
    from runnables.tools.base import SchemaAnnotationError, ToolInputError

    def simple(
        cls: type[BaseException], *builtin: type[BaseException]
    ) -> tuple[Callable[[], BaseException], tuple[type[BaseException], ...]]:
        return (lambda: cls("what went wrong, and what to do."), builtin)

    return {
        "ConfigError": simple(errors.ConfigError, ValueError),
        "InvalidArgumentError": simple(errors.InvalidArgumentError, ValueError),
        "InvalidInputError": simple(errors.InvalidInputError, ValueError),
        "ArgumentTypeError": simple(errors.ArgumentTypeError, TypeError),
        "InvalidRunnableError": simple(errors.InvalidRunnableError, TypeError),
        "InputTypeError": simple(errors.InputTypeError, TypeError),
        "InputKeyError": simple(errors.InputKeyError, KeyError, LookupError),
        "UnsupportedError": simple(errors.UnsupportedError, NotImplementedError, RuntimeError),
        "StateError": simple(errors.StateError, RuntimeError),
        "EngineError": simple(errors.EngineError, RuntimeError),
        "MissingFileError": simple(errors.MissingFileError, FileNotFoundError, OSError),
        "MissingExtraError": (
            lambda: errors.MissingExtraError("Serving", "serve", "fastapi"),
            (ImportError,),
        ),
        "RecursionLimitError": simple(errors.RecursionLimitError, RecursionError),
        "StepTimeoutError": (lambda: errors.StepTimeoutError(1.0, "slow"), (TimeoutError,)),
        "OutputParserException": simple(OutputParserException, ValueError),
        "StructuredOutputError": simple(StructuredOutputError, ValueError),
        "InvalidPromptTemplateError": simple(InvalidPromptTemplateError, ValueError),
        "MustacheSyntaxError": simple(MustacheSyntaxError, ValueError),
        "PromptInputError": simple(PromptInputError, KeyError),
        "PromptInputTypeError": simple(PromptInputTypeError, KeyError, TypeError),
        "SchemaAnnotationError": simple(SchemaAnnotationError, TypeError),
        "ToolInputError": simple(ToolInputError, ToolException),
        "MissingCredentialsError": (MissingCredentialsError, (ValueError,)),
        "ContextMemoryError": simple(ContextMemoryError, MemoryError, RuntimeError),
        "CacheFolderError": simple(CacheFolderError, PermissionError, OSError),
        "IdleTimeoutError": simple(IdleTimeoutError, TimeoutError),
        "CLIError": simple(CLIError),
        "FakeListChatModelError": simple(FakeListChatModelError),
    }


@pytest.mark.parametrize("name", list(_tree()))
def test_each_class_is_a_runnables_error_that_its_builtins_still_catch(name: str) -> None:
    make, builtins_ = _tree()[name]
    for builtin in builtins_:
        with pytest.raises(builtin) as info:
            raise make()
        assert isinstance(info.value, errors.RunnablesError)
    assert type(make()).__name__ == name


def test_the_docstring_draws_every_class_that_errors_defines() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert name in doc, f"{name} is missing from the tree in errors.py's docstring"


# ---------------------------------------------------------------------- raised by the library


async def test_a_runnable_that_implements_nothing_raises_unsupported_not_a_bare_builtin() -> None:
    from runnables import Runnable

    class Bare(Runnable[int, int]):
        pass

    with pytest.raises(NotImplementedError, match="Bare must implement '_ainvoke") as info:
        await Bare().ainvoke(1)
    assert isinstance(info.value, errors.UnsupportedError)


def test_an_unknown_trim_strategy_is_an_invalid_argument_and_a_value_error() -> None:
    from runnables.messages import trim_messages

    with pytest.raises(ValueError, match="strategy='middle'") as info:
        trim_messages([], max_tokens=1, token_counter=len, strategy="middle")  # type: ignore[arg-type]
    assert isinstance(info.value, errors.InvalidArgumentError)


def test_a_value_that_is_no_message_is_an_input_type_error_and_a_type_error() -> None:
    from runnables.messages import convert_to_messages

    with pytest.raises(TypeError, match="Cannot turn 42") as info:
        convert_to_messages(42)
    assert isinstance(info.value, errors.InputTypeError)


def test_a_worker_pool_used_after_shutdown_is_a_state_error_and_a_runtime_error() -> None:
    from runnables.core.workers import WorkerPool

    pool = WorkerPool(max_workers=1)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown") as info:
        pool.submit(print)
    assert isinstance(info.value, errors.StateError)


async def test_a_deadline_that_runs_out_is_a_runnables_error_and_a_timeout_error() -> None:
    import asyncio

    from runnables import RunnableLambda

    async def slow(x: int) -> int:
        await asyncio.sleep(60)  # never finishes: the deadline below cancels it
        return x

    with pytest.raises(TimeoutError) as info:
        await RunnableLambda(slow, name="slow").ainvoke(1, {"timeout": 0.05})
    assert isinstance(info.value, errors.StepTimeoutError)
    assert isinstance(info.value, errors.RunnablesError)


def test_several_values_for_a_single_input_tool_are_a_tool_exception_it_can_handle() -> None:
    from runnables.tools import Tool

    def echo(text: str) -> str:
        return text

    strict = Tool.from_function(func=echo, name="echo", description="Echo the text.")
    with pytest.raises(ToolException, match="Too many arguments") as info:
        strict.invoke({"a": "1", "b": "2"})
    assert isinstance(info.value, errors.RunnablesError)
    lenient = Tool.from_function(
        func=echo, name="echo", description="Echo the text.", handle_tool_error=True
    )
    assert "Too many arguments" in lenient.invoke({"a": "1", "b": "2"})


def test_the_missing_key_of_a_history_input_reads_as_a_sentence() -> None:
    err = errors.InputKeyError("The input has no key 'question'.")
    assert str(err) == "The input has no key 'question'."
    assert isinstance(err, KeyError)
