"""What a function's source says about it: a lambda's text, the names it reads.

langchain-core's ``runnables.utils`` helpers of the same names, with its results: a
step's graph label is its lambda's source, and :attr:`RunnableLambda.deps` lists the
runnables a function calls. Reading source is slow (``inspect.getsource`` and a parse),
so nothing on the invoke path calls these; only labels, graphs and ``deps`` do.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = [
    "get_function_first_arg_dict_keys",
    "get_function_nonlocals",
    "get_lambda_source",
    "indent_lines_after_first",
]

#: What reading or parsing a function's source can raise: no source (builtins, the REPL),
#: a fragment that does not parse alone, a callable object without code.
_NO_SOURCE = (SyntaxError, TypeError, OSError, SystemError)


class _Lambdas(ast.NodeVisitor):
    def __init__(self) -> None:
        self.source: str | None = None
        self.count = 0

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.count += 1
        self.source = ast.unparse(node)


def get_lambda_source(func: Callable[..., Any]) -> str | None:
    """The source of a lambda (``"lambda x: x * 2"``), else the function's name.

    When the source line holds more than one lambda, which one is ``func`` cannot be
    told, so the name (``None`` for a lambda) is returned instead, as langchain-core does.
    """
    name = getattr(func, "__name__", None)
    if name == "<lambda>":
        name = None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except _NO_SOURCE:
        return name
    visitor = _Lambdas()
    visitor.visit(tree)
    return visitor.source if visitor.count == 1 else name


class _KeysRead(ast.NodeVisitor):
    """The constant string keys a body reads from the name ``name``: ``x["k"]``, ``x.get("k")``.

    As langchain-core's visitor, it does not look inside a subscript or a call once it
    has met one (``len(x["k"])`` finds nothing), so the keys found, and the schemas
    built from them, are the same as langchain-core's.
    """

    def __init__(self, name: str, keys: set[str]) -> None:
        self.name = name
        self.keys = keys

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if (
            isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Name)
            and node.value.id == self.name
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            self.keys.add(node.slice.value)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == self.name
            and func.attr == "get"
            and len(node.args) in (1, 2)
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            self.keys.add(node.args[0].value)


class _FirstArgKeys(ast.NodeVisitor):
    """The keys each function or lambda in a tree reads from its first parameter."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        if node.args.args:
            reader = _KeysRead(node.args.args[0].arg, self.keys)
            reader.visit(node.body if isinstance(node, ast.Lambda) else node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node)


def get_function_first_arg_dict_keys(func: Callable[..., Any]) -> list[str] | None:
    """The dict keys ``func`` reads from its first argument, sorted; None if it reads none.

    ``lambda x: x["hello"]`` gives ``["hello"]``: the input must be a dict with that key,
    which is how an unannotated function's input schema is told (as in langchain-core).

    >>> get_function_first_arg_dict_keys(lambda x: (x["a"], x.get("b")))  # doctest: +SKIP
    ['a', 'b']
    """
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except _NO_SOURCE:
        return None
    visitor = _FirstArgKeys()
    visitor.visit(tree)
    return sorted(visitor.keys) if visitor.keys else None


class _Loads(ast.NodeVisitor):
    """The names (and dotted attribute paths) a body reads, and the names it assigns."""

    def __init__(self) -> None:
        self.loads: set[str] = set()
        self.stores: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.loads.add(node.id)
        elif isinstance(node.ctx, ast.Store):
            self.stores.add(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not isinstance(node.ctx, ast.Load):
            return
        parent = node.value
        path = node.attr
        while isinstance(parent, ast.Attribute):
            path = f"{parent.attr}.{path}"
            parent = parent.value
        if isinstance(parent, ast.Name):
            self.loads.add(f"{parent.id}.{path}")
            self.loads.discard(parent.id)
        elif isinstance(parent, ast.Call):
            # ``f(x).attr``: what is read is ``f`` (or the dotted path it is called on).
            if isinstance(parent.func, ast.Name):
                self.loads.add(parent.func.id)
                return
            inner = parent.func
            path = ""
            while isinstance(inner, ast.Attribute):
                path = f"{inner.attr}.{path}" if path else inner.attr
                inner = inner.value
            if isinstance(inner, ast.Name):
                self.loads.add(f"{inner.id}.{path}")


class _FunctionLoads(ast.NodeVisitor):
    """The names each function or lambda in a tree reads and does not assign itself."""

    def __init__(self) -> None:
        self.nonlocals: set[str] = set()

    def _function(self, node: ast.AST) -> None:
        visitor = _Loads()
        visitor.visit(node)
        self.nonlocals.update(visitor.loads - visitor.stores)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node)


@lru_cache(maxsize=256)
def get_function_nonlocals(func: Callable[..., Any]) -> list[Any]:
    """The global and closed-over values ``func`` reads, dotted paths resolved.

    A function that calls ``agent.invoke(x)`` gives ``[agent.invoke]``; a parameter of
    the same name shadows the outer value, so it is not listed. ``[]`` when the source
    cannot be read.
    """
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
        visitor = _FunctionLoads()
        visitor.visit(tree)
        wrapped = getattr(func, "__wrapped__", None)
        closure = inspect.getclosurevars(wrapped if callable(wrapped) else func)
    except _NO_SOURCE:
        return []
    values: list[Any] = []
    for name, value in {**closure.globals, **closure.nonlocals}.items():
        if name in visitor.nonlocals:
            values.append(value)
        for path in visitor.nonlocals:
            if "." not in path or not path.startswith(name):
                continue
            found = value
            for part in path.split(".")[1:]:
                if found is None:
                    break
                try:
                    found = getattr(found, part)
                except AttributeError:
                    break
            else:
                values.append(found)
    return values


def indent_lines_after_first(text: str, prefix: str) -> str:
    """``text`` with every line after the first indented by ``len(prefix)`` spaces.

    >>> indent_lines_after_first("a\\nb", "key: ")
    'a\\n     b'
    """
    spaces = " " * len(prefix)
    lines = text.splitlines()
    return "\n".join([lines[0], *(spaces + line for line in lines[1:])])
