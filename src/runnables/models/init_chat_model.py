"""``init_chat_model``: a chat model from a ``"provider:model"`` string.

As with langchain's function of the same name, the provider comes from the string's
prefix (``"openai:gpt-4o-mini"``), from ``model_provider=``, or from the model's name
(``"gpt-4o"`` is OpenAI's). The local model needs no name at all: ``"local"``.
Providers are imported only when asked for, so a missing extra fails with its install
command only for the provider that needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runnables.errors import ArgumentTypeError, ConfigError
from runnables.models.base import BaseChatModel

__all__ = ["init_chat_model", "known_providers"]

# Names of the bundled local model that mean "the default GGUF file".
_LOCAL_DEFAULT_NAMES = frozenset(
    {"", "default", "smollm2", "smollm2-135m", "smollm2-135m-instruct"}
)

# Model-name prefixes that identify OpenAI's models (as langchain infers them).
_OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt", "text-davinci")


def _openai(model: str, params: dict[str, Any]) -> BaseChatModel:
    from runnables.providers.openai import ChatOpenAI

    if not model:
        raise ConfigError(
            "init_chat_model('openai') needs a model name: write 'openai:MODEL', for example "
            "init_chat_model('openai:gpt-4o-mini')."
        )
    return ChatOpenAI(model=model, **params)


def _local(model: str, params: dict[str, Any]) -> BaseChatModel:
    from runnables.providers.local import ChatLocal

    if model.lower() in _LOCAL_DEFAULT_NAMES:
        return ChatLocal(**params)
    if model.lower().endswith(".gguf"):
        if "model_path" in params:
            raise ConfigError(
                f"init_chat_model got the model file twice: {model!r} and "
                f"model_path={params['model_path']!r}. Give it once."
            )
        return ChatLocal(model_path=model, **params)
    raise ConfigError(
        f"init_chat_model does not know the local model {model!r}. Use 'local' (the bundled "
        "SmolLM2-135M-Instruct) or 'local:/path/to/model.gguf'."
    )


_PROVIDERS: dict[str, Callable[[str, dict[str, Any]], BaseChatModel]] = {
    "local": _local,
    "openai": _openai,
}


def known_providers() -> list[str]:
    """The provider names ``init_chat_model`` understands."""
    return sorted(_PROVIDERS)


def _normalize(provider: str) -> str:
    return provider.strip().lower().replace("-", "_")


def _infer(model: str) -> str | None:
    lowered = model.lower()
    if lowered.startswith(_OPENAI_PREFIXES):
        return "openai"
    if lowered in _LOCAL_DEFAULT_NAMES - {""} or lowered.endswith(".gguf"):
        return "local"
    return None


def init_chat_model(
    model: str,
    *,
    model_provider: str | None = None,
    **params: Any,
) -> BaseChatModel:
    """A chat model from its name: ``"provider:model"``, or ``model`` with ``model_provider``.

    ``params`` go to the provider's class (``temperature``, ``max_tokens``, ``base_url``...).

    - ``"openai:gpt-4o-mini"``, or ``"gpt-4o-mini"`` (the provider is inferred), or
      ``("gpt-4o-mini", model_provider="openai")``: a
      :class:`~runnables.providers.openai.ChatOpenAI` (any OpenAI-compatible server with
      ``base_url=...``).
    - ``"local"`` or ``"local:smollm2"``: a :class:`~runnables.providers.local.ChatLocal`
      running the bundled SmolLM2-135M-Instruct; ``"local:/path/to/model.gguf"`` runs that
      file.

    >>> model = init_chat_model("local", max_tokens=32)  # doctest: +SKIP
    >>> model = init_chat_model("openai:gpt-4o-mini", temperature=0)  # doctest: +SKIP
    """
    if not isinstance(model, str):
        raise ArgumentTypeError(
            f"init_chat_model takes the model's name as a string, got {model!r} "
            f"(a {type(model).__name__}); for example 'openai:gpt-4o-mini' or 'local'."
        )
    name = model.strip()
    provider: str | None = None
    if model_provider is not None:
        provider = _normalize(model_provider)
    else:
        head, sep, rest = name.partition(":")
        # Only a known provider is a prefix: model names may hold colons ("llama3:8b").
        if sep and _normalize(head) in _PROVIDERS:
            provider, name = _normalize(head), rest.strip()
        elif _normalize(name) in _PROVIDERS:
            provider, name = _normalize(name), ""
        else:
            provider = _infer(name)
    if provider is None:
        raise ConfigError(
            f"init_chat_model cannot tell which provider serves {model!r}. Write "
            f"'provider:model' (for example 'openai:gpt-4o-mini' or 'local') or pass "
            f"model_provider=...; the known providers are {known_providers()}."
        )
    factory = _PROVIDERS.get(provider)
    if factory is None:
        raise ConfigError(
            f"init_chat_model does not know the provider {model_provider!r}; the known "
            f"providers are {known_providers()}."
        )
    return factory(name, params)
