"""Standard content blocks: the typed dicts of langchain-core 1.x's ``messages.content``.

A message's ``content`` may be a list of blocks such as ``{"type": "text", "text": ...}``
or ``{"type": "image", "url": ...}``; ``content_blocks`` gives them in this standard
form. The classes here are ``TypedDict`` s (plain dicts at run time) for type checkers;
:data:`KNOWN_BLOCK_TYPES` is the set of ``type`` values langchain-core knows (any other
is provider-specific), :func:`is_data_content_block` tells multimodal data blocks apart,
and :func:`convert_to_openai_image_block` writes an image block in OpenAI's format.

The annotations are evaluated (no ``from __future__ import annotations``) so that each
block's ``type`` literal can be read at run time (``typing.get_type_hints``).
"""

from typing import Any, Literal, NotRequired, TypedDict

from runnables.errors import InvalidInputError

__all__ = [
    "KNOWN_BLOCK_TYPES",
    "Annotation",
    "AudioContentBlock",
    "Citation",
    "ContentBlock",
    "DataContentBlock",
    "FileContentBlock",
    "ImageContentBlock",
    "NonStandardAnnotation",
    "NonStandardContentBlock",
    "PlainTextContentBlock",
    "ReasoningContentBlock",
    "RefusalContentBlock",
    "ServerToolCall",
    "ServerToolCallChunk",
    "ServerToolResult",
    "TextContentBlock",
    "ToolContentBlock",
    "VideoContentBlock",
    "convert_to_openai_image_block",
    "is_data_content_block",
]


class Citation(TypedDict):
    """A source a text block cites (``start_index``/``end_index`` locate it in the text)."""

    type: Literal["citation"]
    id: NotRequired[str]
    url: NotRequired[str]
    title: NotRequired[str]
    start_index: NotRequired[int]
    end_index: NotRequired[int]
    cited_text: NotRequired[str]
    extras: NotRequired[dict[str, Any]]


class NonStandardAnnotation(TypedDict):
    """A provider's own annotation of a text block, kept as ``value``."""

    type: Literal["non_standard_annotation"]
    id: NotRequired[str]
    value: dict[str, Any]


Annotation = Citation | NonStandardAnnotation


class TextContentBlock(TypedDict):
    """Text, with optional citations."""

    type: Literal["text"]
    id: NotRequired[str]
    text: str
    annotations: NotRequired[list[Annotation]]
    index: NotRequired[int | str]
    extras: NotRequired[dict[str, Any]]


class ToolCall(TypedDict):
    """A tool call as a content block (``args`` parsed)."""

    type: Literal["tool_call"]
    id: str | None
    name: str
    args: dict[str, Any]
    index: NotRequired[int | str]
    extras: NotRequired[dict[str, Any]]


class ToolCallChunk(TypedDict):
    """A piece of a streamed tool call as a content block (``args`` a JSON fragment)."""

    type: Literal["tool_call_chunk"]
    id: str | None
    name: str | None
    args: str | None
    index: NotRequired[int | str]
    extras: NotRequired[dict[str, Any]]


class InvalidToolCall(TypedDict):
    """A tool call whose arguments did not parse, as a content block."""

    type: Literal["invalid_tool_call"]
    id: str | None
    name: str | None
    args: str | None
    error: str | None
    index: NotRequired[int | str]
    extras: NotRequired[dict[str, Any]]


class ServerToolCall(TypedDict):
    """A tool the provider runs itself (web search, code execution), as called."""

    type: Literal["server_tool_call"]
    id: str
    name: str
    args: dict[str, Any]
    index: NotRequired[int | str]
    extras: NotRequired[dict[str, Any]]


class ServerToolCallChunk(TypedDict):
    """A piece of a streamed :class:`ServerToolCall`."""

    type: Literal["server_tool_call_chunk"]
    name: NotRequired[str]
    args: NotRequired[str]
    id: NotRequired[str]
    index: NotRequired[int | str]
    extras: NotRequired[dict[str, Any]]


class ServerToolResult(TypedDict):
    """The result of a :class:`ServerToolCall`."""

    type: Literal["server_tool_result"]
    id: NotRequired[str]
    tool_call_id: str
    status: Literal["success", "error"]
    output: NotRequired[Any]
    index: NotRequired[int | str]
    extras: NotRequired[dict[str, Any]]


class ReasoningContentBlock(TypedDict):
    """The model's reasoning, as it reports it."""

    type: Literal["reasoning"]
    id: NotRequired[str]
    reasoning: NotRequired[str]
    index: NotRequired[int | str]
    extras: NotRequired[dict[str, Any]]


class RefusalContentBlock(TypedDict):
    """The model's refusal to answer."""

    type: Literal["refusal"]
    refusal: str
    id: NotRequired[str]
    index: NotRequired[int | str]
    extras: NotRequired[dict[str, Any]]


class ImageContentBlock(TypedDict):
    """An image, by ``url``, inline ``base64`` (with ``mime_type``) or provider ``file_id``."""

    type: Literal["image"]
    id: NotRequired[str]
    file_id: NotRequired[str]
    mime_type: NotRequired[str]
    index: NotRequired[int | str]
    url: NotRequired[str]
    base64: NotRequired[str]
    extras: NotRequired[dict[str, Any]]


class VideoContentBlock(TypedDict):
    """A video, by ``url``, inline ``base64`` (with ``mime_type``) or provider ``file_id``."""

    type: Literal["video"]
    id: NotRequired[str]
    file_id: NotRequired[str]
    mime_type: NotRequired[str]
    index: NotRequired[int | str]
    url: NotRequired[str]
    base64: NotRequired[str]
    extras: NotRequired[dict[str, Any]]


