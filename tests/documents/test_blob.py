"""Blob: raw data in memory or on disk, as langchain-core's loaders pass it."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_blob_from_data_and_from_path_read_back_as_langchain_cores(tmp_path: Path) -> None:
    from runnables.documents import Blob

    metadata = {1: "one"}  # any keys, as Document's metadata
    blob = Blob.from_data("héllo", metadata=metadata)
    assert blob.metadata == metadata
    assert blob.as_string() == "héllo"
    assert blob.as_bytes() == "héllo".encode()
    assert blob.source is None
    with pytest.raises(NotImplementedError, match="holds text"), blob.as_bytes_io():
        pass

    file = tmp_path / "note.txt"
    file.write_bytes(b"on disk")
    from_path = Blob.from_path(file, metadata=metadata)
    assert from_path.metadata == metadata
    assert from_path.mimetype == "text/plain"
    assert from_path.source == str(file)
    assert from_path.as_string() == "on disk"
    with from_path.as_bytes_io() as f:
        assert f.read() == b"on disk"
    assert Blob.from_path(file, guess_type=False).mimetype is None
    assert Blob.from_data(b"x", metadata={"source": "s"}).source == "s"
    with pytest.raises(ValueError, match="needs its data or the path"):
        Blob()
