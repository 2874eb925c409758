"""Reading an output file back for resume: keys, error records, torn and foreign lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from runnables.batch.formats import key_text
from runnables.batch.journal import SeenKeys, scan_output
from runnables.errors import ConfigError


def test_scan_output_reads_keys_as_written_and_counts_only_error_records(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    lines = [
        '{"id":"a\\"b","output":1}',
        '{"id":"é\\\\","error":{"type":"X","message":"m","attempts":1}}',
        '{"id":12,"output":{"error":{"nested":"not a record error"}}}',
    ]
    out.write_text("\n".join(lines) + "\n")
    done, rows, errors = scan_output(out, "id", openai=False)
    assert (rows, errors) == (3, 1)
    assert key_text('a"b') in done and key_text("é\\") in done and key_text(12) in done
    assert key_text("12") not in done and key_text("zz") not in done


def test_scan_output_cuts_a_torn_last_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"id":"r1","output":1}\n{"id":"r2","outp')
    done, rows, _ = scan_output(out, "id", openai=False)
    assert rows == 1 and key_text("r2") not in done
    assert out.read_bytes() == b'{"id":"r1","output":1}\n'


def test_scan_output_counts_openai_error_lines_not_successes(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text(
        '{"custom_id":"a","error":null,"id":"batch_req_1","response":{}}\n'
        '{"custom_id":"b","error":{"code":"E","message":"m"},"id":"batch_req_2","response":null}\n'
    )
    _, rows, errors = scan_output(out, "custom_id", openai=True)
    assert (rows, errors) == (2, 1)


def test_scan_output_names_a_line_that_is_not_a_record_of_this_job(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id":"r1","output":1}\n{"uid":"r2","output":2}\n')
    with pytest.raises(ConfigError, match=r"Line 2 of .* does not start with the key field"):
        scan_output(out, "id", openai=False)


@pytest.mark.parametrize("expected", [0, 10_000])
def test_seen_keys_finds_a_hash_met_twice_whether_presized_or_grown(expected: int) -> None:
    seen = SeenKeys(expected=expected)
    hashes = [hash(f"r{i}".encode()) for i in range(10_000)] + [0, 1]  # 0 is kept as 1
    assert [seen.add(h) for h in hashes] == [True] * 10_001 + [False]
    assert not any(seen.add(h) for h in hashes[::97])
    assert len(seen) == 10_001


def test_seen_keys_sized_for_the_expected_rows_never_grows() -> None:
    seen = SeenKeys(expected=10_000)
    slots = seen._slots
    assert len(slots) == 1 << 15  # at most half full with 10,000
    for i in range(10_000):
        seen.add(hash(i.to_bytes(8, "little")))
    assert seen._slots is slots
    for i in range(10_000, 20_000):  # past the expected: it grows, and forgets nothing
        seen.add(hash(i.to_bytes(8, "little")))
    assert len(seen._slots) == 1 << 16
    assert not any(seen.add(hash(i.to_bytes(8, "little"))) for i in range(0, 20_000, 7))
