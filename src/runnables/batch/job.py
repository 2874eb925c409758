"""``run_batch``: run a chain over every row of a file, resumable after any crash.

The rows stream through :func:`~runnables.core.batch_stream.batch_stream_chunks`, so at
most ``max_concurrency`` rows are held at once whatever the file's length. A row's
window place is given back only once its record is written and flushed, so a crash
loses (and a resume repeats) at most one window of rows. See :mod:`.journal` for how the
output file doubles as the journal that resume reads.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from runnables.batch import formats, journal
from runnables.batch.progress import Progress
from runnables.core.base import Runnable, call, coerce_to_runnable
from runnables.core.batch_stream import batch_stream_chunks
from runnables.core.config import CURRENT, ROOT_HOOK, Context, make_context
from runnables.core.limiter import Limiter
from runnables.errors import ConfigError, MissingExtraError, ResumeRefusedError

__all__ = ["BatchResult", "run_batch", "run_batch_sync", "run_on_new_loop"]

Order = Literal["completion", "input"]
Format = Literal["records", "openai"]
Engine = Literal["local", "ray"]
LoopKind = Literal["auto", "asyncio", "uvloop"]
T = TypeVar("T")


@dataclass(slots=True)
class BatchResult:
    """How a batch job ended.

    ``status`` is ``"done"`` (every row has a record), ``"aborted"`` (more than
    ``max_errors`` rows failed) or ``"interrupted"`` (cancelled, e.g. by Ctrl-C; resume it
    by running the same job again). ``rows`` and ``errors`` count the whole output, this
    run and earlier ones; ``new_rows`` only this run's.
    """

    status: str
    rows: int
    new_rows: int
    errors: int
    tokens: int
    seconds: float
    output: Path

    @property
    def exit_code(self) -> int:
        """The command's exit status: 0 all rows ok, 3 some failed, 1 aborted, 130 interrupted."""
        if self.status == "aborted":
            return 1
        if self.status == "interrupted":
            return 130
        return 3 if self.errors else 0


class _RateLimited(Runnable[Any, Any]):
    """Wait for the job's rate limiter before each row, and settle its real token use."""

    def __init__(self, inner: Runnable[Any, Any], limiter: Any, count_tokens: bool) -> None:
        self.inner = inner
        self.limiter = limiter
        self.count_tokens = count_tokens

    def _children(self) -> list[Runnable[Any, Any]]:
        return [self.inner]

    async def _ainvoke(self, input: Any, ctx: Context) -> Any:
        from runnables.models.ratelimit import estimate_tokens

        estimate = estimate_tokens(len(formats.dumps(input))) if self.count_tokens else 0
        reservation = await self.limiter.aacquire(estimate)
        out = await call(self.inner, input, ctx)
        if self.count_tokens:
            used = formats.tokens_of(out)
            if used:
                self.limiter.correct(reservation, used)
        return out


#: The garbage collector's first threshold while a job runs (CPython's default is 700).
_JOB_GC_THRESHOLD = 50_000
_gc_jobs: list[tuple[int, int, int]] = []  # the thresholds each running job found


def _fewer_young_collections() -> None:
    """Collect the youngest generation every 50,000 new objects, not every 700.

    A job keeps a window of rows (their coroutines, futures and inputs) alive, and
    rows start in bursts before earlier ones are freed, so at the default threshold
    a young collection ran every ~50 rows, and every tenth one re-traversed the whole
    window: a fifth of a row's cost in W17. Cyclic garbage is rare on this path, so
    collecting it less often costs little memory (at most the threshold's objects).
    Process-wide, so restored by :func:`_restore_collections` when the last job ends.
    """
    found = gc.get_threshold()
    _gc_jobs.append(found)
    if 0 < found[0] < _JOB_GC_THRESHOLD:
        gc.set_threshold(_JOB_GC_THRESHOLD, found[1], found[2])


def _restore_collections() -> None:
    original = _gc_jobs[0]  # what the first of the jobs running together found
    _gc_jobs.pop()
    if not _gc_jobs and gc.get_threshold()[0] == _JOB_GC_THRESHOLD:  # unless changed since
        gc.set_threshold(*original)


