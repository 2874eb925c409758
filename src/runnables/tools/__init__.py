"""Tools: functions a chat model can call, with langchain-core's names.

``@tool`` makes one from a typed function; :class:`StructuredTool` and :class:`Tool`
from functions; subclass :class:`BaseTool` for your own. Pass them to a chat model's
``bind_tools`` and run the calls it asks for with ``tool.invoke(tool_call)``, which
returns the :class:`~runnables.messages.ToolMessage` to send back.
"""

from runnables.models.tools import convert_to_json_schema, convert_to_openai_tool
from runnables.tools.base import (
    FILTERED_ARGS,
    ArgsSchema,
    BaseTool,
    BaseToolkit,
    InjectedToolArg,
    InjectedToolCallId,
    SchemaAnnotationError,
    ToolException,
    create_schema_from_function,
)
from runnables.tools.convert import convert_runnable_to_tool, convert_to_openai_function, tool
from runnables.tools.render import (
    ToolsRenderer,
    render_text_description,
    render_text_description_and_args,
)
from runnables.tools.retriever import RetrieverInput, create_retriever_tool
from runnables.tools.structured import StructuredTool, Tool

__all__ = [
    "FILTERED_ARGS",
    "ArgsSchema",
    "BaseTool",
    "BaseToolkit",
    "RetrieverInput",
    "SchemaAnnotationError",
    "ToolsRenderer",
    "create_retriever_tool",
    "render_text_description",
    "render_text_description_and_args",
    "InjectedToolArg",
    "InjectedToolCallId",
    "StructuredTool",
    "Tool",
    "ToolException",
    "convert_runnable_to_tool",
    "convert_to_openai_function",
    "convert_to_json_schema",
    "convert_to_openai_tool",
    "create_schema_from_function",
    "tool",
]
