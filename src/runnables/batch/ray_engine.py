"""``run_batch(..., engine="ray")``: the rows run on a pool of Ray actors.

The driver (the process running ``run_batch``) does everything the local engine does
but run the chain: it reads the input, skips the rows already in the output, writes
each record and keeps the journal, so resume after ``kill -9`` of the driver works
exactly as locally. It sends rows to the actors in chunks (one actor call a chunk, not a
row) and takes a window place for each row before reading it, as
:func:`~runnables.core.batch_stream.batch_stream_chunks` does; :func:`ray_stream_chunks`
has its protocol, so ``run_batch`` consumes either the same way.

Each actor runs its rows under one budget of ``max_concurrency`` steps, whose parent is
the :class:`~runnables.batch.cluster.ClusterBudget`'s leased slots when there is one. An
actor that dies (its process killed, its node lost) is replaced and its chunks are sent
again: their rows have no record yet, so they still get exactly one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterator
from typing import Any

from runnables.batch.cluster import ClusterBudget, import_ray, settle_collector
from runnables.core.limiter import Limiter
from runnables.errors import RunnablesError

__all__ = ["RayPool", "RemoteRowError", "ray_stream_chunks"]

#: Replacements of dead actors a job accepts, beyond one for each actor, before it
#: stops: a row that kills its worker every time must not loop for ever.
_SPARE_RESTARTS = 3


class RemoteRowError(Exception):
    """A row's exception, as raised on an actor: its type name, message and attempts.

    The user's exception may not unpickle in the driver (its class may exist only on
    the workers), so the actor sends what the error record needs.
    """

    def __init__(self, type_name: str, message: str, notes: list[str]) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.message = message
        for note in notes:
            self.add_note(note)

    def __reduce__(self) -> tuple[Any, ...]:
        notes = list(getattr(self, "__notes__", ()))
        return (RemoteRowError, (self.type_name, self.message, notes))


class _BatchActor:
    """Runs chunks of rows through the step (one async Ray actor a worker)."""

    def __init__(self, step: Any, window: int, budget: ClusterBudget | None) -> None:
        settle_collector()  # the process is this job's: no stall of a full collection
        self.step = step
        self.window = window
        self.budget = budget
        self.ctx: Any = None
        self.slots: Any = None

    def _context(self) -> Any:
        if self.ctx is None:
            from runnables.core.config import make_context

            ctx = make_context({"max_concurrency": self.window})
            if self.budget is not None and self.budget.max_concurrency is not None:
                self.slots = self.budget.slots()
                ctx = ctx.replace(limiter=Limiter(self.window, parent=self.slots))
            self.ctx = ctx
        return self.ctx

    async def run(self, inputs: list[Any]) -> list[Any]:
        """Each input's output, or its error as a :class:`RemoteRowError`."""
        from runnables.core.base import call

        ctx = self._context()
        step = self.step

        async def one(item: Any) -> Any:
            try:
                return await call(step, item, ctx)
            except Exception as exc:
                return RemoteRowError(
                    type(exc).__name__, str(exc), list(getattr(exc, "__notes__", ()))
                )

        return list(await asyncio.gather(*(one(item) for item in inputs)))

    def ready(self) -> None:
        """Answer once the actor is up (its step loaded)."""

    async def close(self) -> None:
        """Give the leased slots back (the job is done with this actor)."""
        if self.slots is not None:
            await self.slots.give_back_all()


