"""A sync generator run on a thread of its own, fed from and feeding the event loop.

A sync generator over a stream of input chunks (``def f(chunks): for c in chunks:
yield ...``) cannot run on the event loop while its input comes from async steps: its
``for`` would have to block the loop to wait for the next chunk. :func:`athreaded` runs
the whole generator on one thread and hands values across in lock step:

- the loop asks for the next output chunk only when its consumer pulls, so the
  generator runs no further ahead than a generator driven inline would;
- when the generator pulls its input, the thread waits on a thread-safe hand-off while
  the loop pulls the next input chunk (and only then), so backpressure holds upstream;
- leaving the stream early, or cancelling the caller, closes the generator on its thread
  (``GeneratorExit`` at its ``yield``, or raised by its input iterator if it was waiting
  for input) and waits for the thread to be done with the user's code before returning.

Each chunk costs one wake-up of the thread and one of the loop, with no executor
submission per chunk. The thread is a thread of its own rather than a worker of the
loop's default executor: it is held for the whole stream, mostly waiting for input, and
a pool worker held that way would starve (or, once the pool is full, deadlock) the
blocking steps upstream that need a worker to produce that input.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from queue import SimpleQueue
from typing import Any

__all__ = ["athreaded"]

# Loop -> thread: what the generator's thread should do next.
_NEXT = 0  # produce the next output chunk
_CLOSE = 1  # close the generator
_IN = 2  # here is the input chunk you asked for
_END = 3  # the input has ended
_RAISE = 4  # raise this from the input iterator

# Thread -> loop.
_OUT = 10  # an output chunk; the thread waits for _NEXT or _CLOSE
_NEED = 11  # the generator wants an input chunk; the thread waits for _IN, _END or _RAISE
_DONE = 12  # the generator has finished; the thread is leaving the user's code
_FAIL = 13  # the generator raised this; the thread is leaving the user's code

# What the thread waits for while the loop side is suspended.
_RUNNING, _WANTS_COMMAND, _WANTS_INPUT = 0, 1, 2

Message = tuple[int, Any]


class _Inbox:
    """The loop's end of the hand-off: messages from the thread, awaited without loss.

    A message is kept even if the awaiting coroutine is cancelled, so the cleanup that
    follows a cancellation still sees what the thread said last.
    """

    __slots__ = ("_loop", "_messages", "_waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._messages: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def send(self, message: Message) -> None:
        """Called on the thread."""
        self._loop.call_soon_threadsafe(self._arrive, message)

    def _arrive(self, message: Message) -> None:
        self._messages.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self) -> Message:
        messages = self._messages
        while not messages:
            self._waiter = self._loop.create_future()
            await self._waiter
        return messages.popleft()


class _ThreadInput(Iterator[Any]):
    """The input iterator the user's generator pulls on its thread: each ``next()`` asks
    the loop for one chunk and waits for it."""

    __slots__ = ("_commands", "_ended", "_send")

    def __init__(self, commands: SimpleQueue[Message], send: Callable[[Message], None]) -> None:
        self._commands = commands
        self._send = send
        self._ended = False

    def __iter__(self) -> _ThreadInput:
        return self

    def __next__(self) -> Any:
        if self._ended:
            raise StopIteration
        self._send((_NEED, None))
        kind, value = self._commands.get()
        if kind == _IN:
            return value
        if kind == _END:
            self._ended = True
            raise StopIteration
        raise value


def _drive(
    make: Callable[[Iterator[Any]], Iterator[Any]],
    commands: SimpleQueue[Message],
    send: Callable[[Message], None],
) -> None:
    """The thread's side: run the generator, one output chunk per ``_NEXT``."""
    try:
        gen = make(_ThreadInput(commands, send))
        while True:
            try:
                chunk = next(gen)
            except StopIteration:
                break
            send((_OUT, chunk))
            if commands.get()[0] == _CLOSE:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()
                break
    except BaseException as exc:
        send((_FAIL, exc))
    else:
        send((_DONE, None))


async def athreaded(
    make: Callable[[Iterator[Any]], Iterator[Any]],
    inputs: AsyncIterator[Any],
    name: str,
) -> AsyncIterator[Any]:
    """Stream ``make(input_iterator)``, run on a thread of its own, with its input
    iterator fed from ``inputs``.

    The thread starts at the first pull, in a copy of the caller's context (so
    ``CURRENT`` and other context variables are seen by the user's code), and never
    outlives this generator: closing or cancelling it closes the user's generator and
    waits for the thread. Exceptions the user's generator raises are raised here as they
    are; an exception from ``inputs`` is raised inside the user's generator first (from
    its input iterator), as it would be for an async generator.
    """
    loop = asyncio.get_running_loop()
    inbox = _Inbox(loop)
    commands: SimpleQueue[Message] = SimpleQueue()
    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run,
        args=(_drive, make, commands, inbox.send),
        name=f"runnables-generator-{name}",
        daemon=True,
    )
    thread.start()
    waits = _RUNNING
    try:
        while True:
            kind, value = await inbox.receive()
            if kind == _NEED:
                waits = _WANTS_INPUT
                try:
                    chunk = await inputs.__anext__()
                except StopAsyncIteration:
                    reply: Message = (_END, None)
                except Exception as exc:  # raised in the user's generator, as from its input
                    reply = (_RAISE, exc)
                else:
                    reply = (_IN, chunk)
                waits = _RUNNING
                commands.put(reply)
            elif kind == _OUT:
                waits = _WANTS_COMMAND
                yield value
                waits = _RUNNING
                commands.put((_NEXT, None))
            else:
                waits = -1  # the thread is done with the user's code
                if kind == _FAIL:
                    raise value
                return
    finally:
        if waits != -1:
            await _close(inbox, commands, waits)
        thread.join()  # it has sent its last message; only its return is left


async def _close(inbox: _Inbox, commands: SimpleQueue[Message], waits: int) -> None:
    """Close the user's generator on its thread and wait until the thread leaves its code.

    Cancellation does not cut the wait short (the thread cannot be stopped, and the
    caller must not return while the user's code still runs); it is raised afterwards.
    """
    if waits == _WANTS_COMMAND:
        commands.put((_CLOSE, None))
    elif waits == _WANTS_INPUT:
        commands.put((_RAISE, GeneratorExit()))
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            kind, value = await inbox.receive()
        except asyncio.CancelledError as exc:
            cancelled = exc
            continue
        if kind == _NEED:  # pulling input while closing (e.g. in a finally): none comes
            commands.put((_RAISE, GeneratorExit()))
        elif kind == _OUT:  # it caught the GeneratorExit of its input and yielded
            commands.put((_CLOSE, None))
        else:
            break
    if kind == _FAIL and not isinstance(value, GeneratorExit):
        raise value  # an error in the generator's own cleanup, as close() would raise it
    if cancelled is not None:
        raise cancelled
