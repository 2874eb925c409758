"""What a batch job keeps on disk to resume: the output itself, and a state file.

The output file is the journal: a row is done exactly when its line is in the file.
Lines are only ever appended, each written whole, so a crash (even ``kill -9``) can leave
at most the last line torn; resume cuts it off before appending. Which rows are done is
read back from the keys of the lines: each line starts with its key, written with the
same encoder as when it is compared, so the key is read without parsing the rest.

The state file beside the output (``out.jsonl.batch.json``) holds what resume checks
(fingerprints of the input file and the chain, and the options that shape the records)
and what other processes watch (rows done, errors, tokens, rate, status). It is replaced
atomically (write, then ``os.replace``) so a reader never sees half of it. It also keeps
a *watermark*: every input row before it is in the output (the output is flushed before
the state is written), so resume can start reading a JSONL input from there.

The *index* beside them (``out.jsonl.batch.index``) lets resume skip reading back the
part of the output it covers. Written with the state, it holds the output's size at
that moment, a digest of those bytes, their line and error counts, the watermark, and
``scan_from``: the output's size when the watermark's row was read. A row at or after
the watermark is read after that moment and written after it, so every record resume
must know by key lies past ``scan_from``; the lines before it are only counted, and the
index has their count. The output stays the truth: resume uses the index only if the
output still begins with the bytes it describes (same digest), and reads the whole
output back otherwise (an index missing, unreadable, stale by more than the file, or
an output cut or edited by hand). An index older than the output is the normal case
after a crash: the records written since are past its ``scan_from`` and read back.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runnables.errors import ConfigError

__all__ = [
    "DoneKeys",
    "Index",
    "SeenKeys",
    "chain_fingerprint",
    "digest_file",
    "index_path",
    "new_digest",
    "read_index",
    "read_state",
    "scan_output",
    "state_path",
    "write_index",
    "write_state",
]


def state_path(output: Path) -> Path:
    """Where the state and status of the job writing ``output`` live."""
    return output.with_name(output.name + ".batch.json")


class DoneKeys:
    """The keys already in the output, as a set of their 64-bit hashes.

    A hash is about 64 bytes a row in a set, against ~130 for the key strings, and is
    built four times faster than a sorted array of hashes (8 bytes a row, but a million
    of them take ~0.9 s to sort, most of the time a resume may take to start). Python's
    ``hash`` of the key's bytes is a keyed 64-bit SipHash, computed in this process for
    both sides; the chance that one of a million new keys collides with one of a million
    done keys is about 5e-8.
    """

    __slots__ = ("_hashes",)

    def __init__(self, hashes: set[int]) -> None:
        self._hashes = hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, key_bytes: object) -> bool:
        return hash(key_bytes) in self._hashes


class SeenKeys:
    """The 64-bit hashes of the input keys read so far, to find a key met twice.

    An open-addressing table in one ``array`` (8 bytes a slot, at most half full): 16-32
    bytes a row, where a ``set`` of the hashes takes ~76 (a million rows: 76 MB, most
    of a job's memory budget). Zero marks an empty slot, so a hash of 0 is stored as 1.
    ``expected``: the rows the job will read, when known (the input's row count): the
    table starts large enough for them, since growing it re-inserts every hash in
    Python (a tenth of a W17 row's CPU, grown from 4,096 slots to 2**21).
    """

    __slots__ = ("_count", "_mask", "_slots")

    def __init__(self, expected: int = 0) -> None:
        size = 1 << 12
        while size <= 2 * expected:
            size <<= 1
        self._mask = size - 1
        self._slots = _zeros(size)
        self._count = 0

    def add(self, key_hash: int) -> bool:
        """Record ``key_hash``; False if it was already there."""
        key_hash = key_hash or 1
        slots, mask = self._slots, self._mask
        i = key_hash & mask
        while True:
            here = slots[i]
            if here == 0:
                slots[i] = key_hash
                self._count += 1
                if self._count * 2 > mask:
                    self._grow()
                return True
            if here == key_hash:
                return False
            i = (i + 1) & mask

    def _grow(self) -> None:
        old = self._slots
        self._mask = mask = (self._mask << 1) | 1
        self._slots = slots = _zeros(mask + 1)
        for key_hash in old:
            if key_hash:
                i = key_hash & mask
                while slots[i]:
                    i = (i + 1) & mask
                slots[i] = key_hash

    def __len__(self) -> int:
        return self._count


def _zeros(size: int) -> array[int]:
    # Repeated in C, with no bytes object of the same size alongside (16 MB for 2**21).
    return array("q", [0]) * size


def scan_output(
    path: Path, key_field: str, openai: bool, start: int = 0, count_from: int = 0
) -> tuple[DoneKeys, int, int]:
    """Read an output file back: the keys done, the rows done and the error records.

    The keys are read from byte ``start`` on and the rows and errors counted from byte
    ``count_from`` on (both line starts; resume from an :class:`Index` reads keys from
    its ``scan_from`` and counts past its ``size``). A torn last line (no newline: the
    process died while writing it) is cut off the file. The file is read in blocks
    with one regular expression a block (a million lines in about a second); a block it
    does not fully match is read line by line, which names the first line that is not
    a record of this job.
    """
    prefix = b'{"custom_id":' if openai else b"{" + json.dumps(key_field).encode() + b":"
    # The key as the job's encoder writes it (a JSON string or scalar), then whether an
    # error record follows (",\"error\":" and not null, which OpenAI lines use for success).
    line_re = re.compile(
        rb"^" + re.escape(prefix) + rb'("(?:[^"\\\n]|\\.)*"|[-0-9a-zA-Z.+]+)(,"error":(?!null))?',
        re.MULTILINE,
    )
    hashes: set[int] = set()
    errors = 0
    good_end = position = start
    lines_before = seen = 0  # lines counted; lines read (from start: a bad line's number)
    with path.open("rb") as f:
        f.seek(start)
        carry = b""
        while block := f.read(_BLOCK):
            data = carry + block
            cut = data.rfind(b"\n") + 1
            whole, carry = data[:cut], data[cut:]
            if not whole:
                continue
            found = line_re.findall(whole)
            count = whole.count(b"\n")
            if len(found) != count:
                found = _scan_lines(whole, prefix, path, seen)
            hashes.update([hash(key) for key, _ in found])
            if position + len(whole) <= count_from:
                pass  # keys only: the index counted these lines
            elif position >= count_from:
                errors += sum(1 for _, err in found if err)
                lines_before += count
            else:
                skip = whole.count(b"\n", 0, count_from - position)
                errors += sum(1 for _, err in found[skip:] if err)
                lines_before += count - skip
            seen += count
            position += len(whole)
            good_end = position
    if good_end != path.stat().st_size:
        with path.open("r+b") as f:
            f.truncate(good_end)
    return DoneKeys(hashes), lines_before, errors


_BLOCK = 8 << 20


def _scan_lines(
    whole: bytes, prefix: bytes, path: Path, lines_before: int
) -> list[tuple[bytes, bytes]]:
    """The slow path of :func:`scan_output`: each line parsed, the first bad one named."""
    decoder = json.JSONDecoder()
    found: list[tuple[bytes, bytes]] = []
    for number, line in enumerate(whole.splitlines(), start=lines_before + 1):
        if not line.startswith(prefix):
            raise ConfigError(
                f"Line {number} of {str(path)!r} does not start with the key field "
                f"{prefix.decode()!r}; it was not written by this batch job with these "
                "options. Use a new output file, or pass --restart to start it over."
            )
        text = line.decode()
        try:
            _, end = decoder.raw_decode(text, len(prefix))
        except ValueError:
            raise ConfigError(
                f"Line {number} of {str(path)!r} has an unreadable key; the file was "
                "changed by hand. Pass --restart to start it over."
            ) from None
        key_end = end if len(text) == len(line) else len(text[:end].encode())
        failed = text[end : end + 9] == ',"error":' and text[end + 9 : end + 13] != "null"
        found.append((line[len(prefix) : key_end], b"1" if failed else b""))
    return found


def index_path(output: Path) -> Path:
    """Where the resume index of the job writing ``output`` lives."""
    return output.with_name(output.name + ".batch.index")


@dataclass(slots=True)
class Index:
    """What resume may take as read from the first ``size`` bytes of the records.

    ``digest``: blake2b of those bytes; ``lines`` and ``errors``: their records and error
    records; ``row`` and ``offset``: the watermark (every input row before ``row``, at
    byte ``offset`` of a JSONL input, has its record in them); ``scan_from``: the byte
    from which the records of rows at or after ``row`` may lie.
    """

    size: int
    digest: str
    lines: int
    errors: int
    row: int
    offset: int
    scan_from: int


def write_index(output: Path, index: Index) -> None:
    """Replace the index atomically; it ends with a digest of itself."""
    body = json.dumps({"version": 1, **asdict(index)}, sort_keys=True)
    check = hashlib.blake2b(body.encode(), digest_size=8).hexdigest()
    path = index_path(output)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{body}\n{check}\n", encoding="utf-8")
    os.replace(tmp, path)


def read_index(output: Path) -> Index | None:
    """The index beside ``output``, or None if it is missing or not one this version
    wrote whole (then resume reads the whole output back)."""
    try:
        body, check, *rest = index_path(output).read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if rest != [""] or hashlib.blake2b(body.encode(), digest_size=8).hexdigest() != check:
        return None
    try:
        data = json.loads(body)
        if data.pop("version") != 1:
            return None
        index = Index(**data)
    except (ValueError, TypeError, KeyError):
        return None
    fields = (index.size, index.lines, index.errors, index.row, index.offset, index.scan_from)
    if not all(type(v) is int and v >= 0 for v in fields) or index.scan_from > index.size:
        return None
    return index


def new_digest() -> Any:
    """The digest the index keeps of the records file (blake2b, 128 bits)."""
    return hashlib.blake2b(digest_size=16)


def digest_file(path: Path, end: int, digest: Any = None, start: int = 0) -> Any:
    """``digest`` (a new one if None) updated with bytes ``start`` to ``end`` of ``path``."""
    if digest is None:
        digest = new_digest()
    with path.open("rb") as f:
        f.seek(start)
        left = end - start
        while left > 0 and (block := f.read(min(1 << 20, left))):
            digest.update(block)
            left -= len(block)
    return digest


def chain_fingerprint(chain: Any) -> str:
    """A hash of a chain's structure and code: resume refuses a chain that changed.

    It covers the chain's ``repr`` (the steps and their parameters) and the bytecode and
    constants of every function it runs, found through its steps.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(chain).encode())
    for fn in _functions(chain, set()):
        code = getattr(fn, "__code__", None)
        if code is not None:
            digest.update(code.co_code)
            digest.update(repr(code.co_consts).encode())
        else:
            try:
                digest.update(inspect.getsource(fn).encode())
            except (OSError, TypeError):
                digest.update(repr(fn).encode())
    return digest.hexdigest()


def _functions(step: Any, seen: set[int]) -> Iterator[Any]:
    if id(step) in seen:
        return
    seen.add(id(step))
    for attr in ("func", "afunc"):
        fn = getattr(step, attr, None)
        if callable(fn):
            yield fn
    children = getattr(step, "_children", None)
    if callable(children):
        for child in children():
            yield from _functions(child, seen)


def read_state(output: Path) -> dict[str, Any] | None:
    """The state file of the job writing ``output``, or None if there is none."""
    path = state_path(output)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        raise ConfigError(
            f"The batch state file {str(path)!r} is not valid JSON; it was changed by hand. "
            "Pass --restart to start the job over."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"The batch state file {str(path)!r} is not a JSON object.")
    return data


def write_state(output: Path, state: dict[str, Any]) -> None:
    """Replace the state file atomically."""
    path = state_path(output)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
    os.replace(tmp, path)