class RayPool:
    """The actors of one job: started on :meth:`start`, ended on :meth:`close`."""

    def __init__(
        self,
        step: Any,
        *,
        actors: int | None,
        window: int,
        budget: ClusterBudget | None,
    ) -> None:
        self.ray = import_ray("run_batch(engine='ray')")
        cpus = float(self.ray.cluster_resources().get("CPU", 1))
        if actors is None:
            actors = max(1, int(cpus))
        if not isinstance(actors, int) or actors < 1:
            from runnables.errors import ConfigError

            raise ConfigError(f"actors must be a whole number of at least 1, got {actors!r}.")
        self.count = actors
        self.window = window
        self.budget = budget
        # The step goes to the object store once, not once an actor.
        self.step_ref = self.ray.put(step)
        # A CPU an actor (a share of one when asked for more actors than CPUs), spread
        # over the nodes: with no CPU asked, Ray would pack every actor on one node.
        self.actor_class = self.ray.remote(_BatchActor).options(
            num_cpus=min(1.0, cpus / actors),
            scheduling_strategy="SPREAD",
            max_concurrency=max(16, window),
            max_restarts=0,
        )
        self.actors: list[Any] = [self._new() for _ in range(actors)]
        self.restarts_left = actors + _SPARE_RESTARTS

    async def start(self) -> None:
        """Wait for every actor to be up; a step the workers cannot load fails here."""
        try:
            await asyncio.gather(*(actor.ready.remote() for actor in self.actors))
        except self.ray.exceptions.RayError as exc:
            await self.close()
            raise RayJobError(
                f"The Ray workers could not start the batch job's chain: {exc}\nEvery "
                "module the chain's code comes from must be importable on the workers: "
                "install it there, ship it with ray.init(runtime_env={'working_dir': ...}), "
                "or register it with ray.cloudpickle.register_pickle_by_value(module) "
                "(runnables batch --ray does that for the module it loads)."
            ) from None

    def _new(self) -> Any:
        return self.actor_class.remote(self.step_ref, self.window, self.budget)

    def replace(self, index: int, exc: BaseException) -> None:
        """Start a new actor in place of the dead one at ``index``."""
        if self.restarts_left <= 0:
            raise RayJobError(
                f"The batch job's Ray actors died {self.count + _SPARE_RESTARTS + 1} times "
                f"(last: {exc}). A row may be killing its worker (memory, a crash in native "
                "code): the output so far is kept; fix the cause and run the job again to "
                "resume."
            ) from exc
        self.restarts_left -= 1
        with contextlib.suppress(Exception):
            self.ray.kill(self.actors[index])
        self.actors[index] = self._new()

    async def close(self) -> None:
        for actor in self.actors:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(actor.close.remote(), 10)
            with contextlib.suppress(Exception):
                self.ray.kill(actor)


class RayJobError(RunnablesError, RuntimeError):
    """The Ray engine could not go on (its actors keep dying)."""


async def ray_stream_chunks(
    pool: RayPool,
    inputs: Iterator[Any],
    places: Limiter,
    chunk_size: int,
) -> AsyncGenerator[list[tuple[int, Any]], None]:
    """Yield lists of ``(index, output_or_exception)`` as the actors finish chunks.

    The protocol of :func:`~runnables.core.batch_stream.batch_stream_chunks`: a place
    of ``places`` is taken before each input is read, and the caller gives it back once
    it has written the result.
    """
    ray = pool.ray
    exceptions = ray.exceptions
    # The chunks sent and not yet answered: task -> (actor index, actor, indexes, inputs).
    pending: dict[asyncio.Future[Any], tuple[int, Any, list[int], list[Any]]] = {}
    load = [0] * pool.count  # rows in flight on each actor
    counter = 0
    exhausted = False
    batch_idx: list[int] = []
    batch_in: list[Any] = []

    def send(indexes: list[int], items: list[Any]) -> None:
        target = min(range(pool.count), key=load.__getitem__)
        load[target] += len(items)
        actor = pool.actors[target]
        pending[asyncio.ensure_future(actor.run.remote(items))] = (target, actor, indexes, items)

    try:
        while True:
            # Read while places are free; a chunk goes out full, or partial when the
            # window is full or the input ends.
            while not exhausted and places.try_acquire():
                item = next(inputs, _END)
                if item is _END:
                    places.release()
                    exhausted = True
                    break
                batch_idx.append(counter)
                batch_in.append(item)
                counter += 1
                if len(batch_in) >= chunk_size:
                    send(batch_idx, batch_in)
                    batch_idx, batch_in = [], []
            if batch_in:
                send(batch_idx, batch_in)
                batch_idx, batch_in = [], []
            if not pending:
                if exhausted:
                    return
                await places.acquire()  # every place is with the caller: wait for one
                places.release()
                continue
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            chunk: list[tuple[int, Any]] = []
            for fut in done:
                target, actor, indexes, items = pending.pop(fut)
                load[target] -= len(items)
                try:
                    outputs = fut.result()
                except exceptions.RayActorError as exc:  # ActorDiedError is one
                    # The worker is gone with its rows: a new one runs them again.
                    if pool.actors[target] is actor:  # not yet replaced
                        pool.replace(target, exc)
                    send(indexes, items)
                    continue
                except exceptions.RayTaskError as exc:
                    # The actor's own code failed (say, an output Ray cannot pickle):
                    # each row of the chunk gets that error as its record.
                    cause = getattr(exc, "cause", None)
                    if not isinstance(cause, Exception):
                        cause = exc
                    outputs = [cause] * len(items)
                chunk.extend(zip(indexes, outputs, strict=True))
            if chunk:
                yield chunk
    finally:
        for fut in pending:
            fut.cancel()


_END = object()
