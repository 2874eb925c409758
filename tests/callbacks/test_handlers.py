"""The shipped handlers: stdout, streaming stdout, file."""

from __future__ import annotations

from pathlib import Path

import pytest

from runnables import RunnableLambda
from runnables.callbacks import FileCallbackHandler, StreamingStdOutCallbackHandler
from runnables.models.fake import FakeListChatModel


def test_streaming_stdout_writes_each_streamed_token(capsys: pytest.CaptureFixture[str]) -> None:
    model = FakeListChatModel(responses=["hey"])
    chunks = list(model.stream("x", {"callbacks": [StreamingStdOutCallbackHandler()]}))
    assert len(chunks) == 3
    assert capsys.readouterr().out == "hey"


def test_file_handler_writes_chain_starts_and_ends(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    with FileCallbackHandler(str(path)) as handler:
        RunnableLambda(lambda x: x, name="echo").invoke(1, {"callbacks": [handler]})
    text = path.read_text()
    assert "> Entering new echo chain..." in text
    assert "> Finished chain." in text
    assert handler.file.closed


def test_file_handler_used_after_close_says_what_to_do(tmp_path: Path) -> None:
    handler = FileCallbackHandler(str(tmp_path / "run.log"))
    handler.close()
    with (
        pytest.warns(PendingDeprecationWarning, match="context manager"),
        pytest.raises(RuntimeError, match="context manager"),
    ):
        handler.on_text("late")
