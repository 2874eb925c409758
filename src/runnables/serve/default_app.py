"""The app ``runnables serve`` starts with no target: a chat chain on the local model.

No API key and no network: the model is the embedded SmolLM2 run by llama.cpp
(:class:`~runnables.providers.local.ChatLocal`, the ``local`` extra). The routes:

- ``/chat``: ``{"question": ...}`` → prompt → ``ChatLocal`` → text, with ``invoke``,
  ``batch``, ``stream``, ``stream_events``, the schemas and the playground
  (``/chat/playground/``; ``/`` redirects there);
- ``/v1/chat/completions`` and ``/v1/models``: the same model behind OpenAI's API, so
  the ``openai`` SDK can talk to it (``base_url="http://127.0.0.1:8000/v1"``).

``create_app`` is also a uvicorn factory:
``uvicorn runnables.serve.default_app:create_app --factory``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from runnables.core.base import Runnable

__all__ = ["SYSTEM_PROMPT", "create_app", "default_chain"]

SYSTEM_PROMPT = "You are a helpful assistant. Answer clearly and briefly."
SERVED_SEQUENCES = 16
"""Requests the default app's ChatLocal decodes together (more wait their turn)."""


def _local_model() -> Any:
    try:
        from runnables.providers.local import ChatLocal
    except ImportError as exc:
        from runnables.errors import MissingExtraError

        raise MissingExtraError(
            "The default app of 'runnables serve'", "local", "llama_cpp"
        ) from exc
    # 16 sequences: sixteen users of the playground or the OpenAI endpoint are decoded in
    # one batch, each streaming from its first step (ChatLocal's default is 8; each
    # sequence's cache is about 46 MB at its 2,048 tokens).
    return ChatLocal(max_sequences=SERVED_SEQUENCES)


def default_chain(model: Any = None) -> Runnable[dict[str, Any], str]:
    """``{"question": str}`` → the system prompt and the question → ``model`` → its text.

    ``model`` defaults to a :class:`~runnables.providers.local.ChatLocal`.
    """
    from runnables.output_parsers import StrOutputParser
    from runnables.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([("system", SYSTEM_PROMPT), ("human", "{question}")])
    chain = prompt | (model if model is not None else _local_model()) | StrOutputParser()
    named: Runnable[dict[str, Any], str] = chain.with_config(run_name="chat")
    return named


def create_app(model: Any = None) -> FastAPI:
    """The FastAPI app: the chat chain at ``/chat`` and the model at ``/v1`` (OpenAI's API)."""
    from fastapi import FastAPI
    from fastapi.responses import RedirectResponse

    from runnables.serve.routes import add_routes

    model = model if model is not None else _local_model()
    app = FastAPI(
        title="runnables: chat on the local model",
        description="A chat chain on the embedded SmolLM2 model. Try /chat/playground/.",
    )
    add_routes(app, default_chain(model), path="/chat")
    try:
        from runnables.serve.openai_compat import add_openai_routes
    except ImportError:
        pass  # the OpenAI-compatible routes are optional here
    else:
        add_openai_routes(app, model, model_name=getattr(model, "model_name", "runnables"))

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/chat/playground/")

    return app
