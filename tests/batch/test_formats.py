"""Records are written with the same bytes whatever the encoder's path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runnables.batch import formats
from runnables.messages import AIMessage

ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=lambda v: formats._plain(v)
)


@pytest.mark.parametrize(
    "value",
    [
        7,
        -0.5,
        float("nan"),
        10**30,
        -12,
        True,
        None,
        'quote " and \\ and \n and é and \u2028',
        "\ud800",
        [1, {"x": None, "y": [True, 2.5]}],
        {1: "int key", "b": (1, 2)},
        {3},
        AIMessage("hi"),
        {"m": AIMessage("nested")},
    ],
)
def test_dumps_writes_what_json_encoder_encode_writes(value: Any) -> None:
    text = ENCODER.encode(value)
    assert formats.dumps(value) == text
    if value != "\ud800":  # a lone surrogate has no UTF-8 bytes, either way
        assert formats.key_text(value) == text.encode()


def test_dumps_still_refuses_a_circular_value() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        formats.dumps(loop)
    assert formats.dumps([loop[:0]]) == "[[]]"  # and the next value is not refused