class AudioContentBlock(TypedDict):
    """Audio, by ``url``, inline ``base64`` (with ``mime_type``) or provider ``file_id``."""

    type: Literal["audio"]
    id: NotRequired[str]
    file_id: NotRequired[str]
    mime_type: NotRequired[str]
    index: NotRequired[int | str]
    url: NotRequired[str]
    base64: NotRequired[str]
    extras: NotRequired[dict[str, Any]]


class PlainTextContentBlock(TypedDict):
    """A plain-text document (``text/plain``), inline as ``text`` or by reference."""

    type: Literal["text-plain"]
    id: NotRequired[str]
    file_id: NotRequired[str]
    mime_type: Literal["text/plain"]
    index: NotRequired[int | str]
    url: NotRequired[str]
    base64: NotRequired[str]
    text: NotRequired[str]
    title: NotRequired[str]
    context: NotRequired[str]
    extras: NotRequired[dict[str, Any]]


class FileContentBlock(TypedDict):
    """A file (a PDF, say), by ``url``, inline ``base64`` or provider ``file_id``."""

    type: Literal["file"]
    id: NotRequired[str]
    file_id: NotRequired[str]
    mime_type: NotRequired[str]
    index: NotRequired[int | str]
    url: NotRequired[str]
    base64: NotRequired[str]
    extras: NotRequired[dict[str, Any]]


class NonStandardContentBlock(TypedDict):
    """A provider's own block, kept whole as ``value``."""

    type: Literal["non_standard"]
    id: NotRequired[str]
    value: dict[str, Any]
    index: NotRequired[int | str]


DataContentBlock = (
    ImageContentBlock
    | VideoContentBlock
    | AudioContentBlock
    | PlainTextContentBlock
    | FileContentBlock
)
"""The multimodal data blocks."""

ToolContentBlock = (
    ToolCall | ToolCallChunk | ServerToolCall | ServerToolCallChunk | ServerToolResult
)
"""The blocks about tool calls."""

ContentBlock = (
    TextContentBlock
    | InvalidToolCall
    | ReasoningContentBlock
    | RefusalContentBlock
    | NonStandardContentBlock
    | DataContentBlock
    | ToolContentBlock
)
"""Every standard content block."""

#: The ``type`` of every standard block; a block of another type is provider-specific
#: (langchain-core's list; ``citation`` and ``non_standard_annotation`` annotate text
#: blocks and are not blocks themselves).
KNOWN_BLOCK_TYPES = frozenset(
    {
        "text",
        "reasoning",
        "refusal",
        "tool_call",
        "invalid_tool_call",
        "tool_call_chunk",
        "image",
        "audio",
        "file",
        "text-plain",
        "video",
        "server_tool_call",
        "server_tool_call_chunk",
        "server_tool_result",
        "non_standard",
    }
)

#: The ``type`` of the multimodal data blocks (:data:`DataContentBlock`).
_DATA_BLOCK_TYPES = frozenset({"image", "video", "audio", "text-plain", "file"})


def is_data_content_block(block: dict[str, Any]) -> bool:
    """Whether ``block`` is a multimodal data block, in the current or the older format.

    Current blocks carry their data as ``url``, ``base64``, ``file_id`` or (plain text)
    ``text``; older ones said how with ``source_type`` (``"url"``, ``"base64"`` with
    ``data``, ``"id"`` with ``id``, ``"text"`` with ``url``), as langchain-core accepts them.

    >>> is_data_content_block({"type": "image", "url": "https://example.com/cat.png"})
    True
    >>> is_data_content_block({"type": "text", "text": "hi"})
    False
    """
    if block.get("type") not in _DATA_BLOCK_TYPES:
        return False
    if any(key in block for key in ("url", "base64", "file_id", "text")):
        return True
    source_type = block.get("source_type")
    return (
        (source_type == "url" and "url" in block)
        or (source_type == "base64" and "data" in block)
        or (source_type == "id" and "id" in block)
        or (source_type == "text" and "url" in block)
    )


def convert_to_openai_image_block(block: dict[str, Any]) -> dict[str, Any]:
    """An image block in OpenAI Chat Completions' format (``{"type": "image_url", ...}``).

    A ``url`` is used as it is; inline data (``base64``, or the older ``source_type=
    "base64"`` with ``data``) becomes a ``data:`` URL and needs ``mime_type``. Other keys
    (``cache_control``, say) are not sent.

    >>> convert_to_openai_image_block({"type": "image", "url": "https://x/cat.png"})
    {'type': 'image_url', 'image_url': {'url': 'https://x/cat.png'}}
    """
    if "url" in block:
        return {"type": "image_url", "image_url": {"url": block["url"]}}
    if "base64" in block or block.get("source_type") == "base64":
        if "mime_type" not in block:
            raise InvalidInputError(
                f"The image block {block!r} has inline data but no 'mime_type'; add one "
                "(e.g. 'image/png') so the data: URL says what the bytes are."
            )
        data = block["data"] if "data" in block else block["base64"]
        return {
            "type": "image_url",
            "image_url": {"url": f"data:{block['mime_type']};base64,{data}"},
        }
    raise InvalidInputError(
        f"Cannot convert the image block {block!r} to OpenAI's format: give it a 'url', or "
        "inline 'base64' data with a 'mime_type'."
    )
