"""``examples/async_execution.ipynb`` runs in a real Jupyter kernel and prints what it shows.

A notebook cell runs while the kernel's event loop is running, which is where the
guide's ``await run()`` and a sync ``invoke`` both have to work. The test starts a
``python3`` kernel of *this* interpreter (so it sees this checkout of runnables) from a
kernelspec written to a temporary directory: it needs no Jupyter set-up on the machine.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "async_execution.ipynb"

# Each code cell's stdout, in order.
EXPECTED = [
    "ASYNC EXECUTION\n",
    "async pipeline\n",
    "{'upper': 'ASYNC PARALLEL', 'length': 14}\n",
    # invoke/batch/stream called directly in a cell, with the notebook's loop running
    "async pipeline\n"
    "ASYNC PIPELINE\n"
    "{'upper': 'ASYNC PARALLEL', 'length': 14}\n"
    "['ONE', 'TWO']\n"
    "[{'upper': 'ASYNC PARALLEL'}, {'length': 14}]\n",
    # forgetting await
    "coroutine\nasync pipeline\n",
    # invoke inside an async function
    "ASYNC PIPELINE\n['BlockingCallWarning']\n",
    # asyncio.run() inside the notebook
    "RuntimeError: asyncio.run() cannot be called from a running event loop\n",
]


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``python3`` kernelspec that runs this interpreter, on a fresh JUPYTER_PATH.

    Always written, not only when missing: an existing ``python3`` spec may start another
    Python (its argv is often plain ``python``) that lacks this checkout of runnables.
    """
    prefix = tmp_path_factory.mktemp("jupyter")
    kernelspec.install(prefix=str(prefix), kernel_name="python3")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    try:
        yield str(prefix)
    finally:
        monkeypatch.undo()


def stdout_of(cell: object) -> str:
    return "".join(
        out.get("text", "")
        for out in cell.outputs  # type: ignore[attr-defined]
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
    )


def other_output(cell: object) -> list[object]:
    """Anything a cell showed besides stdout: stderr (warnings), errors, results."""
    return [
        out
        for out in cell.outputs  # type: ignore[attr-defined]
        if not (out.get("output_type") == "stream" and out.get("name") == "stdout")
    ]


def code_cells(notebook: object) -> list[object]:
    return [c for c in notebook.cells if c.cell_type == "code"]  # type: ignore[attr-defined]


def test_notebook_is_valid_nbformat_4() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata.kernelspec.name == "python3"


def test_notebook_runs_in_a_kernel_and_each_cell_prints_what_it_shows(kernel_path: str) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        startup_timeout=120,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    cells = code_cells(notebook)
    assert [stdout_of(c) for c in cells] == EXPECTED
    # No cell wrote to stderr (no stray warning) or failed.
    assert [other_output(c) for c in cells] == [[] for _ in cells]


def test_stored_outputs_match_a_fresh_run() -> None:
    """The outputs saved in the notebook (what a reader sees on GitHub) are not stale."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert [stdout_of(c) for c in code_cells(notebook)] == EXPECTED


def test_the_kernel_is_this_interpreter(kernel_path: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable
