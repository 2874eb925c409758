"""The resume index: resume reads back only the output past it, and never trusts it
over the output (stale, torn, missing or describing bytes that changed)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from runnables import RunnableLambda
from runnables.batch import journal, run_batch
from runnables.batch.journal import Index, index_path, read_index, write_index

from .jsonl_files import records, write_rows

ROWS = 400


async def triple(row: dict[str, Any]) -> int:
    await asyncio.sleep(0)
    if row["n"] % 37 == 5:
        raise ValueError(f"row {row['n']} failed")
    return int(row["n"]) * 3


class Gate:
    """Rows past ``limit`` (started in this run) wait for ever: the job is stopped then."""

    limit: int | None = None
    started = 0
    never = asyncio.Event()


async def gated(row: dict[str, Any]) -> int:
    Gate.started += 1
    if Gate.limit is not None and Gate.started > Gate.limit:
        await Gate.never.wait()
    return await triple(row)


CHAIN = RunnableLambda(gated)


async def run(src: Path, out: Path) -> Any:
    Gate.limit, Gate.started = None, 0
    return await run_batch(CHAIN, src, out, max_concurrency=8)


async def stop_after(src: Path, out: Path, rows: int) -> None:
    """Run the job until about ``rows`` more records are written, then cancel it (Ctrl-C)."""
    before = out.read_bytes().count(b"\n") if out.exists() else 0
    Gate.limit, Gate.started, Gate.never = rows, 0, asyncio.Event()
    task = asyncio.ensure_future(run_batch(CHAIN, src, out, max_concurrency=8))
    while not (out.exists() and out.read_bytes().count(b"\n") >= before + rows - 8):
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def spy_scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The byte each read-back of the output starts from."""
    starts: list[int] = []
    real = journal.scan_output

    def scan(path: Path, key_field: str, openai: bool, start: int = 0, count_from: int = 0) -> Any:
        starts.append(start)
        return real(path, key_field, openai, start, count_from)

    monkeypatch.setattr(journal, "scan_output", scan)
    return starts


@pytest.fixture
def uninterrupted(tmp_path: Path) -> dict[str, dict[str, Any]]:
    src = write_rows(tmp_path / "in.jsonl", ROWS)
    asyncio.run(run_batch(RunnableLambda(triple), src, tmp_path / "whole.jsonl"))
    return records(tmp_path / "whole.jsonl")


async def test_resume_reads_back_only_the_records_past_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uninterrupted: dict[str, dict[str, Any]]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    await stop_after(src, out, 200)
    index = read_index(out)
    assert index is not None and index.size == out.stat().st_size
    assert 0 < index.scan_from <= index.size and index.lines == len(records(out))
    starts = spy_scans(monkeypatch)
    result = await run(src, out)
    assert starts == [index.scan_from]  # the lines before it were only counted
    assert records(out) == uninterrupted
    failed = sum("error" in r for r in uninterrupted.values())
    assert result.rows == ROWS and result.errors == failed


async def test_a_stale_index_still_gives_every_key_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uninterrupted: dict[str, dict[str, Any]]
) -> None:
    # A kill leaves the index of the last checkpoint, older than the output: the records
    # written since lie past its scan_from and are read back.
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    await stop_after(src, out, 120)
    shutil.copy(index_path(out), tmp_path / "old.index")
    await stop_after(src, out, 150)  # resumes, writes 150 more and a newer index
    old = read_index(out)
    shutil.copy(tmp_path / "old.index", index_path(out))
    stale = read_index(out)
    assert old is not None and stale is not None and stale.size < old.size
    starts = spy_scans(monkeypatch)
    result = await run(src, out)
    assert starts == [stale.scan_from]
    assert records(out) == uninterrupted and result.rows == ROWS


@pytest.mark.parametrize("damage", ["torn", "missing", "garbage", "edited output", "cut output"])
async def test_an_index_that_does_not_match_the_output_is_not_trusted(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    uninterrupted: dict[str, dict[str, Any]],
    damage: str,
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    await stop_after(src, out, 200)
    index = index_path(out)
    if damage == "torn":
        whole = index.read_bytes()
        index.write_bytes(whole[: len(whole) // 2])
    elif damage == "missing":
        index.unlink()
    elif damage == "garbage":
        index.write_text('{"size": -1}\nabc\n')
    elif damage == "edited output":
        # Same size, one record's output changed by hand: the index's digest no longer
        # matches, so the output is read back whole (and the edited record stands).
        text = out.read_text().replace('"output":3}', '"output":4}', 1)
        out.write_text(text)
        uninterrupted["r1"]["output"] = 4
    else:  # the output cut by hand below the size the index describes
        lines = out.read_text().splitlines(keepends=True)
        out.write_text("".join(lines[:50]))
    starts = spy_scans(monkeypatch)
    result = await run(src, out)
    assert starts == [0]  # the whole output read back
    assert records(out) == uninterrupted and result.rows == ROWS


def test_read_index_takes_only_an_index_written_whole(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert read_index(out) is None
    index = Index(size=10, digest="ab", lines=2, errors=0, row=2, offset=8, scan_from=4)
    write_index(out, index)
    assert read_index(out) == index
    body, check, _ = index_path(out).read_text().split("\n")
    index_path(out).write_text(body.replace('"lines": 2', '"lines": 3') + "\n" + check + "\n")
    assert read_index(out) is None  # its own check fails
    write_index(out, Index(size=10, digest="ab", lines=2, errors=0, row=2, offset=8, scan_from=11))
    assert read_index(out) is None  # scan_from past the bytes it covers
