"""Stream chunks and how they add up, as in langchain-core.

``add`` combines two chunks (``a + b``, else the later one), ``AddableDict`` is the dict
chunk that merges key by key, ``ChunkAccumulator`` adds a stream up one chunk at a time,
``gather_input`` folds a step's input stream into one value, and ``ListIter`` is the async
iterator over values already known (a call's single input).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, TypeVar

from runnables.errors import InputTypeError

__all__ = [
    "AddableDict",
    "ChunkAccumulator",
    "ListIter",
    "add",
    "add_to_record",
    "gather_input",
]

T = TypeVar("T")


def add(a: Any, b: Any) -> Any:
    """Combine two stream chunks as langchain-core does: ``a + b``, else the later one.

    Chunks that support ``+`` (:class:`AddableDict`, message chunks, ``str``, ``list``)
    are added; anything else, a plain ``dict`` included, replaces the previous chunk. A
    generator yielding whole dicts means "here is the latest value", not "a part of
    it": merging them key by key silently concatenated repeated values.
    """
    if a is None:
        return b
    try:
        return a + b
    except TypeError:
        return b


def add_to_record(a: Any, b: Any) -> tuple[Any, bool]:
    """:func:`add` for a run's recorded input or output: also says whether it added.

    As in langchain-core, once a chunk could not be added, a run's record keeps only
    the latest chunk from then on (the caller stops calling this and replaces).
    """
    if a is None:
        return b, True
    try:
        return a + b, True
    except TypeError:
        return b, False


class AddableDict(dict[str, Any]):
    """A dict whose ``+`` merges another dict key by key: the stream chunk of
    ``RunnableParallel``, ``RunnableAssign`` (``.assign()``) and ``RunnablePick`` of
    several keys, as in langchain-core.

    A key in both has its values added (strings concatenate, message chunks merge,
    nested ``AddableDict`` values merge in turn); values that cannot be added (plain
    dicts included) raise ``TypeError``, as in langchain-core; a ``None`` value gives
    way to the other side. So the usual way to rebuild a streamed output works:

    >>> final = None
    >>> for chunk in [AddableDict(a="Hel"), AddableDict(b=1), AddableDict(a="lo")]:
    ...     final = chunk if final is None else final + chunk
    >>> final
    {'a': 'Hello', 'b': 1}
    """

    __slots__ = ()

    def __add__(self, other: Mapping[str, Any]) -> AddableDict:  # type: ignore[override]
        if not isinstance(other, Mapping):
            return NotImplemented
        return _merge(self, other)

    def __radd__(self, other: Mapping[str, Any]) -> AddableDict:
        if not isinstance(other, Mapping):
            return NotImplemented
        return _merge(other, self)


def _merge(left: Mapping[str, Any], right: Mapping[str, Any]) -> AddableDict:
    out = AddableDict(left)
    for key, value in right.items():
        if key not in out or out[key] is None:
            out[key] = value
        elif value is not None:
            try:
                out[key] = out[key] + value
            except TypeError as exc:
                # As in langchain-core: a TypeError, which gathering a stream turns into
                # "the later chunk replaces the earlier" (see `add`).
                raise InputTypeError(
                    f"Cannot add incompatible types for key {key!r}: "
                    f"{type(out[key]).__name__!r} and {type(value).__name__!r}."
                ) from exc
    return out


class ListIter(AsyncIterator[T]):
    """An async iterator over values that are all known already.

    Steps that can only consume a sync iterator check for it to run inline.
    """

    __slots__ = ("_it", "items")

    def __init__(self, items: Iterable[T]) -> None:
        self.items = list(items)
        self._it = iter(self.items)

    def __aiter__(self) -> ListIter[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return next(self._it)
        except StopIteration:
            raise StopAsyncIteration from None


class ChunkAccumulator:
    """Adds up streamed chunks as langchain-core does, one at a time (its ``_ChunkAccumulator``).

    Each chunk is added to the value with ``+``; a chunk that cannot be added replaces
    it (:func:`add`). With ``stop_after_unaddable``, once a chunk could not be added,
    every later chunk replaces the value too: the rule for a run's recorded input and
    output (:func:`add_to_record`).

    >>> acc = ChunkAccumulator(stop_after_unaddable=False)
    >>> for chunk in ["a", "b", 1, "c"]:
    ...     acc.add(chunk)
    >>> acc.value
    'c'
    """

    __slots__ = ("_addable", "_stop_after_unaddable", "value")

    def __init__(self, *, stop_after_unaddable: bool) -> None:
        self.value: Any = None
        self._addable = True
        self._stop_after_unaddable = stop_after_unaddable

    def add(self, chunk: Any) -> None:
        """Add ``chunk`` to the value (or let it replace the value, see the class)."""
        if self.value is None or not self._addable:
            self.value = chunk
            return
        try:
            self.value = self.value + chunk
        except TypeError:
            self.value = chunk
            self._addable = not self._stop_after_unaddable


async def gather_input(inputs: AsyncIterator[Any]) -> Any:
    """Fold a stream of input chunks into one value (:class:`ChunkAccumulator`)."""
    if type(inputs) is ListIter and len(inputs.items) == 1:
        return inputs.items[0]
    gathered = ChunkAccumulator(stop_after_unaddable=False)
    add_chunk = gathered.add  # looked up once: this loop runs per chunk
    async for chunk in inputs:
        add_chunk(chunk)
    return gathered.value
