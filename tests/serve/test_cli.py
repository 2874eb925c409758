"""The ``runnables`` command, run in subprocesses: serve (then called over HTTP), run, graph."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from runnables.cli.main import main, normalize_path, parse_input
from runnables.serve.remote import RemoteRunnable

CHAINS = textwrap.dedent(
    """
    import os
    import time

    from fastapi import FastAPI

    from runnables import RunnableGenerator, RunnableLambda
    from runnables.serve import add_routes

    upper = RunnableLambda(lambda s: s.upper(), name="upper")
    chain = upper | RunnableLambda(lambda s: s + "!", name="exclaim")
    describe = RunnableLambda(lambda d: f"{d['name']} is {d['age']}")
    not_a_runnable = 42

    def fails(_):
        raise ValueError("the chain broke")

    broken = RunnableLambda(fails)

    def _gate(inputs):
        for text in inputs:
            yield text + "-first "
            # Wait (bounded) for the test to have seen the first chunk on stdout.
            flag = os.environ["CLI_TEST_FLAG"]
            deadline = time.monotonic() + 20
            while not os.path.exists(flag) and time.monotonic() < deadline:
                time.sleep(0.01)
            yield text + "-second"

    gated = RunnableGenerator(_gate)

    def _pid(_):
        time.sleep(0.05)  # holds this worker's loop, so the next connection may go elsewhere
        return os.getpid()

    pid = RunnableLambda(_pid)

    async def _slow(inputs):
        import asyncio

        async for _ in inputs:
            pass
        for i in range(100):
            yield f"w{i} "
            await asyncio.sleep(0.1)

    slow = RunnableGenerator(_slow)

    app = FastAPI()
    add_routes(app, upper, path="/up")
    """
)

BROKEN_IMPORT = "import no_such_package_for_cli_tests\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "chains.py").write_text(CHAINS)
    (tmp_path / "broken_import.py").write_text(BROKEN_IMPORT)
    return tmp_path


def cli(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runnables.cli", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A ``runnables serve`` process and its base URL."""

    def __init__(self, proc: subprocess.Popen[str], port: int, host: str = "127.0.0.1") -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://{host}:{port}"


StartServe = Callable[..., Served]


@pytest.fixture
def serve(project: Path) -> Iterator[StartServe]:
    procs: list[subprocess.Popen[str]] = []

    def start(
        *args: str, ready: str = "/openapi.json", wait: float = 60, host: str = "127.0.0.1"
    ) -> Served:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "runnables.cli", "serve", *args, "--port", str(port)],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        served = Served(proc, port, host)
        deadline = time.monotonic() + wait
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else ""
                raise AssertionError(f"serve exited with {proc.returncode}:\n{out}")
            try:
                if httpx.get(served.url + ready, timeout=2).status_code < 500:
                    return served
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"serve did not answer {ready} within {wait} s")
            time.sleep(0.1)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------- serve


async def test_serve_a_runnable_then_call_it_with_remote_runnable_and_httpx(
    serve: StartServe,
) -> None:
    served = serve("chains:chain")

    assert await RemoteRunnable(served.url).ainvoke("hi") == "HI!"
    assert [c async for c in RemoteRunnable(served.url).astream("a")] == ["A!"]
    async with httpx.AsyncClient() as client:
        page = await client.get(served.url + "/playground/")
        schema = await client.get(served.url + "/input_schema")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert schema.status_code == 200


async def test_serve_puts_a_runnable_under_path_and_redirects_the_root(serve: StartServe) -> None:
    served = serve("chains:upper", "--path", "/shout", ready="/shout/input_schema")

    assert await RemoteRunnable(served.url + "/shout").ainvoke("x") == "X"
    root = httpx.get(served.url + "/", follow_redirects=False)
    assert root.status_code in (302, 307)
    assert root.headers["location"].endswith("/shout/playground/")


async def test_serve_serves_a_fastapi_app_as_is(serve: StartServe) -> None:
    served = serve("chains:app")

    assert await RemoteRunnable(served.url + "/up").ainvoke("app") == "APP"


async def test_serve_with_two_workers_serves_from_each_process(serve: StartServe) -> None:
    served = serve("chains:upper", "--workers", "2", ready="/input_schema")

    remote = RemoteRunnable(served.url)
    assert await remote.abatch(["a", "b"]) == ["A", "B"]
    assert await remote.ainvoke("c") == "C"


