"""langchain-core objects inside runnables chains (issue #9, part 1)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import (
    ParrotFakeChatModel as LCParrot,
)
from langchain_core.messages import AIMessage as LCAIMessage
from langchain_core.messages import ToolMessage as LCToolMessage
from langchain_core.output_parsers import StrOutputParser as LCStrOutputParser
from langchain_core.prompts import ChatPromptTemplate as LCChatPromptTemplate
from langchain_core.runnables import RunnableLambda as LCLambda
from langchain_core.runnables import RunnablePassthrough as LCPassthrough
from langchain_core.tools import tool
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from runnables import (
    RouterRunnable,
    RunnableBranch,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    RunnableSequence,
)
from runnables.core.base import coerce_to_runnable
from runnables.documents import Document
from runnables.interop.step import LangChainStep
from runnables.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from runnables.models.fake import FunctionChatModel, ParrotFakeChatModel
from runnables.prompts import ChatPromptTemplate
from runnables.testing.openai_server import Complete, FakeOpenAIServer, Hang

TEXTS = [
    "Paris is the capital of France.",
    "Berlin is the capital of Germany.",
    "The Nile is a river in Africa.",
    "Mount Fuji is in Japan.",
]
TEMPLATE = "Context:\n{context}\n\nQuestion: {question}"


def _retriever() -> Any:
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=16))
    store.add_documents(
        [LCDocument(page_content=t, metadata={"i": i}) for i, t in enumerate(TEXTS)]
    )
    return store.as_retriever(search_kwargs={"k": 2})


def _join(d: dict[str, Any]) -> dict[str, Any]:
    return {"context": "\n".join(doc.page_content for doc in d["docs"]), "question": d["question"]}


def _mixed_chain() -> Any:
    # langchain-core retriever and parser, runnables prompt, model and glue.
    return (
        {"docs": _retriever(), "question": RunnablePassthrough()}
        | RunnableLambda(_join)
        | ChatPromptTemplate.from_messages([("human", TEMPLATE)])
        | ParrotFakeChatModel()
        | LCStrOutputParser()
    )


def _langchain_chain() -> Any:
    return (
        {"docs": _retriever(), "question": LCPassthrough()}
        | LCLambda(_join)
        | LCChatPromptTemplate.from_messages([("human", TEMPLATE)])
        | LCParrot()
        | LCStrOutputParser()
    )


QUESTIONS = ["What is the capital of France?", "Where is Mount Fuji?", "Which river?"]


def test_import_runnables_does_not_import_langchain_core() -> None:
    code = (
        "import sys, runnables\n"
        "from runnables import RunnableLambda\n"
        "(RunnableLambda(str.upper) | (lambda s: s)).invoke('x')\n"
        "assert 'langchain_core' not in sys.modules, 'langchain_core was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rag_chain_mixing_both_answers_as_the_langchain_chain_in_sync_call_styles() -> None:
    mixed, reference = _mixed_chain(), _langchain_chain()
    expected = reference.batch(QUESTIONS)
    assert [mixed.invoke(q) for q in QUESTIONS] == expected
    assert mixed.batch(QUESTIONS) == expected
    assert ["".join(mixed.stream(q)) for q in QUESTIONS] == expected


async def test_rag_chain_mixing_both_answers_as_the_langchain_chain_in_async_call_styles() -> None:
    mixed, reference = _mixed_chain(), _langchain_chain()
    expected = [reference.invoke(q) for q in QUESTIONS]
    assert "Paris is the capital of France." in expected[0]
    assert [await reference.ainvoke(q) for q in QUESTIONS] == expected

    assert [await mixed.ainvoke(q) for q in QUESTIONS] == expected
    assert await mixed.abatch(QUESTIONS, {"max_concurrency": 2}) == expected
    assert ["".join([c async for c in mixed.astream(q)]) for q in QUESTIONS] == expected
    for q, answer in zip(QUESTIONS, expected):
        ends = [e async for e in mixed.astream_events(q) if e["event"] == "on_chain_end"]
        assert ends[-1]["data"]["output"] == answer


async def test_langchain_step_takes_every_step_position() -> None:
    upper = LCLambda(str.upper)
    chain = RunnableLambda(str.strip) | upper
    assert isinstance(chain.steps[-1], LangChainStep)
    assert await chain.ainvoke(" a ") == "A"
    left = coerce_to_runnable(upper) | RunnableLambda(lambda s: s + "!")
    assert await left.ainvoke("a") == "A!"
    assert await RunnableParallel(u=upper, same=RunnablePassthrough()).ainvoke("b") == {
        "u": "B",
        "same": "b",
    }
    assigned = RunnablePassthrough.assign(u=LCLambda(lambda d: d["x"].upper()))
    assert await assigned.ainvoke({"x": "c"}) == {"x": "c", "u": "C"}
    branch: RunnableBranch[str, str] = RunnableBranch(
        (LCLambda(lambda s: s == "up"), upper), LCLambda(str.title)
    )
    assert await branch.ainvoke("up") == "UP"
    assert await branch.ainvoke("down") == "Down"

    router: RouterRunnable[str] = RouterRunnable({"up": upper, "title": LCLambda(str.title)})
    assert await router.ainvoke({"key": "title", "input": "ab cd"}) == "Ab Cd"

    def fail(_: str) -> str:
        raise ValueError("primary failed")

    fallback = RunnableLambda(fail).with_fallbacks([upper])  # type: ignore[list-item]  # langchain-core's own type where runnables' is named: the interop under test
    assert await fallback.ainvoke("d") == "D"


async def test_langchain_chat_model_output_converts_losslessly() -> None:
    message = LCAIMessage(
        content=[{"type": "text", "text": "hi"}],
        tool_calls=[{"name": "f", "args": {"a": 1}, "id": "c1", "type": "tool_call"}],
        usage_metadata={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        response_metadata={"model_name": "m"},
        id="msg-1",
    )
    chain = RunnableLambda(lambda s: s) | LCLambda(lambda _: message)
    out = await chain.ainvoke("x")
    assert isinstance(out, AIMessage)
    assert out.content == [{"type": "text", "text": "hi"}]
    assert out.tool_calls == message.tool_calls
    assert out.usage_metadata == message.usage_metadata
    assert out.response_metadata == {"model_name": "m"}
    assert out.id == "msg-1"


async def test_langchain_step_events_have_the_right_parents() -> None:
    def shout(s: str) -> str:
        return s.upper()

    def bang(s: str) -> str:
        return s + "!"

    inner = (LCLambda(shout) | LCLambda(bang)).with_config(run_name="inner")
    chain = RunnableLambda(str.strip) | inner
    events = [e async for e in chain.astream_events(" a ")]
    starts = {e["name"]: e for e in events if e["event"] == "on_chain_start"}
    root = starts["RunnableSequence"]["run_id"]
    step = starts["inner"]
    assert step["parent_ids"] == [root]
    # langchain-core's runs inside the step are the step's children, in order.
    for name in ("shout", "bang"):
        assert starts[name]["parent_ids"] == [root, step["run_id"]]
    streams = [e["name"] for e in events if e["event"] == "on_chain_stream"]
    assert "shout" in streams and "bang" in streams
    ends = {e["name"]: e for e in events if e["event"] == "on_chain_end"}
    assert ends["shout"]["data"] == {"output": "A", "input": "a"}
    assert events[-1]["data"]["output"] == "A!"


async def test_tags_metadata_and_configurable_flow_into_the_langchain_step() -> None:
    from langchain_core.runnables import RunnableConfig as LCConfig

    seen: list[LCConfig] = []

    def look(x: str, config: LCConfig) -> str:
        seen.append(config)
        return x

    chain = RunnableLambda(str.strip) | LCLambda(look)
    await chain.ainvoke(
        " a ", {"tags": ["t1"], "metadata": {"m": 1}, "configurable": {"user": "u1"}}
    )
    assert "t1" in seen[0]["tags"]
    assert seen[0]["metadata"]["m"] == 1
    assert seen[0]["configurable"]["user"] == "u1"


# ---------------------------------------------------------------------- ChatOpenAI

#: Seconds a test waits for what must happen anyway (a disconnect already under way)
#: before calling it a hang. Not a speed claim: the machine is shared and loaded.
HANG_GUARD = 60.0


def _chat_openai(server: FakeOpenAIServer, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model="test",
        base_url=server.base_url,
        api_key=SecretStr("sk-test"),
        max_retries=0,
        **kwargs,
    )


async def test_chat_openai_tokens_stream_through_a_runnables_chain() -> None:
    async with FakeOpenAIServer(default=Complete("one two three four")) as server:
        chain = (
            ChatPromptTemplate.from_messages([("human", "{q}")])
            | _chat_openai(server)
            | RunnablePassthrough()
        )
        chunks = [c async for c in chain.astream({"q": "count"})]
        texts = [c.text for c in chunks if c.text]
        assert texts == ["one ", "two ", "three ", "four"]
        assert all(isinstance(c, AIMessageChunk) for c in chunks)
        message = await chain.ainvoke({"q": "count"})
        assert isinstance(message, AIMessage) and message.text == "one two three four"
        assert message.usage_metadata is not None
        body = server.chat_requests[-1].json
        assert body["messages"] == [{"role": "user", "content": "count"}]
        # Call arguments bound in runnables reach the langchain-core model.
        bound = coerce_to_runnable(_chat_openai(server)).bind(stop=["END"])
        await bound.ainvoke("hi")
        assert server.chat_requests[-1].json["stop"] == ["END"]


async def test_max_concurrency_holds_across_chat_openai() -> None:
    async with FakeOpenAIServer(default=Complete("a b c", chunk_delay=0.02)) as server:
        chain = RunnableLambda[str, str](lambda q: f"say {q}") | _chat_openai(
            server, streaming=True
        )
        outs = await chain.abatch([str(i) for i in range(8)], {"max_concurrency": 2})
        assert [o.text for o in outs] == ["a b c"] * 8
        assert server.max_in_flight == 2
        server.max_in_flight = 0
        streamed = RunnableParallel({str(i): _chat_openai(server) for i in range(5)})
        chunks = [c async for c in streamed.astream("hi", {"max_concurrency": 3})]
        assert chunks
        assert 1 <= server.max_in_flight <= 3


async def test_cancelling_the_caller_closes_the_chat_openai_request() -> None:
    async with FakeOpenAIServer(default=Hang()) as server:
        chain = RunnableLambda(lambda q: q) | _chat_openai(server)
        task = asyncio.ensure_future(chain.ainvoke("hi"))
        loop = asyncio.get_running_loop()
        give_up = loop.time() + HANG_GUARD
        while not server.chat_requests:  # until the request is at the server
            assert loop.time() < give_up, "the request never reached the server"
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The cancelled HTTP request closed its connection before the call returned:
        # the server sees it go with nothing more from the client. A request left
        # running (not cancelled) never ends against Hang, so this waits only as a
        # guard against a hang, not as the claim (the 100 ms is in bench).
        await asyncio.wait_for(server.wait_disconnect(), timeout=HANG_GUARD)


async def test_deadline_reaches_chat_openai() -> None:
    from runnables.errors import StepTimeoutError

    async with FakeOpenAIServer(default=Hang()) as server:
        chain = RunnableLambda(lambda q: q) | _chat_openai(server)
        # The deadline has to fire while the request is at the server (else there is
        # no request to close): a machine too loaded to send it within the first
        # deadline tries again with a longer one.
        for timeout in (0.5, 2.0, 8.0, 30.0):
            with pytest.raises(StepTimeoutError) as info:
                await chain.ainvoke("hi", {"timeout": timeout})
            assert "ChatOpenAI" in str(info.value)
            if server.chat_requests:
                break
        # The deadline closed the request the server holds (a request left running
        # never ends against Hang: the wait is a guard against a hang, not the claim).
        await asyncio.wait_for(server.wait_disconnect(), timeout=HANG_GUARD)


# ---------------------------------------------------------------------- tools


async def test_langchain_tool_bound_to_a_runnables_chat_model() -> None:
    @tool
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    def answer(messages: list[Any], params: dict[str, Any]) -> AIMessage:
        assert params["tools"][0]["function"]["name"] == "multiply"
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return AIMessage(f"The answer is {last.text}.")
        return AIMessage(
            "",
            tool_calls=[{"name": "multiply", "args": {"a": 6, "b": 7}, "id": "call-1"}],
        )

    model = FunctionChatModel(answer).bind_tools([multiply])  # type: ignore[list-item]  # langchain-core's own type where runnables' is named: the interop under test
    messages: list[Any] = [HumanMessage("What is 6 times 7?")]
    ai = await model.ainvoke(messages)
    assert ai.tool_calls[0]["name"] == "multiply"
    tool_message = await multiply.ainvoke(ai.tool_calls[0])
    assert isinstance(tool_message, LCToolMessage)
    messages += [ai, tool_message]
    final = await model.ainvoke(messages)
    assert final.text == "The answer is 42."


async def test_chat_openai_tokens_appear_in_astream_events_under_their_parents() -> None:
    async with FakeOpenAIServer(default=Complete("one two")) as server:
        inner = LCChatPromptTemplate.from_messages([("human", "{q}")]) | _chat_openai(server)
        chain = RunnableLambda[str, dict[str, str]](lambda q: {"q": q}) | inner.with_config(
            run_name="lc_chain"
        )
        events = [e async for e in chain.astream_events("hi")]
        root = events[0]["run_id"]
        step = next(e for e in events if e["name"] == "lc_chain")
        model_events = [e for e in events if e["event"].startswith("on_chat_model")]
        kinds = [e["event"] for e in model_events]
        assert kinds[0] == "on_chat_model_start" and kinds[-1] == "on_chat_model_end"
        chunks = [e["data"]["chunk"] for e in model_events if e["event"] == "on_chat_model_stream"]
        assert [c.text for c in chunks if c.text] == ["one ", "two"]
        assert all(isinstance(c, AIMessageChunk) for c in chunks)
        assert all(e["parent_ids"] == [root, step["run_id"]] for e in model_events)
        end = model_events[-1]["data"]["output"]
        assert isinstance(end, AIMessage) and end.text == "one two"


async def test_retriever_tool_and_langgraph_graph_as_steps() -> None:
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    @tool
    def double(x: int) -> int:
        """Double a number."""
        return 2 * x

    class State(TypedDict):
        n: int

    builder = StateGraph(State)
    builder.add_node("inc", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "inc")
    builder.add_edge("inc", END)
    graph = builder.compile()

    chain = (
        RunnableLambda[int, dict[str, int]](lambda n: {"x": n})
        | double
        | RunnableLambda(lambda n: {"n": n})
        | graph
        | RunnableLambda(lambda s: s["n"])
    )
    assert await chain.ainvoke(4) == 9
    assert await asyncio.to_thread(chain.invoke, 5) == 11
    assert await chain.abatch([1, 2], {"max_concurrency": 1}) == [3, 5]
    # Streamed, a LangGraph graph yields what its own astream yields (its updates).
    streamed = RunnableLambda[int, dict[str, int]](lambda n: {"n": n}) | graph
    assert [c async for c in streamed.astream(3)] == [{"inc": {"n": 4}}]

    retrieve = RunnableLambda(str.strip) | _retriever()
    docs = await retrieve.ainvoke(" Paris? ")
    # A langchain-core retriever's documents come out as runnables' own, ids kept.
    assert len(docs) == 2 and all(type(d) is Document for d in docs)
    assert all(d.id for d in docs) and {d.metadata["i"] for d in docs} <= {0, 1, 2, 3}
    events = [e async for e in retrieve.astream_events(" Paris? ")]
    kinds = [e["event"] for e in events]
    assert "on_retriever_start" in kinds and "on_retriever_end" in kinds


def test_as_langchain_without_the_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runnables.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "langchain_core", None)  # import fails as if missing
    with pytest.raises(MissingExtraError, match=r"pip install 'runnables\[interop\]'"):
        RunnableLambda(str.upper).as_langchain()


async def test_runnables_chat_models_accept_langchain_core_messages_and_prompt_values() -> None:
    from langchain_core.messages import HumanMessage as LCHumanMessage

    model = FunctionChatModel(lambda messages: f"{type(messages[-1]).__name__}:{messages[-1].text}")
    assert (await model.ainvoke(LCHumanMessage("one"))).text == "HumanMessage:one"
    value = LCChatPromptTemplate.from_messages([("human", "{q}")]).invoke({"q": "two"})
    assert (await model.ainvoke(value)).text == "HumanMessage:two"
    tool_message = LCToolMessage("42", tool_call_id="c1")
    assert (await model.ainvoke([tool_message])).text == "ToolMessage:42"


async def test_runs_reported_from_langchain_core_worker_threads_reach_events() -> None:
    import threading

    inner = LCLambda(str.upper).with_config(run_name="inner_upper")
    threads: list[str] = []

    def outer(x: str) -> str:
        # langchain-core runs this sync function in its executor: the nested run's
        # callbacks come from that worker thread.
        threads.append(threading.current_thread().name)
        return inner.invoke(x)

    chain = RunnableLambda(str.strip) | LCLambda(outer)
    events = [e async for e in chain.astream_events(" a ")]
    assert threads and threads[0] != threading.current_thread().name
    starts = {e["name"]: e for e in events if e["event"] == "on_chain_start"}
    assert starts["inner_upper"]["parent_ids"] == [
        starts["RunnableSequence"]["run_id"],
        starts["outer"]["run_id"],
    ]
    ends = {e["name"]: e for e in events if e["event"] == "on_chain_end"}
    assert ends["inner_upper"]["data"] == {"output": "A", "input": "a"}
    assert events[-1]["data"]["output"] == "A"


# ---------------------------------------------------------------------- langchain-core on the left


async def test_a_langchain_step_on_the_left_of_a_pipe_gives_a_runnables_chain() -> None:
    upper = LCLambda(str.upper)
    chain = upper | RunnableLambda(lambda s: s + "!")
    assert isinstance(chain, RunnableSequence)
    assert isinstance(chain.steps[0], LangChainStep)
    assert await chain.ainvoke("b") == "B!"
    assert [c async for c in chain.astream("c")] == ["C!"]
    # A langchain-core sequence on the left (its class has its own `|`), a dict holding a
    # runnables step on either side.
    longer = (upper | LCLambda(str.strip)) | RunnableLambda(len)
    assert isinstance(longer, RunnableSequence)
    assert await longer.ainvoke(" ab ") == 2
    fanned = upper | {"n": RunnableLambda(len), "low": LCLambda(str.lower)}
    assert isinstance(fanned, RunnableSequence)
    assert await fanned.ainvoke("Hey") == {"n": 3, "low": "hey"}
    joined = {"n": RunnableLambda(len)} | LCLambda(lambda d: d["n"] * 2)
    assert isinstance(joined, RunnableSequence)
    assert await joined.ainvoke("abc") == 6


async def test_a_langchain_prompt_then_a_runnables_model_then_a_langchain_parser() -> None:
    chain = (
        LCChatPromptTemplate.from_template("Say {x}") | ParrotFakeChatModel() | LCStrOutputParser()
    )
    assert isinstance(chain, RunnableSequence)
    assert await chain.ainvoke({"x": "hi"}) == "Say hi"
    assert "".join([c async for c in chain.astream({"x": "yo"})]) == "Say yo"
    events = [e["event"] async for e in chain.astream_events({"x": "a"})]
    assert events[0] == "on_chain_start" and events[-1] == "on_chain_end"
    assert "on_chat_model_start" in events


def test_langchain_core_alone_keeps_its_own_pipe() -> None:
    from langchain_core.runnables import RunnableSequence as LCSequence

    upper = LCLambda(str.upper)
    assert isinstance(upper | LCLambda(str.strip), LCSequence)
    assert isinstance(upper | (lambda s: s), LCSequence)
    with pytest.raises(TypeError):
        upper | 5  # type: ignore[operator]
    # langchain-core's own containers take a runnables step as a langchain-core runnable;
    # their types name only their own, hence the ignores.
    from langchain_core.runnables import RunnableParallel as LCParallel

    assert LCParallel(n=RunnableLambda(len)).invoke("abcd") == {"n": 4}  # type: ignore[arg-type]
    assert isinstance(upper.pipe(RunnableLambda(len)), LCSequence)  # type: ignore[arg-type]
    assert upper.pipe(RunnableLambda(len)).invoke("ab") == 2  # type: ignore[arg-type]


def test_the_pipe_rule_holds_when_langchain_core_is_imported_before_runnables() -> None:
    code = (
        "from langchain_core.runnables import RunnableLambda as L\n"
        "import runnables\n"
        "chain = L(str.upper) | runnables.RunnableLambda(len)\n"
        "assert type(chain).__module__ == 'runnables.core.sequence', type(chain)\n"
        "print(chain.invoke('abc'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
