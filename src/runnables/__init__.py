"""runnables: async-first composable steps for LLM applications.

The API is langchain-core's (``RunnableLambda``, ``|``, ``invoke``/``ainvoke``,
``batch``/``abatch``, ``stream``/``astream``...), so code moves over by changing the
import line; the async path is the real implementation.

The engine's names are imported eagerly (they are small). Messages, prompts, output
parsers, chat models and graphs are loaded on first use, so ``import runnables`` stays
cheap and never imports optional dependencies. They also live in their own packages,
mirroring langchain-core's: ``runnables.messages``, ``runnables.prompts``,
``runnables.output_parsers``, ``runnables.models``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runnables.core.base import Runnable, coerce_to_runnable
from runnables.core.binding import RunnableBinding
from runnables.core.branch import RunnableBranch
from runnables.core.chunks import AddableDict
from runnables.core.config import (
    RunnableConfig,
    ensure_config,
    get_config,
    merge_configs,
    patch_config,
)
from runnables.core.configurable import (
    ConfigurableField,
    ConfigurableFieldMultiOption,
    ConfigurableFieldSingleOption,
    ConfigurableFieldSpec,
    RunnableConfigurableAlternatives,
    RunnableConfigurableFields,
)
from runnables.core.each import RunnableEach
from runnables.core.fallbacks import RunnableWithFallbacks
from runnables.core.function import RunnableGenerator, RunnableLambda, chain
from runnables.core.offload import OffloadPolicy, get_offload_policy, set_offload_policy
from runnables.core.parallel import RunnableMap, RunnableParallel
from runnables.core.passthrough import RunnableAssign, RunnablePassthrough, RunnablePick
from runnables.core.retry import ExponentialJitterParams, RunnableRetry
from runnables.core.router import RouterInput, RouterRunnable
from runnables.core.sequence import RunnableSequence
from runnables.core.tracing import Run
from runnables.errors import (
    BlockingCallWarning,
    BlockingStepWarning,
    ConfigError,
    ConfigWarning,
    InvalidInputError,
    InvalidRunnableError,
    MissingExtraError,
    RecursionLimitError,
    RunnablesError,
    StepTimeoutError,
    UserError,
)
from runnables.interop.pipe import install as _install_langchain_pipe

if TYPE_CHECKING:
    from runnables.chat_history import (
        BaseChatMessageHistory,
        InMemoryChatMessageHistory,
        RunnableWithMessageHistory,
    )
    from runnables.core.custom_events import adispatch_custom_event, dispatch_custom_event
    from runnables.core.graph import Edge, Graph, Node
    from runnables.core.helpers import aadd, add, get_config_list, run_in_executor
    from runnables.core.serializable import RunnableSerializable
    from runnables.documents import Document
    from runnables.embeddings import DeterministicFakeEmbedding, Embeddings, FakeEmbeddings
    from runnables.messages import (
        AIMessage,
        AIMessageChunk,
        FunctionMessage,
        HumanMessage,
        RemoveMessage,
        SystemMessage,
        ToolMessage,
        convert_to_openai_messages,
        filter_messages,
        merge_message_runs,
        trim_messages,
    )
    from runnables.models import (
        BaseChatModel,
        FakeEchoChatModel,
        FakeListChatModel,
        FakeMessagesListChatModel,
        FakeTimedChatModel,
        FunctionChatModel,
        GenericFakeChatModel,
        InMemoryRateLimiter,
        ParrotFakeChatModel,
        RateLimiter,
    )
    from runnables.models.init_chat_model import init_chat_model
    from runnables.output_parsers import (
        CommaSeparatedListOutputParser,
        JsonOutputKeyToolsParser,
        JsonOutputParser,
        JsonOutputToolsParser,
        PydanticOutputParser,
        PydanticToolsParser,
        StrOutputParser,
        XMLOutputParser,
    )
    from runnables.prompts import (
        ChatPromptTemplate,
        FewShotChatMessagePromptTemplate,
        FewShotPromptTemplate,
        MessagesPlaceholder,
        PromptTemplate,
        load_prompt,
    )
    from runnables.providers.local import ChatLocal
    from runnables.providers.openai import ChatOpenAI
    from runnables.retrievers import BaseRetriever
    from runnables.serve import add_openai_routes, add_routes
    from runnables.serve.remote import RemoteRunnable
    from runnables.tools import BaseTool, StructuredTool, Tool, ToolException, tool
    from runnables.vectorstores import InMemoryVectorStore, VectorStore, VectorStoreRetriever

__version__ = "0.1.0"

# `langchain_object | runnables_step` gives a runnables chain: langchain-core's `|` is
# taught the rule when (and only if) langchain-core is loaded; see runnables.interop.pipe.
_install_langchain_pipe()

# Loaded on first attribute access: name -> module.
_LAZY = {
    "RunnableSerializable": "runnables.core.serializable",  # pydantic-based: imported lazily
    "Graph": "runnables.core.graph",
    "Node": "runnables.core.graph",
    "Edge": "runnables.core.graph",
    "AIMessage": "runnables.messages",
    "AIMessageChunk": "runnables.messages",
    "HumanMessage": "runnables.messages",
    "SystemMessage": "runnables.messages",
    "ToolMessage": "runnables.messages",
    "BaseChatModel": "runnables.models",
    "FakeEchoChatModel": "runnables.models",
    "FakeListChatModel": "runnables.models",
    "FakeMessagesListChatModel": "runnables.models",
    "ParrotFakeChatModel": "runnables.models",
    "FakeTimedChatModel": "runnables.models",
    "FunctionChatModel": "runnables.models",
    "GenericFakeChatModel": "runnables.models",
    "InMemoryRateLimiter": "runnables.models",
    "RateLimiter": "runnables.models",
    "ChatPromptTemplate": "runnables.prompts",
    "MessagesPlaceholder": "runnables.prompts",
    "PromptTemplate": "runnables.prompts",
    "CommaSeparatedListOutputParser": "runnables.output_parsers",
    "JsonOutputParser": "runnables.output_parsers",
    "PydanticOutputParser": "runnables.output_parsers",
    "StrOutputParser": "runnables.output_parsers",
    "ChatOpenAI": "runnables.providers.openai",
    "ChatLocal": "runnables.providers.local",
    "init_chat_model": "runnables.models.init_chat_model",
    "add_routes": "runnables.serve",
    "add_openai_routes": "runnables.serve",
    "RemoteRunnable": "runnables.serve.remote",
}

# Tools, documents and retrieval, chat history (langchain-core's names).
_LAZY.update(
    {
        "BaseTool": "runnables.tools",
        "StructuredTool": "runnables.tools",
        "Tool": "runnables.tools",
        "ToolException": "runnables.tools",
        "tool": "runnables.tools",
        "Document": "runnables.documents",
        "Embeddings": "runnables.embeddings",
        "DeterministicFakeEmbedding": "runnables.embeddings",
        "FakeEmbeddings": "runnables.embeddings",
        "BaseRetriever": "runnables.retrievers",
        "VectorStore": "runnables.vectorstores",
        "InMemoryVectorStore": "runnables.vectorstores",
        "VectorStoreRetriever": "runnables.vectorstores",
        "BaseChatMessageHistory": "runnables.chat_history",
        "InMemoryChatMessageHistory": "runnables.chat_history",
        "RunnableWithMessageHistory": "runnables.chat_history",
        "FewShotPromptTemplate": "runnables.prompts",
        "FewShotChatMessagePromptTemplate": "runnables.prompts",
        "load_prompt": "runnables.prompts",
        "XMLOutputParser": "runnables.output_parsers",
        "JsonOutputToolsParser": "runnables.output_parsers",
        "JsonOutputKeyToolsParser": "runnables.output_parsers",
        "PydanticToolsParser": "runnables.output_parsers",
        "FunctionMessage": "runnables.messages",
        "RemoveMessage": "runnables.messages",
        "trim_messages": "runnables.messages",
        "filter_messages": "runnables.messages",
        "merge_message_runs": "runnables.messages",
        "convert_to_openai_messages": "runnables.messages",
        "add": "runnables.core.helpers",
        "aadd": "runnables.core.helpers",
        "get_config_list": "runnables.core.helpers",
        "run_in_executor": "runnables.core.helpers",
        "dispatch_custom_event": "runnables.core.custom_events",
        "adispatch_custom_event": "runnables.core.custom_events",
    }
)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runnables' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AIMessage",
    "AIMessageChunk",
    "AddableDict",
    "BaseChatModel",
    "BlockingCallWarning",
    "BlockingStepWarning",
    "ChatLocal",
    "ChatOpenAI",
    "ChatPromptTemplate",
    "CommaSeparatedListOutputParser",
    "ConfigError",
    "ConfigWarning",
    "ConfigurableField",
    "ConfigurableFieldMultiOption",
    "ConfigurableFieldSingleOption",
    "ConfigurableFieldSpec",
    "Edge",
    "ExponentialJitterParams",
    "FakeEchoChatModel",
    "FakeListChatModel",
    "FakeMessagesListChatModel",
    "FakeTimedChatModel",
    "FunctionChatModel",
    "GenericFakeChatModel",
    "Graph",
    "HumanMessage",
    "InMemoryRateLimiter",
    "InvalidInputError",
    "InvalidRunnableError",
    "JsonOutputParser",
    "MessagesPlaceholder",
    "MissingExtraError",
    "Node",
    "OffloadPolicy",
    "ParrotFakeChatModel",
    "PromptTemplate",
    "PydanticOutputParser",
    "RateLimiter",
    "RecursionLimitError",
    "RemoteRunnable",
    "RouterInput",
    "RouterRunnable",
    "Run",
    "Runnable",
    "RunnableAssign",
    "RunnableBinding",
    "RunnableBranch",
    "RunnableConfig",
    "RunnableConfigurableAlternatives",
    "RunnableConfigurableFields",
    "RunnableEach",
    "RunnableGenerator",
    "RunnableLambda",
    "RunnableMap",
    "RunnableParallel",
    "RunnablePassthrough",
    "RunnablePick",
    "RunnableRetry",
    "RunnableSequence",
    "RunnableSerializable",
    "RunnableWithFallbacks",
    "RunnablesError",
    "StepTimeoutError",
    "StrOutputParser",
    "SystemMessage",
    "ToolMessage",
    "UserError",
    "add_openai_routes",
    "add_routes",
    "chain",
    "coerce_to_runnable",
    "ensure_config",
    "get_config",
    "get_offload_policy",
    "init_chat_model",
    "merge_configs",
    "patch_config",
    "set_offload_policy",
]

# Tools, documents and retrieval, chat history.
__all__ += [
    "BaseTool",
    "StructuredTool",
    "Tool",
    "ToolException",
    "tool",
    "Document",
    "Embeddings",
    "DeterministicFakeEmbedding",
    "FakeEmbeddings",
    "BaseRetriever",
    "VectorStore",
    "InMemoryVectorStore",
    "VectorStoreRetriever",
    "BaseChatMessageHistory",
    "InMemoryChatMessageHistory",
    "RunnableWithMessageHistory",
    "FewShotPromptTemplate",
    "FewShotChatMessagePromptTemplate",
    "load_prompt",
    "XMLOutputParser",
    "JsonOutputToolsParser",
    "JsonOutputKeyToolsParser",
    "PydanticToolsParser",
    "FunctionMessage",
    "RemoveMessage",
    "trim_messages",
    "filter_messages",
    "merge_message_runs",
    "convert_to_openai_messages",
    "add",
    "aadd",
    "get_config_list",
    "run_in_executor",
    "dispatch_custom_event",
    "adispatch_custom_event",
]
