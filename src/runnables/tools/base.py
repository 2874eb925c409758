"""``BaseTool``: a function a chat model can call, with a schema for its arguments.

A tool is a runnable. Its input is a dict of arguments, a string (single-input tools),
or a :class:`~runnables.messages.ToolCall` taken from ``AIMessage.tool_calls``; given a
tool call it returns a :class:`~runnables.messages.ToolMessage` answering that call, so
``[tool.invoke(tc) for tc in ai_msg.tool_calls]`` is the next turn of the conversation.

Subclass it as in langchain-core: declare ``name``, ``description`` and optionally
``args_schema`` (a pydantic model or a JSON schema dict), and implement ``_run`` (sync)
and/or ``_arun`` (async). The async path is the real one: ``ainvoke`` awaits ``_arun``
when the tool has one and otherwise runs ``_run`` on a worker thread (a tool usually
blocks on I/O); sync ``invoke`` of a sync-only tool calls ``_run`` inline, no event loop.
"""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Callable, Sequence
from typing import Annotated, Any, ClassVar, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SkipValidation,
    ValidationError,
    create_model,
)

from runnables.callbacks.runs import TOOL_START_KWARGS
from runnables.core.config import CURRENT, Context, RunnableConfig
from runnables.core.leaf import run_leaf
from runnables.core.notes import note_step
from runnables.core.serializable import RunnableSerializable
from runnables.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    InvalidInputError,
    RunnablesError,
    UnsupportedError,
)
from runnables.messages.base import ToolCall, ToolMessage, ToolOutputMixin

__all__ = [
    "FILTERED_ARGS",
    "ArgsSchema",
    "BaseTool",
    "InjectedToolArg",
    "InjectedToolCallId",
    "SchemaAnnotationError",
    "TOOL_MESSAGE_BLOCK_TYPES",
    "ToolException",
    "ToolInputError",
    "BaseToolkit",
    "create_schema_from_function",
    "get_all_basemodel_annotations",
]

ArgsSchema = type[BaseModel] | dict[str, Any]

#: Parameters of a tool function that the caller supplies, never the model.
FILTERED_ARGS = ("run_manager", "callbacks")

#: Content blocks a tool may return as they are (anything else is made a string).
TOOL_MESSAGE_BLOCK_TYPES = (
    "text",
    "image_url",
    "image",
    "json",
    "search_result",
    "custom_tool_call_output",
    "document",
    "file",
)


class ToolException(Exception):  # noqa: N818 - langchain-core's name
    """An error a tool raises to report failure to the model rather than to the caller.

    With ``handle_tool_error`` set on the tool, the error becomes the tool's output
    (a ``ToolMessage`` with ``status="error"`` when the tool was given a tool call);
    otherwise it is raised like any other exception.
    """


class ToolInputError(RunnablesError, ToolException):
    """A tool got input it cannot take (several values for a single-input tool).

    A ``ToolException``, as langchain-core raises there, so ``handle_tool_error`` answers
    it; unlike a ``ToolException`` a user's tool raises, also a ``RunnablesError``.
    """


class InjectedToolArg:
    """Marks a tool argument supplied at run time by the application, not the model.

    ``def search(query: str, user_id: Annotated[str, InjectedToolArg]) -> str`` leaves
    ``user_id`` out of the schema sent to the model (``tool_call_schema``), while the
    tool still receives and validates it.
    """


class InjectedToolCallId(InjectedToolArg):
    """Marks an argument that receives the id of the tool call being answered."""


class _DirectlyInjectedToolArg:
    """Base of types a tool receives at run time by their type alone (no ``Annotated``).

    A parameter typed with a subclass (or a generic alias of one), such as LangGraph's
    ``ToolRuntime``, is supplied by the caller and left out of the schema the model sees.
    """


class SchemaAnnotationError(ArgumentTypeError):
    """A tool class declares ``args_schema`` with an annotation that cannot hold a schema."""


def _is_directly_injected(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, _DirectlyInjectedToolArg):
        return True
    origin = typing.get_origin(annotation)
    return isinstance(origin, type) and issubclass(origin, _DirectlyInjectedToolArg)


def _bound_type_vars(tp: Any) -> Any:
    """``tp`` with each TypeVar replaced by its bound (``Any`` when unbound)."""
    if isinstance(tp, typing.TypeVar):
        return tp.__bound__ if tp.__bound__ is not None else Any
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is None or not args:
        return tp
    new_args = tuple(_bound_type_vars(a) for a in args)
    if new_args == args:
        return tp
    if origin is Annotated:
        return Annotated[(new_args[0], *args[1:])]
    try:
        return tp.copy_with(new_args)
    except AttributeError:
        return origin[new_args]


