"""JsonOutputParser(diff=True): JSON Patch operations between streamed values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from runnables import RunnableGenerator
from runnables.output_parsers import JsonOutputParser
from runnables.output_parsers.json import json_patch


def _pieces(_: Any) -> Iterator[str]:
    yield from ['{"a": "x', 'y", "b": [1', ", 2]}"]


def _apply(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """A minimal JSON Patch applier (add/replace/remove) to check the operations."""
    for op in ops:
        if op["path"] == "":
            doc = op["value"]
            continue
        *parents, last = op["path"].split("/")[1:]
        target = doc
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key: Any = int(last) if isinstance(target, list) else last
        if op["op"] == "remove":
            del target[key]
        elif op["op"] == "add" and isinstance(target, list):
            target.insert(key, op["value"])
        else:
            target[key] = op["value"]
    return doc


def test_diff_mode_yields_patches_that_rebuild_the_values() -> None:
    values = list((RunnableGenerator(_pieces) | JsonOutputParser()).stream(None))
    patches = list((RunnableGenerator(_pieces) | JsonOutputParser(diff=True)).stream(None))
    assert len(patches) == len(values)
    assert patches[0] == [{"op": "replace", "path": "", "value": {"a": "x"}}]
    doc: Any = None
    for ops, value in zip(patches, values):
        doc = _apply(doc, ops)
        assert doc == value


@pytest.mark.parametrize(
    ("src", "dst", "ops"),
    [
        ({"a": [1]}, {"a": [1, 2]}, [{"op": "add", "path": "/a/1", "value": 2}]),
        ([1, 2, 3], [1], [{"op": "remove", "path": "/1"}, {"op": "remove", "path": "/1"}]),
        ({"a/b": 1}, {"a/b": 2}, [{"op": "replace", "path": "/a~1b", "value": 2}]),
        ({"a": 1}, {"a": 1}, []),
    ],
)
def test_json_patch_matches_jsonpatch_make_patch(src: Any, dst: Any, ops: Any) -> None:
    assert json_patch(src, dst) == ops
