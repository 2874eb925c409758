"""Chat models: the provider contract, test models, caching, rate limiting and tools."""

from runnables.models.base import (
    BaseChatModel,
    ChatGeneration,
    ChatGenerationChunk,
    ChatResult,
    Generation,
    LanguageModelInput,
    LLMResult,
    StructuredOutputError,
)
from runnables.models.cache import (
    BaseCache,
    InMemoryCache,
    SQLiteCache,
    get_llm_cache,
    set_llm_cache,
)
from runnables.models.fake import (
    FakeEchoChatModel,
    FakeListChatModel,
    FakeListChatModelError,
    FakeMessagesListChatModel,
    FakeTimedChatModel,
    FunctionChatModel,
    GenericFakeChatModel,
    ParrotFakeChatModel,
)
from runnables.models.ratelimit import InMemoryRateLimiter, RateLimiter, estimate_tokens
from runnables.models.tools import convert_to_json_schema, convert_to_openai_tool

__all__ = [
    "BaseCache",
    "BaseChatModel",
    "ChatGeneration",
    "ChatGenerationChunk",
    "Generation",
    "LLMResult",
    "ChatResult",
    "FakeEchoChatModel",
    "FakeListChatModel",
    "FakeListChatModelError",
    "FakeMessagesListChatModel",
    "FakeTimedChatModel",
    "FunctionChatModel",
    "GenericFakeChatModel",
    "InMemoryCache",
    "InMemoryRateLimiter",
    "LanguageModelInput",
    "ParrotFakeChatModel",
    "RateLimiter",
    "SQLiteCache",
    "StructuredOutputError",
    "convert_to_json_schema",
    "convert_to_openai_tool",
    "estimate_tokens",
    "get_llm_cache",
    "set_llm_cache",
]
