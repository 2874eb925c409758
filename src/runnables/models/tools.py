"""Turning Python functions, pydantic models and JSON schemas into tool definitions.

The output is OpenAI's tool format, which most providers accept or translate::

    {"type": "function",
     "function": {"name": ..., "description": ..., "parameters": {JSON schema}}}
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from runnables.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["convert_to_json_schema", "convert_to_openai_tool", "tool_name"]

ToolLike = Mapping[str, Any] | type | Callable[..., Any]


def _is_pydantic_model(obj: Any) -> bool:
    try:
        from pydantic import BaseModel
    except ImportError:  # pragma: no cover - pydantic is a dependency
        return False
    return isinstance(obj, type) and issubclass(obj, BaseModel)


def _strip_titles(schema: Any) -> Any:
    # pydantic adds a "title" to every property; providers do not need them and they
    # cost prompt tokens. Titles of nested models under "$defs" are harmless and kept.
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                out[key] = {
                    name: _strip_titles({k: v for k, v in prop.items() if k != "title"})
                    if isinstance(prop, dict)
                    else prop
                    for name, prop in value.items()
                }
            else:
                out[key] = _strip_titles(value)
        return out
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def _doc_parts(doc: str | None) -> tuple[str, dict[str, str]]:
    """The description (first paragraph) and argument descriptions of a docstring.

    Understands Google style (``Args:`` then ``name: text``) and reST (``:param name:``).
    """
    if not doc:
        return "", {}
    doc = inspect.cleandoc(doc)
    args: dict[str, str] = {}
    for match in re.finditer(r":param\s+(\w+):\s*(.+)", doc):
        args[match.group(1)] = match.group(2).strip()
    lines = doc.splitlines()
    in_args = False
    current = None
    for line in lines:
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
            continue
        if in_args:
            if not stripped:
                current = None
                continue
            if not line.startswith((" ", "\t")):
                in_args = False
                continue
            m = re.match(r"(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)", stripped)
            if m and (len(line) - len(line.lstrip())) <= 4:
                current = m.group(1).lstrip("*")
                args[current] = m.group(2).strip()
            elif current is not None:
                args[current] = f"{args[current]} {stripped}".strip()
    description = doc.split("\n\n")[0]
    if re.match(r"(Args|Arguments|Parameters|Returns|Raises):", description):
        description = ""
    description = " ".join(
        line.strip() for line in description.splitlines() if not line.strip().startswith(":")
    )
    return description, args


def _is_injected_annotation(annotation: Any) -> bool:
    """``Annotated[T, InjectedToolArg]`` (or a subclass or instance of it)."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return False
    from runnables.tools.base import InjectedToolArg

    return any(
        (isinstance(m, type) and issubclass(m, InjectedToolArg)) or isinstance(m, InjectedToolArg)
        for m in typing.get_args(annotation)[1:]
    )


def _function_schema(func: Callable[..., Any]) -> tuple[str, str, dict[str, Any]]:
    from pydantic import Field, create_model

    name = getattr(func, "__name__", None) or type(func).__name__
    description, arg_docs = _doc_parts(inspect.getdoc(func))
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:
        hints = {}
    fields: dict[str, Any] = {}
    for pname, param in inspect.signature(func).parameters.items():
        if pname in ("self", "cls", "config", "run_manager", "callbacks"):
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(pname, Any)
        if _is_injected_annotation(annotation):
            continue  # supplied by the application at run time, not by the model
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (annotation, Field(default, description=arg_docs.get(pname)))
    model = create_model(name, **fields)
    schema = _strip_titles(model.model_json_schema())
    schema.pop("title", None)
    return name, description, schema


_MAX_TYPED_DICT_DEPTH = 25


def is_typeddict(obj: Any) -> bool:
    """Whether ``obj`` is a TypedDict class (from ``typing`` or ``typing_extensions``)."""
    import typing_extensions

    return isinstance(obj, type) and typing_extensions.is_typeddict(obj)


