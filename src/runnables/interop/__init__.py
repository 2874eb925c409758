"""Interop with the LangChain ecosystem (the ``interop`` extra).

- langchain-core objects inside runnables: any langchain-core ``Runnable`` (a chat model
  from an integration package, a retriever, a tool, a LangGraph graph, a whole chain)
  can stand wherever runnables takes a step; ``coerce_to_runnable`` wraps it in a
  :class:`~runnables.interop.step.LangChainStep` (imported only once such an object is
  passed, so ``import runnables`` never imports langchain-core).
- runnables chains inside LangChain: :meth:`runnables.Runnable.as_langchain`; a
  runnables tool as a langchain-core ``BaseTool``: ``tool.as_langchain()``.
- langchain-core callback handlers in a runnables config see the same runs as through
  ``as_langchain()`` (chat-model runs with their tokens).
- :func:`to_langchain` / :func:`from_langchain` convert values (messages and chunks,
  documents, prompt values, chat generations) losslessly between the two libraries.
"""

from runnables.interop.values import from_langchain, is_langchain_value, to_langchain

__all__ = ["from_langchain", "is_langchain_value", "to_langchain"]
