"""Callbacks with langchain-core's interface: handlers given in a call's config see its runs."""

from runnables.callbacks.base import (
    AsyncCallbackHandler,
    BaseCallbackHandler,
    CallbackManagerMixin,
    ChainManagerMixin,
    LLMManagerMixin,
    RetrieverManagerMixin,
    RunManagerMixin,
    ToolManagerMixin,
)

__all__ = [
    "AsyncCallbackHandler",
    "BaseCallbackHandler",
    "CallbackManagerMixin",
    "ChainManagerMixin",
    "LLMManagerMixin",
    "RetrieverManagerMixin",
    "RunManagerMixin",
    "ToolManagerMixin",
]
