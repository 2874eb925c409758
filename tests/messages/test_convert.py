"""Coercion into messages, and messages into wire formats."""

from __future__ import annotations

import pytest

from runnables.messages import (
    AIMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
    convert_to_messages,
    get_buffer_string,
    message_to_openai_dict,
    messages_from_dict,
    messages_to_dict,
    messages_to_openai,
    tool_call,
)


def test_strings_tuples_dicts_and_messages_all_become_messages() -> None:
    got = convert_to_messages(
        [
            "plain",
            ("system", "s"),
            ("user", "u"),
            ("human", "h"),
            ("assistant", "a"),
            ("ai", "a2"),
            ("tool", "result", "call-1"),
            {"role": "developer", "content": "d"},
            {"type": "human", "content": "t"},
            AIMessage("m"),
        ]
    )
    assert got == [
        HumanMessage("plain"),
        SystemMessage("s"),
        HumanMessage("u"),
        HumanMessage("h"),
        AIMessage("a"),
        AIMessage("a2"),
        ToolMessage("result", tool_call_id="call-1"),
        # as langchain-core: a system message that remembers the developer role
        SystemMessage("d", additional_kwargs={"__openai_role__": "developer"}),
        HumanMessage("t"),
        AIMessage("m"),
    ]


def test_openai_assistant_dicts_keep_their_tool_calls_with_parsed_arguments() -> None:
    (msg,) = convert_to_messages(
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"x": 1}'},
                    },
                    {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{"}},
                ],
            }
        ]
    )
    assert isinstance(msg, AIMessage)
    assert msg.tool_calls == [tool_call(name="f", args={"x": 1}, id="c1")]
    assert msg.invalid_tool_calls[0]["name"] == "g"


def test_anything_else_is_an_error_naming_the_value_and_the_accepted_forms() -> None:
    with pytest.raises(TypeError, match=r"Cannot turn 42 .*Accepted forms"):
        convert_to_messages([42])
    with pytest.raises(ValueError, match="Unknown message role 'robot'"):
        convert_to_messages([("robot", "beep")])
    with pytest.raises(ValueError, match="tool_call_id"):
        convert_to_messages([("tool", "no id")])
    with pytest.raises(ValueError, match="neither 'role' nor 'type'"):
        convert_to_messages([{"content": "x"}])


def test_an_unknown_dict_role_becomes_a_chat_message() -> None:
    assert convert_to_messages([{"role": "critic", "content": "meh"}]) == [
        ChatMessage("meh", role="critic")
    ]


def test_prompt_values_are_read_through_to_messages() -> None:
    class Value:
        def to_messages(self) -> list[HumanMessage]:
            return [HumanMessage("from prompt")]

    assert convert_to_messages(Value()) == [HumanMessage("from prompt")]


def test_messages_round_trip_through_dicts() -> None:
    msgs = [
        SystemMessage("s"),
        HumanMessage("h", name="n"),
        AIMessage("a", tool_calls=[tool_call(name="f", args={"q": 1}, id="1")]),
        ToolMessage("r", tool_call_id="1", status="error"),
    ]
    assert messages_from_dict(messages_to_dict(msgs)) == msgs


def test_openai_format_of_each_message_kind() -> None:
    ai = AIMessage("", tool_calls=[tool_call(name="f", args={"q": 1}, id="1")])
    assert message_to_openai_dict(ai) == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "1", "type": "function", "function": {"name": "f", "arguments": '{"q": 1}'}}
        ],
    }
    # A (role, content, tool_call_id) triple runs, though the declared type has pairs only.
    assert messages_to_openai([("system", "s"), "h", ("tool", "r", "1")]) == [  # type: ignore[list-item]
        {"role": "system", "content": "s"},
        {"role": "user", "content": "h"},
        {"role": "tool", "content": "r", "tool_call_id": "1"},
    ]
    # OpenAI's format converts back to the same message.
    assert convert_to_messages([message_to_openai_dict(ai)]) == [ai]


def test_buffer_string_uses_langchain_core_prefixes() -> None:
    assert get_buffer_string([HumanMessage("hi"), AIMessage("yo")]) == "Human: hi\nAI: yo"


def test_dict_keys_without_a_field_go_to_additional_kwargs_as_langchain_core() -> None:
    fn_call = {"name": "greet", "arguments": '{"name": "Jane"}'}
    got = convert_to_messages(
        [
            {"role": "assistant", "content": "Hi!", "name": "Bot", "function_call": fn_call},
            {"role": "function", "name": "greet", "content": "Hi!"},
            {"role": "remove", "id": "m1", "content": ""},
            ("developer", "be brief"),
        ]
    )
    assert got == [
        AIMessage("Hi!", name="Bot", additional_kwargs={"function_call": fn_call}),
        FunctionMessage("Hi!", name="greet"),
        RemoveMessage(id="m1"),
        SystemMessage("be brief", additional_kwargs={"__openai_role__": "developer"}),
    ]
    assert message_to_openai_dict(got[3]) == {"role": "developer", "content": "be brief"}
    # a stored FunctionMessage comes back as one (it came back as a ChatMessage)
    assert messages_from_dict(messages_to_dict([got[1]])) == [got[1]]
