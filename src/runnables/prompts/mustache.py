"""Mustache templates (``template_format="mustache"``), rendered as langchain-core does.

Supported: ``{{name}}`` (HTML-escaped, as langchain-core escapes ``& " < >``),
``{{{name}}}`` and ``{{& name}}`` (not escaped), dotted names (``{{user.name}}``),
``{{.}}``, sections ``{{#items}}...{{/items}}`` (lists repeat, dicts push a scope, other
values are tested for truth), inverted sections ``{{^items}}...{{/items}}`` and
comments ``{{! ... }}``. A tag alone on its line takes the line with it. A missing
name renders as empty text (mustache's rule). Partials and lambdas are not supported.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from runnables.prompts.formatting import InvalidPromptTemplateError

__all__ = ["mustache_render", "mustache_schema", "mustache_template_vars"]

Token = tuple[str, str]  # (kind, text): literal, variable, no escape, section, inverted, end

_TAG = re.compile(r"\{\{(\{[^}]*\}|[^}]*)\}\}")
_STANDALONE_KINDS = frozenset({"section", "inverted", "end", "comment"})


class MustacheSyntaxError(InvalidPromptTemplateError):
    """A mustache template is malformed (an unclosed or mismatched section)."""


@functools.lru_cache(maxsize=256)
def tokenize(template: str) -> tuple[Token, ...]:
    """The template as tokens, with standalone section/comment lines removed."""
    tokens: list[Token] = []
    pos = 0
    for match in _TAG.finditer(template):
        start, end = match.span()
        body = match.group(1)
        if body.startswith("{"):
            kind, key = "no escape", body[1:-1].strip()
        elif body[:1] in "#^/!&":
            kind = {"#": "section", "^": "inverted", "/": "end", "!": "comment", "&": "no escape"}[
                body[0]
            ]
            key = body[1:].strip()
        else:
            kind, key = "variable", body.strip()
        literal = template[pos:start]
        if kind in _STANDALONE_KINDS:
            line_start = literal.rfind("\n") + 1 if "\n" in literal else 0
            before = literal[line_start:]
            rest = template[end:]
            newline = rest.find("\n")
            after = rest if newline < 0 else rest[:newline]
            at_line_start = line_start > 0 or pos == 0 or template[pos - 1] == "\n"
            if at_line_start and not before.strip() and not after.strip():
                literal = literal[:line_start]
                end = len(template) if newline < 0 else end + newline + 1
        if literal:
            tokens.append(("literal", literal))
        if kind != "comment":
            tokens.append((kind, key))
        pos = end
    if pos < len(template):
        tokens.append(("literal", template[pos:]))
    _check_nesting(tokens, template)
    return tuple(tokens)


def _check_nesting(tokens: list[Token], template: str) -> None:
    stack: list[str] = []
    for kind, key in tokens:
        if kind in ("section", "inverted"):
            stack.append(key)
        elif kind == "end" and (not stack or stack.pop() != key):
            raise MustacheSyntaxError(
                f"The mustache template closes section {key!r} that is not open: "
                f"{template[:80]!r}. Close sections in the order they were opened."
            )
    if stack:
        raise MustacheSyntaxError(
            f"The mustache template never closes section {stack[-1]!r}: {template[:80]!r}. "
            f"Add {{{{/{stack[-1]}}}}}."
        )


def mustache_template_vars(template: str) -> set[str]:
    """The top-level names a template uses (``person`` for ``{{person.name}}``)."""
    names: set[str] = set()
    depth = 0
    for kind, key in tokenize(template):
        if kind == "end":
            depth -= 1
            continue
        if kind in ("variable", "no escape", "section", "inverted") and key != "." and not depth:
            names.add(key.split(".")[0])
        if kind in ("section", "inverted"):
            depth += 1
    return names


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


_MISSING = object()


def _lookup(key: str, scopes: list[Any]) -> Any:
    """The value of a (dotted) key, from the innermost scope that has it.

    As langchain-core's renderer: only dicts, lists and tuples are traversed (never an
    object's attributes, so ``{{msg.__class__}}`` cannot reach internals), and a falsy
    value other than 0 and False renders as empty text.
    """
    if key == ".":
        return scopes[0]
    parts = key.split(".")
    for scope in scopes:
        value = scope
        for part in parts:
            if _zero_or_false(value):
                return value
            value = _get(value, part)
            if value is _MISSING:
                break
        else:
            return value if _zero_or_false(value) else (value or "")
    return ""


def _zero_or_false(value: Any) -> bool:
    return value is False or (type(value) in (int, float) and value == 0)


def _get(scope: Any, name: str) -> Any:
    if isinstance(scope, Mapping):
        return scope.get(name, _MISSING)
    if isinstance(scope, (list, tuple)):
        try:
            return scope[int(name)]
        except (ValueError, IndexError):
            return _MISSING
    return _MISSING


def _section_end(tokens: Sequence[Token], start: int, key: str) -> int:
    depth = 0
    for i in range(start, len(tokens)):
        kind, k = tokens[i]
        if kind in ("section", "inverted") and k == key:
            depth += 1
        elif kind == "end" and k == key:
            if depth == 0:
                return i
            depth -= 1
    raise MustacheSyntaxError(f"Section {key!r} is not closed.")  # pragma: no cover


def _render(tokens: Sequence[Token], scopes: list[Any]) -> str:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        kind, key = tokens[i]
        if kind == "literal":
            out.append(key)
        elif kind in ("variable", "no escape"):
            value = _lookup(key, scopes)
            text = value if isinstance(value, str) else str(value)
            out.append(_escape(text) if kind == "variable" else text)
        elif kind in ("section", "inverted"):
            end = _section_end(tokens, i + 1, key)
            body = tokens[i + 1 : end]
            value = _lookup(key, scopes)
            is_list = isinstance(value, (list, tuple))
            if kind == "inverted":
                if not value or (is_list and not len(value)):
                    out.append(_render(body, scopes))
            elif is_list:
                out.extend(_render(body, [item, *scopes]) for item in value)
            elif isinstance(value, Mapping) and value:
                out.append(_render(body, [value, *scopes]))
            elif value:
                out.append(_render(body, scopes))
            i = end
        i += 1
    return "".join(out)


def mustache_render(template: str, values: Mapping[str, Any]) -> str:
    """Render a mustache template with ``values``.

    >>> mustache_render("Hi {{name}}!{{#items}} {{.}}{{/items}}", {"name": "Ann", "items": [1, 2]})
    'Hi Ann! 1 2'
    """
    return _render(tokenize(template), [values])


def mustache_schema(template: str) -> type[Any]:
    """The template's input as a pydantic model named ``PromptInput`` (langchain-core's).

    Every name is optional (default ``None``); ``{{x}}`` is a string, and a name used with
    dots or as a section (``{{x.y}}``, ``{{#x}}{{y}}{{/x}}``) is a nested model.
    """
    used: dict[tuple[str, ...], bool] = {}  # path -> printed as a value (else a section)
    prefix: tuple[str, ...] = ()
    outer: list[tuple[str, ...]] = []
    for kind, key in tokenize(template):
        if key == ".":
            continue
        if kind == "end":
            if outer:
                prefix = outer.pop()
        elif kind in ("section", "inverted"):
            outer.append(prefix)
            prefix += tuple(key.split("."))
            used[prefix] = False
        elif kind in ("variable", "no escape"):
            used[prefix + tuple(key.split("."))] = True
    # A path that is also the start of a longer one is an object, not a string.
    for path in used:
        used[path] = used[path] and not any(
            other != path and other[: len(path)] == path for other in used
        )
    tree: dict[str, Any] = {}
    while used:
        path, leaf = used.popitem()
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(path[-1], "" if leaf else {})
    return _model("PromptInput", tree)


def _model(name: str, tree: dict[str, Any]) -> type[Any]:
    from pydantic import create_model

    fields: dict[str, Any] = {
        key: (_model(key, sub) if sub else type(sub), None) for key, sub in tree.items()
    }
    return create_model(name, **fields)  # type: ignore[no-any-return]
