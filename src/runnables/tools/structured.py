"""``StructuredTool`` (any number of arguments) and ``Tool`` (one string argument)."""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, PlainSerializer, SkipValidation

from runnables.errors import InvalidArgumentError, UnsupportedError
from runnables.tools.base import (
    ArgsSchema,
    BaseTool,
    ToolInputError,
    _injected_keys,
    create_schema_from_function,
)

__all__ = ["StructuredTool", "Tool"]


def _as_str(value: Any) -> str:
    return str(value)


@functools.lru_cache(maxsize=256)
def _json_schema_of(schema: type[BaseModel], _validator: object) -> Any:
    # Keyed on the class's validator too, which model_rebuild() replaces: a rebuilt
    # schema (or one whose forward references resolved since) is asked again.
    try:
        return schema.model_json_schema()
    except Exception:  # a field of an arbitrary type has no JSON schema
        return str(schema)


def _args_schema_as_json(schema: ArgsSchema) -> Any:
    """A schema class dumped to JSON: its JSON schema (a dict schema is one already)."""
    if isinstance(schema, dict):
        return schema
    return _json_schema_of(schema, getattr(schema, "__pydantic_validator__", None))


# Serializers attached with Annotated, not @field_serializer, so a subclass may still
# declare its own serializer for these fields.
_SchemaAsJson = PlainSerializer(_args_schema_as_json, when_used="json-unless-none")
_CallableAsStr = PlainSerializer(_as_str, when_used="json-unless-none")


class _FunctionTool(BaseTool):
    """A tool whose work is a function (``func``) and/or a coroutine function."""

    func: Callable[..., Any] | None = None
    """The sync function that does the work."""
    coroutine: Callable[..., Awaitable[Any]] | None = None
    """The async function that does the work (used by ``ainvoke`` when set)."""

    def _has_async(self) -> bool:
        return self.coroutine is not None

    def _has_sync(self) -> bool:
        return self.func is not None

    def _sync_impl(self) -> Callable[..., Any]:
        if self.func is None:
            raise UnsupportedError(
                f"Tool {self.name!r} has only an async function (coroutine); call it with "
                "'ainvoke', or give it a sync 'func' too."
            )
        return self.func

    def _async_impl(self) -> Callable[..., Any]:
        assert self.coroutine is not None
        return self.coroutine

    def _find_injected_args_keys(self) -> frozenset[str]:
        return _injected_keys(self.func or self.coroutine)

    def get_input_schema(self, config: Any = None) -> type[BaseModel]:
        """The arguments' pydantic model (``args_schema``, or inferred from the function)."""
        if self.args_schema is None:
            fn = self.func or self.coroutine
            if fn is not None:
                return create_schema_from_function(self.name, fn)
        return super().get_input_schema(config)


class StructuredTool(_FunctionTool):
    """A tool made from a function of any number of arguments.

    >>> def multiply(a: int, b: int) -> int:
    ...     '''Multiply two integers.'''
    ...     return a * b
    >>> StructuredTool.from_function(multiply).invoke({"a": 3, "b": 4})
    12
    """

    description: str = ""
    # ``model_dump(mode="json")``: the schema class as its JSON schema, the functions
    # as their repr (python-mode dumps keep the objects).
    args_schema: Annotated[ArgsSchema | None, SkipValidation(), _SchemaAsJson] = None
    func: Annotated[Callable[..., Any] | None, _CallableAsStr] = None
    coroutine: Annotated[Callable[..., Awaitable[Any]] | None, _CallableAsStr] = None

    @classmethod
    def from_function(
        cls,
        func: Callable[..., Any] | None = None,
        coroutine: Callable[..., Awaitable[Any]] | None = None,
        name: str | None = None,
        description: str | None = None,
        return_direct: bool = False,
        args_schema: ArgsSchema | None = None,
        infer_schema: bool = True,
        *,
        response_format: Literal["content", "content_and_artifact"] = "content",
        parse_docstring: bool = False,
        error_on_invalid_docstring: bool = False,
        **fields: Any,
    ) -> StructuredTool:
        """A tool from ``func`` (sync) and/or ``coroutine`` (async).

        The name defaults to the function's, the description to its docstring, and the
        arguments schema is inferred from its signature unless ``args_schema`` is given.
        ``fields`` are further tool fields (``tags``, ``handle_tool_error``...).
        """
        source = func if func is not None else coroutine
        if source is None:
            raise InvalidArgumentError(
                "StructuredTool.from_function needs a function: pass func (sync) and/or "
                "coroutine (async)."
            )
        name = name or source.__name__
        if args_schema is None and infer_schema:
            args_schema = create_schema_from_function(
                name,
                source,
                parse_docstring=parse_docstring,
                error_on_invalid_docstring=error_on_invalid_docstring,
            )
        text = description
        if text is None and not parse_docstring:
            text = source.__doc__ or None
        if text is None and args_schema is not None:
            if isinstance(args_schema, dict):
                text = args_schema.get("description")
            else:
                doc = args_schema.__doc__
                text = "" if doc and "A base class for creating Pydantic models" in doc else doc
        if text is None:
            raise InvalidArgumentError(
                "Function must have a docstring if description not provided: the tool "
                f"{name!r} has neither. Give the function a docstring or pass "
                "description=... (the model reads it to decide when to call the tool)."
            )
        if description is None:
            text = textwrap.dedent(text).strip()
        return cls(
            name=name,
            func=func,
            coroutine=coroutine,
            args_schema=args_schema,
            description=text.strip(),
            return_direct=return_direct,
            response_format=response_format,
            **fields,
        )


class Tool(_FunctionTool):
    """A tool made from a function of one string argument.

    >>> Tool("shout", str.upper, "Shout the text.").invoke("hi")
    'HI'
    """

    description: str = ""

    def __init__(
        self,
        name: str,
        func: Callable[..., Any] | None,
        description: str,
        **fields: Any,
    ) -> None:
        super().__init__(name=name, func=func, description=description, **fields)

    @property
    def args(self) -> dict[str, Any]:
        """One string argument unless an ``args_schema`` says otherwise."""
        if self.args_schema is not None:
            return super().args
        return {"tool_input": {"type": "string"}}

    def get_input_schema(self, config: Any = None) -> type[BaseModel]:
        """One string argument unless an ``args_schema`` says otherwise."""
        if self.args_schema is None:
            from pydantic import create_model

            model: type[BaseModel] = create_model(self.name, tool_input=(str, ...))
            return model
        return super().get_input_schema(config)

    def _to_args_and_kwargs(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args, kwargs = super()._to_args_and_kwargs(tool_input, tool_call_id)
        values = [*args, *kwargs.values()]
        if len(values) != 1:
            raise ToolInputError(
                f"Too many arguments to single-input tool {self.name}. Consider using "
                f"StructuredTool instead. Args: {values}"
            )
        return (values[0],), {}

    @classmethod
    def from_function(
        cls,
        func: Callable[..., Any] | None,
        name: str,
        description: str,
        return_direct: bool = False,
        args_schema: ArgsSchema | None = None,
        coroutine: Callable[..., Awaitable[Any]] | None = None,
        **fields: Any,
    ) -> Tool:
        """A single-input tool from ``func`` and/or ``coroutine``."""
        if func is None and coroutine is None:
            raise InvalidArgumentError(
                f"Tool.from_function for {name!r} needs a function: pass func (sync) and/or "
                "coroutine (async)."
            )
        return cls(
            name=name,
            func=func,
            coroutine=coroutine,
            description=description,
            return_direct=return_direct,
            args_schema=args_schema,
            **fields,
        )
