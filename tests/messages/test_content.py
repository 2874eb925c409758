"""Standard content blocks: the known types, data blocks, OpenAI image blocks."""

from __future__ import annotations

from typing import get_args, get_type_hints

import pytest

from runnables.messages import (
    KNOWN_BLOCK_TYPES,
    ContentBlock,
    convert_to_openai_image_block,
    is_data_content_block,
)


def test_known_block_types_are_the_types_of_the_content_block_union() -> None:
    declared = {get_args(get_type_hints(b)["type"])[0] for b in get_args(ContentBlock)}
    assert declared == KNOWN_BLOCK_TYPES
    assert "citation" not in KNOWN_BLOCK_TYPES  # an annotation, not a block


@pytest.mark.parametrize(
    "block",
    [
        {"type": "image", "url": "https://x/cat.png"},
        {"type": "image", "base64": "AAAA", "mime_type": "image/png"},
        {"type": "video", "file_id": "vid_1"},
        {"type": "text-plain", "text": "a document"},
        {"type": "file", "source_type": "base64", "data": "AAAA"},
        {"type": "audio", "source_type": "id", "id": "aud_1"},
    ],
)
def test_data_blocks_in_either_format_are_data_blocks(block: dict[str, object]) -> None:
    assert is_data_content_block(block)


@pytest.mark.parametrize(
    "block",
    [
        {"type": "text", "text": "hi"},
        {"type": "image"},
        {"type": "image", "source_type": "url"},
        {"type": "tool_call", "name": "f", "args": {}, "id": "1"},
    ],
)
def test_other_blocks_are_not_data_blocks(block: dict[str, object]) -> None:
    assert not is_data_content_block(block)


def test_image_blocks_convert_to_openai_image_url_blocks() -> None:
    expected_url = {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}
    assert convert_to_openai_image_block({"type": "image", "url": "https://x/cat.png"}) == (
        expected_url
    )
    inline = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    assert (
        convert_to_openai_image_block(
            {"type": "image", "base64": "AAAA", "mime_type": "image/png", "cache_control": {}}
        )
        == inline
    )
    assert (
        convert_to_openai_image_block(
            {"type": "image", "source_type": "base64", "data": "AAAA", "mime_type": "image/png"}
        )
        == inline
    )
    with pytest.raises(ValueError, match="no 'mime_type'"):
        convert_to_openai_image_block({"type": "image", "base64": "AAAA"})
    with pytest.raises(ValueError, match="give it a 'url'"):
        convert_to_openai_image_block({"type": "image", "file_id": "f"})
