"""The playground page as served by ``add_routes`` (the browser tests drive it for real)."""

from __future__ import annotations

import json
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from runnables import RunnableLambda, RunnableParallel
from runnables.serve.playground import playground_html, render_playground
from runnables.serve.routes import add_routes


def shout(text: str) -> str:
    return text.upper()


def test_route_serves_the_page_with_the_base_path_and_name_filled_in() -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(shout), path="/shout")

    response = TestClient(app).get("/shout/playground")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<meta name="runnables-base-path" content="/shout">' in page
    assert '<h1 id="title">shout</h1>' in page
    assert "{{BASE_PATH}}" not in page and "{{RUNNABLE_NAME}}" not in page


def test_route_under_a_nested_path_points_the_page_at_that_path() -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(shout), path="/api/v1/shout")

    page = TestClient(app).get("/api/v1/shout/playground").text

    assert 'content="/api/v1/shout"' in page


def test_route_escapes_a_name_with_angle_brackets() -> None:
    app = FastAPI()
    add_routes(app, RunnableParallel(a=shout, b=shout), path="/both")

    page = TestClient(app).get("/both/playground").text

    assert "RunnableParallel&lt;a,b&gt;" in page
    assert "RunnableParallel<a,b>" not in page


def test_render_escapes_what_could_break_out_of_an_attribute() -> None:
    page = render_playground('x"><script>alert(1)</script>', '/a"b')

    assert "<script>alert(1)" not in page
    assert 'content="/a&quot;b"' in page


def test_render_drops_a_trailing_slash_from_the_base_path() -> None:
    assert 'content="/chat"' in render_playground("chain", "/chat/")


def test_render_refuses_a_relative_base_path() -> None:
    with pytest.raises(ValueError, match=r"must start with '/', got 'chat'"):
        render_playground("chain", "chat")


def test_page_loads_nothing_from_another_origin() -> None:
    page = playground_html()
    # Self-contained: no CDN script, stylesheet, font or image.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"""@import|url\(\s*["']?(https?:)?//""", page)
    assert "<script src" not in page and "<link" not in page


def test_page_calls_the_routes_relative_to_its_base_path() -> None:
    page = playground_html()
    assert "`${BASE}/input_schema`" in page
    assert "`${BASE}/stream_events`" in page


def test_the_playground_does_not_ask_for_resumable_streams() -> None:
    # Without Resume-Grace, closing the tab cancels the run (and the model) at once.
    page = render_playground("chain", "/chat")

    assert "/stream_events" in page
    assert "resume-grace" not in page.lower()


def explode(text: str) -> str:
    raise ValueError(f"cannot handle {text!r}: secret detail")


def test_a_failed_streams_error_event_names_the_step_but_not_its_message() -> None:
    # The playground marks that step red; the message and traceback stay in the log.
    app = FastAPI()
    add_routes(app, RunnableLambda(shout) | RunnableLambda(explode), path="/boom")

    body = TestClient(app).post("/boom/stream_events", json={"input": "go"}).text

    error = body.split("event: error", 1)[1]
    data = json.loads(error.split("data: ", 1)[1].splitlines()[0])
    assert data == {"status_code": 500, "message": "Internal Server Error", "step": "explode"}
    assert "secret detail" not in body
