"""The playground page in a real headless Chromium, against a real server on loopback.

Chromium and chromedriver come from the system (Debian: ``apt-get install chromium
chromium-driver``); the tests are skipped, saying so, when they are not installed.
Selenium is pointed at the system driver and told to stay offline, so it never downloads
a browser or a driver.

Set ``RUNNABLES_PLAYGROUND_SCREENSHOT=docs/playground.png`` to save the README's
screenshot while the tests run.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, Field
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from runnables import (
    ChatPromptTemplate,
    Runnable,
    RunnableLambda,
    RunnableParallel,
    StrOutputParser,
)
from runnables.models import FakeTimedChatModel
from runnables.serve.routes import add_routes

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason=(
        f"Chromium or chromedriver is not installed ({CHROMIUM}, {CHROMEDRIVER}); "
        "install them with 'apt-get install chromium chromium-driver' to run the playground "
        "browser tests."
    ),
)

STORY = "Otters hold hands while they sleep so that they do not drift apart on the water."
WAIT = 30.0  # seconds; generous, the machine is shared


# ---------------------------------------------------------------------------- chains


def streaming_chain() -> Runnable[Any, str]:
    prompt = ChatPromptTemplate.from_template("Tell me a fact about {topic}.")
    # About 30 tokens at 25 a second: well over a second of visible streaming.
    model = FakeTimedChatModel([STORY], time_to_first_token=0.1, tokens_per_second=25)
    return prompt | model | StrOutputParser()


async def nap_a(x: str) -> str:
    await asyncio.sleep(0.2)
    return f"a:{x}"


async def nap_b(x: str) -> str:
    await asyncio.sleep(0.2)
    return f"b:{x}"


async def nap_c(x: str) -> str:
    await asyncio.sleep(0.2)
    return f"c:{x}"


def parallel_chain() -> Runnable[Any, Any]:
    return RunnableParallel(
        a=RunnableLambda(nap_a), b=RunnableLambda(nap_b), c=RunnableLambda(nap_c)
    )


def sequence_chain() -> Runnable[Any, Any]:
    return RunnableLambda(nap_a) | RunnableLambda(nap_b) | RunnableLambda(nap_c)


def each_chain() -> Runnable[Any, Any]:
    return RunnableLambda(nap_a).map().with_config(max_concurrency=2)


def chat_chain() -> Runnable[Any, Any]:
    prompt = ChatPromptTemplate.from_template("Tell me a fact about {topic}.")
    return prompt | FakeTimedChatModel([STORY], tokens_per_second=50)


def failing_chain() -> Runnable[Any, Any]:
    async def explode(x: Any) -> Any:
        await asyncio.sleep(0.05)
        raise ValueError(f"cannot handle {x!r}")

    return RunnableLambda(nap_a) | RunnableLambda(explode)


class Order(BaseModel):
    customer: str
    quantity: int
    discount: float = 0.0
    gift: bool = False
    items: list[str] = Field(default_factory=list)
    notes: dict[str, Any] | None = None


def form_chain() -> Runnable[Any, Any]:
    def echo(order: Any) -> Any:
        return order if isinstance(order, dict) else order.model_dump()

    return RunnableLambda(echo).with_types(input_type=Order)


def readme_chain() -> Runnable[Any, Any]:
    """The README's example: a prompt feeding two model calls that run side by side."""
    prompt = ChatPromptTemplate.from_template("Read this article about {topic}.")
    summary = FakeTimedChatModel(
        [
            "Sea otters rest in groups called rafts and hold paws so the current does not "
            "carry them apart; they wrap themselves in kelp for the same reason."
        ],
        time_to_first_token=0.25,
        tokens_per_second=40,
        name="summary_model",
    )
    keywords = FakeTimedChatModel(
        ["otters, rafts, kelp, sleep, ocean"],
        time_to_first_token=0.4,
        tokens_per_second=12,
        name="keywords_model",
    )
    digest = prompt | RunnableParallel(
        summary=(summary | StrOutputParser()).with_config(run_name="summarize"),
        keywords=(keywords | StrOutputParser()).with_config(run_name="extract_keywords"),
    )
    return digest.with_config(run_name="article_digest")


# ---------------------------------------------------------------------------- fixtures


