"""The ``@tool`` decorator: a tool from a function or a runnable."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal, overload

from runnables.core.base import Runnable
from runnables.errors import ArgumentTypeError, InvalidArgumentError
from runnables.tools.base import ArgsSchema, BaseTool
from runnables.tools.structured import StructuredTool, Tool

__all__ = ["convert_runnable_to_tool", "convert_to_openai_function", "tool"]


def convert_to_openai_function(function: Any, *, strict: bool | None = None) -> dict[str, Any]:
    """The ``function`` part of :func:`convert_to_openai_tool`: name, description,
    parameters (langchain-core's older format, still used by some providers)."""
    from runnables.models.tools import convert_to_openai_tool

    return dict(convert_to_openai_tool(function, strict=strict)["function"])


@overload
def tool(
    name_or_callable: str,
    runnable: Runnable[Any, Any],
    *,
    description: str | None = ...,
    return_direct: bool = ...,
    args_schema: ArgsSchema | None = ...,
    infer_schema: bool = ...,
    response_format: Literal["content", "content_and_artifact"] = ...,
    parse_docstring: bool = ...,
    error_on_invalid_docstring: bool = ...,
    extras: dict[str, Any] | None = ...,
) -> BaseTool: ...


@overload
def tool(
    name_or_callable: Callable[..., Any],
    *,
    description: str | None = ...,
    return_direct: bool = ...,
    args_schema: ArgsSchema | None = ...,
    infer_schema: bool = ...,
    response_format: Literal["content", "content_and_artifact"] = ...,
    parse_docstring: bool = ...,
    error_on_invalid_docstring: bool = ...,
    extras: dict[str, Any] | None = ...,
) -> BaseTool: ...


@overload
def tool(
    name_or_callable: str | None = None,
    *,
    description: str | None = ...,
    return_direct: bool = ...,
    args_schema: ArgsSchema | None = ...,
    infer_schema: bool = ...,
    response_format: Literal["content", "content_and_artifact"] = ...,
    parse_docstring: bool = ...,
    error_on_invalid_docstring: bool = ...,
    extras: dict[str, Any] | None = ...,
) -> Callable[[Callable[..., Any] | Runnable[Any, Any]], BaseTool]: ...


def tool(
    name_or_callable: str | Callable[..., Any] | None = None,
    runnable: Runnable[Any, Any] | None = None,
    *,
    description: str | None = None,
    return_direct: bool = False,
    args_schema: ArgsSchema | None = None,
    infer_schema: bool = True,
    response_format: Literal["content", "content_and_artifact"] = "content",
    parse_docstring: bool = False,
    error_on_invalid_docstring: bool = True,
    extras: dict[str, Any] | None = None,
) -> BaseTool | Callable[[Callable[..., Any] | Runnable[Any, Any]], BaseTool]:
    """Make a tool from a function (sync or async) or a runnable, as langchain-core's.

    >>> @tool
    ... def add(a: int, b: int) -> int:
    ...     '''Add two integers.'''
    ...     return a + b
    >>> add.invoke({"a": 1, "b": 2})
    3

    Forms: ``@tool``, ``@tool("name")``, ``@tool(parse_docstring=True)``, and
    ``tool("name", runnable)`` (the runnable's input must be a dict with a schema).
    The function's docstring is the description; its typed parameters are the schema.
    """

    def factory(name: str) -> Callable[[Callable[..., Any] | Runnable[Any, Any]], BaseTool]:
        def make(target: Callable[..., Any] | Runnable[Any, Any]) -> BaseTool:
            text = description
            schema = args_schema
            func: Callable[..., Any] | None
            coroutine: Callable[..., Any] | None
            if isinstance(target, Runnable):
                wrapped = target
                if _input_json_schema(wrapped).get("type") != "object":
                    raise InvalidArgumentError(
                        f"tool({name!r}, ...) needs a runnable whose input is a dict with "
                        f"typed keys, but {wrapped!r} takes "
                        f"{wrapped.get_input_jsonschema()!r}. Declare its input with "
                        "with_types(input_type=SomeTypedDict)."
                    )

                async def ainvoke_wrapper(callbacks: Any = None, **kwargs: Any) -> Any:
                    return await wrapped.ainvoke(kwargs)

                def invoke_wrapper(callbacks: Any = None, **kwargs: Any) -> Any:
                    return wrapped.invoke(kwargs)

                func, coroutine = invoke_wrapper, ainvoke_wrapper
                schema = _runnable_args_schema(wrapped, name, None)
                text = description or repr(wrapped)
            elif inspect.iscoroutinefunction(target):
                func, coroutine = None, target
            else:
                func, coroutine = target, None
            if infer_schema or schema is not None:
                return StructuredTool.from_function(
                    func,
                    coroutine,
                    name=name,
                    description=text,
                    return_direct=return_direct,
                    args_schema=schema,
                    infer_schema=infer_schema,
                    response_format=response_format,
                    parse_docstring=parse_docstring,
                    error_on_invalid_docstring=error_on_invalid_docstring,
                    extras=extras,
                )
            text = text or target.__doc__
            if text is None:
                raise InvalidArgumentError(
                    f"Function must have either a docstring or description: tool {name!r} "
                    "(infer_schema=False) has neither. Give the function a docstring or "
                    "pass description=..."
                )
            return Tool(
                name=name,
                func=func,
                description=text,
                return_direct=return_direct,
                coroutine=coroutine,
                response_format=response_format,
                extras=extras,
            )

        return make

    if runnable is not None:
        if not isinstance(name_or_callable, str) or not name_or_callable:
            raise InvalidArgumentError(
                f"tool(name, runnable) needs a name string first, got {name_or_callable!r}."
            )
        return factory(name_or_callable)(runnable)
    if isinstance(name_or_callable, str):
        return factory(name_or_callable)
    if name_or_callable is not None:
        if isinstance(name_or_callable, Runnable):
            return factory(name_or_callable.get_name())(name_or_callable)
        if callable(name_or_callable) and hasattr(name_or_callable, "__name__"):
            return factory(name_or_callable.__name__)(name_or_callable)
        raise InvalidArgumentError(
            "The first argument of tool must be a name string or a function with a "
            f"__name__, got {name_or_callable!r} (a {type(name_or_callable).__name__})."
        )

    def partial(target: Callable[..., Any] | Runnable[Any, Any]) -> BaseTool:
        name = target.get_name() if isinstance(target, Runnable) else target.__name__
        return factory(name)(target)

    return partial


def convert_runnable_to_tool(
    runnable: Runnable[Any, Any],
    args_schema: type[Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    arg_types: dict[str, type] | None = None,
) -> BaseTool:
    """A tool that runs ``runnable`` (``Runnable.as_tool``)."""

    if args_schema is not None:
        runnable = runnable.with_types(input_type=args_schema)
    json_schema = _input_json_schema(runnable)
    description = description or f"Takes {json_schema}."
    name = name or runnable.get_name()
    if json_schema.get("type") == "string":
        return Tool(
            name=name, func=runnable.invoke, coroutine=runnable.ainvoke, description=description
        )
    target = runnable

    async def ainvoke_wrapper(callbacks: Any = None, **kwargs: Any) -> Any:
        return await target.ainvoke(kwargs)

    def invoke_wrapper(callbacks: Any = None, **kwargs: Any) -> Any:
        return target.invoke(kwargs)

    schema = _runnable_args_schema(runnable, name, arg_types)
    return StructuredTool.from_function(
        name=name,
        func=invoke_wrapper,
        coroutine=ainvoke_wrapper,
        description=description,
        args_schema=schema,
    )


def _input_json_schema(runnable: Runnable[Any, Any]) -> dict[str, Any]:
    """The runnable's input JSON schema, with a top-level ``$ref`` resolved."""
    schema = runnable.get_input_jsonschema()
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = schema.get("$defs", {}).get(ref.removeprefix("#/$defs/"))
        if isinstance(target, dict):
            return target
    return schema


def _runnable_args_schema(
    runnable: Runnable[Any, Any], name: str, arg_types: dict[str, type] | None
) -> type[Any]:
    """A pydantic model of the keys of a runnable's dict input, for a tool's arguments."""
    import typing

    from pydantic import BaseModel, Field, RootModel, create_model

    if arg_types is None:
        schema = runnable.get_input_schema()
        if not issubclass(schema, RootModel) and schema.model_fields:
            return schema
        input_type = runnable.InputType
        if isinstance(input_type, type) and issubclass(input_type, BaseModel):
            return input_type
        try:
            arg_types = typing.get_type_hints(input_type)
        except TypeError:
            raise ArgumentTypeError(
                f"Cannot make a tool from {runnable!r}: its input must be a string or a "
                "dict with typed keys. Annotate its input with a TypedDict "
                "(with_types(input_type=...)), or pass arg_types={'key': type}."
            ) from None
    fields = {key: (tp, Field(...)) for key, tp in arg_types.items()}
    model: type[Any] = create_model(name, **fields)  # type: ignore[call-overload]
    return model
