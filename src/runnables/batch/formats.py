"""Reading input rows and writing output records, for each file format.

An input row becomes a :class:`Row`: its position, its key (the value and the exact
JSON text written for it, which is how resume recognises a finished row), and the input
the chain gets. An output record is one JSON line with the key first, so resume can read
the key of a million lines without parsing the rest of each line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runnables.errors import ConfigError, MissingExtraError

__all__ = [
    "ErrorInfo",
    "Row",
    "dumps",
    "error_record",
    "input_format",
    "key_text",
    "output_record",
    "read_rows",
]

#: Suffixes read as each input format.
INPUT_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}

_decoder = json.JSONDecoder()
_decode = _decoder.decode
# decode() is raw_decode() between two whitespace regex matches, in Python; a JSONL line
# is a value then "\n", so the scanner is called directly and decode() is the fallback
# (leading or other trailing whitespace, or an error to report).
_scan: Any = getattr(_decoder, "scan_once")  # noqa: B009 (untyped in typeshed)
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=lambda v: _plain(v))
_encode_str = json.encoder.encode_basestring
# JSONEncoder.encode builds this C encoder on every call, behind two Python frames and
# a closure: a job encodes two or three values a row, so it is called here directly,
# with the same arguments encode() passes it (a fresh circular-reference dict a call).
_c_encoder = getattr(json.encoder, "c_make_encoder", None)


def _plain(value: Any) -> Any:
    """What a non-JSON output is written as: messages and models as dicts, else text."""
    from runnables.messages import BaseMessage
    from runnables.messages.convert import message_to_dict

    if isinstance(value, BaseMessage):
        return message_to_dict(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(value: Any) -> str:
    """One compact JSON text; the same bytes for the same value in every run."""
    if type(value) is str:
        return _encode_str(value)
    if type(value) is int:  # what the encoder writes for an int, without building it
        return int.__repr__(value)
    if _c_encoder is None:
        return _encoder.encode(value)
    return "".join(
        _c_encoder({}, _encoder.default, _encode_str, None, ":", ",", False, False, True)(value, 0)
    )


def key_text(value: Any) -> bytes:
    """The exact bytes a key is written as in an output line (what resume compares)."""
    return dumps(value).encode()


@dataclass(slots=True)
class Row:
    """One input row: ``number`` counts from 0, ``offset`` is its byte offset (JSONL).

    ``out_pos``: the output's size when the job read the row (see the journal's index).
    """

    number: int
    offset: int
    key: Any
    key_bytes: bytes
    input: Any
    out_pos: int = 0


@dataclass(slots=True)
class ErrorInfo:
    """A failed row: the exception's type and message, and how many attempts were made."""

    type: str
    message: str
    attempts: int


def input_format(path: Path) -> str:
    """``jsonl``, ``csv`` or ``parquet`` from the file name, with a clear error otherwise."""
    fmt = INPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"Cannot tell the format of the input file {str(path)!r} from its suffix "
            f"{path.suffix!r}; name it .jsonl, .csv or .parquet."
        )
    return fmt


def read_rows(
    path: Path,
    *,
    key: str,
    input_field: str | None,
    openai: bool,
    start_row: int = 0,
    start_offset: int = 0,
) -> Iterator[Row]:
    """The rows of ``path`` from ``start_row`` (at byte ``start_offset``, JSONL only)."""
    fmt = input_format(path)
    if openai:
        key = "custom_id"
    if fmt == "jsonl":
        return _jsonl_rows(path, key, input_field, openai, start_row, start_offset)
    records = _skip(_csv(path) if fmt == "csv" else _parquet(path), start_row)
    return (
        _row(path, number, offset, record, key, input_field, openai)
        for number, offset, record in records
    )


def _row(
    path: Path, number: int, offset: int, record: Any, key: str, field: str | None, openai: bool
) -> Row:
    """The :class:`Row` of one input record, or an error naming what it lacks."""
    if not isinstance(record, dict):
        raise ConfigError(
            f"Row {number + 1} of {str(path)!r} is {type(record).__name__} {record!r}, "
            "not an object; each row must be a JSON object with a key field."
        )
    try:
        key_value = record[key]
    except KeyError:
        raise ConfigError(
            f"Row {number + 1} of {str(path)!r} has no key field {key!r} (its fields: "
            f"{', '.join(map(repr, record))}); name the key field with --key."
        ) from None
    if openai:
        value = _openai_input(record, number, path)
    elif field is not None:
        try:
            value = record[field]
        except KeyError:
            raise ConfigError(
                f"Row {number + 1} of {str(path)!r} has no input field {field!r} "
                f"(its fields: {', '.join(map(repr, record))}); fix --input-field."
            ) from None
    else:
        value = record
    return Row(number, offset, key_value, key_text(key_value), value)


def _skip(records: Iterator[tuple[int, int, Any]], start: int) -> Iterator[tuple[int, int, Any]]:
    for rec in records:
        if rec[0] >= start:
            yield rec


