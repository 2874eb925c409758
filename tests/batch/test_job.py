"""run_batch in-process: records, errors, resume, fingerprints, memory, rate limits."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runnables import RunnableLambda
from runnables.batch import ResumeRefusedError, read_state, run_batch, run_batch_sync
from runnables.batch.journal import state_path
from runnables.batch.progress import Progress
from runnables.errors import ConfigError, MissingExtraError
from runnables.messages import AIMessage
from runnables.models.ratelimit import estimate_tokens

from .jsonl_files import records, write_rows


async def square(row: dict[str, Any]) -> int:
    await asyncio.sleep(0)
    if row["n"] % 50 == 7:
        raise ValueError(f"row {row['n']} is bad")
    return int(row["n"]) ** 2


async def test_run_batch_writes_one_record_a_row_with_errors_as_records(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 200)
    result = await run_batch(RunnableLambda(square), src, tmp_path / "out.jsonl")
    recs = records(tmp_path / "out.jsonl")
    assert set(recs) == {f"r{i}" for i in range(200)}
    assert recs["r3"] == {"id": "r3", "output": 9}
    assert recs["r57"] == {
        "id": "r57",
        "error": {"type": "ValueError", "message": "row 57 is bad", "attempts": 1},
    }
    assert result.status == "done" and result.errors == 4 and result.exit_code == 3
    state = read_state(tmp_path / "out.jsonl")
    assert state is not None
    assert state["status"] == "done" and state["rows_done"] == 200 and state["errors"] == 4


async def test_run_batch_exit_code_is_zero_when_every_row_succeeds(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 20)
    result = await run_batch(RunnableLambda(lambda r: r["n"]), src, tmp_path / "out.jsonl")
    assert (result.status, result.exit_code) == ("done", 0)


async def test_run_batch_max_errors_aborts_with_exit_code_one(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 2000)
    result = await run_batch(
        RunnableLambda(square), src, tmp_path / "out.jsonl", max_errors=10, max_concurrency=4
    )
    assert result.status == "aborted" and result.exit_code == 1
    assert result.errors == 11
    assert len(records(tmp_path / "out.jsonl")) < 2000


async def test_run_batch_input_field_and_input_order(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 100, text="hello")

    async def upper(text: str) -> str:
        return text.upper()

    await run_batch(
        RunnableLambda(upper),
        src,
        tmp_path / "out.jsonl",
        input_field="text",
        order="input",
        max_concurrency=8,
    )
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [rec["id"] for rec in lines] == [f"r{i}" for i in range(100)]
    assert lines[0]["output"] == "HELLO"


async def test_run_batch_input_order_holds_a_finished_row_until_earlier_ones(
    tmp_path: Path,
) -> None:
    src = write_rows(tmp_path / "in.jsonl", 10)
    first_gate = asyncio.Event()
    out = tmp_path / "out.jsonl"

    async def step(row: dict[str, Any]) -> int:
        if row["n"] == 0:
            await first_gate.wait()
        elif row["n"] == 3:
            # Rows 1..3 are done; none may be written before row 0.
            await asyncio.sleep(0)
            assert not out.exists() or out.read_text() == ""
            first_gate.set()
        return int(row["n"])

    await run_batch(RunnableLambda(step), src, out, order="input", max_concurrency=4)
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [
        f"r{i}" for i in range(10)
    ]


async def test_resume_skips_done_rows_and_drops_a_torn_last_line(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 300)
    out = tmp_path / "out.jsonl"
    calls: list[int] = []

    async def step(row: dict[str, Any]) -> int:
        calls.append(row["n"])
        return int(row["n"]) * 3

    await run_batch(RunnableLambda(step), src, out)
    full = out.read_text()
    # Simulate a kill: keep 120 whole lines and half of the next one.
    lines = full.splitlines(keepends=True)
    out.write_text("".join(lines[:120]) + lines[120][: len(lines[120]) // 2])
    calls.clear()
    result = await run_batch(RunnableLambda(step), src, out)
    assert len(calls) == 180  # only rows without a whole line ran again
    assert records(out) == records_from_text(full)
    assert result.rows == 300 and result.new_rows == 180


def records_from_text(text: str) -> dict[Any, dict[str, Any]]:
    return {json.loads(x)["id"]: json.loads(x) for x in text.splitlines()}


async def test_resume_refuses_an_edited_input_file_naming_it(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 30)
    out = tmp_path / "out.jsonl"
    chain = RunnableLambda(square)
    await run_batch(chain, src, out)
    with src.open("a") as f:
        f.write(json.dumps({"id": "new", "n": 1}) + "\n")
    with pytest.raises(ResumeRefusedError, match=r"the input file .*in\.jsonl' changed"):
        await run_batch(chain, src, out)
    result = await run_batch(chain, src, out, restart=True)
    assert result.rows == 31 and len(records(out)) == 31


async def test_resume_refuses_a_changed_chain_naming_it(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 10)
    out = tmp_path / "out.jsonl"
    await run_batch(RunnableLambda(lambda r: r["n"] + 1), src, out)
    with pytest.raises(ResumeRefusedError, match="the chain changed") as info:
        await run_batch(RunnableLambda(lambda r: r["n"] + 2), src, out)
    assert "input file" not in str(info.value)
    with pytest.raises(ResumeRefusedError, match="option key changed from 'id' to 'n'"):
        await run_batch(RunnableLambda(lambda r: r["n"] + 1), src, out, key="n")


async def test_an_output_without_a_state_file_is_not_resumed(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 10)
    out = tmp_path / "out.jsonl"
    out.write_text('{"id":"r1","output":1}\n')
    with pytest.raises(ResumeRefusedError, match="no batch state file"):
        await run_batch(RunnableLambda(square), src, out)


async def test_run_batch_holds_at_most_one_window_of_rows_and_writes_as_rows_finish(
    tmp_path: Path,
) -> None:
    # When row k starts, at most `window` rows may be read and not yet written, so the
    # output must already hold k + 1 - window lines: a job that reads ahead, or writes
    # only at the end, fails this.
    window = 8
    src = write_rows(tmp_path / "in.jsonl", 400)
    out = tmp_path / "out.jsonl"
    started = 0
    worst = 0

    async def step(row: dict[str, Any]) -> int:
        nonlocal started, worst
        started += 1
        written = out.read_bytes().count(b"\n") if out.exists() else 0
        worst = max(worst, started - written)
        await asyncio.sleep(0)
        return int(row["n"])

    await run_batch(RunnableLambda(step), src, out, max_concurrency=window)
    assert worst <= window
    assert len(records(out)) == 400


async def test_rpm_spaces_requests_within_the_limit_plus_one_burst(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 8)
    starts: list[float] = []

    async def step(row: dict[str, Any]) -> int:
        starts.append(time.monotonic())
        return int(row["n"])

    rpm = 600  # 10 a second
    await run_batch(RunnableLambda(step), src, tmp_path / "out.jsonl", rpm=rpm)
    starts.sort()
    for i in range(len(starts)):
        for j in range(i, len(starts)):
            # A recorded start may lag its grant on a busy machine: 50 ms of slack.
            window = starts[j] - starts[i] + 0.05
            assert j - i + 1 <= window * rpm / 60 + 1


async def test_tpm_holds_tokens_within_the_limit_plus_the_documented_burst(
    tmp_path: Path,
) -> None:
    text = "x" * 3998  # with its JSON quotes, 1,000 tokens estimated
    src = write_rows(tmp_path / "in.jsonl", 40, text=text)
    per_row = estimate_tokens(len(json.dumps(text)))
    starts: list[float] = []

    async def step(t: str) -> AIMessage:
        starts.append(time.monotonic())
        return AIMessage(
            content="ok",
            usage_metadata={"input_tokens": per_row, "output_tokens": 0, "total_tokens": per_row},
        )

    tpm = 600_000  # 10,000 tokens a second; burst: 5 s worth = 50,000
    result = await run_batch(
        RunnableLambda(step), src, tmp_path / "out.jsonl", input_field="text", tpm=tpm
    )
    assert result.tokens == 40 * per_row
    rate, burst = tpm / 60, tpm / 12
    starts.sort()
    for i in range(len(starts)):
        for j in range(i, len(starts)):
            # A recorded start may lag its grant on a busy machine: 50 ms of slack.
            window = starts[j] - starts[i] + 0.05
            assert (j - i + 1) * per_row <= burst + window * rate + per_row


async def test_retries_and_timeout_show_in_the_error_record(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 3)

    async def hang_on_one(row: dict[str, Any]) -> int:
        if row["n"] == 1:
            await asyncio.Event().wait()
        return int(row["n"])

    out = tmp_path / "out.jsonl"
    result = await run_batch(RunnableLambda(hang_on_one), src, out, timeout=0.05, retries=1)
    rec = records(out)["r1"]["error"]
    assert rec["type"] == "StepTimeoutError" and rec["attempts"] == 2
    assert result.exit_code == 3


async def test_csv_input_and_parquet_input_and_output(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    csv_in = tmp_path / "in.csv"
    csv_in.write_text("id,text\na,hi\nb,yo\n")
    await run_batch(RunnableLambda(str.upper), csv_in, tmp_path / "csv.jsonl", input_field="text")
    assert records(tmp_path / "csv.jsonl")["b"] == {"id": "b", "output": "YO"}

    pq.write_table(pa.table({"id": [1, 2, 3], "n": [10, 20, 30]}), tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    result = await run_batch(
        RunnableLambda(lambda n: n + 1), tmp_path / "in.parquet", out, input_field="n"
    )
    assert result.status == "done"
    table = pq.read_table(out).to_pylist()
    assert sorted((r["id"], r["output"], r["error"]) for r in table) == [
        ("1", "11", None),
        ("2", "21", None),
        ("3", "31", None),
    ]


async def test_openai_format_reads_requests_and_writes_batch_api_lines(tmp_path: Path) -> None:
    src = tmp_path / "requests.jsonl"
    with src.open("w") as f:
        for i in range(3):
            body = {"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]}
            line = {"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions"}
            f.write(json.dumps({**line, "body": body}) + "\n")

    def answer(messages: list[dict[str, str]]) -> AIMessage:
        if messages[0]["content"] == "q2":
            raise RuntimeError("no answer for q2")
        return AIMessage(content="a:" + messages[0]["content"])

    out = tmp_path / "out.jsonl"
    result = await run_batch(RunnableLambda(answer), src, out, format="openai")
    recs = records(out, key="custom_id")
    ok = recs["req-0"]
    assert ok["error"] is None and ok["response"]["status_code"] == 200
    assert ok["response"]["body"]["choices"][0]["message"]["content"] == "a:q0"
    assert recs["req-2"]["response"] is None
    assert recs["req-2"]["error"] == {"code": "RuntimeError", "message": "no answer for q2"}
    assert result.errors == 1
    # Resume reads these lines back too.
    again = await run_batch(RunnableLambda(answer), src, out, format="openai")
    assert again.new_rows == 0 and again.errors == 1


def test_run_batch_sync_twin(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 5)
    result = run_batch_sync(RunnableLambda(lambda r: r["n"]), src, tmp_path / "out.jsonl")
    assert result.rows == 5 and result.exit_code == 0
    assert state_path(tmp_path / "out.jsonl").exists()


def test_run_batch_sync_runs_on_uvloop_when_installed_unless_asked_for_asyncio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uvloop = pytest.importorskip("uvloop")
    src = write_rows(tmp_path / "in.jsonl", 3)
    loops: list[type] = []

    def step(row: dict[str, Any]) -> int:
        loops.append(type(asyncio.get_running_loop()))
        return 1

    run_batch_sync(RunnableLambda(step), src, tmp_path / "a.jsonl")
    run_batch_sync(RunnableLambda(step), src, tmp_path / "b.jsonl", loop="asyncio")
    assert loops[0] is uvloop.Loop and loops[-1] is not uvloop.Loop
    with pytest.raises(ConfigError, match="loop must be 'auto', 'asyncio' or 'uvloop', got 'uv'"):
        run_batch_sync(RunnableLambda(step), src, tmp_path / "c.jsonl", loop="uv")  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'runnables\[batch\]'"):
        run_batch_sync(RunnableLambda(step), src, tmp_path / "d.jsonl", loop="uvloop")
    run_batch_sync(RunnableLambda(step), src, tmp_path / "e.jsonl")  # auto: asyncio's
    assert loops[-1] is not uvloop.Loop and len(loops) == 9


async def test_bad_options_name_the_value(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 2)
    with pytest.raises(ConfigError, match=r"max_concurrency .* got 0"):
        await run_batch(RunnableLambda(square), src, tmp_path / "o.jsonl", max_concurrency=0)
    with pytest.raises(ConfigError, match="no key field 'uid'"):
        await run_batch(RunnableLambda(square), src, tmp_path / "o2.jsonl", key="uid")
    with pytest.raises(ConfigError, match="does not exist"):
        await run_batch(RunnableLambda(square), tmp_path / "nope.jsonl", tmp_path / "o3.jsonl")


def test_progress_bar_shows_rows_rate_errors_tokens_and_eta() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    meter = Progress(
        total=100, rows_before=10, errors_before=1, tokens_before=5, draw=True, stream=stream
    )
    meter.started -= 2.0  # two seconds in
    meter.add(30, 2, 400)
    bar = stream.getvalue()
    assert "40/100" in bar and "rows/s" in bar and "3 errors" in bar
    assert "405 tokens" in bar and "ETA" in bar
    meter.finish("done", Path("out.jsonl"))
    assert "batch done: 40 rows" in stream.getvalue()


async def test_a_key_met_twice_stops_the_job_naming_the_key_and_both_rows(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    rows = [{"id": f"r{i}", "n": i} for i in range(40)]
    rows.insert(30, {"id": "r12", "n": 99})  # row 31 repeats row 13's key
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ConfigError) as caught:
        await run_batch(RunnableLambda(square), src, tmp_path / "out.jsonl", max_concurrency=4)
    message = str(caught.value)
    assert "the key id='r12' twice, in rows 13 and 31" in message
    assert "--restart" in message
    assert isinstance(caught.value, ValueError)
    # The rows before it that finished are recorded, each once.
    assert all(
        k != "r12" or r["output"] == 144 for k, r in records(src.parent / "out.jsonl").items()
    )


async def test_a_repeated_key_in_csv_names_the_rows_too(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,text\na,hi\nb,yo\na,again\n")
    with pytest.raises(ConfigError, match="the key id='a' twice, in rows 1 and 3"):
        await run_batch(RunnableLambda(str.upper), src, tmp_path / "o.jsonl", input_field="text")


async def test_a_job_collects_young_objects_less_often_and_restores_the_threshold(
    tmp_path: Path,
) -> None:
    import gc

    before = gc.get_threshold()
    seen: list[int] = []
    second_started = asyncio.Event()
    first_ended = asyncio.Event()

    async def first_step(row: dict[str, Any]) -> int:
        seen.append(gc.get_threshold()[0])
        await second_started.wait()
        return 1

    async def second_step(row: dict[str, Any]) -> int:
        second_started.set()
        await first_ended.wait()
        seen.append(gc.get_threshold()[0])  # the first job ended: still raised for this one
        return 2

    async def first_job() -> None:
        await run_batch(RunnableLambda(first_step), src, tmp_path / "a.jsonl")
        first_ended.set()

    src = write_rows(tmp_path / "in.jsonl", 1)
    await asyncio.gather(
        first_job(), run_batch(RunnableLambda(second_step), src, tmp_path / "b.jsonl")
    )
    assert seen == [50_000, 50_000]
    assert gc.get_threshold() == before
