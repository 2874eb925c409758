"""Probe (not a workload): what one ``llama_decode`` step costs per token at 1, 4, 16 sequences.

ChatLocal's engine batches one token of every running sequence into one step; this
times such steps directly on the engine's model (16 sequences, each with the same
prompt already evaluated), alternating the sizes (and the models, when several GGUF
files are given) over 12 rounds, and prints the median step time and time per token.
If the time per token barely falls as the step grows, batching cannot raise throughput
on this build, whatever the engine does. Several files are loaded side by side and
measured in turn, so machine noise hits each of them in the same minute. Beside the
wall time it prints the process's CPU time per token: on a machine whose cores are
shared with other work the wall time mostly says how often the process got a core,
while the CPU time says what a token costs (with more than one thread it includes
llama.cpp's threads spinning at barriers):

    python bench/probe_local_step.py [threads] [model.gguf ...]

``PROBE_FLASH_ATTN=1`` turns flash attention on; ``PROBE_N_CTX`` sets each sequence's
KV stream (default 512): llama.cpp attends over max(256, used cells rounded up to 256)
cells of a stream, or the whole stream when it is shorter, so a stream of 128 tokens
halves the attention of a short request. ``LLAMA_CPP_LIB_PATH=<folder>`` runs another
build of llama.cpp (the portable one beside the variant one, say).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any


def _prefill(model: Any) -> list[int]:
    from runnables.providers.local.engine import Engine

    prompt = model.prompt([{"role": "user", "content": "Write a long story about a dragon."}])
    for seq in range(16):
        for i, token in enumerate(prompt):
            Engine._put(model.batch, i, token, i, seq, i == len(prompt) - 1)
        model.batch.n_tokens = len(prompt)
        Engine._decode(model)
    return [len(prompt)] * 16


def main() -> None:
    from runnables.providers.local import default_model_path
    from runnables.providers.local.engine import Engine, _Model, load_cpu_backend

    threads = int(sys.argv[1]) if len(sys.argv) > 1 else os.cpu_count() or 1
    paths = sys.argv[2:] or [default_model_path()]
    flash = os.environ.get("PROBE_FLASH_ATTN", "") not in ("", "0")
    n_ctx = int(os.environ.get("PROBE_N_CTX", 512))
    models = [_Model(path, n_ctx, threads, 16, flash) for path in paths]
    positions = [_prefill(model) for model in models]
    sizes = (1, 4, 8, 16)
    times = [{n: [] for n in sizes} for _ in models]  # type: list[dict[int, list[float]]]
    cpu = [{n: [] for n in sizes} for _ in models]  # type: list[dict[int, list[float]]]
    for _ in range(12):
        for model, pos, spent, used in zip(models, positions, times, cpu):
            for n in sizes:
                for seq in range(n):
                    Engine._put(model.batch, seq, 1000 + seq, pos[seq], seq, True)
                    pos[seq] += 1
                model.batch.n_tokens = n
                start, start_cpu = time.perf_counter(), time.process_time()
                Engine._decode(model)
                spent[n].append(time.perf_counter() - start)
                used[n].append(time.process_time() - start_cpu)
    for path, model, spent, used in zip(paths, models, times, cpu):
        model.free()
        print(
            f"{os.path.basename(path)} ({threads} threads, flash attention "
            f"{'on' if flash else 'off'}, {n_ctx} tokens a stream, CPU code: "
            f"{load_cpu_backend() or 'linked in (portable build)'}):"
        )
        single = sorted(spent[1])[len(spent[1]) // 2]
        single_cpu = sorted(used[1])[len(used[1]) // 2]
        for n, values in spent.items():
            median = sorted(values)[len(values) // 2]
            median_cpu = sorted(used[n])[len(used[n]) // 2]
            print(
                f"  {n:2d} sequences: step {median * 1e3:7.1f} ms, per token "
                f"{median * 1e3 / n:6.1f} ms ({single * n / median:.2f}x one per step); "
                f"CPU per token {median_cpu * 1e3 / n:6.1f} ms "
                f"({single_cpu * n / median_cpu:.2f}x)"
            )


if __name__ == "__main__":
    main()
