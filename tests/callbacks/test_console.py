"""ConsoleCallbackHandler: every run of a call printed as it starts and ends."""

from __future__ import annotations

import io

import pytest

from runnables import RunnableLambda
from runnables.callbacks import ConsoleCallbackHandler
from runnables.models.fake import ParrotFakeChatModel


def _boom(_: int) -> int:
    raise ValueError("no")


def test_each_run_is_printed_under_its_parent_with_its_input_and_output() -> None:
    out = io.StringIO()
    chain = RunnableLambda[int, int](lambda x: x + 1, name="inc") | RunnableLambda(
        lambda x: x * 2, name="dbl"
    )

    assert chain.invoke(1, {"callbacks": [ConsoleCallbackHandler(out)]}) == 4

    lines = [line for line in out.getvalue().splitlines() if line.startswith("[")]
    assert [line.split("] [")[0] + "]" for line in lines] == [
        "[chain/start]",
        "[chain/start]",
        "[chain/end]",
        "[chain/start]",
        "[chain/end]",
        "[chain/end]",
    ]
    assert "[chain:RunnableSequence > chain:inc]" in lines[1]
    assert "[chain:RunnableSequence > chain:dbl]" in lines[3]
    assert out.getvalue().rstrip().endswith("Exiting with output:\n4")
    assert "\033[" not in out.getvalue()  # not a terminal: no colors


def test_a_chat_model_run_and_an_error_are_printed() -> None:
    out = io.StringIO()
    ParrotFakeChatModel().invoke("hi", {"callbacks": [ConsoleCallbackHandler(out)]})
    assert "[llm/start] [llm:ParrotFakeChatModel] Entering with messages:" in out.getvalue()
    assert "[llm/end] [llm:ParrotFakeChatModel]" in out.getvalue()

    out = io.StringIO()
    with pytest.raises(ValueError, match="no"):
        RunnableLambda(_boom).invoke(1, {"callbacks": [ConsoleCallbackHandler(out)]})
    assert "[chain/error] [chain:_boom]" in out.getvalue()
    assert "ValueError('no')" in out.getvalue()
