"""What the langchain-core compatibility suite runs, and the only reasons a test is skipped.

The suite runs langchain-core's own unit tests with ``langchain_core`` imports served by
runnables (see ``shim.py``). A test is *not applicable* only when its source matches one
of :data:`NOT_APPLICABLE` below: these are the five kinds of test the issue (#8, section 4)
allows to leave out, each for a reason runnables does not share the feature. Every rule is
counted in COMPAT.md. Nothing else is left out: a test that fails counts as failed.
"""

from __future__ import annotations

import re
from typing import NamedTuple

VERSION = "1.8.3"

# The measured files: the 19 of issue #8's baseline, then those for the APIs of its
# section 3 (compat-apis adds those APIs; until then these files fail to import).
FILES = [
    "runnables/test_runnable.py",
    "runnables/test_fallbacks.py",
    "runnables/test_configurable.py",
    "runnables/test_runnable_events_v2.py",
    "runnables/test_utils.py",
    "runnables/test_graph.py",
    "runnables/test_concurrency.py",
    "runnables/test_config.py",
    "prompts/test_chat.py",
    "prompts/test_prompt.py",
    "prompts/test_string.py",
    "output_parsers/test_json.py",
    "output_parsers/test_base_parsers.py",
    "output_parsers/test_list_parser.py",
    "output_parsers/test_pydantic_parser.py",
    "fake/test_fake_chat_model.py",
    "test_messages.py",
    "messages/test_ai.py",
    # Section 3 (missing APIs).
    "test_tools.py",
    "documents/test_document.py",
    "documents/test_str.py",
    "test_retrievers.py",
    "vectorstores/test_in_memory.py",
    "vectorstores/test_vectorstore.py",
    "chat_history/test_chat_history.py",
    "runnables/test_history.py",
    "prompts/test_few_shot.py",
    "output_parsers/test_xml_parser.py",
    "output_parsers/test_openai_tools.py",
]


class Rule(NamedTuple):
    """A kind of test left out, and the pattern in a test's source that marks it."""

    name: str
    why: str
    pattern: re.Pattern[str]


NOT_APPLICABLE = [
    Rule(
        "serialization",
        "langchain's own serialization format (dumpd/dumps/load/to_json, lc ids and "
        "secrets); runnables does not serialize runnables into it.",
        re.compile(
            r"(?<![\w.])(dumpd|dumps|loads?)\(|\.to_json\(|to_json_not_implemented|"
            r"\blc_(id|secrets|attributes)\b|is_lc_serializable|\bSerializable\b"
        ),
    ),
    Rule(
        "pydantic.v1",
        "pydantic's v1 compatibility layer, which runnables does not support.",
        re.compile(r"pydantic\.v1|pydantic_v1"),
    ),
    Rule(
        "string-completion LLMs",
        "string-in, string-out LLMs (BaseLLM and its fakes); runnables has chat models only.",
        re.compile(
            r"\b(FakeListLLM|FakeStreamingListLLM|BaseLLM|FakeLLM|GenericFakeLLM)\b|\bLLM\)"
        ),
    ),
    Rule(
        "LangSmith or tracer internals",
        "LangSmith clients and langchain's tracer classes and their run records "
        "(FakeTracer, BaseTracer, LangChainTracer, RunCollectorCallbackHandler, "
        "RunLog/RunLogPatch of astream_log, collect_runs, tracing context, LangSmith's "
        "inheritable metadata); runnables traces with its own run records.",
        re.compile(
            r"\b(langsmith|_get_langsmith_\w+|RunCollectorCallbackHandler|"
            r"LangChainTracer|BaseTracer|AsyncBaseTracer|FakeTracer|"
            r"FakeAsyncTracer|RunLog|RunLogPatch|astream_log|collect_runs|tracing_context|"
            r"tracing_v2_enabled|_tracing_v2_is_enabled|RunTree|ls_structured_output_format)\b"
        ),
    ),
    Rule(
        "patched private path",
        "the test patches a module path inside langchain-core's implementation (or a "
        "library only that implementation calls), so it tests how langchain-core is built.",
        re.compile(r"patch(\.object)?\(\s*[\"'](langchain_core\.|requests\.)"),
    ),
]


def not_applicable(source: str) -> Rule | None:
    """The first rule a test's source matches, or None when the test applies."""
    for rule in NOT_APPLICABLE:
        if rule.pattern.search(source):
            return rule
    return None
