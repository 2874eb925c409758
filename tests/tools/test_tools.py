"""Tools: @tool, StructuredTool, Tool, BaseTool subclasses, tool calls in and out."""

from __future__ import annotations

import threading
from typing import Annotated, Any, TypedDict

import pytest
from pydantic import BaseModel, ValidationError

from runnables import FunctionChatModel, RunnableConfig
from runnables.messages import AIMessage, BaseMessage, ToolCall, ToolMessage
from runnables.tools import (
    BaseTool,
    InjectedToolArg,
    InjectedToolCallId,
    StructuredTool,
    Tool,
    ToolException,
    convert_to_openai_tool,
    tool,
)


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _call(name: str, args: dict[str, Any], id: str = "call_1") -> ToolCall:
    return {"name": name, "args": args, "id": id, "type": "tool_call"}


def test_tool_decorator_reads_name_description_and_schema_from_the_function() -> None:
    assert isinstance(add, StructuredTool)
    assert add.name == "add"
    assert add.description == "Add two integers."
    assert add.args == {
        "a": {"title": "A", "type": "integer"},
        "b": {"title": "B", "type": "integer"},
    }
    assert add.invoke({"a": 1, "b": 2}) == 3


def test_invoking_with_a_tool_call_returns_a_tool_message_answering_it() -> None:
    out = add.invoke(_call("add", {"a": 1, "b": 2}, id="c7"))
    assert out == ToolMessage("3", tool_call_id="c7", name="add")


async def test_ainvoke_validates_and_coerces_arguments_with_the_schema() -> None:
    assert await add.ainvoke({"a": 1, "b": "41"}) == 42
    with pytest.raises(ValidationError):
        await add.ainvoke({"a": 1})


def test_tool_decorator_with_a_name_and_parse_docstring() -> None:
    @tool("lookup", parse_docstring=True)
    def find(query: str, limit: int = 3) -> str:
        """Find things.

        Args:
            query: What to look for.
            limit: How many.
        """
        return f"{query}:{limit}"

    assert find.name == "lookup"
    assert find.description == "Find things."
    assert find.args["query"]["description"] == "What to look for."
    assert find.invoke({"query": "x"}) == "x:3"


def test_an_async_tool_runs_from_sync_invoke_and_async_ainvoke() -> None:
    @tool
    async def mul(a: int, b: int) -> int:
        """Multiply."""
        return a * b

    assert mul.invoke({"a": 2, "b": 3}) == 6


async def test_a_sync_tool_called_from_async_code_runs_off_the_event_loop() -> None:
    seen: list[int] = []

    @tool
    def where() -> str:
        """Record the thread."""
        seen.append(threading.get_ident())
        return "ok"

    assert await where.ainvoke({}) == "ok"
    assert seen and seen[0] != threading.get_ident()


def test_a_sync_tool_invoked_synchronously_runs_inline() -> None:
    seen: list[int] = []

    @tool
    def where() -> str:
        """Record the thread."""
        seen.append(threading.get_ident())
        return "ok"

    assert where.invoke({}) == "ok"
    assert seen == [threading.get_ident()]


def test_content_and_artifact_puts_the_artifact_on_the_tool_message() -> None:
    @tool(response_format="content_and_artifact")
    def fetch(n: int) -> tuple[str, list[int]]:
        """Fetch n numbers."""
        return f"{n} numbers", list(range(n))

    msg = fetch.invoke(_call("fetch", {"n": 3}))
    assert msg.content == "3 numbers" and msg.artifact == [0, 1, 2]
    assert fetch.invoke({"n": 2}) == "2 numbers"


def test_content_and_artifact_with_a_plain_return_is_a_clear_error() -> None:
    @tool(response_format="content_and_artifact")
    def wrong() -> str:
        """Returns one value."""
        return "x"

    with pytest.raises(ValueError, match="two-tuple"):
        wrong.invoke({})


def test_handle_tool_error_turns_a_tool_exception_into_an_error_message() -> None:
    def fail(x: int) -> str:
        """Always fails."""
        raise ToolException(f"bad {x}")

    raising = StructuredTool.from_function(fail)
    with pytest.raises(ToolException, match="bad 1"):
        raising.invoke({"x": 1})
    handled = StructuredTool.from_function(fail, handle_tool_error=True)
    msg = handled.invoke(_call("fail", {"x": 2}))
    assert msg.content == "bad 2" and msg.status == "error"
    custom = StructuredTool.from_function(fail, handle_tool_error=lambda e: f"sorry: {e}")
    assert custom.invoke({"x": 3}) == "sorry: bad 3"


def test_handle_validation_error_reports_bad_arguments_as_output() -> None:
    assert isinstance(add, StructuredTool) and add.func is not None
    handled = StructuredTool.from_function(add.func, handle_validation_error=True)
    assert handled.invoke({"a": "not a number", "b": 1}) == "Tool input validation error"


