"""Server processes for the HTTP workloads (W13, W14), LangServe's environment, and the
ASGI request the in-process probes send.

Each side of an HTTP workload is an app factory in its workload module, run by its own
uvicorn process with the same settings (``--loop uvloop --http httptools``, 1 worker,
no access log), so the sides differ only in the app. LangServe runs from its own
virtual environment, ``bench/.venvs/langserve`` (gitignored), so its dependencies never
touch this project's: the first full run creates it (``python -m venv``, then ``pip
install 'langserve[server]==0.3.*' 'uvicorn[standard]'``, about a minute); later runs
reuse it. pip resolves the langchain-core that LangServe accepts.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venvs" / "langserve"
VENV_PYTHON = VENV / "bin" / "python"
LANGSERVE_REQUIREMENTS = ("langserve[server]==0.3.*", "uvicorn[standard]")


@dataclass(frozen=True)
class Server:
    """A running uvicorn process: its base URL, port and process id."""

    url: str
    port: int
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def uvicorn_server(
    python: str | Path,
    module: str,
    factory: str,
    *,
    env: Mapping[str, str] | None = None,
    wait: float = 60,
) -> Iterator[Server]:
    """Run ``module:factory`` (a module in bench/) under uvicorn until the block ends.

    ``env`` adds environment variables for the server (the factories read their
    settings there).
    """
    port = free_port()
    proc = subprocess.Popen(
        [
            str(python),
            "-m",
            "uvicorn",
            f"{module}:{factory}",
            "--factory",
            "--app-dir",
            str(BENCH),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + wait
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                raise RuntimeError(f"The {factory} server exited with {proc.returncode}: {err}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"The {factory} server did not start within {wait} s.")
            time.sleep(0.05)
        yield Server(f"http://127.0.0.1:{port}", port, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ensure_langserve_venv(create: bool) -> str | None:
    """The LangServe environment's python (created if ``create``), or None."""
    if VENV_PYTHON.exists():
        return str(VENV_PYTHON)
    if not create:
        return None
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "install", "-q", *LANGSERVE_REQUIREMENTS],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return str(VENV_PYTHON)


def langserve_versions(python: str) -> str:
    """``langserve X with langchain-core Y`` for the environment of ``python``."""
    out = subprocess.run(
        [
            python,
            "-c",
            "import langserve, langchain_core; "
            "print(langserve.__version__, langchain_core.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"langserve {out[0]} with langchain-core {out[1]}"


def post_scope(path: str, body: bytes, *extra: tuple[bytes, bytes]) -> dict[str, Any]:
    """The ASGI scope of a JSON ``POST`` of ``body`` to ``path`` from a loopback client,
    as uvicorn hands it to an app (the probes call apps in-process, without a server);
    ``extra`` headers follow the standard ones."""
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        *extra,
        (b"content-length", str(len(body)).encode()),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
