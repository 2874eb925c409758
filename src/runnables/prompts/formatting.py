"""Template formats: f-string (the default), mustache, and jinja2 (rendered in a sandbox).

Also the errors a template raises: a bad template is a developer mistake
(:class:`InvalidPromptTemplateError`); a missing variable in the input is
:class:`PromptInputError`, whose message names the variable, lists the variables the
template expects and points out a close misspelling.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from string import Formatter
from typing import Any, Literal

from runnables.errors import InputKeyError, InvalidArgumentError, MissingExtraError

__all__ = [
    "InvalidPromptTemplateError",
    "check_valid_template",
    "PromptInputError",
    "PromptInputTypeError",
    "PromptTemplateFormat",
    "format_template",
    "get_template_variables",
    "missing_variables_error",
    "StrictFormatter",
    "formatter",
]


class StrictFormatter(Formatter):
    """``str.format`` with keyword arguments only (langchain-core's ``StrictFormatter``).

    >>> formatter.format("Hello, {name}!", name="World")
    'Hello, World!'
    """

    def vformat(self, format_string: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
        if args:
            raise InvalidArgumentError(
                f"StrictFormatter got positional arguments {tuple(args)!r}; pass every "
                "value as a keyword argument (formatter.format(template, name=value))."
            )
        return super().vformat(format_string, args, kwargs)

    def validate_input_variables(self, format_string: str, input_variables: list[str]) -> None:
        """Raise ``KeyError`` if ``format_string`` uses a name not in ``input_variables``."""
        super().format(format_string, **dict.fromkeys(input_variables, "foo"))


#: langchain-core's shared :class:`StrictFormatter` (``langchain_core.utils.formatting``).
formatter = StrictFormatter()

PromptTemplateFormat = Literal["f-string", "mustache", "jinja2"]
_FORMATS = ("f-string", "mustache", "jinja2")


class InvalidPromptTemplateError(InvalidArgumentError):
    """A template cannot be used: bad syntax, an unsafe field, or an unknown format."""


class PromptInputError(InputKeyError):
    """The input of a prompt template lacks a variable the template needs (or is no dict).

    It is a ``KeyError``, as langchain-core raises. ``missing`` names the variables that
    were not given and ``expected`` lists the variables the template takes.
    """

    def __init__(
        self, message: str, missing: Iterable[str] = (), expected: Iterable[str] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.missing = sorted(missing)
        self.expected = list(expected)

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return self.message


class PromptInputTypeError(PromptInputError, TypeError):
    """The input of a prompt with several variables is not a dict: also a ``TypeError``,
    as langchain-core raises for it."""


def check_format(template_format: str) -> None:
    """Raise a clear error for a template format this library does not support."""
    if template_format not in _FORMATS:
        raise InvalidPromptTemplateError(
            f"Unsupported template format: {template_format}. Use one of {list(_FORMATS)}."
        )


# ---------------------------------------------------------------------- f-string


@functools.lru_cache(maxsize=1024)
def f_string_variables(template: str) -> tuple[str, ...]:
    """The variables of an f-string template, sorted; rejects unsafe or positional fields.

    Attribute access and indexing (``{user.name}``, ``{items[0]}``) are refused: a
    template from an untrusted place could otherwise reach into the values' internals.
    """
    names: set[str] = set()
    try:
        fields = list(Formatter().parse(template))
    except ValueError as exc:
        raise InvalidPromptTemplateError(
            f"The f-string template {_short(template)!r} is not valid: {exc}. Write a literal "
            "brace as '{{' or '}}'."
        ) from None
    for _, field, spec, _ in fields:
        if field is None:
            continue
        if field == "" or field.isdigit():
            # Also says langchain-core's words ("Invalid variable name ... positional
            # arguments"), which users' code and tests match.
            raise InvalidPromptTemplateError(
                f"Invalid variable name {field!r} in f-string template "
                f"{_short(template)!r}: the field {'{' + field + '}'!r} is positional, and "
                "variable names cannot be empty or all digits as they are interpreted as "
                "positional arguments. Name it, like '{question}', and pass it by name."
            )
        if "." in field or "[" in field or "]" in field:
            raise InvalidPromptTemplateError(
                f"Invalid variable name {field!r} in f-string template "
                f"{_short(template)!r}: variable names cannot contain attribute access (.) "
                "or indexing ([]). Pass the value itself as its own variable."
            )
        if spec and ("{" in spec or "}" in spec):
            raise InvalidPromptTemplateError(
                f"Nested replacement fields are not allowed: the f-string template "
                f"{_short(template)!r} nests a field in the format spec of {field!r}."
            )
        names.add(field)
    return tuple(sorted(names))


# ---------------------------------------------------------------------- jinja2


@functools.lru_cache(maxsize=1)
def _jinja_env() -> Any:
    try:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        raise MissingExtraError("jinja2 prompt templates", "jinja2", "jinja2") from None
    # The sandbox blocks access to internals (__class__, __globals__...) from a template,
    # and the immutable one also blocks changing the values passed in ({{ items.append(1)
    # }}). StrictUndefined makes a missing variable an error instead of empty text.
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined)


def jinja2_undefined_name(exc: BaseException) -> str | None:
    """The variable a jinja2 ``UndefinedError`` is about, if it is a missing variable."""
    if type(exc).__name__ != "UndefinedError":
        return None
    match = re.fullmatch(r"'([^']+)' is undefined", str(exc))
    return match.group(1) if match else None


@functools.lru_cache(maxsize=1024)
def _jinja_template(template: str) -> Any:
    try:
        return _jinja_env().from_string(template)
    except Exception as exc:  # jinja2.TemplateSyntaxError, without importing jinja2 here
        raise InvalidPromptTemplateError(
            f"The jinja2 template {_short(template)!r} is not valid: {exc}."
        ) from None


@functools.lru_cache(maxsize=1024)
def jinja2_variables(template: str) -> tuple[str, ...]:
    """The undeclared variables of a jinja2 template, sorted."""
    from jinja2 import meta

    env = _jinja_env()
    try:
        ast = env.parse(template)
    except Exception as exc:
        raise InvalidPromptTemplateError(
            f"The jinja2 template {_short(template)!r} is not valid: {exc}."
        ) from None
    return tuple(sorted(meta.find_undeclared_variables(ast)))


# ---------------------------------------------------------------------- both


def get_template_variables(template: str, template_format: str) -> list[str]:
    """The variables a template uses, sorted (langchain-core's function)."""
    check_format(template_format)
    if template_format == "jinja2":
        return list(jinja2_variables(template))
    if template_format == "mustache":
        return sorted(_mustache_variables(template))
    return list(f_string_variables(template))


def _mustache_variables(template: str) -> set[str]:
    from runnables.prompts.mustache import MustacheSyntaxError, mustache_template_vars

    try:
        return mustache_template_vars(template)
    except MustacheSyntaxError as exc:
        raise InvalidPromptTemplateError(str(exc)) from None


def check_valid_template(template: str, template_format: str, input_variables: list[str]) -> None:
    """Check declared variables against a template, with langchain-core's rules.

    f-string: a variable the template uses but ``input_variables`` lacks is an
    :class:`InvalidPromptTemplateError` (a ``ValueError``); extra declared names are
    fine. jinja2: missing or extra names give a ``UserWarning``. mustache: no check.
    """
    check_format(template_format)
    if template_format == "f-string" and any(
        field == "" or field.isdigit()
        for _, field, _, _ in _parse_or_empty(template)
        if field is not None
    ):
        # langchain-core finds a positional field here when it formats the template
        # with the declared names only, and reports the schema as mismatched.
        raise InvalidPromptTemplateError(
            "Invalid prompt schema; check for mismatched or missing input parameters "
            f"from {input_variables}: the template {_short(template)!r} has a positional "
            "field ('{}' or '{0}'), which no variable can fill. Name every field, like "
            "'{question}'."
        )
    used = set(get_template_variables(template, template_format))
    declared = set(input_variables)
    if template_format == "f-string":
        if used - declared:
            raise InvalidPromptTemplateError(
                "Invalid prompt schema; check for mismatched or missing input parameters "
                f"from {input_variables}. The template also uses {sorted(used - declared)}; "
                "declare them, or leave input_variables out to infer them."
            )
    elif template_format == "jinja2":
        import warnings

        message = ""
        if used - declared:
            message += f"Missing variables: {used - declared} "
        if declared - used:
            message += f"Extra variables: {declared - used}"
        if message:
            warnings.warn(message.strip(), UserWarning, stacklevel=3)


def _parse_or_empty(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    try:
        return list(Formatter().parse(template))
    except ValueError:
        return []  # reported by get_template_variables, with the template


def format_template(template: str, template_format: str, values: Mapping[str, Any]) -> str:
    """Render a template with ``values`` (a missing f-string variable raises ``KeyError``)."""
    if template_format == "f-string":
        return template.format_map(values)
    if template_format == "mustache":
        from runnables.prompts.mustache import mustache_render

        return mustache_render(template, values)
    return str(_jinja_template(template).render(**values))


def formatter_for(template: str, template_format: str) -> Callable[[Mapping[str, Any]], str]:
    """A function that renders ``template``: the work of parsing it is done once, here."""
    if template_format == "f-string":
        return template.format_map
    if template_format == "mustache":
        from runnables.prompts.mustache import mustache_render

        return functools.partial(mustache_render, template)
    compiled = _jinja_template(template)
    return lambda values: str(compiled.render(**values))


def missing_variables_error(
    owner: str, missing: Iterable[str], expected: Iterable[str], received: Iterable[str]
) -> PromptInputError:
    """The error for variables missing from a prompt's input, with spelling suggestions."""
    missing = sorted(missing)
    expected = list(expected)
    received = list(received)
    names = ", ".join(repr(m) for m in missing)
    plural = "s" if len(missing) > 1 else ""
    # The set in parentheses is langchain-core's wording ("missing variables {'x'}"),
    # which users' code matches.
    msg = (
        f"{owner} is missing the variable{plural} {names} (missing variables "
        f"{set(missing)!r}). It expects "
        f"{_listing(expected)}; the input has {_listing(received)}."
    )
    unused = [r for r in received if r not in expected]
    for name in missing:
        close = difflib.get_close_matches(name, unused, n=1, cutoff=0.6)
        if close:
            msg += f" The input has {close[0]!r}: did you mean {name!r}?"
    odd = [m for m in missing if not m.isidentifier()]
    if odd:
        msg += (
            f" If {'{' + odd[0] + '}'} is meant as literal text (JSON, code), escape its braces "
            f"as '{{{{{odd[0]}}}}}'."
        )
    elif missing:
        msg += (
            " Pass every expected variable in the input dict, or fix it with .partial(); if "
            f"{'{' + missing[0] + '}'} is meant as literal text, escape it with double curly "
            f"braces like: '{{{{{missing[0]}}}}}'."
        )
    return PromptInputError(msg, missing, expected)


def _listing(names: list[str]) -> str:
    if not names:
        return "no variables"
    return ", ".join(repr(n) for n in names)


def _short(template: str) -> str:
    return template if len(template) <= 80 else template[:77] + "..."
