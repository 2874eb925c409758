"""runnables tools inside LangChain through ``tool.as_langchain()``."""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AIMessage as LCAIMessage
from langchain_core.messages import ToolMessage as LCToolMessage
from langchain_core.tools import BaseTool as LCBaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from pydantic import SecretStr

from runnables.core.base import coerce_to_runnable
from runnables.tools import InjectedToolCallId, tool


@tool(response_format="content_and_artifact")
def add(a: int, b: int) -> tuple[str, dict[str, int]]:
    """Add two numbers."""
    return str(a + b), {"sum": a + b}


@tool
def whoami(call_id: Annotated[str, InjectedToolCallId], greeting: str) -> str:
    """Say which call this is."""
    return f"{greeting} from {call_id}"


CALL: Any = {"name": "add", "args": {"a": 1, "b": 2}, "id": "c1", "type": "tool_call"}


def test_a_runnables_tool_is_a_langchain_core_tool_with_its_schema() -> None:
    lc = add.as_langchain()
    assert isinstance(lc, LCBaseTool) and lc.name == "add"
    assert convert_to_openai_tool(lc)["function"] == {
        "name": "add",
        "description": "Add two numbers.",
        "parameters": {
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
            "type": "object",
        },
    }
    # runnables' injected arguments stay hidden from the model, as runnables sends them.
    params = convert_to_openai_tool(whoami.as_langchain())["function"]["parameters"]
    assert list(params["properties"]) == ["greeting"]
    # Back in runnables it is the tool itself.
    assert coerce_to_runnable(lc) is add


async def test_a_tool_call_returns_the_runnables_tool_message_as_langchain_cores() -> None:
    lc = add.as_langchain()
    for message in (lc.invoke(CALL), await lc.ainvoke(CALL)):
        assert type(message) is LCToolMessage
        assert (message.content, message.tool_call_id, message.artifact) == ("3", "c1", {"sum": 3})
    assert lc.invoke({"a": 1, "b": 2}) == "3"
    injected = whoami.as_langchain().invoke(
        {"name": "whoami", "args": {"greeting": "hi"}, "id": "c9", "type": "tool_call"}
    )
    assert injected.content == "hi from c9"


def test_a_langchain_chat_model_binds_runnables_tools() -> None:
    model = ChatOpenAI(model="gpt-4o-mini", api_key=SecretStr("unused")).bind_tools(
        [add.as_langchain()]
    )
    (spec,) = model.kwargs["tools"]  # type: ignore[attr-defined]
    assert spec["function"]["name"] == "add"


async def test_langgraph_tool_node_runs_a_runnables_tool() -> None:
    builder = StateGraph(MessagesState)
    builder.add_node("tools", ToolNode([add.as_langchain()]))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile()
    ai = LCAIMessage("", tool_calls=[{"name": "add", "args": {"a": 4, "b": 5}, "id": "c2"}])
    out = await graph.ainvoke({"messages": [ai]})
    message = out["messages"][-1]
    assert isinstance(message, LCToolMessage)
    assert (message.content, message.tool_call_id, message.artifact) == ("9", "c2", {"sum": 9})