def _typed_dict_to_model(tp: Any, visited: dict[Any, Any], depth: int = 0) -> Any:
    """``tp`` with every TypedDict in it turned into a pydantic model, as langchain-core does.

    The TypedDict's docstring gives the description and its ``Args:`` section the field
    descriptions. A field ``Annotated[T, default, "description"]`` has that default (``...``
    for none) and description; ``Annotated[T, ..., "text"]`` is required. Other fields are
    required unless the TypedDict marks them not required (``total=False``,
    ``NotRequired``), which langchain-core ignores.
    """
    if tp in visited:
        return visited[tp]
    if depth >= _MAX_TYPED_DICT_DEPTH:
        return tp
    if is_typeddict(tp):
        from pydantic import Field, create_model

        # Its own docstring only: inspect.getdoc would inherit dict's.
        description, arg_docs = _doc_parts(tp.__dict__.get("__doc__"))
        try:
            hints = typing.get_type_hints(tp, include_extras=True)
        except Exception:
            hints = dict(getattr(tp, "__annotations__", {}))
        optional_keys: frozenset[str] = getattr(tp, "__optional_keys__", frozenset())
        fields: dict[str, Any] = {}
        for key, hint in hints.items():
            # NotRequired is also read from the hint: with string annotations (from
            # __future__ import annotations) Python < 3.12 misses it in __optional_keys__.
            bare, required = _strip_required(hint)
            optional = key in optional_keys if required is None else not required
            hint = bare
            default: Any = None if optional else ...
            field_doc = arg_docs.get(key)
            if typing.get_origin(hint) is typing.Annotated:
                inner, *extra = typing.get_args(hint)
                hint = _typed_dict_to_model(inner, visited, depth + 1)
                if extra:
                    default = extra[0]
                if len(extra) > 1:
                    if not isinstance(extra[1], str):
                        raise InvalidArgumentError(
                            f"The field {key!r} of {tp.__name__} is annotated with "
                            f"{extra[1]!r} as its description; the third argument of "
                            "Annotated must be a string description."
                        )
                    field_doc = field_doc or extra[1]
            else:
                hint = _typed_dict_to_model(hint, visited, depth + 1)
            fields[key] = (hint, Field(default, description=field_doc))
        model = create_model(tp.__name__, **fields)
        model.__doc__ = description or None
        visited[tp] = model
        return model
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is not None and args and origin is not typing.Annotated:
        new_args = tuple(_typed_dict_to_model(a, visited, depth + 1) for a in args)
        if new_args != args:
            try:
                return tp.copy_with(new_args)
            except AttributeError:
                return origin[new_args]
    return tp


def _strip_required(hint: Any) -> tuple[Any, bool | None]:
    """``hint`` without ``Required``/``NotRequired``, and which one it had (None: neither)."""
    import typing_extensions

    required: bool | None = None
    while True:
        origin = typing.get_origin(hint)
        if origin in (typing.Required, typing_extensions.Required):
            required = True
        elif origin in (typing.NotRequired, typing_extensions.NotRequired):
            required = False
        else:
            return hint, required
        hint = typing.get_args(hint)[0]