def test_serve_with_two_workers_answers_from_two_processes(serve: StartServe) -> None:
    served = serve("chains:pid", "--workers", "2", ready="/input_schema")
    pids: set[int] = set()

    def one(_: int) -> int:
        # A new connection each time: the kernel hands each to whichever worker accepts.
        return int(httpx.post(served.url + "/invoke", json={"input": 0}).json()["output"])

    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(8) as pool:
        while len(pids) < 2 and time.monotonic() < deadline:
            pids.update(pool.map(one, range(16)))

    assert len(pids) == 2, f"every answer came from {pids}"
    assert served.proc.pid not in pids  # the workers, not the supervisor


def test_serve_binds_the_host_it_is_given(serve: StartServe) -> None:
    # The whole of 127.0.0.0/8 is loopback on Linux: a second address to bind.
    served = serve("chains:upper", "--host", "127.0.0.2", host="127.0.0.2")

    assert httpx.post(served.url + "/invoke", json={"input": "a"}).json()["output"] == "A"
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"http://127.0.0.1:{served.port}/invoke", json={"input": "a"})


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]])
def test_sigterm_stops_an_open_stream_after_the_grace_with_an_error_event(
    serve: StartServe, workers: list[str]
) -> None:
    served = serve("chains:slow", "--graceful-shutdown", "1", *workers, ready="/input_schema")
    lines: list[str] = []

    with httpx.stream("POST", served.url + "/stream", json={"input": "x"}, timeout=30) as r:
        it = r.iter_lines()
        for line in it:
            lines.append(line)
            if line.startswith("event: data"):
                break
        signalled = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        lines.extend(it)
        took = time.monotonic() - signalled

    events = [line for line in lines if line.startswith(("event:", "data:"))]
    assert events[-2] == "event: error", lines[-6:]
    error = json.loads(events[-1].removeprefix("data: "))
    assert error["status_code"] == 503 and "shutting down" in error["message"]
    # The grace is 1 s and uvicorn's backstop 3 s; the stream itself would take 10 s.
    assert 0.8 < took < 2.9
    # uvicorn re-raises the signal once it has shut down, as a process killed by it.
    assert served.proc.wait(15) in (0, -signal.SIGTERM)


def test_serve_with_no_target_serves_the_chat_chain_on_the_local_model(serve: StartServe) -> None:
    pytest.importorskip("llama_cpp", reason="the default app runs the embedded local model")
    served = serve(ready="/chat/input_schema", wait=120)

    page = httpx.get(served.url + "/chat/playground/", timeout=30)
    assert page.status_code == 200
    schema = httpx.get(served.url + "/chat/input_schema").json()
    if "$ref" in schema:
        schema = schema["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    assert "question" in schema["properties"]
    chunks = []
    with httpx.stream(
        "POST",
        served.url + "/chat/stream",
        json={"input": {"question": "Say hello."}},
        timeout=120,
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and '"run_id"' not in line:
                chunks.append(json.loads(line[6:]))
                if len(chunks) >= 3:
                    break
    assert chunks and all(isinstance(c, str) for c in chunks)


# ---------------------------------------------------------------------- run


def test_run_streams_each_chunk_to_stdout_as_it_arrives(project: Path) -> None:
    flag = project / "seen-first-chunk"
    proc = subprocess.Popen(
        [sys.executable, "-m", "runnables.cli", "run", "chains:gated", "go"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "CLI_TEST_FLAG": str(flag)},
    )
    try:
        assert proc.stdout is not None
        # The generator waits for the flag before its second chunk: reading the first
        # chunk here proves it was printed before the run was over.
        first = proc.stdout.read(len(b"go-first "))
        assert first == b"go-first "
        flag.write_text("seen")
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rest == b"go-second\n", err
    assert proc.returncode == 0


def test_run_parses_json_input_and_falls_back_to_a_string(project: Path) -> None:
    as_json = cli(project, "run", "chains:describe", '{"name": "Ann", "age": 7}')
    as_text = cli(project, "run", "chains:upper", "not json")

    assert as_json.stdout == "Ann is 7\n", as_json.stderr
    assert as_text.stdout == "NOT JSON\n", as_text.stderr


def test_run_events_prints_one_json_event_a_line(project: Path) -> None:
    result = cli(project, "run", "chains:chain", "x", "--events")

    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0, result.stderr
    assert events[0]["event"] == "on_chain_start"
    assert ("on_chain_end", "exclaim") in [(e["event"], e["name"]) for e in events]
    assert events[-1]["data"]["output"] == "X!"


def test_run_reports_a_failing_chain_with_exit_status_1(project: Path) -> None:
    result = cli(project, "run", "chains:broken", "x")

    assert result.returncode == 1
    assert "ValueError: the chain broke" in result.stderr


# ---------------------------------------------------------------------- graph


def test_graph_draws_the_chain_in_ascii_and_mermaid(project: Path) -> None:
    ascii_art = cli(project, "graph", "chains:chain")
    mermaid = cli(project, "graph", "chains:chain", "--mermaid")

    assert ascii_art.returncode == 0, ascii_art.stderr
    assert "upper" in ascii_art.stdout and "exclaim" in ascii_art.stdout
    assert mermaid.returncode == 0, mermaid.stderr
    assert mermaid.stdout.lstrip().startswith(("graph", "%%", "---", "flowchart"))
    assert "exclaim" in mermaid.stdout


# ---------------------------------------------------------------------- bad targets


@pytest.mark.parametrize(
    ("command", "target", "expected"),
    [
        ("run", "no_such_module:chain", "No module named 'no_such_module'"),
        ("run", "chains:missing", "has no attribute 'missing'"),
        ("graph", "chains:not_a_runnable", "'chains:not_a_runnable' is 42 (a int), not a runnable"),
        ("serve", "chains:not_a_runnable", "neither a runnable nor an ASGI app"),
        ("run", "chains", "is not of the form 'module:attribute'"),
        ("run", "broken_import:x", "no_such_package_for_cli_tests"),
    ],
)
def test_a_bad_target_exits_2_with_a_message_naming_it(
    project: Path, command: str, target: str, expected: str
) -> None:
    args = [command, target] + (["x"] if command == "run" else [])

    result = cli(project, *args)

    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_attribute_lists_the_runnables_the_module_has(project: Path) -> None:
    result = cli(project, "graph", "chains:chian")

    assert (
        "Runnables and apps it defines: app, broken, chain, describe, gated, pid, slow, upper."
        in (result.stderr)
    )


# ---------------------------------------------------------------------- helpers


def test_parse_input_reads_json_or_keeps_the_text() -> None:
    assert parse_input('{"a": 1}') == {"a": 1}
    assert parse_input("[1, 2]") == [1, 2]
    assert parse_input("42") == 42
    assert parse_input("hello world") == "hello world"


def test_normalize_path_maps_the_root_to_empty_and_adds_the_slash() -> None:
    assert normalize_path("/") == ""
    assert normalize_path("") == ""
    assert normalize_path("chat/") == "/chat"
    assert normalize_path("/a/b") == "/a/b"


def test_main_without_a_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])

    assert info.value.code == 2
    assert "serve" in capsys.readouterr().err


