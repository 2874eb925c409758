"""The decode loop behind ``ChatLocal``: one model, one context, many sequences at once.

Continuous batching. Every request becomes a sequence of one llama.cpp context. A
single thread owns the model and the context, and runs steps: at each step it removes
the sequences whose caller left, admits waiting requests while a sequence slot is free
(first come first served, so a request never overtakes an earlier one), evaluates each
admitted prompt, then makes one ``llama_decode`` over the last token of every running
sequence and samples the next token of each with that request's own sampler (its
temperature, top-k/p, min-p, penalties and seed). Text goes to each caller's event loop
as soon as its token is sampled.

Why each prompt is evaluated on its own: putting several prompts in one ``llama_decode``
changes how llama.cpp groups the matrix work, which changed the greedy answers of 4
prompts in 16 in issue #14's prototype; evaluated alone, a prompt's numbers are the
same whether other sequences run or not, so a greedy answer does not depend on the
company it keeps. The one-token steps are shared by all running sequences.

Memory: the context holds ``max_sequences`` separate KV streams of ``n_ctx`` tokens
each (llama.cpp's non-unified cache), so a sequence attends over its own stream only,
laid out exactly as if it ran alone. When a sequence ends, its slot drops the answer's
part of the stream (``llama_memory_seq_rm``) and keeps the prompt's; a new request takes
the free slot whose kept prompt shares the longest start with its own (a chat's system
prompt and earlier turns) and evaluates only the rest, as llama-cpp-python's ``Llama``
does with its one context. After a failure the slot is cleared whole.

The model is loaded with llama.cpp's own loader, not llama-cpp-python's ``Llama``:
``Llama(verbose=False)`` silences llama.cpp by swapping the process's file descriptors
1 and 2, which is not thread-safe and left a process mute for good when two loads
overlapped. Here llama.cpp's log goes through llama-cpp-python's log callback, quieted
to errors, and no file descriptor is touched.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import re
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "TEXT",
    "END",
    "ERROR",
    "GONE",
    "Engine",
    "Request",
    "linked_ggml",
    "load_cpu_backend",
]
from runnables.errors import EngineError, InvalidArgumentError, InvalidInputError

# What the decode loop posts to a caller. Every request gets exactly one of END, ERROR
# or GONE (it was cancelled), after any number of TEXT.
TEXT, END, ERROR, GONE = 0, 1, 2, 3


# Marks where a message's content goes in the rendered chat template (private-use code
# points: no template writes them, and no tokenizer sees them).
class ContextMemoryError(EngineError, MemoryError):
    """llama.cpp could not allocate a context of the requested size (a ``MemoryError``)."""


_SENTINEL = "\ue000{}\ue001"
_SENTINEL_RE = re.compile("\ue000(\\d+)\ue001")

# A thread with nothing to do for this long exits (the model stays loaded); the next
# request starts a new one.
_IDLE_EXIT_SECONDS = 5.0


class Request:
    """One call: its messages, sampling settings, and where its output goes."""

    __slots__ = (
        "cancelled",
        "decoder",
        "finished",
        "max_tokens",
        "messages",
        "pending",
        "pos",
        "post",
        "prefilled",
        "prompt",
        "prompt_tokens",
        "sampled",
        "sampler",
        "seq",
        "settings",
        "stop",
        "token",
    )

    def __init__(
        self,
        messages: list[dict[str, str]],
        settings: dict[str, Any],
        post: Callable[[int, Any], None],
    ) -> None:
        self.messages = messages
        self.settings = settings
        self.stop: list[str] = settings["stop"]
        self.max_tokens: int | None = settings["max_tokens"]
        self.post = post
        self.cancelled = False
        self.finished = False
        self.seq = -1
        self.sampler: Any = None
        self.prompt: list[int] = []
        self.prefilled = False  # the whole prompt is in this sequence's KV cache
        self.prompt_tokens = 0
        self.pos = 0  # tokens of this sequence in the KV cache
        self.token = -1  # the last sampled token, not yet in the KV cache
        self.sampled = 0
        self.pending = ""  # text held back: it may be the start of a stop string
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")


_backend_lock = threading.Lock()
_chosen_cpu_library: list[str] = []  # the CPU library load_cpu_backend loaded, if any


def load_cpu_backend() -> str | None:
    """Load llama.cpp's CPU backend when it was built as libraries chosen at run time.

    llama-cpp-python built with ``GGML_BACKEND_DL`` (and ``GGML_CPU_ALL_VARIANTS``, as
    llama.cpp's own releases are) ships its CPU code as separate libraries next to
    ``libllama`` (``libggml-cpu-haswell.so``, ``libggml-cpu-zen4.so``, ...), none of them
    linked in: ggml looks for them only beside the Python executable and in the current
    directory, so no model would load. This loads, from the folder ``libllama`` came
    from, the one this CPU runs best (each scores itself against the CPU's features).
    Call it before any model loads, ``llama_cpp.Llama`` included; ``ChatLocal`` does.
    In a portable build the CPU backend is linked in, and this does nothing.

    Returns the file name of the CPU library it loaded (the same name on later calls),
    or ``None`` when the CPU backend is linked in. Safe to call from any thread.
    """
    import llama_cpp

    folder = Path(llama_cpp.llama_cpp._lib._name).parent
    with _backend_lock:
        ggml = linked_ggml()
        ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
        if ggml.ggml_backend_reg_count() == 0:
            ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
            ggml.ggml_backend_load_all_from_path(str(folder).encode())
            if ggml.ggml_backend_reg_count() == 0:
                raise EngineError(
                    f"llama.cpp's CPU backend is built as separate libraries "
                    f"(libggml-cpu-*.so), and none in {str(folder)!r} loads on this CPU. "
                    "Install llama-cpp-python's portable build, whose CPU code is linked "
                    "in: RUNNABLES_LLAMA_BUILD=portable bash scripts/setup"
                )
            # The library ggml chose is the libggml-cpu*.so of that folder now mapped.
            chosen = _mapped_libraries(folder, "libggml-cpu")
            _chosen_cpu_library.append(chosen[0] if chosen else "?")
        return _chosen_cpu_library[0] if _chosen_cpu_library else None


def linked_ggml() -> ctypes.CDLL:
    """The ggml library llama-cpp-python's ``libllama`` was linked against (its backend
    registry is the one llama.cpp asks).

    A wheel cannot hold symlinks, so ``libggml.so`` and ``libggml.so.0`` are separate
    copies of one file: a CPU library registered in the copy ``libllama`` did not load is
    one llama.cpp never sees ("no backends are loaded"). The linked copy is the one
    already mapped into the process.
    """
    import llama_cpp
    from llama_cpp import _ctypes_extensions

    folder = Path(llama_cpp.llama_cpp._lib._name).parent
    linked = _mapped_libraries(folder, "libggml.so")
    if linked:
        return ctypes.CDLL(str(folder / linked[0]))
    library: ctypes.CDLL = _ctypes_extensions.load_shared_library("ggml", folder)
    return library


def _mapped_libraries(folder: Path, prefix: str) -> list[str]:
    """The names of the files of ``folder`` starting with ``prefix`` mapped into this
    process (none where ``/proc`` cannot be read)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split(None, 5)[-1].strip() for line in maps if prefix in line}
    except OSError:
        return []
    return sorted(
        Path(p).name for p in paths if Path(p).parent == folder and Path(p).name.startswith(prefix)
    )