def test_a_non_string_result_is_json_in_the_tool_message() -> None:
    @tool
    def info() -> dict[str, int]:
        """Return a dict."""
        return {"a": 1}

    assert info.invoke(_call("info", {})).content == '{"a": 1}'


class _SearchArgs(BaseModel):
    query: str
    limit: int = 2


class _Search(BaseTool):
    name: str = "search"
    description: str = "Search the index."
    args_schema: type[BaseModel] = _SearchArgs
    prefix: str = "r"

    def _run(self, query: str, limit: int) -> list[str]:
        return [f"{self.prefix}{i}:{query}" for i in range(limit)]


def test_a_base_tool_subclass_takes_its_declared_fields_as_keywords() -> None:
    search = _Search(prefix="doc")
    assert search.invoke({"query": "q"}) == ["doc0:q", "doc1:q"]
    assert search.invoke({"query": "q", "limit": 1}) == ["doc0:q"]
    assert _Search() == _Search() and _Search(prefix="x") != _Search()


class _Echo(BaseTool):
    name: str = "echo"
    description: str = "Echo."

    def _run(self, text: str) -> str:
        return "sync " + text

    async def _arun(self, text: str) -> str:
        return "async " + text


async def test_a_base_tool_subclass_with_arun_uses_it_for_async_calls() -> None:
    assert await _Echo().ainvoke({"text": "x"}) == "async x"


def test_sync_invoke_of_a_tool_with_both_methods_runs_its_sync_method() -> None:
    # As in langchain-core: the author wrote both, and _arun may even refuse sync use.
    assert _Echo().invoke({"text": "x"}) == "sync x"


async def test_sync_invoke_inside_a_loop_bound_chain_takes_the_async_method() -> None:
    async def shout(s: str) -> str:
        return s.upper()

    chain = _Echo() | shout  # the async step makes the chain need a loop
    assert await chain.ainvoke({"text": "x"}) == "ASYNC X"


def test_an_async_only_tool_is_bridged_for_sync_callers() -> None:
    @tool
    async def only_async(x: int) -> int:
        """Double."""
        return 2 * x

    assert only_async.invoke({"x": 2}) == 4


def test_a_bad_args_schema_is_rejected_with_what_to_pass() -> None:
    with pytest.raises(TypeError, match="args_schema must be a pydantic BaseModel"):
        _Search(args_schema=int)


def test_a_tool_without_a_description_is_an_error_naming_it() -> None:
    def nodoc(x: int) -> int:
        return x

    with pytest.raises(ValueError, match=r"Function must have a docstring.*'nodoc'"):
        tool(nodoc)


def test_tool_takes_one_string_and_refuses_more_arguments() -> None:
    shout = Tool("shout", str.upper, "Shout the text.")
    assert shout.invoke("hi") == "HI"
    assert shout.invoke({"text": "hi"}) == "HI"
    assert shout.args == {"tool_input": {"type": "string"}}
    with pytest.raises(ToolException, match="Too many arguments"):
        shout.invoke({"a": "x", "b": "y"})
    params = convert_to_openai_tool(shout)["function"]["parameters"]
    assert params["properties"] == {"__arg1": {"title": "__arg1", "type": "string"}}


def test_injected_arguments_are_hidden_from_the_model_but_passed_to_the_tool() -> None:
    @tool
    def greet(name: str, user: Annotated[str, InjectedToolArg]) -> str:
        """Greet."""
        return f"{user} greets {name}"

    assert set(greet.args) == {"name"}
    params = convert_to_openai_tool(greet)["function"]["parameters"]
    assert set(params["properties"]) == {"name"}
    assert greet.invoke({"name": "ann", "user": "bob"}) == "bob greets ann"


def test_tool_from_a_runnable_takes_its_dict_input() -> None:
    from typing import TypedDict

    from runnables import RunnableLambda

    class Args(TypedDict):
        a: int
        b: int

    summed = RunnableLambda[Args, int](lambda d: d["a"] + d["b"]).with_types(input_type=Args)
    as_tool = tool("sum", summed, description="Sum a and b.")
    assert as_tool.invoke({"a": 1, "b": 2}) == 3
    assert set(as_tool.args) == {"a", "b"}


def test_tools_compose_in_chains() -> None:
    chain = add | (lambda n: n * 10)
    assert chain.invoke({"a": 1, "b": 1}) == 20


async def test_tool_runs_are_tool_events() -> None:
    events = [e async for e in add.astream_events({"a": 1, "b": 2})]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "on_tool_start" and kinds[-1] == "on_tool_end"
    assert events[-1]["data"]["output"] == 3
    assert events[0]["name"] == "add"