# ---------------------------------------------------------------------- serve's guards


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]])
def test_serve_on_loopback_answers_only_loopback_host_headers(
    serve: StartServe, workers: list[str]
) -> None:
    served = serve("chains:upper", *workers)
    body = {"input": "a"}

    rebound = httpx.post(served.url + "/invoke", json=body, headers={"Host": "evil.example"})
    by_name = httpx.post(
        served.url + "/invoke", json=body, headers={"Host": f"localhost:{served.port}"}
    )

    assert rebound.status_code == 400
    assert "'evil.example'" in rebound.json()["detail"]
    assert "--allowed-hosts" in rebound.json()["detail"]
    assert by_name.json()["output"] == "A"
    assert httpx.post(served.url + "/invoke", json=body).json()["output"] == "A"


def test_serve_allowed_hosts_opens_the_server_to_the_hosts_named(serve: StartServe) -> None:
    served = serve("chains:upper", "--allowed-hosts", "app.example,*.corp.example")
    body = {"input": "a"}

    def status(host: str) -> int:
        response = httpx.post(served.url + "/invoke", json=body, headers={"Host": host})
        return response.status_code

    assert status("app.example") == 200
    assert status("x.corp.example:8080") == 200
    assert status("evil.example") == 400
    assert status(f"127.0.0.1:{served.port}") == 400  # only what is named


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_serve_closes_a_connection_whose_headers_never_finish(serve: StartServe, http: str) -> None:
    served = serve("chains:upper", "--header-timeout", "0.5", "--http", http)
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        # A first request on the connection is answered; the next one trickles in.
        sock.sendall(b"GET /input_schema HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = b""
        while b"upper_input" not in answer:
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200")
        sock.sendall(b"POST /invoke HTTP/1.1\r\nHost: localhost\r\n")
        started = time.monotonic()
        assert sock.recv(65536) == b""  # closed by the server, well before the 30 s
        assert time.monotonic() - started < 25


def test_serve_limits_concurrent_connections(serve: StartServe) -> None:
    served = serve("chains:upper", "--limit-concurrency", "2")
    body = {"input": "a"}
    assert httpx.post(served.url + "/invoke", json=body).status_code == 200
    with socket.create_connection(("127.0.0.1", served.port), timeout=30):
        time.sleep(0.5)  # the idle connection is registered by the server
        assert httpx.post(served.url + "/invoke", json=body).status_code == 503