class _Model:
    """The loaded model, its context and its chat template (owned by the loop thread)."""

    def __init__(
        self, path: str, n_ctx: int, n_threads: int, max_sequences: int, flash_attn: bool = False
    ) -> None:
        import llama_cpp
        from llama_cpp import _logger  # installs llama-cpp-python's log callback
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if _logger.logger.level == logging.NOTSET:
            _logger.set_verbose(False)  # llama.cpp's progress chatter: errors only
        self.lib = lib = llama_cpp
        load_cpu_backend()
        lib.llama_backend_init()
        model = lib.llama_model_load_from_file(path.encode(), lib.llama_model_default_params())
        if not model:
            raise InvalidArgumentError(
                f"llama.cpp could not load the model file {path!r}. Check it is a GGUF "
                "file this llama-cpp-python version supports."
            )
        self.model = model
        self.ctx: Any = None
        self.batch: Any = None
        try:
            self.vocab = lib.llama_model_get_vocab(model)
            params = lib.llama_context_default_params()
            # n_ctx is per sequence: separate KV streams, each as if the sequence ran alone.
            params.n_ctx = n_ctx * max_sequences
            params.n_seq_max = max_sequences
            params.kv_unified = False
            params.n_batch = params.n_ubatch = self.n_batch = min(n_ctx, 512)
            params.n_threads = params.n_threads_batch = n_threads
            # Off by default, as llama-cpp-python's Llama, so answers match it.
            params.flash_attn_type = (
                lib.LLAMA_FLASH_ATTN_TYPE_ENABLED
                if flash_attn
                else lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
            )
            self.ctx = lib.llama_init_from_model(model, params)
            if not self.ctx:
                raise ContextMemoryError(
                    f"llama.cpp could not create a context of {max_sequences} sequences of "
                    f"{n_ctx} tokens. Lower max_sequences or n_ctx."
                )
            self.n_ctx_seq = int(lib.llama_n_ctx_seq(self.ctx))
            self.memory = lib.llama_get_memory(self.ctx)
            self.batch = lib.llama_batch_init(max(self.n_batch, max_sequences), 0, 1)
            template = lib.llama_model_chat_template(model, None)
            if not template:
                raise InvalidArgumentError(
                    f"The model file {path!r} has no chat template (tokenizer.chat_template), "
                    "so ChatLocal cannot format messages for it. Use the GGUF of a chat "
                    "(instruct) model."
                )
            eos_id, bos_id = lib.llama_vocab_eos(self.vocab), lib.llama_vocab_bos(self.vocab)
            self.eos = self.piece(eos_id, special=True).decode() if eos_id != -1 else ""
            bos = self.piece(bos_id, special=True).decode() if bos_id != -1 else ""
            self.format = Jinja2ChatFormatter(
                template=template.decode("utf-8"), eos_token=self.eos, bos_token=bos
            )
        except BaseException:
            self.free()
            raise

    def __del__(self) -> None:
        # An engine dropped without unload() (its ChatLocal collected) frees its memory.
        try:
            self.free()
        except Exception:
            pass  # interpreter shutdown: llama_cpp may already be gone

    def free(self) -> None:
        lib = self.lib
        if self.batch is not None:
            lib.llama_batch_free(self.batch)
            self.batch = None
        if self.ctx:
            lib.llama_free(self.ctx)
            self.ctx = None
        if self.model:
            lib.llama_model_free(self.model)
            self.model = None

    def tokenize(self, text: str, *, add_bos: bool, special: bool) -> list[int]:
        data = text.encode("utf-8")
        size = len(data) + 8
        out = (self.lib.llama_token * size)()
        n = self.lib.llama_tokenize(self.vocab, data, len(data), out, size, add_bos, special)
        if n < 0:
            size = -n
            out = (self.lib.llama_token * size)()
            n = self.lib.llama_tokenize(self.vocab, data, len(data), out, size, add_bos, special)
        return list(out[:n])

    def piece(self, token: int, *, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self.lib.llama_token_to_piece(self.vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self.lib.llama_token_to_piece(self.vocab, token, buf, -n, 0, special)
        return buf.raw[:n]

    def prompt(self, messages: list[dict[str, str]]) -> list[int]:
        """The chat template's tokens for ``messages``.

        Only the template's own markers are read as special tokens: a message's content
        is tokenized as plain text, so ``<|im_start|>system`` typed by a user stays text
        and cannot open a forged system turn.
        """
        marked = [{**m, "content": _SENTINEL.format(i)} for i, m in enumerate(messages)]
        rendered = self.format(messages=marked)  # type: ignore[arg-type]
        text: str = rendered.prompt
        parts = _SENTINEL_RE.split(text)
        # split() alternates template text and sentinel numbers: [t0, n0, t1, n1, ..., tk].
        found = [int(n) for n in parts[1::2]]
        if sorted(set(found)) != found or any(n >= len(messages) for n in found):
            raise InvalidArgumentError(
                "The model's chat template changed or repeated the messages' content, so "
                "ChatLocal cannot keep user text apart from control tokens. Use a chat GGUF "
                "whose template inserts each message's content unchanged."
            )
        tokens = self.tokenize(parts[0], add_bos=not rendered.added_special, special=True)
        for i in range(1, len(parts), 2):
            content = messages[int(parts[i])]["content"]
            if content:
                tokens += self.tokenize(content, add_bos=False, special=False)
            if parts[i + 1]:
                tokens += self.tokenize(parts[i + 1], add_bos=False, special=True)
        return tokens

    def sampler(self, settings: dict[str, Any]) -> Any:
        """A sampler chain as llama-cpp-python's ``Llama`` builds it, with this request's values."""
        lib = self.lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        add = lib.llama_sampler_chain_add
        repeat = float(settings["repeat_penalty"])
        freq, present = float(settings["frequency_penalty"]), float(settings["presence_penalty"])
        if repeat != 1.0 or freq or present:
            n_vocab = lib.llama_vocab_n_tokens(self.vocab)
            add(chain, lib.llama_sampler_init_penalties(n_vocab, 64, repeat, freq, present))
        temperature = float(settings["temperature"])
        if temperature == 0:
            add(chain, lib.llama_sampler_init_greedy())
        else:
            add(chain, lib.llama_sampler_init_top_k(int(settings["top_k"])))
            add(chain, lib.llama_sampler_init_typical(1.0, 1))
            add(chain, lib.llama_sampler_init_top_p(float(settings["top_p"]), 1))
            add(chain, lib.llama_sampler_init_min_p(float(settings["min_p"]), 1))
            add(chain, lib.llama_sampler_init_temp(temperature))
            add(chain, lib.llama_sampler_init_dist(int(settings["seed"]) & 0xFFFFFFFF))
        return chain


class Engine:
    """Runs every request of one ``ChatLocal`` (and the copies ``bind`` makes) in one batch.

    ``submit`` and ``cancel`` may be called from any thread. The loop thread starts with
    the first request (loading the model then), and exits after a few idle seconds;
    the model stays loaded until ``unload``.
    """

    def __init__(
        self,
        path: str,
        n_ctx: int,
        n_threads: int,
        max_sequences: int,
        prepare: Callable[[str], str] | None = None,
        flash_attn: bool = False,
    ) -> None:
        self.path = path
        self.flash_attn = flash_attn
        # Turns ``path`` into the file to load (a requantized copy,
        # written on first use): run on the loop thread, so it never blocks a caller.
        self.prepare = prepare
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.max_sequences = max_sequences
        self._cond = threading.Condition()
        self._queue: deque[Request] = deque()
        self._active: list[Request] = []
        self._free_seqs = list(range(max_sequences - 1, -1, -1))
        # A free slot's KV stream still holds its last request's prompt: the next request
        # that starts with the same tokens (a chat's system prompt and earlier turns)
        # evaluates only the rest, as llama-cpp-python's Llama does with its one context.
        self._kept: dict[int, list[int]] = {}
        self._thread: threading.Thread | None = None
        self._unload = False
        self.model: _Model | None = None

    # ------------------------------------------------------------ any thread

    @property
    def running(self) -> int:
        """Sequences being generated right now."""
        with self._cond:
            return len(self._active)

    @property
    def waiting(self) -> int:
        """Requests queued for a free sequence."""
        with self._cond:
            return len(self._queue)

    def submit(self, request: Request) -> None:
        with self._cond:
            self._unload = False
            self._queue.append(request)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="runnables-local-decode", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def cancel(self, request: Request) -> None:
        """Stop ``request``: at once if still queued, else at the loop's next step."""
        with self._cond:
            if request.finished:
                return
            try:
                self._queue.remove(request)
            except ValueError:
                request.cancelled = True
                self._cond.notify()
                return
            request.finished = True
        request.post(GONE, None)

    def unload(self) -> None:
        """Free the model and its context once no request runs or waits (now, if idle)."""
        with self._cond:
            self._unload = True
            self._cond.notify()
            thread = self._thread
            if self._active or self._queue:
                return  # the loop frees it when the last request is done
            if thread is None:
                model, self.model = self.model, None
                if model is not None:
                    model.free()
                return
        # The idle loop wakes, frees the model and exits at once.
        if thread is not threading.current_thread():
            thread.join(timeout=5.0)

    # ------------------------------------------------------------ loop thread

    def _run(self) -> None:
        try:
            if self.model is None:
                path = self.prepare(self.path) if self.prepare else self.path
                self.model = _Model(
                    path, self.n_ctx, self.n_threads, self.max_sequences, self.flash_attn
                )
                self._kept = {}
        except BaseException as exc:
            with self._cond:
                failed, self._queue = list(self._queue), deque()
                self._thread = None
                for request in failed:
                    request.finished = True
            for request in failed:
                request.post(ERROR, exc)
            return
        model = self.model
        try:
            while True:
                admitted = self._next_step()
                if admitted is None:
                    return
                for request in admitted:
                    self._start(model, request)
                if self._active:
                    self._step(model)
        except BaseException as exc:
            with self._cond:
                lost = self._active + list(self._queue)
                self._active, self._queue = [], deque()
                self._thread = None
            for request in lost:
                self._finish(model, request, ERROR, exc)

    def _next_step(self) -> list[Request] | None:
        """Drop cancelled sequences and admit queued requests; ``None``: exit the thread."""
        model = self.model
        assert model is not None
        with self._cond:
            while True:
                for request in [r for r in self._active if r.cancelled]:
                    self._active.remove(request)
                    self._release(model, request, keep=True)
                    request.finished = True
                    request.post(GONE, None)
                admitted: list[Request] = []
                while self._queue and self._free_seqs:
                    request = self._queue.popleft()
                    # The lowest free slot, so running sequences keep consecutive ids
                    # (see _step).
                    request.seq = min(self._free_seqs)
                    self._free_seqs.remove(request.seq)
                    self._active.append(request)
                    admitted.append(request)
                if self._active:
                    return admitted
                if self._unload:
                    self.model = None
                    model.free()
                    self._thread = None
                    return None
                if not self._cond.wait(_IDLE_EXIT_SECONDS) and not self._queue:
                    self._thread = None
                    return None

    def _release(self, model: _Model, request: Request, *, keep: bool) -> None:
        # Called with the lock held, or for a request no longer in _active. ``keep``: the
        # slot keeps the prompt's part of the cache (not after a failure: the cache may
        # be half written).
        if keep and request.prefilled:
            model.lib.llama_memory_seq_rm(model.memory, request.seq, len(request.prompt), -1)
            self._kept[request.seq] = request.prompt
        else:
            model.lib.llama_memory_seq_rm(model.memory, request.seq, -1, -1)
            self._kept.pop(request.seq, None)
        if request.sampler is not None:
            model.lib.llama_sampler_free(request.sampler)
            request.sampler = None
        self._free_seqs.append(request.seq)

    def _finish(self, model: _Model, request: Request, kind: int, value: Any) -> None:
        with self._cond:
            if request in self._active:
                self._active.remove(request)
            if request.seq >= 0 and request.seq not in self._free_seqs:
                self._release(model, request, keep=kind != ERROR)
            request.finished = True
        request.post(kind, value)

    def _start(self, model: _Model, request: Request) -> None:
        """Evaluate the prompt of a newly admitted request alone, and sample its first token."""
        lib = model.lib
        try:
            tokens = model.prompt(request.messages)
            if len(tokens) >= model.n_ctx_seq:
                raise InvalidInputError(
                    f"The prompt is {len(tokens)} tokens long, and ChatLocal's context holds "
                    f"{model.n_ctx_seq} tokens per request (n_ctx). Shorten the messages or "
                    "create the ChatLocal with a larger n_ctx."
                )
            request.prompt_tokens = len(tokens)
            if model.eos:
                request.stop = [*request.stop, model.eos]
            request.sampler = model.sampler(request.settings)
            if lib.llama_sampler_chain_n(request.sampler) > 1:
                for token in tokens:  # the penalties count the prompt's tokens too
                    lib.llama_sampler_accept(request.sampler, token)
            batch = model.batch
            for start in range(self._reuse(model, request, tokens), len(tokens), model.n_batch):
                chunk = tokens[start : start + model.n_batch]
                for i, token in enumerate(chunk):
                    self._put(batch, i, token, start + i, request.seq, False)
                batch.n_tokens = len(chunk)
                batch.logits[len(chunk) - 1] = start + len(chunk) == len(tokens)
                self._decode(model)
            request.pos = len(tokens)
            request.prompt, request.prefilled = tokens, True
            self._accept(model, request, lib.llama_sampler_sample(request.sampler, model.ctx, -1))
        except BaseException as exc:
            self._finish(model, request, ERROR, exc)

    def _reuse(self, model: _Model, request: Request, tokens: list[int]) -> int:
        """Give ``request`` the free slot whose kept prompt shares the longest prefix with
        ``tokens``, drop the rest of that slot's cache, and say where evaluation starts."""
        with self._cond:
            best, shared = request.seq, _shared_prefix(self._kept.get(request.seq, []), tokens)
            for seq in self._free_seqs:
                n = _shared_prefix(self._kept.get(seq, []), tokens)
                if n > shared:
                    best, shared = seq, n
            if best != request.seq:
                self._free_seqs.remove(best)
                self._free_seqs.append(request.seq)
                request.seq = best
            self._kept.pop(best, None)
        # At least the last two tokens are evaluated again, never the last one alone:
        # llama.cpp computes attention for one token with another kernel than for several
        # (ggml's vec_dot against llamafile's sgemm), whose rounding moved a logit by up
        # to 0.65 and changed greedy answers to a repeated prompt ("Say hello"). From two
        # tokens on, the bits equal a fresh evaluation of the whole prompt.
        start = max(0, min(shared, len(tokens) - 2))
        model.lib.llama_memory_seq_rm(model.memory, request.seq, start, -1)
        return start

    def _step(self, model: _Model) -> None:
        """One decode over the last token of every running sequence, then one sample each."""
        # In increasing sequence id: with one KV stream per sequence, llama.cpp computes
        # a step's tokens together only for runs of consecutive ids in batch order, and
        # splits the rest into separate passes over the weights. In admission order (slot
        # ids shuffled by prefix reuse) 16 sequences cost 16 single steps: 7.9 ms of CPU a
        # token against 4.2 ms in order (Q4_0, flash attention, probe on one thread).
        with self._cond:
            running = [r for r in self._active if not r.cancelled and not r.finished]
        running.sort(key=lambda r: r.seq)
        if not running:
            return
        batch = model.batch
        for i, request in enumerate(running):
            self._put(batch, i, request.token, request.pos, request.seq, True)
        batch.n_tokens = len(running)
        self._decode(model)
        for i, request in enumerate(running):
            request.pos += 1
            token = model.lib.llama_sampler_sample(request.sampler, model.ctx, i)
            self._accept(model, request, token)

    @staticmethod
    def _put(batch: Any, i: int, token: int, pos: int, seq: int, logits: bool) -> None:
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = logits

    @staticmethod
    def _decode(model: _Model) -> None:
        code = model.lib.llama_decode(model.ctx, model.batch)
        if code != 0:
            raise EngineError(f"llama.cpp's llama_decode failed with code {code}.")

    def _accept(self, model: _Model, request: Request, token: int) -> None:
        """Take a sampled token: send its text, or end the request."""
        request.sampled += 1
        request.token = token
        if model.lib.llama_vocab_is_eog(model.vocab, token):
            self._end(model, request, "stop")
            return
        text = request.pending + request.decoder.decode(model.piece(token))
        cut = _stop_at(text, request.stop)
        if cut is not None:
            request.pending = ""
            if cut:
                request.post(TEXT, text[:cut])
            self._end(model, request, "stop", flush=False)
            return
        keep = _held_back(text, request.stop)
        if len(text) > keep:
            request.post(TEXT, text[: len(text) - keep])
        request.pending = text[len(text) - keep :] if keep else ""
        out_of_tokens = request.max_tokens is not None and request.sampled >= request.max_tokens
        # The sampled token goes into the cache at position pos at the next step.
        if out_of_tokens or request.pos >= model.n_ctx_seq:
            self._end(model, request, "length")

    def _end(self, model: _Model, request: Request, reason: str, *, flush: bool = True) -> None:
        if flush:
            rest = request.pending + request.decoder.decode(b"", final=True)
            if rest:
                request.post(TEXT, rest)
        request.pending = ""
        self._finish(model, request, END, (reason, request.prompt_tokens, request.sampled))


def _shared_prefix(a: list[int], b: list[int]) -> int:
    """How many tokens ``a`` and ``b`` share from the start."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _stop_at(text: str, stops: list[str]) -> int | None:
    """Where the first stop string in ``text`` begins, if any."""
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(found) if found else None


def _held_back(text: str, stops: list[str]) -> int:
    """How many characters at the end of ``text`` could begin a stop string."""
    keep = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), keep, -1):
            if text.endswith(stop[:n]):
                keep = n
                break
    return keep
