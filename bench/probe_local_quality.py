"""Probe (not a workload): what requantizing the bundled model costs in quality.

``ChatLocal()`` runs the bundled SmolLM2-135M-Instruct (shipped as Q4_1) requantized to
Q8_0, and offers Q4_0 (``weights.py``). This measures each file's perplexity on the same
English text, with flash attention off and on: the mean negative log-likelihood of
every next token, from llama-cpp-python's ``Llama`` (one thread, so the figures do not
depend on the machine's load). The text is the docstrings of fifteen standard-library
modules, up to 1,000 tokens each, so the figures repeat on the same Python and model.

    python bench/probe_local_quality.py

Lower is better; a change of a few hundredths is rounding, not quality.
"""

from __future__ import annotations

import importlib
import inspect
import math
from typing import Any

MODULES = (
    "argparse",
    "asyncio",
    "bisect",
    "collections",
    "decimal",
    "email",
    "fractions",
    "heapq",
    "http.client",
    "json",
    "logging",
    "subprocess",
    "textwrap",
    "threading",
    "unittest",
)
MAX_TOKENS = 1000


def texts() -> list[str]:
    found = [inspect.getdoc(importlib.import_module(name)) or "" for name in MODULES]
    return [t for t in found if len(t) > 300]


def perplexity(path: str, flash_attn: bool, corpus: list[str]) -> tuple[float, int]:
    """``exp`` of the mean negative log-likelihood of each next token, and the count."""
    import numpy as np
    from llama_cpp import Llama

    llm: Any = Llama(
        path,
        n_ctx=MAX_TOKENS + 24,
        n_threads=1,
        logits_all=True,
        flash_attn=flash_attn,
        verbose=False,
    )
    total, count = 0.0, 0
    try:
        for text in corpus:
            tokens = llm.tokenize(text.encode())[:MAX_TOKENS]
            llm.reset()
            llm.eval(tokens)
            logits = np.asarray(llm.scores[: len(tokens) - 1], dtype=np.float64)
            top = logits.max(axis=1, keepdims=True)
            log_sum = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
            chosen = logits[np.arange(len(tokens) - 1), tokens[1:]]
            total += float((log_sum - chosen).sum())
            count += len(tokens) - 1
    finally:
        llm.close()
    return math.exp(total / count), count


def main() -> None:
    from runnables.providers.local import default_model_path
    from runnables.providers.local.engine import load_cpu_backend
    from runnables.providers.local.weights import requantized

    load_cpu_backend()
    shipped = default_model_path()
    files = {
        "Q4_1 (as shipped)": shipped,
        "Q8_0 (ChatLocal's default)": requantized(shipped, "Q8_0"),
        "Q4_0": requantized(shipped, "Q4_0"),
    }
    corpus = texts()
    print(f"{'file':<28} {'attention':<10} {'tokens':>6} {'perplexity':>10}")
    for name, path in files.items():
        for flash_attn in (False, True):
            ppl, count = perplexity(path, flash_attn, corpus)
            attention = "flash" if flash_attn else "plain"
            print(f"{name:<28} {attention:<10} {count:>6} {ppl:>10.3f}", flush=True)


if __name__ == "__main__":
    main()