async def test_bind_tools_takes_tool_objects_and_their_calls_run_them() -> None:
    seen: list[Any] = []

    def answer(messages: list[BaseMessage], params: dict[str, Any]) -> AIMessage:
        seen.append(params["tools"])
        return AIMessage("", tool_calls=[_call("add", {"a": 2, "b": 5}, id="c1")])

    model = FunctionChatModel(answer).bind_tools([add])
    reply = await model.ainvoke("2+5?")
    assert seen[0] == [convert_to_openai_tool(add)]
    assert seen[0][0]["function"]["name"] == "add"
    results = [await add.ainvoke(tc) for tc in reply.tool_calls]
    assert results == [ToolMessage("7", tool_call_id="c1", name="add")]


def test_parse_docstring_reads_google_style_as_langchain_core() -> None:
    @tool(parse_docstring=True)
    def foo(bar: str, baz: int) -> str:
        """The foo.

        Additional description here.

        Args:
            bar: The bar.
            baz (int): The baz,
                over two lines.

        Returns:
            Something.
        """
        return bar

    assert foo.description == "The foo. Additional description here."
    assert foo.args["bar"]["description"] == "The bar."
    assert foo.args["baz"]["description"] == "The baz, over two lines."


def test_parse_docstring_rejects_a_docstring_without_args() -> None:
    def foo(bar: str) -> str:
        """The foo."""
        return bar

    with pytest.raises(ValueError, match="Found invalid Google-Style docstring"):
        tool(foo, parse_docstring=True)


def test_tool_call_schema_is_named_after_the_tool_and_described_by_it() -> None:
    class Args(BaseModel):
        """Bar."""

        x: int

    @tool("lookup", description="Look things up.", args_schema=Args)
    def look(x: int) -> str:
        return str(x)

    schema = look.tool_call_schema
    assert not isinstance(schema, dict)
    assert schema.model_json_schema()["title"] == "lookup"
    assert schema.model_json_schema()["description"] == "Look things up."
    assert look.tool_call_schema is schema  # built once


class _FArgs(TypedDict):
    a: int
    b: list[int]


def test_runnable_as_tool_takes_the_input_keys_as_arguments() -> None:
    from runnables import RunnableLambda

    def f(x: _FArgs) -> str:
        return str(x["a"] + max(x["b"]))

    as_tool = RunnableLambda(f).as_tool(description="Sum.")
    assert as_tool.name == "f"
    assert as_tool.invoke({"a": 3, "b": [1, 2]}) == "5"
    by_types = RunnableLambda(lambda x: x["a"] * 2).as_tool(name="dbl", arg_types={"a": int})
    assert by_types.invoke({"a": 4}) == 8
    upper = RunnableLambda[str, str](lambda s: s.upper()).with_types(input_type=str)
    assert upper.as_tool(name="up").invoke("x") == "X"


def test_content_blocks_pass_through_and_other_values_are_json() -> None:
    @tool
    def blocks() -> list[dict[str, str]]:
        """Blocks."""
        return [{"type": "text", "text": "hi"}]

    @tool
    def unknown() -> list[dict[str, str]]:
        """Not blocks."""
        return [{"type": "bad", "foo": "bar"}]

    assert blocks.invoke(_call("blocks", {})).content == [{"type": "text", "text": "hi"}]
    assert unknown.invoke(_call("unknown", {})).content == '[{"type": "bad", "foo": "bar"}]'


class _Context:
    def __init__(self, value: str) -> None:
        self.value = value


class _QueryOnly(BaseModel):
    query: str


def test_injected_arguments_pass_through_a_custom_schema_and_may_be_any_type() -> None:
    @tool(args_schema=_QueryOnly)
    def search(query: str, context: Annotated[_Context, InjectedToolArg]) -> str:
        """Search with a context object."""
        return f"{query}:{context.value}"

    assert search.invoke({"query": "q", "context": _Context("c")}) == "q:c"

    @tool
    def inferred(query: str, context: Annotated[_Context, InjectedToolArg]) -> str:
        """Schema inferred, with an arbitrary injected type."""
        return context.value

    assert inferred.invoke({"query": "q", "context": _Context("v")}) == "v"
    assert set(inferred.args) == {"query"}


def test_a_function_with_an_injected_argument_converts_without_it() -> None:
    def f(x: int, secret: Annotated[str, InjectedToolArg]) -> str:
        """F."""
        return secret

    assert set(convert_to_openai_tool(f)["function"]["parameters"]["properties"]) == {"x"}


def test_an_injected_tool_call_id_needs_a_tool_call() -> None:
    @tool
    def reply(x: int, tool_call_id: Annotated[str, InjectedToolCallId]) -> str:
        """Echo the call id."""
        return tool_call_id

    assert reply.invoke(_call("reply", {"x": 1}, id="abc")).content == "abc"
    with pytest.raises(ValueError, match="must always be invoked with a full model ToolCall"):
        reply.invoke({"x": 1})


def test_run_takes_langchain_cores_config_keywords() -> None:
    seen: list[Any] = []

    @tool
    def where(config: RunnableConfig) -> str:
        """Report tags."""
        seen.append(config.get("tags"))
        return "ok"

    assert where.run({}, tags=["t"], tool_call_id="c").content == "ok"
    assert seen == [["t"]]
