"""Probe (not a workload): what one ``llama_decode`` step costs per token at 1, 4, 16 sequences.

ChatLocal's engine batches one token of every running sequence into one step; this
times such steps directly on the engine's model (16 sequences, each with the same
prompt already evaluated), alternating the sizes over 12 rounds, and prints the
median step time and time per token. If the time per token barely falls as the step
grows, batching cannot raise throughput on this build, whatever the engine does.

    python bench/probe_local_step.py [threads] [model.gguf]
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    from runnables.providers.local import default_model_path
    from runnables.providers.local.engine import Engine, _Model

    threads = int(sys.argv[1]) if len(sys.argv) > 1 else os.cpu_count() or 1
    path = sys.argv[2] if len(sys.argv) > 2 else default_model_path()
    model = _Model(path, 512, threads, 16)
    prompt = model.prompt([{"role": "user", "content": "Write a long story about a dragon."}])
    for seq in range(16):
        for i, token in enumerate(prompt):
            Engine._put(model.batch, i, token, i, seq, i == len(prompt) - 1)
        model.batch.n_tokens = len(prompt)
        Engine._decode(model)
    positions = [len(prompt)] * 16
    times: dict[int, list[float]] = {1: [], 4: [], 16: []}
    for _ in range(12):
        for n in times:
            for seq in range(n):
                Engine._put(model.batch, seq, 1000 + seq, positions[seq], seq, True)
                positions[seq] += 1
            model.batch.n_tokens = n
            start = time.perf_counter()
            Engine._decode(model)
            times[n].append(time.perf_counter() - start)
    model.free()
    for n, values in times.items():
        median = sorted(values)[len(values) // 2]
        print(
            f"{n:2d} sequences: step {median * 1e3:7.1f} ms, per token {median * 1e3 / n:6.1f} ms"
        )


if __name__ == "__main__":
    main()