def _jsonl_rows(
    path: Path, key: str, field: str | None, openai: bool, number: int, offset: int
) -> Iterator[Row]:
    # One generator frame a row, with the common case (an object with its key, the
    # whole row as input) inline: a million-row job reads a row in a few microseconds.
    plain = field is None and not openai
    with path.open("rb") as f:
        f.seek(offset)
        for line in f:
            start = offset
            offset += len(line)
            try:
                text = line.decode()
                try:
                    record, end = _scan(text, 0)
                except StopIteration:
                    end = -1
                if end != len(text) - 1 or text[end] != "\n":
                    record = _decode(text)
            except ValueError as exc:
                if not line.strip():
                    continue  # a blank line is no row
                raise ConfigError(
                    f"Row {number + 1} of {str(path)!r} (byte {start}) is not valid JSON "
                    f"({exc}); fix or remove that line."
                ) from None
            if plain and type(record) is dict and key in record:
                value = record[key]
                yield Row(number, start, value, key_text(value), record)
            else:
                yield _row(path, number, start, record, key, field, openai)
            number += 1


def _csv(path: Path) -> Iterator[tuple[int, int, Any]]:
    with path.open(newline="", encoding="utf-8") as f:
        for number, record in enumerate(csv.DictReader(f)):
            yield number, 0, record


def _parquet(path: Path) -> Iterator[tuple[int, int, Any]]:
    pq = import_pyarrow_parquet("Reading Parquet input")
    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            yield number, 0, record
            number += 1


def import_pyarrow_parquet(feature: str) -> Any:
    """``pyarrow.parquet``, or the exact install command when the extra is missing."""
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        raise MissingExtraError(feature, "batch", "pyarrow") from None
    return pq


def _openai_input(record: dict[str, Any], number: int, path: Path) -> Any:
    """The chain's input from an OpenAI Batch API request line: the messages, or the body."""
    body = record.get("body")
    if not isinstance(body, dict):
        raise ConfigError(
            f"Row {number + 1} of {str(path)!r} has no 'body' object ({body!r}); an OpenAI "
            'batch line looks like {"custom_id": ..., "method": "POST", "url": ..., '
            '"body": {"model": ..., "messages": [...]}}.'
        )
    return body.get("messages", body)


def count_rows(path: Path) -> int | None:
    """The number of rows, cheaply (lines for JSONL, an estimate for CSV), for the ETA."""
    fmt = input_format(path)
    if fmt == "parquet":
        pq = import_pyarrow_parquet("Reading Parquet input")
        return int(pq.ParquetFile(path).metadata.num_rows)
    lines = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines - 1 if fmt == "csv" else lines


def file_fingerprint(path: Path) -> str:
    """A hash of the file's bytes: resume refuses an input that changed."""
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------- output records


def output_record(key_field: str, row: Row, output: Any, openai: bool) -> str:
    """The output line (without newline) for a row that succeeded."""
    key = row.key_bytes.decode()
    if openai:
        body = openai_completion(output, row.key)
        response = {"status_code": 200, "request_id": body["id"], "body": body}
        return (
            f'{{"custom_id":{key},"error":null,"id":"batch_req_{_short(row.key_bytes)}",'
            f'"response":{dumps(response)}}}'
        )
    return f'{{{dumps(key_field)}:{key},"output":{dumps(output)}}}'


def error_record(key_field: str, row: Row, error: ErrorInfo, openai: bool) -> str:
    """The output line (without newline) for a row that failed."""
    key = row.key_bytes.decode()
    if openai:
        err = {"code": error.type, "message": error.message}
        return (
            f'{{"custom_id":{key},"error":{dumps(err)},'
            f'"id":"batch_req_{_short(row.key_bytes)}","response":null}}'
        )
    info = {"type": error.type, "message": error.message, "attempts": error.attempts}
    return f'{{{dumps(key_field)}:{key},"error":{dumps(info)}}}'


def _short(key: bytes) -> str:
    # Derived from the key, so a resumed run writes the same line as an uninterrupted one.
    return hashlib.blake2b(key, digest_size=12).hexdigest()


def openai_completion(output: Any, custom_id: Any) -> dict[str, Any]:
    """A ``chat.completion`` object for a chain's output (a message, text, or other)."""
    from runnables.messages import AIMessage, BaseMessage

    usage = None
    if isinstance(output, BaseMessage):
        content: Any = output.content
        if isinstance(output, AIMessage) and output.usage_metadata:
            meta = output.usage_metadata
            usage = {
                "prompt_tokens": int(meta.get("input_tokens", 0)),
                "completion_tokens": int(meta.get("output_tokens", 0)),
                "total_tokens": int(meta.get("total_tokens", 0)),
            }
    elif isinstance(output, str):
        content = output
    else:
        content = dumps(output)
    body: dict[str, Any] = {
        "id": f"chatcmpl-{_short(key_text(custom_id))}",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }
    if usage is not None:
        body["usage"] = usage
    return body


#: Output types that are JSON as they are, with no token usage to report.
PLAIN_TYPES = frozenset({str, int, float, bool, dict, list, type(None)})


def tokens_of(output: Any) -> int:
    """The tokens an output reports using (an ``AIMessage``'s usage), else 0."""
    if type(output) in PLAIN_TYPES:
        return 0  # no attribute to look up (a failed getattr costs an exception)
    meta = getattr(output, "usage_metadata", None)
    if meta:
        return int(meta.get("total_tokens", 0))
    return 0


def jsonl_writer(path: Path) -> io.BufferedWriter:
    """Open ``path`` for appending records."""
    return path.open("ab")