def get_all_basemodel_annotations(
    cls: type[BaseModel] | Any, *, default_to_bound: bool = True
) -> dict[str, Any]:
    """The annotation of each field of a pydantic model, by field name (not alias),
    including inherited fields, as the model's constructor declares them.

    With ``default_to_bound``, a type variable left open is replaced by its bound (or
    ``Any``); a parametrized model (``Model[int]``) has its parameters filled in.
    """
    if not isinstance(cls, type):
        origin = typing.get_origin(cls)
        if origin is None:
            raise ArgumentTypeError(
                f"get_all_basemodel_annotations needs a pydantic model class, got {cls!r}."
            )
        cls = origin
    fields = cast(type[BaseModel], cls).model_fields
    by_alias = {f.alias: name for name, f in fields.items() if f.alias}
    annotations: dict[str, Any] = {}
    for pname, param in inspect.signature(cls).parameters.items():
        if pname not in fields and pname not in by_alias:
            continue  # e.g. the **data of a model that allows extra fields
        annotations[by_alias.get(pname, pname)] = param.annotation
    if not default_to_bound:
        return annotations
    return {k: _bound_type_vars(v) for k, v in annotations.items()}


def _is_injected(annotation: Any, kind: type = InjectedToolArg) -> bool:
    if kind is InjectedToolArg and _is_directly_injected(annotation):
        return True
    if typing.get_origin(annotation) is not Annotated:
        return False
    return any(
        (isinstance(a, type) and issubclass(a, kind)) or isinstance(a, kind)
        for a in typing.get_args(annotation)[1:]
    )


def _annotation_description(annotation: Any) -> str | None:
    if typing.get_origin(annotation) is Annotated:
        for extra in typing.get_args(annotation)[1:]:
            if isinstance(extra, str):
                return extra
            description = getattr(extra, "description", None)
            if isinstance(description, str) and description:
                return description
    return None


def _config_param(func: Callable[..., Any]) -> str | None:
    """The name of the parameter of ``func`` that receives the call's config, if any."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return None
    for name, param in params.items():
        if name == "config" or param.annotation in (RunnableConfig, "RunnableConfig"):
            return name
    return None


def _parse_google_docstring(
    doc: str | None, params: Sequence[str], *, strict: bool
) -> tuple[str, dict[str, str]]:
    """The description and ``Args:`` entries of a Google-style docstring.

    Read exactly as langchain-core reads it: the description is the paragraphs before
    ``Args:`` (and before ``Returns:``/``Example:``) joined by spaces; an argument line is
    ``name (type): text`` at the first argument's indentation, deeper lines continue it.
    With ``strict``, a docstring without an ``Args:`` paragraph after the description is
    an error when there are parameters to describe.
    """
    described = [p for p in params if p not in ("run_manager", "callbacks", "runtime", "return")]
    if not doc:
        if strict:
            raise InvalidArgumentError(
                "Found invalid Google-Style docstring: the function has none. Write one "
                "with an 'Args:' section, or pass error_on_invalid_docstring=False."
            )
        return "", {}
    blocks = doc.split("\n\n")
    if (
        strict
        and described
        and (len(blocks) < 2 or not any(b.startswith("Args:") for b in blocks[1:]))
    ):
        raise InvalidArgumentError(
            "Found invalid Google-Style docstring: it needs a description, then an 'Args:' "
            f"section describing {described!r}. Fix it, or pass "
            "error_on_invalid_docstring=False."
        )
    descriptors: list[str] = []
    args_block: str | None = None
    past_descriptors = False
    for block in blocks:
        if block.startswith("Args:"):
            args_block = block
            break
        if block.startswith(("Returns:", "Example:")):
            past_descriptors = True
        elif not past_descriptors:
            descriptors.append(block)
    descriptions: dict[str, str] = {}
    if args_block is not None:
        current: str | None = None
        arg_indent: int | None = None
        for line in args_block.split("\n")[1:]:
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            if arg_indent is None and ":" in line:
                arg_indent = indent
            continuation = arg_indent is not None and indent > arg_indent
            if current is not None and continuation:
                descriptions[current] += " " + line.strip()
            elif ":" in line:
                head, text = line.split(":", maxsplit=1)
                head = head.strip()
                name, _, annotation = head.partition(" ")
                current = name if annotation.startswith("(") and annotation.endswith(")") else head
                descriptions[current] = text.strip()
            elif current is not None:
                descriptions[current] += " " + line.strip()
    return " ".join(descriptors).strip(), descriptions


def _is_pydantic_v1_model(annotation: Any) -> bool:
    # By the class's ancestry, so pydantic.v1 is never imported to ask.
    return isinstance(annotation, type) and any(
        base.__name__ == "BaseModel" and base.__module__ == "pydantic.v1.main"
        for base in annotation.__mro__
    )


def _refuse_pydantic_v1(func: Callable[..., Any], annotations: list[tuple[str, Any]]) -> None:
    """Refuse, when the tool is made, a parameter annotated with a pydantic v1 model.

    langchain-core raises ``NotImplementedError`` for a mix of v1 and v2 models; runnables
    supports v2 models only, so a v1 one is refused the same way (it used to be accepted,
    then fail obscurely when the tool's schema was first read).
    """
    old = [(name, ann) for name, ann in annotations if _is_pydantic_v1_model(ann)]
    if old:
        name, ann = old[0]
        raise UnsupportedError(
            f"Parameter {name!r} of {getattr(func, '__qualname__', func)!r} is annotated with "
            f"the pydantic v1 model {ann.__name__}; runnables supports pydantic v2 models "
            "only (and langchain-core refuses a function mixing v1 and v2 models). Define "
            f"{ann.__name__} with pydantic.BaseModel."
        )


def create_schema_from_function(
    model_name: str,
    func: Callable[..., Any],
    *,
    filter_args: Sequence[str] | None = None,
    parse_docstring: bool = False,
    error_on_invalid_docstring: bool = False,
    include_injected: bool = True,
) -> type[BaseModel]:
    """A pydantic model of ``func``'s parameters (what a tool made from it accepts).

    ``self``/``cls`` of methods, ``run_manager``, ``callbacks`` and names in
    ``filter_args`` are left out; with ``include_injected=False`` so are arguments
    annotated :class:`InjectedToolArg`. ``parse_docstring`` reads parameter descriptions
    from the Google-style ``Args:`` section; ``Annotated[int, "text"]`` also describes one.
    """
    signature = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:
        hints = {}
    skip = set(FILTERED_ARGS if filter_args is None else filter_args)
    params = list(signature.parameters.items())
    if params and params[0][0] in ("self", "cls") and "." in getattr(func, "__qualname__", ""):
        skip.add(params[0][0])
    description, arg_docs = (
        _parse_google_docstring(
            inspect.getdoc(func),
            [p for p, _ in params if p not in skip],
            strict=error_on_invalid_docstring,
        )
        if parse_docstring
        else (inspect.getdoc(func) or "", {})
    )
    if parse_docstring and error_on_invalid_docstring:
        for documented in arg_docs:
            if documented not in signature.parameters:
                raise InvalidArgumentError(
                    f"Arg {documented} in docstring not found in function signature "
                    f"(tool {model_name!r}); fix the docstring's 'Args:' section."
                )
    _refuse_pydantic_v1(func, [(p, hints.get(p)) for p, _ in params if p not in skip])
    fields: dict[str, Any] = {}
    for pname, param in params:
        if pname in skip:
            continue
        annotation = hints.get(pname, Any)
        # As langchain-core's schema (pydantic's validate_arguments) has them: *args
        # an optional "args" list, **kwargs an optional "kwargs" object.
        if param.kind is param.VAR_POSITIONAL:
            fields["args"] = (list[annotation], Field(None))  # type: ignore[valid-type]
            continue
        if param.kind is param.VAR_KEYWORD:
            fields["kwargs"] = (dict[str, annotation], Field(None))  # type: ignore[valid-type]
            continue
        if annotation is RunnableConfig or _config_param_name_only(pname, param):
            continue
        if not include_injected and _is_injected(annotation):
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        doc = arg_docs.get(pname) or _annotation_description(annotation)
        fields[pname] = (annotation, Field(default, description=doc))
    model = cast(
        type[BaseModel],
        create_model(  # type: ignore[call-overload]
            model_name, __config__=ConfigDict(arbitrary_types_allowed=True), **fields
        ),
    )
    model.__doc__ = description or None
    return model


def _takes_callbacks(func: Callable[..., Any]) -> bool:
    """Whether a tool's function declares a ``callbacks`` parameter."""
    try:
        return "callbacks" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _config_param_name_only(name: str, param: inspect.Parameter) -> bool:
    return name == "config" and param.annotation in (inspect.Parameter.empty, "RunnableConfig")


_NEEDS_TOOL_CALL = (
    "When tool includes an InjectedToolCallId argument, tool must always be invoked with a "
    "full model ToolCall of the form: {{'args': {{...}}, 'name': '...', 'type': 'tool_call', "
    "'tool_call_id': '...'}} (tool {name!r}, argument {key!r})."
)


def _constructor_of(cls: type) -> Callable[..., Any] | None:
    """The callable whose parameters ``inspect.signature(cls)`` shows.

    As ``inspect.signature`` decides: a metaclass ``__call__``, then a ``__new__`` or
    ``__init__`` the class defines, then an inherited Python one. The class's own
    annotations describe its attributes, never its parameters.
    """
    meta_call = inspect.getattr_static(type(cls), "__call__", None)
    if type(cls) is not type and inspect.isfunction(meta_call):
        return meta_call
    for attr in ("__new__", "__init__"):
        if attr in cls.__dict__:
            return cast(Callable[..., Any], getattr(cls, attr))
    for attr in ("__new__", "__init__"):
        inherited = getattr(cls, attr, None)
        if inspect.isfunction(inherited):
            return inherited
    return None


def _annotations_owner(func: Any) -> Any:
    """The function whose annotations describe ``inspect.signature(func)``, or None
    when an explicit ``__signature__`` (or nothing Python-level) describes it."""
    func = inspect.unwrap(func, stop=lambda f: hasattr(f, "__signature__") or inspect.ismethod(f))
    if inspect.ismethod(func):
        return _annotations_owner(func.__func__)
    if getattr(func, "__signature__", None) is not None:
        return None
    if isinstance(func, functools.partial):
        return _annotations_owner(func.func)
    if inspect.isclass(func):
        constructor = _constructor_of(func)
        return None if constructor is None else _annotations_owner(constructor)
    if not inspect.isroutine(func):
        return _annotations_owner(type(func).__call__)
    return func


def _globals_of(func: Any) -> dict[str, Any]:
    while isinstance(func, functools.partial) or inspect.ismethod(func):
        func = func.func if isinstance(func, functools.partial) else func.__func__
    found = getattr(func, "__globals__", None)
    if isinstance(found, dict):
        return found
    if not inspect.isroutine(func) and not inspect.isclass(func):
        return _globals_of(type(func).__call__)
    return {}


def _resolve_annotation(annotation: str, namespace: dict[str, Any]) -> Any:
    """One string annotation resolved in ``namespace``, or None if it does not resolve."""

    def holder() -> None: ...

    holder.__annotations__ = {"value": annotation}
    try:
        return typing.get_type_hints(holder, globalns=namespace, include_extras=True)["value"]
    except Exception:
        return None


def _injected_keys(func: Callable[..., Any] | None) -> frozenset[str]:
    """The parameters of ``func`` the application supplies (injected), by annotation.

    Postponed (string) annotations are resolved one by one, so one that does not
    resolve (a name defined nowhere, or only in a local scope) is simply not injected
    and does not hide its siblings. Parameters a ``functools.partial`` already binds
    are not parameters any more.
    """
    if func is None:
        return frozenset()
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return frozenset()
    owner = _annotations_owner(func)
    hints: dict[str, Any] = {}
    if owner is not None:
        try:
            hints = typing.get_type_hints(owner, include_extras=True)
        except Exception:
            hints = {}
    namespace: dict[str, Any] | None = None
    resolved: dict[str, Any] = {}
    keys = set()
    for name, param in params.items():
        annotation = hints.get(name, param.annotation)
        if isinstance(annotation, str):
            if namespace is None:
                namespace = _globals_of(func if owner is None else owner)
            if annotation not in resolved:
                resolved[annotation] = _resolve_annotation(annotation, namespace)
            annotation = resolved[annotation]
        if annotation is not None and _is_injected(annotation):
            keys.add(name)
    return frozenset(keys)


def _is_tool_call(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "tool_call"


class BaseTool(RunnableSerializable[str | dict[str, Any] | ToolCall, Any]):
    """The base class of tools: subclass it with ``name``, ``description`` and ``_run``.

    >>> from pydantic import BaseModel
    >>> class AddArgs(BaseModel):
    ...     a: int
    ...     b: int
    >>> class Add(BaseTool):
    ...     name: str = "add"
    ...     description: str = "Add two integers."
    ...     args_schema: type[BaseModel] = AddArgs
    ...     def _run(self, a: int, b: int) -> int:
    ...         return a + b
    >>> Add().invoke({"a": 1, "b": 2})
    3
    >>> Add().invoke({"name": "add", "args": {"a": 1, "b": 2}, "id": "c1", "type": "tool_call"})
    ToolMessage(content='3', name='add', tool_call_id='c1')

    A sync call run without an event loop (``invoke`` of the tool, or of a chain of
    sync steps) uses ``_run``; async calls use ``_arun`` when the tool has one, else
    ``_run`` on a worker thread. A tool with only ``_arun`` is bridged for sync callers.
    """

    _run_type: ClassVar[str] = "tool"  # type: ignore[misc]
    _is_leaf: ClassVar[bool] = True  # type: ignore[misc]

    name: str
    """The tool's unique name, as the model sees it."""
    description: str
    """What the tool does and when to use it, as the model sees it."""
    args_schema: Annotated[ArgsSchema | None, SkipValidation()] = None
    """The arguments: a pydantic model class or a JSON schema dict (inferred from
    ``_run`` when unset)."""
    return_direct: bool = False
    """Whether an agent should stop after this tool and return its output."""
    verbose: bool = False
    """Kept for langchain-core compatibility; runnables logs through events instead."""
    callbacks: Any = Field(default=None, exclude=True)
    """Kept for langchain-core compatibility; use ``astream_events`` or listeners."""
    tags: list[str] | None = None
    """Tags added to this tool's runs."""
    metadata: dict[str, Any] | None = None
    """Metadata added to this tool's runs."""
    handle_tool_error: bool | str | Callable[[ToolException], Any] | None = False
    """What a :class:`ToolException` becomes: re-raised (False), its message (True),
    this string, or what this function returns for it."""
    handle_validation_error: bool | str | Callable[[ValidationError], str] | None = False
    """What invalid arguments become: re-raised (False), ``"Tool input validation
    error"`` (True), this string, or what this function returns for the error."""
    response_format: Literal["content", "content_and_artifact"] = "content"
    """``"content_and_artifact"``: the tool returns ``(content, artifact)``; the
    artifact goes into ``ToolMessage.artifact`` and is not sent to the model."""
    extras: dict[str, Any] | None = None
    """Provider-specific fields of the tool definition."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # ``args_schema: BaseModel = Schema`` (an instance annotation) is a common slip
        # that pydantic would otherwise accept and the tool silently misread.
        if inspect.get_annotations(cls).get("args_schema") in (BaseModel, "BaseModel"):
            raise SchemaAnnotationError(
                f"Tool definition for {cls.__name__} must include valid type annotations "
                "for argument 'args_schema' to behave as expected.\nExpected annotation of "
                "'Type[BaseModel]' but got 'BaseModel': write "
                "'args_schema: type[BaseModel] = SchemaClass'."
            )

    def __getstate__(self) -> dict[Any, Any]:
        # The memoized tool_call_schema is a class made at run time, which pickle
        # cannot find by name: leave it out (it is rebuilt on first use).
        state = super().__getstate__()
        private = state.get("__pydantic_private__")
        if private and private.get("_tool_call_schema_memo") is not None:
            state = {**state, "__pydantic_private__": {**private, "_tool_call_schema_memo": None}}
        return state

    # (name, description, schema) -> the tool_call_schema model built for them.
    _tool_call_schema_memo: Any = PrivateAttr(default=None)

    def __init__(self, **kwargs: Any) -> None:
        schema = kwargs.get("args_schema")
        if schema is not None and not isinstance(schema, dict) and not _is_model_class(schema):
            raise ArgumentTypeError(
                f"args_schema must be a pydantic BaseModel subclass or a JSON schema dict, "
                f"got {schema!r}. Describe the arguments with a BaseModel subclass."
            )
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ to implement

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        """Do the tool's work (sync). Subclasses implement this and/or ``_arun``."""
        raise UnsupportedError(
            f"Tool {self.name!r} ({type(self).__name__}) has no sync implementation: "
            "implement '_run', or call it with 'ainvoke' if it implements '_arun'."
        )

    async def _arun(self, *args: Any, **kwargs: Any) -> Any:
        """Do the tool's work (async). The default runs ``_run`` on a worker thread."""
        from runnables.core.function import _to_thread

        return await _to_thread(self._run, *args, **kwargs)

    def _has_async(self) -> bool:
        """Whether the tool has its own async implementation."""
        return type(self)._arun is not BaseTool._arun

    def _has_sync(self) -> bool:
        """Whether the tool has its own sync implementation."""
        return type(self)._run is not BaseTool._run

    def _sync_impl(self) -> Callable[..., Any]:
        return self._run

    def _async_impl(self) -> Callable[..., Any]:
        return self._arun

    # ------------------------------------------------------------------ schema

    @property
    def is_single_input(self) -> bool:
        """Whether the tool takes exactly one argument."""
        return len([k for k in self.args if k != "kwargs"]) == 1

    @property
    def args(self) -> dict[str, Any]:
        """The JSON schema ``properties`` of the arguments the model supplies."""
        schema = self.tool_call_schema
        json_schema = schema if isinstance(schema, dict) else schema.model_json_schema()
        return cast(dict[str, Any], json_schema.get("properties", {}))

    @property
    def tool_call_schema(self) -> ArgsSchema:
        """The arguments schema as sent to the model: a model named after the tool, with
        its description, and without injected arguments."""
        schema = self.args_schema
        if isinstance(schema, dict):
            if self.description:
                return {**schema, "description": self.description}
            return schema
        if schema is None:
            schema = self.get_input_schema()
        if not schema.__pydantic_complete__:
            # A forward reference still unresolved: fail here, naming it (pydantic's
            # PydanticUndefinedAnnotation), rather than send the model a schema that
            # silently lacks the field.
            schema.model_rebuild()
        key = (self.name, self.description, schema)
        memo = self._tool_call_schema_memo
        if memo is not None and memo[0] == key:
            return cast(type[BaseModel], memo[1])
        fields = {
            k: (f.annotation, f)
            for k, f in schema.model_fields.items()
            if not _is_injected_field(f.annotation, f)
        }
        model = cast(type[BaseModel], create_model(self.name, **fields))  # type: ignore[call-overload]
        model.__doc__ = self.description
        _cache_json_schema(model)
        # Building a model is slow and bind_tools asks on every bind: keep the last one.
        self._tool_call_schema_memo = (key, model)
        return model

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """The arguments' pydantic model (``args_schema``, or inferred from ``_run``)."""
        schema = self.args_schema
        if schema is None:
            return create_schema_from_function(self.name, self._sync_impl())
        if isinstance(schema, dict):
            return super().get_input_schema(config)
        return schema

    # ------------------------------------------------------------------ running

    def _needs_loop(self) -> bool:
        # A tool's sync and async methods are two implementations its author wrote (as
        # in langchain-core), not one bridged over the other: a sync call driven without
        # a loop runs the sync one inline; only an async-only tool needs the loop.
        return not self._has_sync()

    async def _ainvoke(self, input: str | dict[str, Any] | ToolCall, ctx: Context) -> Any:
        if _is_tool_call(input):
            call = cast(ToolCall, input)
            tool_call_id: str | None = call["id"]
            tool_input: str | dict[str, Any] = dict(call["args"])
        else:
            tool_call_id = None
            tool_input = cast("str | dict[str, Any]", input)
        if TOOL_START_KWARGS.get() is not None:
            # run()'s extra keyword arguments were for this run's start only, not for
            # the tools its function calls.
            TOOL_START_KWARGS.set(None)
        if ctx.limiter is not None or ctx.running is not None:
            return await run_leaf(self, ctx, lambda: self._execute(tool_input, tool_call_id, ctx))
        return await self._execute(tool_input, tool_call_id, ctx)

    async def _execute(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None, ctx: Context
    ) -> Any:
        content: Any = None
        artifact: Any = None
        status: Literal["success", "error"] = "success"
        try:
            response = await self._call(tool_input, tool_call_id, ctx)
            if self.response_format == "content_and_artifact":
                if not isinstance(response, tuple) or len(response) != 2:
                    raise InvalidInputError(
                        f"Tool {self.name!r} has response_format='content_and_artifact', so "
                        "it must return a two-tuple (content, artifact), but it returned "
                        f"{response!r} (a {type(response).__name__})."
                    )
                content, artifact = response
            else:
                content = response
        except ValidationError as exc:
            if not self.handle_validation_error:
                note_step(exc, self.get_name())
                raise
            content = _handled(exc, self.handle_validation_error, "Tool input validation error")
            status = "error"
        except ToolException as exc:
            if not self.handle_tool_error:
                note_step(exc, self.get_name())
                raise
            default = exc.args[0] if exc.args else "Tool execution error"
            content = _handled(exc, self.handle_tool_error, default)
            status = "error"
        except Exception as exc:
            note_step(exc, self.get_name())
            raise
        return _format_output(content, artifact, tool_call_id, self.name, status)

    async def _call(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None, ctx: Context
    ) -> Any:
        args, kwargs = self._to_args_and_kwargs(tool_input, tool_call_id)
        # Sync drive: the sync implementation inline. Async: the async one if the tool has
        # it, else the sync one on a worker thread (a tool usually blocks on I/O).
        is_async = self._has_async() and not (ctx.sync and self._has_sync())
        impl = self._async_impl() if is_async else self._sync_impl()
        param = _config_param(impl)
        if param is not None:
            kwargs[param] = ctx.child_config()
        if _takes_callbacks(impl):
            # As langchain-core passes a function declaring `callbacks` its run's child
            # callbacks: the call's own, so nested calls given them report under this run
            # once (config.derive does not add handlers the enclosing call has); a
            # manager without handlers when the call has none (never None, as there).
            callbacks = ctx.config.get("callbacks")
            if callbacks is None:
                from runnables.callbacks.manager import CallbackManager

                callbacks = CallbackManager([])
            kwargs["callbacks"] = callbacks
        token = None if ctx.is_root else CURRENT.set(ctx)
        try:
            if is_async:
                return await impl(*args, **kwargs)
            if ctx.sync:
                return impl(*args, **kwargs)
            from runnables.core.function import _to_thread

            return await _to_thread(impl, *args, **kwargs)
        finally:
            if token is not None:
                CURRENT.reset(token)

    def _parse_input(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None
    ) -> str | dict[str, Any]:
        """Validate the input against ``args_schema``; returns the arguments to pass."""
        schema = self.args_schema
        if isinstance(tool_input, str):
            if isinstance(schema, dict):
                raise InvalidInputError(
                    f"Tool {self.name!r} has a JSON schema args_schema, so it takes a dict "
                    f"of arguments, not the string {tool_input!r}."
                )
            if schema is not None:
                first = next(iter(schema.model_fields))
                schema.model_validate({first: tool_input})
            return tool_input
        if schema is None or isinstance(schema, dict):
            return tool_input
        tool_input = dict(tool_input)
        for key, field in schema.model_fields.items():
            if _is_injected_field(field.annotation, field, InjectedToolCallId):
                if tool_call_id is None:
                    raise InvalidInputError(_NEEDS_TOOL_CALL.format(name=self.name, key=key))
                tool_input[key] = tool_call_id
        result = schema.model_validate(tool_input)
        validated: dict[str, Any] = {}
        for key, field in schema.model_fields.items():
            given = key in tool_input or key in result.model_fields_set
            # Defaults are passed too, except pydantic's fields for *args/**kwargs.
            if given or (not field.is_required() and key not in ("args", "kwargs")):
                validated[key] = getattr(result, key)
        # Injected arguments the function takes but a custom schema does not declare.
        for key in self._injected_args_keys:
            if key in tool_input:
                validated[key] = tool_input[key]
            elif key == "tool_call_id":
                if tool_call_id is None:
                    raise InvalidInputError(_NEEDS_TOOL_CALL.format(name=self.name, key=key))
                validated[key] = tool_call_id
        return validated

    def _filter_injected_args(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        """``tool_input`` without the arguments the model does not give (injected ones,
        ``run_manager``, ``callbacks``): what callback handlers see, as in langchain-core.
        """
        keys = set(FILTERED_ARGS) | self._injected_args_keys
        schema = self.args_schema
        if _is_model_class(schema):
            fields = cast(type[BaseModel], schema).model_fields
            keys.update(k for k, f in fields.items() if _is_injected_field(f.annotation, f))
        return {k: v for k, v in tool_input.items() if k not in keys}

    def _chat_run_start(self, input: Any) -> tuple[Any, Any, dict[str, Any]]:
        # core's hook for a step whose run records another input than the one it runs
        # on (called only when something observes the call): a tool's run holds its
        # arguments without the injected ones, as langchain-core's on_tool_start gets
        # them; a tool call keeps its id.
        if _is_tool_call(input):
            call = cast(ToolCall, input)
            recorded: Any = {**call, "args": self._filter_injected_args(call["args"])}
        elif isinstance(input, dict):
            recorded = self._filter_injected_args(input)
        else:
            recorded = input
        return input, recorded, {}

    @functools.cached_property
    def _injected_args_keys(self) -> frozenset[str]:
        """Arguments of the implementation annotated as injected (not from the model)."""
        return self._find_injected_args_keys()

    def _find_injected_args_keys(self) -> frozenset[str]:
        # The sync implementation, else the async one (an async-only tool).
        for impl in (self._run, self._arun):
            keys = _injected_keys(impl)
            if keys:
                return keys
        return frozenset()

    def _to_args_and_kwargs(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        schema = self.args_schema
        if _is_model_class(schema) and not cast(type[BaseModel], schema).model_fields:
            return (), {}
        parsed = self._parse_input(tool_input, tool_call_id)
        if isinstance(parsed, str):
            return (parsed,), {}
        return (), dict(parsed)

    async def arun(
        self,
        tool_input: str | dict[str, Any],
        *,
        config: RunnableConfig | None = None,
        tool_call_id: str | None = None,
        callbacks: Any = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        run_name: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run the tool on ``tool_input``; with ``tool_call_id``, return a ToolMessage.

        ``callbacks``, ``tags``, ``metadata`` and ``run_name`` go into the call's config;
        other keyword arguments go to the handlers' ``on_tool_start`` for this run, as
        langchain-core's ``BaseTool.arun`` passes them.
        """
        config = _run_config(config, callbacks, tags, metadata, run_name)
        call = self._run_input(tool_input, tool_call_id)
        token = TOOL_START_KWARGS.set(kwargs) if kwargs else None
        try:
            return await self.ainvoke(call, config)
        finally:
            if token is not None:
                TOOL_START_KWARGS.reset(token)

    def run(
        self,
        tool_input: str | dict[str, Any],
        *,
        config: RunnableConfig | None = None,
        tool_call_id: str | None = None,
        callbacks: Any = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        run_name: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run the tool on ``tool_input`` (sync; see :meth:`arun`)."""
        config = _run_config(config, callbacks, tags, metadata, run_name)
        call = self._run_input(tool_input, tool_call_id)
        token = TOOL_START_KWARGS.set(kwargs) if kwargs else None
        try:
            return self.invoke(call, config)
        finally:
            if token is not None:
                TOOL_START_KWARGS.reset(token)

    def _run_input(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None
    ) -> str | dict[str, Any] | ToolCall:
        """What run()/arun() invoke: a tool call when given its id (and dict arguments)."""
        if tool_call_id is not None and isinstance(tool_input, dict):
            return {"name": self.name, "args": tool_input, "id": tool_call_id, "type": "tool_call"}
        return tool_input

    def as_langchain(self) -> Any:
        """This tool as a langchain-core ``BaseTool`` (for a langchain-core chat model's
        ``bind_tools``, LangGraph's ``ToolNode``, an agent) that runs this tool; its tool
        calls return this tool's ``ToolMessage`` as langchain-core's. Needs the
        ``interop`` extra.
        """
        from runnables.interop.values import require_langchain

        require_langchain("BaseTool.as_langchain()")
        from runnables.interop.tool import LangChainTool

        return LangChainTool.of(self)


def _cache_json_schema(model: type[BaseModel]) -> None:
    """Make ``model.model_json_schema()`` (default arguments) computed once.

    pydantic builds the dict anew on every call, and a memoized tool_call_schema is
    asked on every model call of an agent loop; other arguments are not cached.
    """
    build = model.model_json_schema
    cache: list[dict[str, Any]] = []

    def model_json_schema(cls: type[BaseModel], *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args or kwargs:
            return build(*args, **kwargs)
        if not cache:
            cache.append(build())
        return cache[0]

    model.model_json_schema = classmethod(model_json_schema)  # type: ignore[method-assign,assignment]


def _run_config(
    config: RunnableConfig | None,
    callbacks: Any,
    tags: list[str] | None,
    metadata: dict[str, Any] | None,
    run_name: str | None,
) -> RunnableConfig | None:
    extra = {
        k: v
        for k, v in (
            ("callbacks", callbacks),
            ("tags", tags),
            ("metadata", metadata),
            ("run_name", run_name),
        )
        if v is not None
    }
    if not extra:
        return config
    return cast(RunnableConfig, {**(config or {}), **extra})


def _is_model_class(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _is_injected_field(annotation: Any, field: Any, kind: type = InjectedToolArg) -> bool:
    if _is_injected(annotation, kind):
        return True
    return any(
        (isinstance(m, type) and issubclass(m, kind)) or isinstance(m, kind)
        for m in getattr(field, "metadata", ())
    )


def _handled(exc: Exception, flag: Any, default: Any) -> Any:
    if flag is True:
        return default
    if isinstance(flag, str):
        return flag
    if callable(flag):
        return flag(exc)
    raise InvalidArgumentError(
        f"An error handler must be True, a string or a function, got {flag!r}; "
        "set handle_tool_error / handle_validation_error to one of those."
    )


def _is_message_content_block(obj: Any) -> bool:
    """Whether ``obj`` may be part of a ToolMessage's content as it is."""
    if isinstance(obj, str):
        return True
    return isinstance(obj, dict) and obj.get("type") in TOOL_MESSAGE_BLOCK_TYPES


def _normalize_message_content(obj: Any) -> str | list[Any] | None:
    """``obj`` as ToolMessage content (a string or a list of blocks), or None if it is
    not content (then it is serialized instead)."""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, Sequence) and all(_is_message_content_block(e) for e in obj):
        return list(obj)
    return None


def _format_output(
    content: Any, artifact: Any, tool_call_id: str | None, name: str, status: str
) -> Any:
    """The tool's output: as returned, or as a ToolMessage answering ``tool_call_id``.

    Content that is not text or content blocks is sent as JSON (``str()`` if it has no
    JSON form); a ToolMessage (or a list of them) the tool built itself passes through.
    """
    if tool_call_id is None or isinstance(content, ToolOutputMixin):
        return content
    if (
        isinstance(content, list)
        and content
        and all(isinstance(c, ToolOutputMixin) for c in content)
    ):
        return content
    message_content = _normalize_message_content(content)
    if message_content is None:
        try:
            message_content = json.dumps(content, ensure_ascii=False)
        except Exception:
            message_content = str(content)
    return ToolMessage(
        message_content,
        artifact=artifact,
        tool_call_id=tool_call_id,
        name=name,
        status=cast(Literal["success", "error"], status),
    )


class BaseToolkit(BaseModel):
    """A group of related tools (subclass it and implement :meth:`get_tools`)."""

    def get_tools(self) -> list[BaseTool]:
        """The toolkit's tools."""
        raise UnsupportedError(
            f"{type(self).__name__} must implement get_tools() to return its tools."
        )
