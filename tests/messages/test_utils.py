"""Message utilities: filter, merge runs, trim, OpenAI format; new message kinds."""

from __future__ import annotations

import pytest

from runnables.errors import LangChainDeprecationWarning
from runnables.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    FunctionMessage,
    FunctionMessageChunk,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
    convert_to_openai_messages,
    count_tokens_approximately,
    filter_messages,
    get_buffer_string,
    merge_message_runs,
    trim_messages,
)

CALL: ToolCall = {"name": "f", "args": {"x": 1}, "id": "t1"}
MESSAGES = [
    SystemMessage("sys"),
    HumanMessage("a", id="1", name="ann"),
    AIMessage("b", tool_calls=[CALL]),
    ToolMessage("r", tool_call_id="t1"),
    HumanMessage("c"),
    AIMessage("d"),
]


def test_filter_messages_by_type_name_id_and_tool_calls() -> None:
    assert filter_messages(MESSAGES, include_types=["human"]) == [MESSAGES[1], MESSAGES[4]]
    assert filter_messages(MESSAGES, include_types=[SystemMessage]) == [MESSAGES[0]]
    assert filter_messages(MESSAGES, include_names=["ann"], include_ids=["x"]) == [MESSAGES[1]]
    assert filter_messages(MESSAGES, exclude_types=["ai", "tool", "system"]) == [
        MESSAGES[1],
        MESSAGES[4],
    ]
    without_calls = filter_messages(MESSAGES, exclude_tool_calls=True)
    assert not any(
        isinstance(m, ToolMessage) or getattr(m, "tool_calls", None) for m in without_calls
    )


def test_called_without_messages_they_are_steps() -> None:
    step = filter_messages(include_types=["ai"]) | merge_message_runs()
    assert step.invoke(MESSAGES) == [AIMessage("b\nd", tool_calls=[CALL])]
    assert trim_messages(max_tokens=1, token_counter=len).invoke(MESSAGES) == [AIMessage("d")]


def test_merge_message_runs_joins_consecutive_messages_of_a_kind() -> None:
    merged = merge_message_runs(
        [HumanMessage("a"), HumanMessage("b"), AIMessage("x", tool_calls=[CALL]), AIMessage("y")]
    )
    assert merged[0] == HumanMessage("a\nb")
    assert merged[1].text == "x\ny" and merged[1].tool_calls == [{**CALL, "type": "tool_call"}]
    assert merge_message_runs(["hi", "there"], chunk_separator=" ") == [HumanMessage("hi there")]
    tools = [ToolMessage("1", tool_call_id="a"), ToolMessage("2", tool_call_id="b")]
    assert merge_message_runs(tools) == tools


def test_trim_messages_last_keeps_the_system_message_and_starts_on_a_human() -> None:
    kept = trim_messages(
        MESSAGES, max_tokens=3, token_counter=len, include_system=True, start_on="human"
    )
    assert kept == [MESSAGES[0], MESSAGES[4], MESSAGES[5]]
    assert trim_messages(MESSAGES, max_tokens=2, token_counter=len, end_on="human") == [
        MESSAGES[3],
        MESSAGES[4],
    ]


def test_trim_messages_first_and_approximate_counting() -> None:
    assert (
        trim_messages(MESSAGES, max_tokens=2, token_counter=len, strategy="first") == MESSAGES[:2]
    )
    # "approximate": ceil((len(text) + len(role)) / 4) + 3 per message, as langchain-core.
    assert count_tokens_approximately([HumanMessage("Hello"), AIMessage("Hi there")]) == 14
    short = trim_messages(MESSAGES, max_tokens=12, token_counter="approximate")
    assert short == MESSAGES[-2:]


def test_trim_messages_allow_partial_keeps_the_lines_that_fit() -> None:
    long = [HumanMessage("one\ntwo\nthree"), AIMessage("x")]

    def chars(msgs: list[BaseMessage]) -> int:
        return sum(len(m.text) for m in msgs)

    last = trim_messages(long, max_tokens=7, token_counter=chars, allow_partial=True)
    assert last == [HumanMessage("three"), AIMessage("x")]
    first = trim_messages(
        long, max_tokens=8, token_counter=chars, strategy="first", allow_partial=True
    )
    assert first == [HumanMessage("one\ntwo\n")]


def test_trim_messages_counts_with_a_per_message_function() -> None:
    def one(message: BaseMessage) -> int:
        return 1

    assert trim_messages(MESSAGES, max_tokens=2, token_counter=one) == MESSAGES[-2:]