def _attempts(exc: BaseException, default: int) -> int:
    for note in getattr(exc, "__notes__", ()):
        if note.startswith("(gave up after ") and note.endswith(" attempts)"):
            try:
                return int(note[len("(gave up after ") : -len(" attempts)")])
            except ValueError:
                pass
    return default


def _error_info(exc: BaseException, attempts: int) -> formats.ErrorInfo:
    return formats.ErrorInfo(type(exc).__name__, str(exc), _attempts(exc, attempts))


async def run_batch(
    chain: Any,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    key: str = "id",
    input_field: str | None = None,
    max_concurrency: int = 64,
    rpm: float | None = None,
    tpm: float | None = None,
    timeout: float | None = None,
    retries: int = 0,
    max_errors: int | None = None,
    restart: bool = False,
    order: Order = "completion",
    format: Format = "records",
    progress: bool = False,
    engine: Engine = "local",
    address: str | None = None,
    actors: int | None = None,
    budget: Any = None,
) -> BatchResult:
    """Run ``chain`` on every row of ``input`` and write one record a row to ``output``.

    >>> result = await run_batch(chain, "in.jsonl", "out.jsonl", key="id", rpm=500)
    >>> result.exit_code  # 0: all rows ok, 3: some failed (error records), 1: aborted

    Each output line is ``{"<key>": ..., "output": ...}`` or ``{"<key>": ..., "error":
    {"type": ..., "message": ..., "attempts": ...}}``; a failed row is a record and the job
    goes on, until more than ``max_errors`` have failed. The chain gets the whole row, or
    its ``input_field``. Running the same job again resumes it: rows already in the
    output are skipped, so after any number of crashes every key appears exactly once
    (keys must be unique in the input: a key met twice stops the job with an error
    naming it and both rows; on resume, only among the rows read again, from the
    journal's watermark on).
    Resume refuses a changed input file, chain or option unless ``restart`` (which
    starts the output over).

    Inputs: ``.jsonl``, ``.csv``, ``.parquet``; outputs: ``.jsonl`` or ``.parquet``
    (written as JSONL beside it while running, converted at the end). ``format="openai"``
    reads and writes OpenAI Batch API lines (``custom_id``, ``body``; ``response``,
    ``error``): the chain gets the request's ``messages``. ``rpm``/``tpm`` hold requests
    (one a row) and tokens in any 60 s window, with a burst of one request and five
    seconds' tokens (see :class:`~runnables.models.ratelimit.RateLimiter`). ``timeout``
    bounds each attempt of a row; ``retries`` retries a failed row. ``order="input"``
    writes records in input order (a slow row then holds the window back). ``progress``
    draws a progress bar on stderr when it is a terminal.

    ``engine="ray"`` runs the rows on ``actors`` Ray actors (default: one a CPU of the
    cluster), connecting to ``address`` (``"auto"``: a running cluster; None: the one
    already connected, or a new local one, shut down at the end); this process still
    reads the input and writes the output and journal, so the records and the resume
    guarantees are the local run's. ``max_concurrency`` is then each actor's, and
    ``rpm``/``tpm`` hold across the cluster. ``budget``, a
    :class:`~runnables.batch.cluster.ClusterBudget`, caps the steps in flight on all
    actors together (its rates apply where its ``rate_limiter()`` is plugged in, e.g. a
    model). The Ray engine does not export OpenTelemetry spans.
    """
    started = time.monotonic()
    in_path, out_path = Path(input), Path(output)
    _check_options(in_path, max_concurrency, max_errors, retries, order, format)
    if engine not in ("local", "ray"):
        raise ConfigError(f"engine must be 'local' or 'ray', got {engine!r}.")
    if engine == "local" and (address is not None or actors is not None or budget is not None):
        raise ConfigError(
            "address, actors and budget are options of the Ray engine; pass engine='ray' "
            "(--ray) to use them."
        )
    runnable = coerce_to_runnable(chain)
    openai = format == "openai"
    key_field = "custom_id" if openai else key
    parquet_out = out_path.suffix.lower() == ".parquet"
    records_path = out_path.with_name(out_path.name + ".jsonl") if parquet_out else out_path
    options = {"key": key_field, "input_field": input_field, "format": format, "order": order}
    state: dict[str, Any] = {
        "version": 1,
        "input": str(in_path),
        "output": str(out_path),
        "input_fingerprint": formats.file_fingerprint(in_path),
        "chain_fingerprint": journal.chain_fingerprint(runnable),
        "options": options,
    }
    previous = None if restart else journal.read_state(out_path)
    if restart:
        records_path.unlink(missing_ok=True)
        journal.index_path(out_path).unlink(missing_ok=True)
    elif previous is not None:
        _refuse_changes(previous, state, out_path)
    elif records_path.exists() and records_path.stat().st_size:
        raise ResumeRefusedError(
            f"{str(records_path)!r} already has records but no batch state file beside it "
            f"({journal.state_path(out_path).name!r}), so it cannot be resumed safely. Pass "
            "--restart (restart=True) to start it over, or choose another output file."
        )
    done: journal.DoneKeys | None = None
    rows_before = errors_before = 0
    start_row = start_offset = 0
    scan_from = 0  # the records of rows from start_row on lie past this byte
    digest: Any = None  # a running blake2b of the records file, for the index
    if records_path.exists():
        found = journal.read_index(out_path) if previous is not None else None
        resumed = _resume_from_index(records_path, found, key_field, openai) if found else None
        if resumed is not None and found is not None:
            done, rows_before, errors_before, digest = resumed
            start_row, start_offset, scan_from = found.row, found.offset, found.scan_from
        else:
            done, rows_before, errors_before = journal.scan_output(records_path, key_field, openai)
            digest = journal.digest_file(records_path, records_path.stat().st_size)
            mark = (previous or {}).get("watermark")
            # The watermark holds only if no line it counted has gone since (the file
            # only grows, unless cut by hand): otherwise read the input from the start.
            if (
                mark
                and formats.input_format(in_path) == "jsonl"
                and rows_before >= int(mark.get("lines", rows_before + 1))
            ):
                start_row, start_offset = int(mark["row"]), int(mark["offset"])
    if digest is None:
        digest = journal.new_digest()
    tokens_before = int((previous or {}).get("tokens", 0)) if done is not None else 0

    step: Runnable[Any, Any] = runnable
    if timeout is not None:
        step = step.with_timeout(timeout)
    if retries:
        step = step.with_retry(stop_after_attempt=retries + 1)
    ray_started = False
    own_budget = None
    if engine == "ray":
        from runnables.batch.cluster import import_ray

        ray = import_ray("run_batch(engine='ray')")
        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False)
            ray_started = True
    if rpm is not None or tpm is not None:
        limiter: Any
        if engine == "ray":
            from runnables.batch.cluster import ClusterBudget

            own_budget = ClusterBudget(requests_per_minute=rpm, tokens_per_minute=tpm)
            limiter = own_budget.rate_limiter()
        else:
            from runnables.models.ratelimit import RateLimiter

            # Five seconds' tokens as the burst, not the limiter's default of a minute's:
            # a job starts with many rows at once, and any 60 s window must stay near tpm.
            limiter = RateLimiter(
                requests_per_minute=rpm,
                tokens_per_minute=tpm,
                max_token_bucket=tpm / 12 if tpm is not None else None,
            )
        step = _RateLimited(step, limiter, count_tokens=tpm is not None)

    # Rows read and not yet written, by their index in the stream: at most one window.
    held: dict[int, formats.Row] = {}
    last_read: list[formats.Row | None] = [None]
    # The records file's size, all of it flushed (what a row read now is stamped with).
    out_size = [records_path.stat().st_size if records_path.exists() else 0]

    def source() -> Iterator[Any]:
        index = 0
        rows = formats.read_rows(
            in_path,
            key=key_field,
            input_field=input_field,
            openai=openai,
            start_row=start_row,
            start_offset=start_offset,
        )
        # Every key read, as its hash: a key met twice would get one record, and the
        # other row none, so it stops the job.
        seen = journal.SeenKeys(expected=meter.total or 0).add
        for row in rows:
            if not seen(hash(row.key_bytes)):
                _refuse_duplicate(in_path, row, key_field, openai)
            if done is not None and row.key_bytes in done:
                continue
            row.out_pos = out_size[0]
            held[index] = row
            index += 1
            last_read[0] = row
            yield row.input if job is None else row

    def watermark() -> dict[str, int]:
        # Every input row before this one has its record in the (flushed) output, and
        # the records of the rows from it on lie past scan_from.
        if held:
            first = min(held.values(), key=lambda r: r.number)
        elif last_read[0] is not None:
            first = last_read[0]  # already written: re-read and skipped on resume
        else:
            return {
                "row": start_row,
                "offset": start_offset,
                "lines": meter.rows,
                "scan_from": scan_from,
            }
        return {
            "row": first.number,
            "offset": first.offset,
            "lines": meter.rows,
            "scan_from": first.out_pos,
        }

    def save() -> None:
        """Write the state file, then the index (the output is flushed already)."""
        mark = watermark()
        journal.write_state(out_path, {**state, **meter.snapshot(), "watermark": mark})
        journal.write_index(
            out_path,
            journal.Index(
                size=out_size[0],
                digest=digest.hexdigest(),
                lines=meter.rows,
                errors=meter.errors,
                row=mark["row"],
                offset=mark["offset"],
                scan_from=mark["scan_from"],
            ),
        )

    meter = Progress(
        total=formats.count_rows(in_path),
        rows_before=rows_before,
        errors_before=errors_before,
        tokens_before=tokens_before,
        draw=progress,
    )
    state.update(status="running", pid=os.getpid(), started_at=time.time())
    save()

    ctx = make_context({"max_concurrency": max_concurrency})
    job = None
    if ROOT_HOOK and CURRENT.get() is None and engine == "local":
        # Instrumented: a job span, and each row a trace of its own linked to it.
        from runnables.otel.batch import start_job

        job = start_job(
            f"batch {runnable.get_name()}",
            {
                "runnables.batch.input": str(in_path),
                "runnables.batch.output": str(out_path),
                "runnables.batch.resumed": previous is not None,
                "runnables.batch.rows_before": rows_before,
            },
        )
    if job is not None:
        step = job.row_step(step)
        ctx = ctx.replace(tracers=())  # each row gets its own in row_step
    pool = None
    if engine == "ray":
        from runnables.batch.ray_engine import RayPool, RemoteRowError, ray_stream_chunks

        try:
            pool = RayPool(step, actors=actors, window=max_concurrency, budget=budget)
            await pool.start()
        except BaseException:
            if own_budget is not None:
                own_budget.kill()
            if ray_started:
                ray.shutdown()
            raise
        # A chunk a call: enough rows to keep calls few, few enough that a chunk's
        # slowest row holds back little of the window.
        places = Limiter(pool.count * max_concurrency)
        chunk_size = max(1, min(128, max_concurrency // 4))
        chunks = ray_stream_chunks(pool, source(), places, chunk_size)
    else:
        places = Limiter(max_concurrency)
        chunks = batch_stream_chunks(step, source(), ctx, places)
    status = "interrupted"
    attempts = retries + 1
    waiting: dict[int, Any] = {}  # order="input": finished rows waiting for earlier ones
    next_index = 0
    failure: BaseException | None = None
    out_file = records_path.open("ab")
    _fewer_young_collections()
    try:
        async for chunk in chunks:
            lines: list[str] = []
            new_errors = tokens = 0
            if order == "input":
                waiting.update(chunk)
                ready = []
                while next_index in waiting:
                    ready.append((next_index, waiting.pop(next_index)))
                    next_index += 1
            else:
                ready = chunk
            for index, out in ready:
                row = held.pop(index)
                if isinstance(out, Exception):
                    new_errors += 1
                    info = _error_info(out, attempts)
                    if pool is not None and isinstance(out, RemoteRowError):
                        info = formats.ErrorInfo(out.type_name, info.message, info.attempts)
                    lines.append(formats.error_record(key_field, row, info, openai))
                else:
                    if type(out) not in formats.PLAIN_TYPES:  # only those can report tokens
                        tokens += formats.tokens_of(out)
                    lines.append(formats.output_record(key_field, row, out, openai))
            if lines:
                lines.append("")
                data = "\n".join(lines).encode()
                out_file.write(data)
                out_file.flush()
                digest.update(data)
                out_size[0] += len(data)
                for _ in ready:
                    places.release()
            meter.add(len(ready), new_errors, tokens)
            if meter.due():
                save()
            if max_errors is not None and meter.errors > max_errors:
                status = "aborted"
                break
        else:
            status = "done"
    except BaseException as exc:
        failure = exc
        raise
    finally:
        out_file.close()
        await chunks.aclose()
        _restore_collections()
        if pool is not None:
            await pool.close()
        if own_budget is not None:
            own_budget.kill()
        if ray_started:
            ray.shutdown()
        if status == "done" and parquet_out:
            _write_parquet(records_path, out_path, key_field)
        state["status"] = status
        save()
        meter.finish(status, out_path)
        if job is not None:
            job.finish(
                status,
                rows=meter.rows,
                new_rows=meter.new_rows,
                errors=meter.errors,
                new_errors=meter.errors - errors_before,
                exc=failure,
            )
    return BatchResult(
        status=status,
        rows=meter.rows,
        new_rows=meter.new_rows,
        errors=meter.errors,
        tokens=meter.tokens,
        seconds=time.monotonic() - started,
        output=out_path,
    )


def run_batch_sync(
    chain: Any,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    key: str = "id",
    input_field: str | None = None,
    max_concurrency: int = 64,
    rpm: float | None = None,
    tpm: float | None = None,
    timeout: float | None = None,
    retries: int = 0,
    max_errors: int | None = None,
    restart: bool = False,
    order: Order = "completion",
    format: Format = "records",
    progress: bool = False,
    engine: Engine = "local",
    address: str | None = None,
    actors: int | None = None,
    budget: Any = None,
    loop: LoopKind = "auto",
) -> BatchResult:
    """The blocking twin of :func:`run_batch`: runs it on a new event loop, uvloop's
    when it is installed (``loop="auto"``, as ``runnables batch`` does; see
    :func:`run_on_new_loop`)."""
    return run_on_new_loop(
        run_batch(
            chain,
            input,
            output,
            key=key,
            input_field=input_field,
            max_concurrency=max_concurrency,
            rpm=rpm,
            tpm=tpm,
            timeout=timeout,
            retries=retries,
            max_errors=max_errors,
            restart=restart,
            order=order,
            format=format,
            progress=progress,
            engine=engine,
            address=address,
            actors=actors,
            budget=budget,
        ),
        loop,
    )


def run_on_new_loop(main: Coroutine[Any, Any, T], loop: LoopKind = "auto") -> T:
    """Run ``main`` to its end on a new event loop, as ``asyncio.run`` does.

    ``loop="auto"`` takes uvloop's loop when uvloop is installed (the ``batch`` extra
    brings it), else asyncio's; ``"asyncio"`` or ``"uvloop"`` ask for one. uvloop runs
    the loop's own work (timers, callbacks, task wake-ups) in C: a job's row costs about
    a fifth less (BENCHMARKS.md, W17). Steps that need asyncio's own loop class (rare)
    run with ``loop="asyncio"`` (``--loop asyncio``).
    """
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if loop not in ("auto", "asyncio", "uvloop"):
        main.close()
        raise ConfigError(f"loop must be 'auto', 'asyncio' or 'uvloop', got {loop!r}.")
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                main.close()
                raise MissingExtraError("loop='uvloop'", "batch", "uvloop") from None
        else:
            factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def _resume_from_index(
    records_path: Path, index: journal.Index, key_field: str, openai: bool
) -> tuple[journal.DoneKeys, int, int, Any] | None:
    """Read back only what the output has past the index's ``scan_from``, if the output
    still begins with the bytes the index describes; else None (read it all back)."""
    if records_path.stat().st_size < index.size:
        return None  # cut since (by hand): the index describes bytes that are gone
    digest = journal.digest_file(records_path, index.size)
    if digest.hexdigest() != index.digest:
        return None  # not the bytes the index was written for (edited, or another job)
    try:
        done, lines, errors = journal.scan_output(
            records_path, key_field, openai, start=index.scan_from, count_from=index.size
        )
    except ConfigError:
        return None  # a bad line: the full read names it by its line number
    digest = journal.digest_file(records_path, records_path.stat().st_size, digest, index.size)
    return done, index.lines + lines, index.errors + errors, digest


def _check_options(
    in_path: Path, max_concurrency: int, max_errors: int | None, retries: int, order: str, fmt: str
) -> None:
    if not in_path.is_file():
        raise ConfigError(f"The input file {str(in_path)!r} does not exist; check the path.")
    formats.input_format(in_path)
    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ConfigError(
            f"max_concurrency must be a whole number of at least 1, got {max_concurrency!r}."
        )
    if max_errors is not None and max_errors < 0:
        raise ConfigError(f"max_errors must be 0 or more, got {max_errors!r}.")
    if retries < 0:
        raise ConfigError(f"retries must be 0 or more, got {retries!r}.")
    if order not in ("completion", "input"):
        raise ConfigError(f"order must be 'completion' or 'input', got {order!r}.")
    if fmt not in ("records", "openai"):
        raise ConfigError(f"format must be 'records' or 'openai', got {fmt!r}.")


def _refuse_duplicate(in_path: Path, row: formats.Row, key_field: str, openai: bool) -> None:
    """Raise the error for ``row``, whose key an earlier row has (found by reading again)."""
    first = None
    for earlier in formats.read_rows(in_path, key=key_field, input_field=None, openai=openai):
        if earlier.number >= row.number:
            break
        if earlier.key_bytes == row.key_bytes:
            first = earlier.number + 1
            break
    if first is None:
        return  # two keys with one 64-bit hash, not one key twice: no duplicate
    raise ConfigError(
        f"The input file {str(in_path)!r} has the key {key_field}={row.key!r} twice, in rows "
        f"{first} and {row.number + 1}; each row needs its own key (the output has one "
        "record a key). Remove or rename one of them; the records written so far are kept "
        "(resume with --restart, as the input will have changed), or name another key "
        "field with --key."
    )


def _refuse_changes(previous: dict[str, Any], now: dict[str, Any], out_path: Path) -> None:
    changed = []
    if previous.get("input_fingerprint") != now["input_fingerprint"]:
        changed.append(f"the input file {now['input']!r} changed since the job started")
    if previous.get("chain_fingerprint") != now["chain_fingerprint"]:
        changed.append("the chain changed (its steps or its code)")
    old_opts = previous.get("options") or {}
    for name, value in now["options"].items():
        if old_opts.get(name) != value:
            changed.append(f"the option {name} changed from {old_opts.get(name)!r} to {value!r}")
    if changed:
        raise ResumeRefusedError(
            f"Cannot resume the batch job writing {str(out_path)!r}: "
            + "; ".join(changed)
            + ". Its records would not match. Pass --restart (restart=True) to start the "
            "output over, or write to another output file."
        )


def _write_parquet(records_path: Path, out_path: Path, key_field: str) -> None:
    """Convert the JSONL records to Parquet, 10,000 rows a row group.

    Three string columns: the key (as text), ``output`` and ``error`` (each JSON text, or
    null), so any output type fits one schema.
    """
    pq = formats.import_pyarrow_parquet("Writing Parquet output")
    import pyarrow as pa  # type: ignore[import-untyped]

    schema = pa.schema([(key_field, pa.string()), ("output", pa.string()), ("error", pa.string())])
    tmp = out_path.with_name(out_path.name + ".tmp")

    def text(value: Any) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False)

    def flush(batch: list[dict[str, Any]]) -> None:
        key_col = [k if isinstance(k := r[key_field], str) else json.dumps(k) for r in batch]
        columns = [
            key_col,
            [text(r.get("output")) for r in batch],
            [text(r.get("error")) for r in batch],
        ]
        writer.write_table(pa.Table.from_arrays(columns, schema=schema))

    with pq.ParquetWriter(tmp, schema) as writer, records_path.open("rb") as f:
        batch: list[dict[str, Any]] = []
        for line in f:
            batch.append(json.loads(line))
            if len(batch) == 10_000:
                flush(batch)
                batch = []
        if batch:
            flush(batch)
    os.replace(tmp, out_path)