def convert_to_openai_tool(tool: Any, *, strict: bool | None = None) -> dict[str, Any]:
    """A tool definition in OpenAI's format from a function, pydantic model or schema.

    Accepts: a typed Python function (its docstring gives the description and the
    ``Args:`` section the parameter descriptions), a pydantic model class (its docstring
    is the description), a JSON schema dict with a ``title``, a dict with ``name`` and
    ``parameters``, a dict already in OpenAI's format, a TypedDict class (read as
    langchain-core reads it: docstring, ``Args:``, ``Annotated[type, default,
    "description"]`` fields), or an object with ``name``, ``description`` and
    ``args_schema`` (a tool object).

    >>> def add(a: int, b: int) -> int:
    ...     '''Add two numbers.'''
    ...     return a + b
    >>> convert_to_openai_tool(add)["function"]["name"]
    'add'
    """
    if isinstance(tool, Mapping):
        if tool.get("type") == "function" and "function" in tool:
            out = dict(tool)
        elif "name" in tool and ("parameters" in tool or "description" in tool):
            fn = {k: tool[k] for k in ("name", "description", "parameters") if k in tool}
            fn.setdefault("parameters", {"type": "object", "properties": {}})
            out = {"type": "function", "function": fn}
        elif "title" in tool:
            params = {k: v for k, v in tool.items() if k not in ("title", "description")}
            fn = {"name": tool["title"], "parameters": params}
            if tool.get("description"):
                fn["description"] = tool["description"]
            out = {"type": "function", "function": fn}
        else:
            raise InvalidArgumentError(
                f"Cannot make a tool from the dict {dict(tool)!r}: a JSON schema needs a "
                "'title' (the tool's name), or pass {'name': ..., 'description': ..., "
                "'parameters': {...}}."
            )
    elif _is_pydantic_model(tool) or is_typeddict(tool):
        if not _is_pydantic_model(tool):
            tool = _typed_dict_to_model(tool, {})
        schema = _strip_titles(tool.model_json_schema())
        name = schema.pop("title", tool.__name__)
        description = schema.pop("description", None)
        if description is None:
            description, _ = _doc_parts(tool.__doc__)
        fn = {"name": name, "parameters": schema}
        if description:
            fn["description"] = description
        out = {"type": "function", "function": fn}
    elif hasattr(tool, "args_schema") and hasattr(tool, "name"):
        args_schema = tool.args_schema
        one_string = False
        if hasattr(tool, "tool_call_schema"):
            # A BaseTool: the model sees its arguments without injected ones; a
            # single-input Tool without a schema takes one string, named as
            # langchain-core names it.
            from runnables.tools import Tool

            if args_schema is None and isinstance(tool, Tool):
                one_string = True
                args_schema = {
                    "properties": {"__arg1": {"title": "__arg1", "type": "string"}},
                    "required": ["__arg1"],
                    "type": "object",
                }
            else:
                args_schema = tool.tool_call_schema
        if _is_pydantic_model(args_schema):
            params = _strip_titles(args_schema.model_json_schema())
            params.pop("title", None)
            params.pop("description", None)
        elif one_string:
            params = dict(args_schema)
        else:
            params = _strip_titles(dict(args_schema or {"type": "object", "properties": {}}))
            # The schema's own title and description are the function's name and
            # description, not parameters (a property *named* "title" stays).
            params.pop("title", None)
            params.pop("description", None)
        fn = {"name": tool.name, "description": getattr(tool, "description", "") or ""}
        fn["parameters"] = params
        out = {"type": "function", "function": fn}
    elif callable(tool) and not isinstance(tool, type):
        name, description, params = _function_schema(tool)
        fn = {"name": name, "parameters": params}
        if description:
            fn["description"] = description
        out = {"type": "function", "function": fn}
    else:
        raise ArgumentTypeError(
            f"Cannot make a tool from {tool!r} (a {type(tool).__name__}). Pass a typed "
            "Python function with a docstring, a pydantic model class, or a JSON schema "
            "dict with a 'title'."
        )
    if strict is not None:
        out["function"] = {**out["function"], "strict": strict}
    return out


def tool_name(tool: Any) -> str:
    """The name a tool definition (or anything convertible to one) goes by."""
    return str(convert_to_openai_tool(tool)["function"]["name"])


def convert_to_json_schema(schema: Any) -> dict[str, Any]:
    """A JSON schema (with ``title`` and ``description``) for a tool-like value."""
    fn = convert_to_openai_tool(schema)["function"]
    out: dict[str, Any] = {"title": fn["name"]}
    if fn.get("description"):
        out["description"] = fn["description"]
    out.update(fn.get("parameters", {}))
    return out