def test_trim_messages_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="token_counter must be"):
        trim_messages(MESSAGES, max_tokens=1, token_counter=3)
    with pytest.raises(ValueError, match="Invalid token_counter shortcut 'exact'"):
        trim_messages(MESSAGES, max_tokens=1, token_counter="exact")
    with pytest.raises(ValueError, match="start_on parameter is only valid"):
        trim_messages(MESSAGES, max_tokens=1, token_counter=len, strategy="first", start_on="human")


def test_convert_to_openai_messages_one_or_many() -> None:
    assert convert_to_openai_messages(HumanMessage("hi")) == {"role": "user", "content": "hi"}
    many = convert_to_openai_messages(MESSAGES[2:4])
    assert isinstance(many, list)
    assert many[0]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"x": 1}'}
    assert many[1] == {"role": "tool", "content": "r", "tool_call_id": "t1"}


def test_get_buffer_string_separator_prefixes_and_tool_calls() -> None:
    text = get_buffer_string(
        [HumanMessage("q"), AIMessage("a", tool_calls=[CALL]), FunctionMessage("r", name="f")],
        message_separator=" | ",
        function_prefix="Fn",
    )
    assert text == (
        "Human: q | AI: a[{'name': 'f', 'args': {'x': 1}, 'id': 't1', 'type': 'tool_call'}] | Fn: r"
    )


def test_text_is_a_property_and_a_call() -> None:
    msg = HumanMessage(
        ["a", {"type": "text", "text": "b"}, {"type": "image_url", "image_url": "u"}]
    )
    assert msg.text == "ab"
    with pytest.warns(LangChainDeprecationWarning, match=r"Calling \.text\(\) as a method"):
        assert msg.text() == "ab"  # type: ignore[operator]  # the deprecated call, on purpose
    assert msg.content_blocks == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
        {"type": "image", "url": "u"},
    ]
    assert AIMessage("x", tool_calls=[CALL]).content_blocks[-1] == {
        "type": "tool_call",
        "id": "t1",
        "name": "f",
        "args": {"x": 1},
    }


def test_openai_style_tool_calls_in_additional_kwargs_are_parsed() -> None:
    raw = [
        {"id": "c1", "function": {"name": "f", "arguments": '{"a": 1}'}},
        {"id": "c2", "function": {"name": "g", "arguments": "{bad"}},
    ]
    msg = AIMessage("", additional_kwargs={"tool_calls": raw})
    assert msg.tool_calls == [{"name": "f", "args": {"a": 1}, "id": "c1", "type": "tool_call"}]
    assert [c["name"] for c in msg.invalid_tool_calls] == ["g"]
    first = AIMessageChunk(
        "",
        additional_kwargs={
            "tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"a"'}}]
        },
    )
    rest = AIMessageChunk(
        "", additional_kwargs={"tool_calls": [{"index": 0, "function": {"arguments": ": 2}"}}]}
    )
    assert (first + rest).tool_calls == [
        {"name": "f", "args": {"a": 2}, "id": "c1", "type": "tool_call"}
    ]
    explicit = AIMessage("", tool_calls=[CALL], additional_kwargs={"tool_calls": raw})
    assert [c["id"] for c in explicit.tool_calls] == ["t1"]  # explicit calls win


def test_function_and_remove_messages() -> None:
    assert FunctionMessage("r", name="f").type == "function"
    assert (FunctionMessageChunk("a", name="f") + FunctionMessageChunk("b", name="f")).text == "ab"
    with pytest.raises(ValueError, match=r"pass name=\.\.\."):
        FunctionMessage("r", name="")
    remove = RemoveMessage(id="42")
    assert remove.type == "remove" and remove.id == "42" and remove.content == ""
    with pytest.raises(ValueError, match="RemoveMessage has no content"):
        RemoveMessage(id="1", content="x")


def test_convert_to_openai_messages_text_format_and_ids() -> None:
    blocks = HumanMessage(["Hello", {"type": "text", "text": "World"}], id="m1")
    assert convert_to_openai_messages(blocks) == {"role": "user", "content": "Hello\nWorld"}
    assert convert_to_openai_messages(HumanMessage("hi"), text_format="block") == {
        "role": "user",
        "content": [{"type": "text", "text": "hi"}],
    }
    with_id = convert_to_openai_messages(blocks, include_id=True)
    assert isinstance(with_id, dict) and with_id["id"] == "m1"
    with pytest.raises(ValueError, match="text_format='html'"):
        convert_to_openai_messages(blocks, text_format="html")  # type: ignore[arg-type]