class LoopbackServer:
    """A uvicorn server in a thread, on a free port of 127.0.0.1."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        deadline = time.monotonic() + WAIT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"The test server on port {self.port} did not start.")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=WAIT)
        self.sock.close()


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    app = FastAPI()
    add_routes(app, streaming_chain(), path="/story")
    add_routes(app, parallel_chain(), path="/parallel")
    add_routes(app, sequence_chain(), path="/sequence")
    add_routes(app, each_chain(), path="/each")
    add_routes(app, chat_chain(), path="/chat")
    add_routes(app, failing_chain(), path="/failing")
    add_routes(app, form_chain(), path="/order")
    add_routes(app, readme_chain(), path="/articles")
    with LoopbackServer(app) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    # Never let selenium-manager fetch a browser or a driver: use the system's.
    previous = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"
    with tempfile.TemporaryDirectory(prefix="playground-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            driver.set_script_timeout(WAIT)
            yield driver
        finally:
            driver.quit()
            if previous is None:
                os.environ.pop("SE_OFFLINE", None)
            else:
                os.environ["SE_OFFLINE"] = previous


# ---------------------------------------------------------------------------- helpers


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    return WebDriverWait(driver, WAIT, poll_frequency=0.02).until(
        condition, message=f"Timed out after {WAIT} s waiting for {what}."
    )


def open_playground(driver: WebDriver, server: LoopbackServer, path: str) -> None:
    driver.get(f"{server.url}{path}/playground")
    # The form is built once the input schema has loaded.
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#fields [data-kind]"), "the form")


def fill(driver: WebDriver, name: str, text: str) -> None:
    field = driver.find_element(By.CSS_SELECTOR, f'#fields [name="{name}"]')
    field.clear()
    field.send_keys(text)


def run_and_wait(driver: WebDriver) -> str:
    driver.find_element(By.ID, "run").click()
    state: str = wait_for(
        driver,
        lambda d: d.execute_script(
            "const s = document.body.dataset.state; return s === 'done' || s === 'error' ? s : null"
        ),
        "the run to finish",
    )
    return state


def bars(driver: WebDriver) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = driver.execute_script(
        """return [...document.querySelectorAll('#timeline .bar')].map((b) => ({
            id: b.dataset.runId, name: b.dataset.name, type: b.dataset.runType,
            parent: b.dataset.parentId, depth: Number(b.dataset.depth),
            start: Number(b.dataset.start),
            end: b.dataset.end === '' ? null : Number(b.dataset.end),
            failed: b.classList.contains('failed'),
            left: b.getBoundingClientRect().left, right: b.getBoundingClientRect().right,
        }))"""
    )
    return rows


def peak_overlap(spans: list[dict[str, Any]]) -> int:
    # Ends sort before starts at the same instant: touching bars do not overlap.
    edges = sorted([(s["start"], 1) for s in spans] + [(s["end"], -1) for s in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def overlapping_pairs(spans: list[dict[str, Any]]) -> int:
    return sum(
        1
        for i, a in enumerate(spans)
        for b in spans[i + 1 :]
        if a["start"] < b["end"] and b["start"] < a["end"]
    )


def record_output(driver: WebDriver) -> None:
    # Snapshots taken by the page itself on every change, so the test sees each partial
    # state even when the webdriver round trip is slower than the stream.
    driver.execute_script(
        """const output = document.getElementById('output');
        window.__outputs = [];
        new MutationObserver(() => window.__outputs.push(output.textContent))
          .observe(output, {childList: true, characterData: true, subtree: true});"""
    )


# ---------------------------------------------------------------------------- tests


def test_page_shows_the_runnables_name_and_a_field_per_prompt_variable(
    browser: WebDriver, server: LoopbackServer
) -> None:
    open_playground(browser, server, "/story")
    assert browser.find_element(By.ID, "title").text == "RunnableSequence"
    assert "RunnableSequence" in browser.title
    fields = browser.find_elements(By.CSS_SELECTOR, "#fields [data-kind]")
    assert [f.get_attribute("data-kind") for f in fields] == ["string"]
    assert browser.find_element(By.CSS_SELECTOR, '#fields textarea[name="topic"]')


def test_output_streams_in_progressively(browser: WebDriver, server: LoopbackServer) -> None:
    open_playground(browser, server, "/story")
    fill(browser, "topic", "otters")
    record_output(browser)

    assert run_and_wait(browser) == "done"

    final = browser.find_element(By.ID, "output").text
    assert final == STORY
    outputs: list[str] = browser.execute_script("return window.__outputs")
    partial = [o for o in outputs if o and o != STORY]
    assert partial, f"no partial output was ever shown before the final text: {outputs!r}"
    assert all(STORY.startswith(o) for o in partial)
    assert len(set(partial)) >= 3, f"too few distinct partial states: {sorted(set(partial))!r}"


def test_timeline_nests_each_step_under_its_parent(
    browser: WebDriver, server: LoopbackServer
) -> None:
    open_playground(browser, server, "/story")
    fill(browser, "topic", "otters")
    assert run_and_wait(browser) == "done"

    rows = bars(browser)
    assert [(r["name"], r["type"], r["depth"]) for r in rows] == [
        ("/story", "chain", 0),  # the root run is named after the route, as LangServe's
        ("ChatPromptTemplate", "prompt", 1),
        ("FakeTimedChatModel", "chat_model", 1),
        ("StrOutputParser", "parser", 1),
    ]
    root = rows[0]
    for child in rows[1:]:
        assert child["parent"] == root["id"]
        assert root["start"] <= child["start"] <= child["end"] <= root["end"]


def test_parallel_branches_show_as_overlapping_bars(
    browser: WebDriver, server: LoopbackServer
) -> None:
    open_playground(browser, server, "/parallel")
    # The branches take str, so the input schema asks for text.
    assert (
        browser.find_element(By.CSS_SELECTOR, "#fields [data-kind]").get_attribute("data-kind")
        == "string"
    )
    fill(browser, "input", "go")
    assert run_and_wait(browser) == "done"

    rows = bars(browser)
    root, branches = rows[0], rows[1:]
    assert root["name"] == "/parallel"  # named after the route, as LangServe names it
    assert sorted(b["name"] for b in branches) == ["nap_a", "nap_b", "nap_c"]
    assert all(b["parent"] == root["id"] and b["depth"] == 1 for b in branches)
    assert all(b["end"] is not None and b["end"] > b["start"] for b in branches)
    assert overlapping_pairs(branches) >= 2, branches
    # The drawn bars overlap too, not only the numbers behind them.
    drawn = [{"start": b["left"], "end": b["right"]} for b in branches]
    assert overlapping_pairs(drawn) >= 2, drawn
    output = browser.find_element(By.ID, "output").text
    assert '"a": "a:go"' in output and '"c": "c:go"' in output


def test_sequential_steps_do_not_overlap(browser: WebDriver, server: LoopbackServer) -> None:
    open_playground(browser, server, "/sequence")
    fill(browser, "input", "go")
    assert run_and_wait(browser) == "done"

    steps = bars(browser)[1:]
    assert [s["name"] for s in steps] == ["nap_a", "nap_b", "nap_c"]
    # A streaming sequence starts the next step as the previous one hands over its output,
    # a moment before the previous step's end is recorded: the bars touch, they do not
    # run side by side like parallel branches.
    for before, after in itertools.pairwise(steps):
        assert after["start"] >= before["start"] + (before["end"] - before["start"]) / 2, steps
    assert browser.find_element(By.ID, "output").text == "c:b:a:go"


def test_the_finished_run_shows_its_run_id(browser: WebDriver, server: LoopbackServer) -> None:
    open_playground(browser, server, "/sequence")
    fill(browser, "input", "go")
    assert run_and_wait(browser) == "done"

    meta = browser.find_element(By.ID, "run-meta").text
    assert re.search(r"run_id [0-9a-f-]{36}", meta), meta


def test_batch_shows_max_concurrency_bars_at_a_time(
    browser: WebDriver, server: LoopbackServer
) -> None:
    open_playground(browser, server, "/each")
    assert (
        browser.find_element(By.CSS_SELECTOR, "#fields [data-kind]").get_attribute("data-kind")
        == "strings"
    )
    fill(browser, "input", "x\ny\nz")
    assert run_and_wait(browser) == "done"

    items = bars(browser)[1:]
    assert [i["name"] for i in items] == ["nap_a"] * 3
    assert peak_overlap(items) == 2, items
    first_end = min(i["end"] for i in items[:2])
    assert items[2]["start"] >= first_end, items
    assert json.loads(browser.find_element(By.ID, "output").text) == ["a:x", "a:y", "a:z"]


def test_a_chat_models_chunks_show_as_their_text(
    browser: WebDriver, server: LoopbackServer
) -> None:
    open_playground(browser, server, "/chat")
    fill(browser, "topic", "otters")
    record_output(browser)
    assert run_and_wait(browser) == "done"

    assert browser.find_element(By.ID, "output").text == STORY
    outputs: list[str] = browser.execute_script("return window.__outputs")
    assert any(o and o != STORY and STORY.startswith(o) for o in outputs), outputs


def test_error_event_is_shown_and_the_failed_step_marked(
    browser: WebDriver, server: LoopbackServer
) -> None:
    open_playground(browser, server, "/failing")
    fill(browser, "input", "go")

    assert run_and_wait(browser) == "error"

    error = browser.find_element(By.ID, "error")
    assert error.is_displayed() and error.text.strip()
    rows = {r["name"]: r for r in bars(browser)}
    assert not rows["nap_a"]["failed"]
    assert rows["explode"]["failed"]


def test_invalid_json_input_is_reported_without_a_request(
    browser: WebDriver, server: LoopbackServer
) -> None:
    open_playground(browser, server, "/order")
    fill(browser, "customer", "Ada")
    fill(browser, "quantity", "3")
    fill(browser, "notes", "{door: blue}")  # not JSON: keys and text must be quoted
    browser.find_element(By.ID, "run").click()

    error = wait_for(browser, lambda d: d.find_element(By.ID, "error").text, "the error")
    assert 'Field "notes" is not valid JSON' in error
    assert bars(browser) == []
    assert browser.execute_script("return document.body.dataset.state") is None


def test_form_fields_follow_the_input_schema(browser: WebDriver, server: LoopbackServer) -> None:
    open_playground(browser, server, "/order")
    kinds = {}
    for field in browser.find_elements(By.CSS_SELECTOR, "#fields [data-kind]"):
        control = field.find_element(By.CSS_SELECTOR, "[name]")
        kinds[control.get_attribute("name")] = field.get_attribute("data-kind")
    assert kinds == {
        "customer": "string",
        "quantity": "integer",
        "discount": "number",
        "gift": "boolean",
        "items": "strings",
        "notes": "json",
    }
    fill(browser, "customer", "Ada")
    fill(browser, "quantity", "3")
    fill(browser, "discount", "0.5")
    browser.find_element(By.CSS_SELECTOR, '#fields [name="gift"]').click()
    fill(browser, "items", "tea\nscones")
    fill(browser, "notes", '{"door": "blue"}')

    assert run_and_wait(browser) == "done"

    assert json.loads(browser.find_element(By.ID, "output").text) == {
        "customer": "Ada",
        "quantity": 3,
        "discount": 0.5,
        "gift": True,
        "items": ["tea", "scones"],
        "notes": {"door": "blue"},
    }


def test_parallel_model_calls_overlap_and_merge_their_streams(
    browser: WebDriver, server: LoopbackServer
) -> None:
    open_playground(browser, server, "/articles")
    fill(browser, "topic", "sea otters")
    assert run_and_wait(browser) == "done"

    rows = bars(browser)
    models = [r for r in rows if r["type"] == "chat_model"]
    assert sorted(m["name"] for m in models) == ["keywords_model", "summary_model"]
    assert overlapping_pairs(models) == 1, models
    output = browser.find_element(By.ID, "output").text
    assert '"keywords": "otters, rafts, kelp, sleep, ocean"' in output

    # The README's screenshot shows one model step's details too.
    summary = next(r for r in rows if r["name"] == "summary_model")
    browser.find_element(By.CSS_SELECTOR, f'.tl-row[data-run-id="{summary["id"]}"]').click()
    wait_for(
        browser,
        lambda d: d.find_element(By.ID, "step").get_attribute("data-run-id") == summary["id"],
        "the step's details",
    )
    assert "total_tokens" in browser.find_element(By.ID, "step-usage").text

    target = os.environ.get("RUNNABLES_PLAYGROUND_SCREENSHOT")
    if target:
        browser.execute_script("document.activeElement && document.activeElement.blur()")
        height = browser.execute_script(
            "return Math.ceil(document.querySelector('main').getBoundingClientRect().bottom)"
        )
        metrics = {"width": 1280, "height": height, "deviceScaleFactor": 2, "mobile": False}
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        try:
            browser.save_screenshot(target)
        finally:
            browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
