"""add_routes behaves as LangServe's add_routes where LangServe's client or users see it.

LangServe's own ``RemoteRunnable`` (its sdist, fetched by pip at test time: see
``tests/serve/langserve_upstream``) talks to these routes over a real socket.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel

from runnables import RunnableLambda
from runnables.prompts import PromptTemplate
from runnables.serve import add_routes
from serve.langserve_upstream import import_langserve

Start = Callable[..., Any]  # the live_server fixture (tests/serve/conftest.py)


@pytest.fixture(scope="module")
def remote_runnable() -> Any:
    """LangServe's client class."""
    import_langserve()
    from langserve import RemoteRunnable

    return RemoteRunnable


def events_of(text: str) -> list[dict[str, Any]]:
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            out.append(fields)
    return out


class Question(BaseModel):
    question: str


def test_with_types_input_model_hands_the_chain_a_dict(
    live_server: Start, remote_runnable: Any
) -> None:
    seen: list[Any] = []

    def record(value: Any) -> Any:
        seen.append(value)
        return value

    chain = (RunnableLambda(record) | PromptTemplate.from_template("Q: {question}")).with_types(
        input_type=Question
    )
    app = FastAPI()
    add_routes(app, chain, path="/ask")
    url = live_server(app).url

    answer = remote_runnable(f"{url}/ask").invoke({"question": "hi"})

    assert seen == [{"question": "hi"}]
    assert answer.to_string() == "Q: hi"


class Inner(BaseModel):
    n: int


class Outer(BaseModel):
    inner: Inner


def test_nested_input_models_become_nested_dicts(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: repr(x)).with_types(input_type=Outer), path="/o")
    url = live_server(app).url

    got = httpx.post(f"{url}/o/invoke", json={"input": {"inner": {"n": 1}}}).json()

    assert got["output"] == repr({"inner": {"n": 1}})


def test_run_id_from_the_client_is_used_when_config_keys_allow_it(
    live_server: Start, remote_runnable: Any
) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x), path="/allowed", config_keys=["run_id"])
    add_routes(app, RunnableLambda(lambda x: x), path="/default")
    url = live_server(app).url
    run_id = uuid.uuid4()

    allowed = httpx.post(
        f"{url}/allowed/invoke", json={"input": 1, "config": {"run_id": str(run_id)}}
    ).json()
    default = httpx.post(
        f"{url}/default/invoke", json={"input": 1, "config": {"run_id": str(run_id)}}
    ).json()
    bad = httpx.post(f"{url}/allowed/invoke", json={"input": 1, "config": {"run_id": "x"}})
    # LangServe's own client sends it the same way.
    assert remote_runnable(f"{url}/allowed").invoke(1, config={"run_id": run_id}) == 1

    assert allowed["metadata"]["run_id"] == str(run_id)
    assert default["metadata"]["run_id"] != str(run_id)
    assert bad.status_code == 422
    assert "config['run_id'] must be a UUID, got 'x'" in bad.text


def test_configurable_is_a_422_when_config_keys_leave_it_out(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x), path="/x", config_keys=["tags"])
    url = live_server(app).url

    refused = httpx.post(f"{url}/x/invoke", json={"input": 1, "config": {"configurable": {"k": 1}}})
    dropped = httpx.post(f"{url}/x/invoke", json={"input": 1, "config": {"metadata": {"a": 1}}})

    assert refused.status_code == 422
    assert "`configurable` has been disallowed by the server" in refused.text
    assert dropped.status_code == 200  # other keys not allowed are dropped, as LangServe does


def test_adding_the_same_path_twice_is_an_error() -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x), path="/same")

    with pytest.raises(ValueError, match="the path '/same' is already served"):
        add_routes(app, RunnableLambda(lambda x: x), path="/same")
    add_routes(app, RunnableLambda(lambda x: x), path="/other")  # another path is fine


def test_the_root_run_is_named_after_the_route_path(live_server: Start) -> None:
    app = FastAPI()
    router = APIRouter(prefix="/api")
    add_routes(router, RunnableLambda(lambda x: x), path="/echo")
    app.include_router(router)
    add_routes(app, RunnableLambda(lambda x: x), path="/plain")
    url = live_server(app).url

    def root_name(route: str, config: dict[str, Any] | None = None) -> str:
        text = httpx.post(
            f"{url}{route}/stream_events", json={"input": 1, "config": config or {}}
        ).text
        first = next(e for e in events_of(text) if e["event"] == "data")
        return str(json.loads(first["data"])["name"])

    assert root_name("/api/echo") == "/api/echo"
    assert root_name("/plain") == "/plain"
    # runnables lets a request name its run when config_keys allow run_name (the default).
    assert root_name("/plain", {"run_name": "mine"}) == "mine"


