"""A runnables tool as a langchain-core tool: ``tool.as_langchain()``.

langchain-core code that takes tools (a langchain-core chat model's ``bind_tools``,
LangGraph's ``ToolNode``, an agent) accepts only its own ``BaseTool``; a runnables tool
is a pydantic model to it, which it rejects. :class:`LangChainTool` is a langchain-core
``BaseTool`` with the runnables tool's name, description, schema (injected arguments
left out, as runnables sends it) and ``return_direct``, whose calls run the runnables
tool: a tool call given to it comes back as the runnables tool's ``ToolMessage``
(artifact and status included), converted to langchain-core's.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig as LCConfig
from langchain_core.tools import BaseTool as LCBaseTool
from pydantic import ConfigDict, Field

from runnables.interop.adapter import runnables_config
from runnables.interop.values import from_langchain, to_langchain
from runnables.tools.base import BaseTool

__all__ = ["LangChainTool"]


class LangChainTool(LCBaseTool):
    """A runnables tool seen by langchain-core as one of its tools.

    Made by :meth:`runnables.tools.BaseTool.as_langchain`; ``tool`` is the runnables tool.
    Piping it back into runnables gives ``tool`` itself.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tool: BaseTool = Field(exclude=True)
    """The runnables tool that does the work."""

    @classmethod
    def of(cls, tool: BaseTool) -> LangChainTool:
        """The langchain-core tool for ``tool``."""
        return cls(
            name=tool.name,
            description=tool.description,
            args_schema=tool.args_schema
            if tool.args_schema is not None
            else tool.get_input_schema(),
            return_direct=tool.return_direct,
            response_format=tool.response_format,
            tags=tool.tags,
            metadata=tool.metadata,
            tool=tool,
        )

    @property
    def tool_call_schema(self) -> Any:
        # runnables' own: it knows runnables' injected arguments, langchain-core does not.
        return self.tool.tool_call_schema

    # ------------------------------------------------------------------ calls

    def invoke(self, input: Any, config: LCConfig | None = None, **kwargs: Any) -> Any:
        out = self.tool.invoke(from_langchain(input), runnables_config(config, is_async=False))
        return to_langchain(out)

    async def ainvoke(self, input: Any, config: LCConfig | None = None, **kwargs: Any) -> Any:
        out = await self.tool.ainvoke(
            from_langchain(input), runnables_config(config, is_async=True)
        )
        return to_langchain(out)

    def run(  # type: ignore[override]
        self,
        tool_input: str | dict[str, Any],
        *,
        config: LCConfig | None = None,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> Any:
        out = self.tool.run(
            from_langchain(tool_input),
            config=runnables_config(config, is_async=False),
            tool_call_id=tool_call_id,
        )
        return to_langchain(out)

    async def arun(  # type: ignore[override]
        self,
        tool_input: str | dict[str, Any],
        *,
        config: LCConfig | None = None,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> Any:
        out = await self.tool.arun(
            from_langchain(tool_input),
            config=runnables_config(config, is_async=True),
            tool_call_id=tool_call_id,
        )
        return to_langchain(out)

    # langchain-core's abstract hooks; the calls above never reach them, but a subclass
    # of langchain-core's calling them directly gets the runnables tool's own work.
    def _run(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("run_manager", None)
        return self.tool._run(*args, **kwargs)

    async def _arun(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("run_manager", None)
        return await self.tool._arun(*args, **kwargs)
