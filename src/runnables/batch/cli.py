"""``runnables batch``: run a chain over a file, resumably; ``runnables batch status``.

::

    runnables batch app.chains:summarize rows.jsonl -o out.jsonl --key id --input-field text \\
        --max-concurrency 64 --rpm 500 --tpm 200000 --timeout 60 --max-errors 100
    runnables batch status out.jsonl

Running the same command again resumes the job. Exit status: 0 every row ok, 3 some
rows failed (their error records are in the output), 1 aborted by ``--max-errors``,
2 a usage error (including a refused resume), 130 stopped by Ctrl-C and 143 by SIGTERM
(both stop cleanly: resume by running the command again). ``--ray [--address auto]
[--actors N]`` runs the rows on a Ray cluster (this process still writes the output,
so resume works the same).
``--otel`` exports a span for the job and a trace for each row, linked to it, as the
OTEL_* variables say (see :mod:`runnables.otel.batch`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runnables.batch.job import BatchResult

__all__ = ["add_batch_parser", "batch"]


def add_batch_parser(commands: Any) -> None:
    """Add the ``batch`` command to the ``runnables`` command's subparsers."""
    from runnables.cli.main import add_otel_flag

    p = commands.add_parser(
        "batch",
        help="run a runnable over every row of a file, resumably",
        description=(
            "Run a runnable over every row of INPUT (JSONL, CSV or Parquet), writing one "
            "record a row to OUTPUT as rows finish. Run it again to resume. "
            "'runnables batch status OUTPUT' shows a job's progress."
        ),
    )
    p.add_argument("target", metavar="module:attr", help="the runnable (or 'status')")
    p.add_argument("input", metavar="INPUT", help="the input file (for status: the output file)")
    p.add_argument("-o", "--output", default=None, help="the output file (.jsonl or .parquet)")
    p.add_argument("--key", default="id", help="the field that identifies a row (default id)")
    p.add_argument("--input-field", default=None, help="give the chain this field, not the row")
    p.add_argument("--max-concurrency", type=int, default=64, metavar="N", help="default 64")
    p.add_argument("--rpm", type=float, default=None, metavar="N", help="requests per minute")
    p.add_argument("--tpm", type=float, default=None, metavar="N", help="tokens per minute")
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="seconds per row")
    p.add_argument("--retries", type=int, default=0, metavar="N", help="retry a failed row")
    p.add_argument("--max-errors", type=int, default=None, metavar="N", help="abort past N")
    p.add_argument("--restart", action="store_true", help="start the output over")
    p.add_argument("--order", choices=["completion", "input"], default="completion")
    p.add_argument("--format", choices=["records", "openai"], default="records")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or summary")
    p.add_argument("--ray", action="store_true", help="run the rows on a Ray cluster")
    p.add_argument(
        "--address", default=None, help="with --ray: the cluster (auto: the running one)"
    )
    p.add_argument("--actors", type=int, default=None, metavar="N", help="with --ray: workers")
    p.add_argument(
        "--loop",
        default="auto",
        choices=["auto", "asyncio", "uvloop"],
        help="the event loop (default auto: uvloop when installed)",
    )
    add_otel_flag(p)
    p.set_defaults(handler=batch)


def batch(args: argparse.Namespace) -> int:
    """The handler of ``runnables batch``."""
    from runnables.cli.main import CLIError, load_target, require_runnable
    from runnables.errors import UserError

    if args.target == "status":
        return status(Path(args.input))
    if args.output is None:
        raise CLIError("Name the output file with -o/--output, for example -o out.jsonl.")
    from runnables.batch.job import run_batch, run_on_new_loop

    runnable = require_runnable(load_target(args.target), args.target)
    if (args.address is not None or args.actors is not None) and not args.ray:
        raise CLIError("--address and --actors go with --ray; add --ray to run on Ray.")
    if args.ray:
        _ship_module_by_value(args.target)
    providers = _start_otel() if args.otel else None
    try:
        result = run_on_new_loop(
            _stopped_by_sigterm(
                run_batch(
                    runnable,
                    args.input,
                    args.output,
                    key=args.key,
                    input_field=args.input_field,
                    max_concurrency=args.max_concurrency,
                    rpm=args.rpm,
                    tpm=args.tpm,
                    timeout=args.timeout,
                    retries=args.retries,
                    max_errors=args.max_errors,
                    restart=args.restart,
                    order=args.order,
                    format=args.format,
                    progress=not args.no_progress,
                    engine="ray" if args.ray else "local",
                    address=args.address,
                    actors=args.actors,
                )
            ),
            args.loop,
        )
    except UserError as exc:
        raise CLIError(str(exc)) from None
    finally:
        if providers is not None:
            # Export what is queued before the process exits (the job span ends last).
            providers.tracer_provider.shutdown()
            providers.meter_provider.shutdown()
    return 128 + signal.SIGTERM if result is None else result.exit_code


async def _stopped_by_sigterm(job: Coroutine[Any, Any, BatchResult]) -> BatchResult | None:
    """Run ``job``; SIGTERM (a service manager, ``kill``) stops it as Ctrl-C does: the
    rows in flight are cancelled, the records written so far kept and the state marked
    interrupted, so running the command again resumes it. None when so stopped."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        if task is not None:
            task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        return await job
    except asyncio.CancelledError:
        if not terminated:
            raise
        return None
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _ship_module_by_value(target: str) -> None:
    """Send the chain's module to the Ray workers with the chain (they may not have the
    current directory, where ``module:attr`` was found, on their path)."""
    from runnables.batch.cluster import import_ray
    from runnables.cli.main import CLIError
    from runnables.errors import MissingExtraError

    try:
        import_ray("runnables batch --ray")
    except MissingExtraError as exc:
        raise CLIError(str(exc)) from None
    from ray import cloudpickle

    module = sys.modules[target.partition(":")[0]]
    path = getattr(module, "__file__", None) or sys.prefix
    if not path.startswith(sys.prefix):  # the user's own file, not an installed package
        cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call]


def _start_otel() -> Any:
    """``--otel``: instrument from the OTEL_* environment, as ``runnables serve --otel``."""
    from runnables.cli.main import CLIError

    try:
        from runnables import otel
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    return otel.instrument_from_env()


def status(output: Path) -> int:
    """Print the state of the job writing ``output``."""
    from runnables.batch.journal import read_state, state_path
    from runnables.cli.main import CLIError

    state = read_state(output)
    if state is None:
        raise CLIError(
            f"No batch job state beside {str(output)!r} ({state_path(output).name!r} is "
            "missing); name the output file of a batch job."
        )
    done, total = state.get("rows_done", 0), state.get("rows_total")
    age = time.time() - float(state.get("updated_at", time.time()))
    print(
        f"{state.get('status')}: {done:,}/{total if total is not None else '?'} rows, "
        f"{state.get('errors', 0):,} errors, {state.get('tokens', 0):,} tokens, "
        f"{state.get('rows_per_second', 0):,} rows/s (updated {age:.0f} s ago)"
    )
    json.dump(state, sys.stdout, indent=1)
    print()
    return 0