def test_langserves_endpoint_names_are_accepted_in_disabled_endpoints() -> None:
    app = FastAPI()
    add_routes(
        app,
        RunnableLambda(lambda x: x),
        path="/x",
        disabled_endpoints=["feedback", "public_trace_link", "token_feedback", "playground"],
    )
    paths = {getattr(r, "path", None) for r in app.routes}
    assert "/x/invoke" in paths and "/x/playground/" not in paths

    with pytest.raises(ValueError, match="LangServe endpoints for LangSmith"):
        add_routes(app, RunnableLambda(lambda x: x), path="/y", enabled_endpoints=["feedback"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="unknown endpoint names \\['nope'\\]"):
        add_routes(app, RunnableLambda(lambda x: x), path="/z", disabled_endpoints=["nope"])  # type: ignore[list-item]


def test_playground_index_html_is_the_playground(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x), path="/x")
    url = live_server(app).url

    page = httpx.get(f"{url}/x/playground/index.html")
    plain = httpx.get(f"{url}/x/playground/")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text == plain.text


def test_the_playground_honours_dependencies(live_server: Start) -> None:
    def need_key(x_key: str | None = Header(default=None)) -> None:
        if x_key != "ok":
            raise HTTPException(status_code=401, detail="no key")

    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x), path="/x", dependencies=[Depends(need_key)])
    url = live_server(app).url

    assert httpx.get(f"{url}/x/playground/").status_code == 401
    assert httpx.get(f"{url}/x/playground/index.html").status_code == 401
    assert httpx.get(f"{url}/x/playground/", headers={"x-key": "ok"}).status_code == 200


def test_the_playground_under_root_path_points_at_the_prefixed_routes(
    live_server: Start,
) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x), path="/x")
    url = live_server(app, root_path="/proxy").url  # as behind a proxy that strips /proxy

    page = httpx.get(f"{url}/x/playground/").text

    assert "/proxy/x" in page


async def _words(text: Any) -> Any:
    for word in str(text).split():
        yield word


def test_langserves_client_decodes_resumable_streams_with_event_ids(
    live_server: Start, remote_runnable: Any
) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(_words), path="/w")
    url = live_server(app).url
    resumable = {"Resume-Grace": "1"}
    raw = httpx.post(f"{url}/w/stream", json={"input": "a b c"}, headers=resumable).text
    assert "\r\nid: " in raw  # the ids are there (for resuming), and the client copes

    client = remote_runnable(f"{url}/w", headers=resumable)
    assert list(client.stream("a b c")) == ["a", "b", "c"]
    assert list(remote_runnable(f"{url}/w").stream("a b c")) == ["a", "b", "c"]


@pytest.mark.parametrize("route", ["stream", "stream_events", "stream_log"])
def test_a_stream_not_asked_to_be_resumable_is_strict_event_data_pairs(
    live_server: Start, route: str
) -> None:
    # What LangServe's own tests decode: non-blank lines taken two by two, an event: line
    # then its data: line, and a lone event: end last.
    app = FastAPI()
    add_routes(app, RunnableLambda(_words), path="/w")
    url = live_server(app).url

    raw = httpx.post(f"{url}/w/{route}", json={"input": "a b"}).text

    lines = [line for line in raw.split("\r\n") if line.strip()]
    assert lines[-1] == "event: end"
    pairs = lines[:-1]
    assert len(pairs) % 2 == 0
    assert all(e.startswith("event: ") for e in pairs[::2])
    assert all(d.startswith("data: ") for d in pairs[1::2])
    for data in pairs[1::2]:
        json.loads(data.removeprefix("data: "))  # each data line is one JSON value


async def test_stream_log_serves_langserves_astream_log(
    live_server: Start, remote_runnable: Any
) -> None:
    def shout(text: Any) -> str:
        return str(text.to_string()).upper()

    chain = PromptTemplate.from_template("say {word}") | RunnableLambda(shout)
    app = FastAPI()
    add_routes(app, chain, path="/log")
    url = live_server(app).url
    remote = remote_runnable(f"{url}/log")

    patches = [p async for p in remote.astream_log({"word": "hi"})]
    only_shout = [p async for p in remote.astream_log({"word": "hi"}, include_names=["shout"])]

    state: Any = None
    for patch in patches:
        state = patch if state is None else state + patch
    run = state.state
    assert patches[0].ops[0]["op"] == "replace" and patches[0].ops[0]["path"] == ""
    assert run["name"] == "/log" and run["type"] == "chain"
    assert run["streamed_output"] == ["SAY HI"] and run["final_output"] == "SAY HI"
    assert sorted(run["logs"]) == ["PromptTemplate", "shout"]
    assert run["logs"]["shout"]["final_output"] == {"output": "SAY HI"}
    assert run["logs"]["shout"]["end_time"] is not None
    logged = {op["path"] for p in only_shout for op in p.ops if op["path"].startswith("/logs/")}
    assert logged and all(path.startswith("/logs/shout") for path in logged)

    bad = httpx.post(f"{url}/log/stream_log", json={"input": {"word": "x"}, "include_names": [[]]})
    assert bad.status_code == 422


def test_batch_metadata_has_langserves_responses(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x), path="/b")
    url = live_server(app).url

    got = httpx.post(f"{url}/b/batch", json={"inputs": [1, 2]}).json()

    ids = got["metadata"]["run_ids"]
    assert len(set(ids)) == 2
    assert got["metadata"]["responses"] == [{"run_id": i, "feedback_tokens": []} for i in ids]


def test_a_value_that_is_no_runnable_is_langserves_type_error() -> None:
    with pytest.raises(TypeError, match="Expected a Runnable, got <class 'str'>: add_routes"):
        add_routes(FastAPI(), "not a runnable")
