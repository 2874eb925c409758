"""What a chat-completions request asks for: validated as OpenAI validates it, and bound
to the served chain's chat model.

:func:`read_request` checks a request body field by field, with OpenAI's rules (roles,
content, types and ranges of the sampling parameters) and raises :class:`RequestError`
naming the offending parameter, which the endpoint answers as a 400 in OpenAI's error
shape. :func:`bind_request` then gives the served runnable with the request's
parameters bound to its chat model for this call only, or raises :class:`RequestError`
when the chain has no chat model the parameters can reach, or the model does not
honour one (its :attr:`~runnables.models.BaseChatModel.call_params`): a parameter is
never ignored silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runnables.core.base import Runnable
from runnables.core.binding import RunnableBinding
from runnables.core.sequence import RunnableSequence
from runnables.errors import RunnablesError
from runnables.messages import BaseMessage
from runnables.messages.convert import convert_to_messages
from runnables.models.base import BaseChatModel, StructuredOutputError

__all__ = ["ChatRequest", "FinishReasons", "RequestError", "bind_request", "read_request"]

_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
# Accepted and without effect on the answer (bookkeeping on OpenAI's side).
_NO_EFFECT = frozenset({"user", "metadata", "store", "service_tier", "stream_options"})
_MAX_N = 128


class RequestError(RunnablesError):
    """A request the endpoint answers with a 400 (or ``status``) naming ``param``."""

    def __init__(
        self, message: str, param: str | None, code: str | None = None, status: int = 400
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status


@dataclass
class ChatRequest:
    """A validated chat-completions request."""

    model: str
    messages: list[BaseMessage]
    stream: bool = False
    include_usage: bool = False
    n: int = 1
    #: The call parameters for the chat model, by the model's names (``max_tokens``,
    #: ``stop``, ``tools``...), each with the request field it came from.
    params: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    response_format: dict[str, Any] | None = None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(body: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if not _is_number(value) or not low <= value <= high:
        raise RequestError(
            f"Invalid value for '{key}': expected a number from {low:g} to {high:g}, got "
            f"{value!r}.",
            key,
            "invalid_value" if _is_number(value) else "invalid_type",
        )
    return float(value)


def _positive_int(body: Mapping[str, Any], key: str, high: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not _is_int(value) or value < 1 or (high is not None and value > high):
        limit = f" and at most {high}" if high is not None else ""
        raise RequestError(
            f"Invalid value for '{key}': expected an integer of at least 1{limit}, got {value!r}.",
            key,
            "invalid_value" if _is_int(value) else "invalid_type",
        )
    return int(value)


def _check_messages(raw: Any) -> list[BaseMessage]:
    if not isinstance(raw, list) or not raw:
        raise RequestError(
            f"Invalid 'messages': expected a non-empty array of message objects, got {raw!r}.",
            "messages",
        )
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise RequestError(
                f"Invalid '{where}': expected an object with 'role' and 'content', got "
                f"{message!r}.",
                where,
                "invalid_type",
            )
        role = message.get("role")
        if role not in _ROLES:
            raise RequestError(
                f"Invalid value for '{where}.role': {role!r}; supported values are "
                f"{', '.join(repr(r) for r in _ROLES)}.",
                f"{where}.role",
                "invalid_value",
            )
        content = message.get("content")
        calls = message.get("tool_calls") or message.get("function_call")
        if content is None:
            if not (role == "assistant" and calls):
                raise RequestError(
                    f"Missing required parameter: '{where}.content' (a {role} message needs "
                    "content; only an assistant message with tool_calls may omit it).",
                    f"{where}.content",
                    "missing_required_parameter",
                )
        elif not isinstance(content, (str, list)) or (
            isinstance(content, list) and not all(isinstance(p, dict) for p in content)
        ):
            raise RequestError(
                f"Invalid type for '{where}.content': expected a string or an array of "
                f"content parts, got {content!r}.",
                f"{where}.content",
                "invalid_type",
            )
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise RequestError(
                f"Missing required parameter: '{where}.tool_call_id' (a tool message answers "
                "the assistant's tool call of that id).",
                f"{where}.tool_call_id",
                "missing_required_parameter",
            )
        if role == "assistant" and message.get("tool_calls") is not None:
            _check_tool_calls(message["tool_calls"], f"{where}.tool_calls")
        name = message.get("name")
        if name is not None and not isinstance(name, str):
            raise RequestError(
                f"Invalid type for '{where}.name': expected a string, got {name!r}.",
                f"{where}.name",
                "invalid_type",
            )
    try:
        return convert_to_messages(raw)
    except (ValueError, TypeError, KeyError) as exc:
        raise RequestError(f"Invalid 'messages': {exc}", "messages") from None


def _check_tool_calls(calls: Any, where: str) -> None:
    """An assistant message's ``tool_calls``, as OpenAI takes them: an array of
    ``{"id", "type": "function", "function": {"name", "arguments"}}`` whose arguments are
    the JSON text of an object (read back as the call's arguments)."""
    if not isinstance(calls, list):
        raise RequestError(
            f"Invalid type for '{where}': expected an array of tool calls, got {calls!r}.",
            where,
            "invalid_type",
        )
    for i, call in enumerate(calls):
        at = f"{where}[{i}]"
        if not isinstance(call, dict):
            raise RequestError(
                f"Invalid type for '{at}': expected an object with 'id', 'type' and "
                f"'function', got {call!r}.",
                at,
                "invalid_type",
            )
        if not isinstance(call.get("id"), str):
            raise RequestError(
                f"Invalid type for '{at}.id': expected a string (the id a tool message "
                f"answers), got {call.get('id')!r}.",
                f"{at}.id",
                "invalid_type",
            )
        if call.get("type", "function") != "function":
            raise RequestError(
                f"Invalid value for '{at}.type': {call['type']!r}; the supported value is "
                "'function'.",
                f"{at}.type",
                "invalid_value",
            )
        function = call.get("function")
        if function is None:
            raise RequestError(
                f"Missing required parameter: '{at}.function' (an object with 'name' and "
                "'arguments').",
                f"{at}.function",
                "missing_required_parameter",
            )
        if not isinstance(function, dict):
            raise RequestError(
                f"Invalid type for '{at}.function': expected an object with 'name' and "
                f"'arguments', got {function!r}.",
                f"{at}.function",
                "invalid_type",
            )
        name = function.get("name")
        if name is None:
            raise RequestError(
                f"Missing required parameter: '{at}.function.name' (the name of the tool called).",
                f"{at}.function.name",
                "missing_required_parameter",
            )
        if not isinstance(name, str):
            raise RequestError(
                f"Invalid type for '{at}.function.name': expected a string, got {name!r}.",
                f"{at}.function.name",
                "invalid_type",
            )
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            raise RequestError(
                f"Invalid type for '{at}.function.arguments': expected a string of JSON text "
                f"(json.dumps of the arguments), got {arguments!r}.",
                f"{at}.function.arguments",
                "invalid_type",
            )
        try:
            parsed = json.loads(arguments)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise RequestError(
                f"Invalid value for '{at}.function.arguments': {arguments!r} is not the JSON "
                "text of an object; send the call's arguments as json.dumps of a JSON object.",
                f"{at}.function.arguments",
                "invalid_value",
            )


def _check_stop(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value) and len(value) <= 4:
        return list(value)
    raise RequestError(
        f"Invalid value for 'stop': expected a string or an array of up to 4 strings, got "
        f"{value!r}.",
        "stop",
    )


def _check_tools(tools: Any, choice: Any) -> None:
    if tools is not None:
        if not isinstance(tools, list):
            raise RequestError(
                f"Invalid type for 'tools': expected an array of tools, got {tools!r}.",
                "tools",
                "invalid_type",
            )
        for i, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if (
                not isinstance(tool, dict)
                or tool.get("type") != "function"
                or not isinstance(fn, dict)
                or not isinstance(fn.get("name"), str)
            ):
                raise RequestError(
                    f"Invalid value for 'tools[{i}]': expected {{'type': 'function', "
                    f"'function': {{'name': ..., 'parameters': {{...}}}}}}, got {tool!r}.",
                    f"tools[{i}]",
                )
    if choice is None:
        return
    if choice in ("none", "auto", "required"):
        return
    fn = choice.get("function") if isinstance(choice, dict) else None
    if isinstance(fn, dict) and isinstance(fn.get("name"), str):
        names = {t["function"]["name"] for t in tools or ()}
        if fn["name"] not in names:
            raise RequestError(
                f"Invalid value for 'tool_choice': the tool {fn['name']!r} is not among the "
                f"request's tools {sorted(names)!r}.",
                "tool_choice",
            )
        return
    raise RequestError(
        f"Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or "
        f"{{'type': 'function', 'function': {{'name': ...}}}}, got {choice!r}.",
        "tool_choice",
    )


def _check_response_format(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return dict(value)
    if kind == "json_schema":
        spec = value.get("json_schema")
        if (
            isinstance(spec, dict)
            and isinstance(spec.get("name"), str)
            and isinstance(spec.get("schema", {}), dict)
        ):
            return dict(value)
        raise RequestError(
            "Invalid value for 'response_format.json_schema': expected {'name': ..., "
            f"'schema': {{...}}}}, got {spec!r}.",
            "response_format.json_schema",
        )
    raise RequestError(
        f"Invalid value for 'response_format': expected a type of 'text', 'json_object' or "
        f"'json_schema', got {value!r}.",
        "response_format",
    )


_KNOWN = frozenset(
    {
        "model",
        "messages",
        "stream",
        "n",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "temperature",
        "top_p",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "logprobs",
        "top_logprobs",
        "logit_bias",
    }
    | _NO_EFFECT
)


def read_request(body: Any) -> ChatRequest:
    """``body`` checked as OpenAI checks a chat-completions request."""
    if not isinstance(body, dict):
        raise RequestError(
            f"The request body must be a JSON object, got {type(body).__name__}.", None
        )
    unknown = sorted(set(body) - _KNOWN)
    if unknown:
        raise RequestError(
            f"Unrecognized request argument supplied: {unknown[0]}. See OpenAI's "
            "chat-completions reference for the accepted fields.",
            unknown[0],
            "unknown_parameter",
        )
    model = body.get("model")
    if model is None:
        raise RequestError(
            "You must provide a model parameter (the name of a served model, see GET /v1/models).",
            "model",
            "missing_required_parameter",
        )
    if not isinstance(model, str):
        raise RequestError(
            f"Invalid type for 'model': expected a string, got {model!r}.",
            "model",
            "invalid_type",
        )
    messages = _check_messages(body.get("messages"))
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise RequestError(
            f"Invalid type for 'stream': expected true or false, got {stream!r}.",
            "stream",
            "invalid_type",
        )
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise RequestError(
            f"Invalid type for 'stream_options': expected an object, got {options!r}.",
            "stream_options",
            "invalid_type",
        )
    request = ChatRequest(
        model=model,
        messages=messages,
        stream=bool(stream),
        include_usage=bool(options and options.get("include_usage")),
        n=_positive_int(body, "n", _MAX_N) or 1,
    )

    def put(name: str, value: Any, origin: str) -> None:
        if value is not None:
            request.params[name] = value
            request.origin[name] = origin

    # max_completion_tokens is the newer name; with both, it wins (both are checked).
    legacy = _positive_int(body, "max_tokens")
    newer = _positive_int(body, "max_completion_tokens")
    if newer is not None:
        put("max_tokens", newer, "max_completion_tokens")
    else:
        put("max_tokens", legacy, "max_tokens")
    put("temperature", _number(body, "temperature", 0, 2), "temperature")
    put("top_p", _number(body, "top_p", 0, 1), "top_p")
    put("presence_penalty", _number(body, "presence_penalty", -2, 2), "presence_penalty")
    put("frequency_penalty", _number(body, "frequency_penalty", -2, 2), "frequency_penalty")
    seed = body.get("seed")
    if seed is not None and not _is_int(seed):
        raise RequestError(
            f"Invalid type for 'seed': expected an integer, got {seed!r}.", "seed", "invalid_type"
        )
    put("seed", seed, "seed")
    put("stop", _check_stop(body.get("stop")), "stop")
    tools, choice = body.get("tools"), body.get("tool_choice")
    _check_tools(tools, choice)
    if tools:  # an empty list asks for nothing
        put("tools", tools, "tools")
        put("tool_choice", choice, "tool_choice")
    elif choice is not None and choice != "none":
        raise RequestError(
            f"Invalid value for 'tool_choice': {choice!r} needs 'tools'.", "tool_choice"
        )
    parallel = body.get("parallel_tool_calls")
    if parallel is not None:
        if not isinstance(parallel, bool):
            raise RequestError(
                f"Invalid type for 'parallel_tool_calls': expected true or false, got "
                f"{parallel!r}.",
                "parallel_tool_calls",
                "invalid_type",
            )
        if tools:
            put("parallel_tool_calls", parallel, "parallel_tool_calls")
    request.response_format = _check_response_format(body.get("response_format"))
    for key in ("logprobs", "top_logprobs", "logit_bias"):
        value = body.get(key)
        if value not in (None, False, {}, 0):
            raise RequestError(
                f"'{key}' is not supported by this server: its models do not report token "
                "log probabilities or take logit biases. Remove it from the request.",
                key,
                "unsupported_parameter",
            )
    return request


# ---------------------------------------------------------------------- binding

# (the call's parameters, a listener for the model's own run or None) -> the chain.
Tap = Callable[[Any], None]
Rebind = Callable[[dict[str, Any], Tap | None], Runnable[Any, Any]]


@dataclass
class ModelSlot:
    """The served chain's chat model and how to rebuild the chain with it rebound."""

    model: BaseChatModel
    rebind: Rebind
    is_output: bool  # the chain's output is the model's own message


class _UnreachableError(RunnablesError):
    pass


def find_model(runnable: Runnable[Any, Any]) -> ModelSlot | str:
    """Where ``runnable``'s chat model is, or why a request's parameters cannot reach it.

    The model may be the runnable itself, under bindings (``bind``, ``with_config``,
    ``with_types``) or one step of a sequence (at any depth of these); a chain with no
    chat model, or with several, or with one inside another kind of step (a parallel
    map, a branch, fallbacks) gets a sentence saying so.
    """
    try:
        found = _find(runnable)
    except _UnreachableError as exc:
        return str(exc)
    if found is None:
        return f"The served runnable {runnable.get_name()!r} has no chat model"
    return found


def _contains_model(runnable: Runnable[Any, Any]) -> bool:
    if isinstance(runnable, BaseChatModel):
        return True
    if isinstance(runnable, RunnableBinding):
        return _contains_model(runnable.bound)
    return any(_contains_model(c) for c in runnable._children())


def _find(runnable: Runnable[Any, Any]) -> ModelSlot | None:
    if isinstance(runnable, BaseChatModel):
        model = runnable

        def rebind_model(params: dict[str, Any], tap: Tap | None) -> Runnable[Any, Any]:
            bound = model._with_kwargs(params)
            return bound.with_listeners(on_end=tap) if tap is not None else bound

        return ModelSlot(model, rebind_model, True)
    if isinstance(runnable, RunnableBinding):
        binding = runnable
        inner = _find(binding.bound)
        if inner is None:
            return None
        inner_rebind = inner.rebind

        def rebind_binding(params: dict[str, Any], tap: Tap | None) -> Runnable[Any, Any]:
            # The request's parameters win over those the chain bound.
            kept = {k: v for k, v in binding.kwargs.items() if k not in params}
            return RunnableBinding(
                bound=inner_rebind(params, tap),
                kwargs=kept,
                config=binding.config,
                custom_input_type=binding.custom_input_type,
                custom_output_type=binding.custom_output_type,
                listeners=binding.listeners,
            )

        return ModelSlot(inner.model, rebind_binding, inner.is_output)
    if isinstance(runnable, RunnableSequence):
        sequence = runnable
        holders = [i for i, s in enumerate(sequence.steps) if _contains_model(s)]
        if not holders:
            return None
        if len(holders) > 1:
            raise _UnreachableError(
                f"The served chain {sequence.get_name()!r} has {len(holders)} steps with a "
                "chat model, so a request's parameters cannot say which one they are for"
            )
        at = holders[0]
        step = _find(sequence.steps[at])
        if step is None:  # pragma: no cover - _contains_model said there is one
            return None
        step_rebind = step.rebind

        def rebind_sequence(params: dict[str, Any], tap: Tap | None) -> Runnable[Any, Any]:
            steps = list(sequence.steps)
            steps[at] = step_rebind(params, tap)
            return RunnableSequence(*steps, name=sequence.name)

        is_last = at == len(sequence.steps) - 1
        return ModelSlot(step.model, rebind_sequence, step.is_output and is_last)
    if _contains_model(runnable):
        raise _UnreachableError(
            f"The served chain's chat model is inside a {type(runnable).__name__} step, "
            "where a request's parameters cannot be bound to it"
        )
    return None


class FinishReasons:
    """The ``finish_reason`` each run's chat model reported, by the run's trace id.

    For a chain whose output is not the model's message (``model | parser``), where the
    answer itself no longer says why the model stopped.
    """

    def __init__(self) -> None:
        self.by_trace: dict[str, str] = {}

    def record(self, run: Any) -> None:
        outputs = getattr(run, "outputs", None) or {}
        meta = getattr(outputs.get("output"), "response_metadata", None) or {}
        finish = meta.get("finish_reason")
        if isinstance(finish, str):
            self.by_trace[str(run.trace_id)] = finish

    def get(self, run_id: Any) -> str | None:
        return self.by_trace.get(str(run_id))


def bind_request(
    runnable: Runnable[Any, Any],
    slot: ModelSlot | str,
    request: ChatRequest,
    finishes: FinishReasons | None = None,
) -> tuple[Runnable[Any, Any], Callable[[Any], Any] | None]:
    """``runnable`` with ``request``'s parameters bound to its chat model for this call.

    Returns the runnable to run and, when the response format is honoured through
    structured output, a function that turns its output into the answer's text.
    ``finishes`` records the model's finish reasons when the chain's output is not the
    model's own message.
    """
    params = dict(request.params)
    fmt = request.response_format
    if not params and fmt is None:
        return runnable, None
    first = next(iter(params), None) or "response_format"
    if isinstance(slot, str):
        param = request.origin.get(first, first)
        raise RequestError(
            f"{slot}, so the request's '{param}' cannot be honoured. Remove it from the "
            "request, or serve a chain with one chat model.",
            param,
            "unsupported_parameter",
        )
    honoured = slot.model.call_params
    name = slot.model.get_name()
    for key in params:
        if honoured is not None and key not in honoured:
            param = request.origin.get(key, key)
            raise RequestError(
                f"The served model {name} cannot honour '{param}' (it takes "
                f"{sorted(honoured) or 'no call parameters'}). Remove it from the request.",
                param,
                "unsupported_parameter",
            )
    convert: Callable[[Any], Any] | None = None
    if fmt is not None:
        if honoured is None or "response_format" in honoured:
            params["response_format"] = fmt
        elif (
            fmt["type"] == "json_schema"
            and slot.is_output
            and "tools" in honoured
            and "tools" not in params
        ):
            return _structured(slot, params, fmt)
        else:
            raise RequestError(
                f"The served model {name} cannot honour 'response_format' "
                f"{fmt['type']!r}: it does not take a response format"
                + (
                    ", and structured output through a tool call needs a json_schema, a "
                    "model that takes 'tools' and a chain whose output is the model's message."
                    if fmt["type"] == "json_schema"
                    else "."
                ),
                "response_format",
                "unsupported_parameter",
            )
    tap = finishes.record if finishes is not None and not slot.is_output else None
    return slot.rebind(params, tap), convert


def _structured(
    slot: ModelSlot, params: dict[str, Any], fmt: dict[str, Any]
) -> tuple[Runnable[Any, Any], Callable[[Any], Any]]:
    spec = fmt["json_schema"]
    tool = {
        "type": "function",
        "function": {
            "name": spec["name"],
            "description": spec.get("description", ""),
            "parameters": spec.get("schema", {}),
        },
    }
    params["tools"] = [tool]
    params["tool_choice"] = {"type": "function", "function": {"name": spec["name"]}}
    runnable = slot.rebind(params, None)

    def convert(message: Any) -> Any:
        import json

        from runnables.messages import AIMessage

        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                if call["name"] == spec["name"]:
                    return AIMessage(
                        json.dumps(call["args"]),
                        usage_metadata=message.usage_metadata,
                        response_metadata={"finish_reason": "stop"},
                    )
        raise StructuredOutputError(
            f"The model did not answer with the {spec['name']!r} structure it was asked for."
        )

    return runnable, convert
