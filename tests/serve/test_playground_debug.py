"""The playground as a debugger, in a real headless Chromium against a loopback server.

Each test drives one feature (step details, the config panel, chat input, the token
field, required fields, the run history) and saves a screenshot of the state it checked
into a temporary directory; the assertions are on the DOM, the PNGs are for a person.
Set ``RUNNABLES_PLAYGROUND_SHOTS=<dir>`` to keep the screenshots.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from runnables import (
    ChatPromptTemplate,
    ConfigurableField,
    MessagesPlaceholder,
    Runnable,
    RunnableConfig,
    RunnableLambda,
    RunnableParallel,
    StrOutputParser,
)
from runnables.models import FakeListChatModel, FakeTimedChatModel
from runnables.serve.routes import add_routes

from .test_playground_browser import (
    LoopbackServer,
    bars,
    browser,  # noqa: F401  (the module's Chromium fixture)
    fill,
    open_playground,
    pytestmark,  # noqa: F401  (skipped, saying so, without Chromium)
    run_and_wait,
    wait_for,
)

ANSWER = "Otters keep a favourite stone in a pouch of skin under their forearm."
TOKEN = "s3cret-token"


# ---------------------------------------------------------------------------- chains


def slow_story_chain() -> Runnable[Any, str]:
    prompt = ChatPromptTemplate.from_template("Tell me about {topic}.")
    # About 25 tokens at 10 a second: the model step streams for over two seconds.
    model = FakeTimedChatModel([ANSWER], time_to_first_token=0.1, tokens_per_second=10)
    return prompt | model | StrOutputParser()


async def nap(x: str) -> str:
    await asyncio.sleep(0.1)
    return f"a:{x}"


async def explode(x: str) -> str:
    await asyncio.sleep(0.05)
    raise ValueError(f"cannot handle {x!r}")


def failing_chain() -> Runnable[Any, Any]:
    return RunnableLambda(nap) | RunnableLambda(explode) | RunnableLambda(nap)


async def linger(x: str) -> str:
    await asyncio.sleep(5)
    return x


def failing_branch_chain() -> Runnable[Any, Any]:
    # The slow branch is still running when its sibling fails: it is cancelled, not failed.
    return RunnableParallel(slow=RunnableLambda(linger), bad=RunnableLambda(explode))


def configurable_chain() -> Runnable[Any, Any]:
    fast = FakeTimedChatModel(["fast answer"], name="fast_model").configurable_fields(
        responses=ConfigurableField(id="answers", name="Answers", description="What it says")
    )
    slow = FakeTimedChatModel(["slow answer"], time_to_first_token=0.05, name="slow_model")
    model = fast.configurable_alternatives(
        ConfigurableField(id="model", name="Model"), default_key="fast", slow=slow
    )

    def seen(text: str, config: RunnableConfig) -> dict[str, Any]:
        return {
            "answer": text,
            "tags": [t for t in config.get("tags", []) if not t.startswith("seq:")],
            "metadata": config.get("metadata", {}),
        }

    prompt = ChatPromptTemplate.from_template("Answer {question}.")
    return prompt | model | StrOutputParser() | RunnableLambda(seen)


def chat_model() -> Runnable[Any, Any]:
    return FakeListChatModel(responses=["first answer", "second answer"])


def history_chain() -> Runnable[Any, Any]:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are brief."), MessagesPlaceholder("history"), ("human", "{question}")]
    )
    return prompt | FakeListChatModel(responses=["Paris", "About two million"])


class Order(BaseModel):
    customer: str
    quantity: int = Field(gt=0)
    note: str = ""


def order_chain() -> Runnable[Any, Any]:
    def echo(order: Any) -> Any:
        return order if isinstance(order, dict) else order.model_dump()

    return RunnableLambda(echo).with_types(input_type=Order)


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    app = FastAPI()
    add_routes(app, slow_story_chain(), path="/story")
    add_routes(app, failing_chain(), path="/failing")
    add_routes(app, failing_branch_chain(), path="/branches")
    add_routes(app, configurable_chain(), path="/config")
    add_routes(app, chat_model(), path="/chat")
    add_routes(app, history_chain(), path="/history")
    add_routes(app, order_chain(), path="/order")
    add_routes(app, order_chain(), path="/secret", auth_token=TOKEN)
    with LoopbackServer(app) as running:
        yield running


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    kept = os.environ.get("RUNNABLES_PLAYGROUND_SHOTS")
    target = Path(kept) if kept else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    return target


# ---------------------------------------------------------------------------- helpers


def snap(driver: WebDriver, shots: Path, name: str) -> Path:
    driver.execute_script("document.activeElement && document.activeElement.blur(); scrollTo(0, 0)")
    height = driver.execute_script(
        "return Math.ceil(document.querySelector('main').getBoundingClientRect().bottom) + 20"
    )
    metrics = {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        path = shots / f"{name}.png"
        assert driver.save_screenshot(str(path))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def click_step(driver: WebDriver, name: str) -> None:
    row = driver.find_element(By.CSS_SELECTOR, f'#timeline .tl-row[aria-label^="{name} ("]')
    row.click()
    wait_for(
        driver,
        lambda d: (
            d.find_element(By.ID, "step").get_attribute("data-run-id")
            == row.get_attribute("data-run-id")
        ),
        f"the details of step {name}",
    )


def step_text(driver: WebDriver, part: str) -> str:
    # Read in the page: the panel is redrawn on every chunk, so an element handle goes stale.
    text: str = driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.textContent : null",
        f"step-{part}",
    )
    return text


def attribute(element: WebElement, name: str) -> str:
    """An attribute the page sets (selenium gives None for one that is missing)."""
    value = element.get_attribute(name)
    assert value is not None, f"<{element.tag_name}> has no {name!r} attribute"
    return value


def error_text(driver: WebDriver) -> str:
    return str(wait_for(driver, lambda d: d.find_element(By.ID, "error").text, "the error"))


# ---------------------------------------------------------------------------- step details


def test_a_clicked_step_shows_its_input_streaming_output_metadata_and_usage(
    browser: WebDriver,  # noqa: F811
    server: LoopbackServer,
    shots: Path,
) -> None:
    open_playground(browser, server, "/story")
    fill(browser, "topic", "otters")
    browser.find_element(By.ID, "run").click()
    wait_for(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, '.tl-row[aria-label^="FakeTimedChatModel ("]'),
        "the model's row",
    )
    click_step(browser, "FakeTimedChatModel")
    # While the model runs, its output in the panel grows chunk by chunk.
    seen = set()
    while browser.execute_script("return document.body.dataset.state") == "running":
        text = step_text(browser, "output")
        if text and text.startswith("{"):
            content = json.loads(text)["content"]
            assert ANSWER.startswith(content)
            if content != ANSWER:
                seen.add(content)
    assert len(seen) >= 2, f"the step's output never streamed: {sorted(seen)!r}"
    assert browser.execute_script("return document.body.dataset.state") == "done"

    step = browser.find_element(By.ID, "step")
    assert step.get_attribute("data-state") == "done"
    assert "chat_model" in step.find_element(By.TAG_NAME, "h3").text
    assert "Tell me about otters." in step_text(browser, "input")
    final = json.loads(step_text(browser, "output"))
    assert (final["type"], final["content"]) == ("AIMessageChunk", ANSWER)
    metadata = json.loads(step_text(browser, "metadata"))
    assert metadata["run_id"] == step.get_attribute("data-run-id")
    assert "seq:step:2" in metadata["tags"]
    usage = dict(line.split(": ") for line in step_text(browser, "usage").splitlines())
    assert set(usage) >= {"input_tokens", "output_tokens", "total_tokens"}
    assert int(usage["output_tokens"]) > 0
    assert not browser.find_elements(By.ID, "step-error")
    selected = browser.find_elements(By.CSS_SELECTOR, '.tl-row[aria-selected="true"]')
    assert [r.get_attribute("aria-label") for r in selected] == ["FakeTimedChatModel (chat_model)"]
    snap(browser, shots, "step-details")

    # Another step, by keyboard: the prompt's input is the form's value.
    row = browser.find_element(By.CSS_SELECTOR, '.tl-row[aria-label^="ChatPromptTemplate ("]')
    row.send_keys(" ")
    wait_for(browser, lambda d: '"topic": "otters"' in step_text(d, "input"), "the prompt's input")
    assert step_text(browser, "usage") == "(none reported)"


def test_only_the_failing_step_is_red_and_its_error_is_shown(
    browser: WebDriver,  # noqa: F811
    server: LoopbackServer,
    shots: Path,
) -> None:
    open_playground(browser, server, "/failing")
    fill(browser, "input", "go")
    assert run_and_wait(browser) == "error"

    rows = bars(browser)
    assert [(r["name"], r["failed"]) for r in rows] == [
        ("/failing", False),
        ("nap", False),
        ("explode", True),
    ]
    red = browser.find_elements(By.CSS_SELECTOR, "#timeline .bar.failed, #timeline .tl-row.failed")
    assert {e.get_attribute("data-run-id") for e in red} == {rows[2]["id"]}
    root = browser.find_element(By.CSS_SELECTOR, f'.bar[data-run-id="{rows[0]["id"]}"]')
    assert "aborted" in attribute(root, "class").split()
    # The failed step is opened by itself, with the error the server sent for it.
    step = browser.find_element(By.ID, "step")
    assert step.get_attribute("data-run-id") == rows[2]["id"]
    assert step.get_attribute("data-state") == "failed"
    message = step_text(browser, "error")
    assert message.startswith('Step "explode" failed: Internal Server Error (status 500)')
    assert message == browser.find_element(By.ID, "error").text
    # The server reports no input for a step that never ended: in a sequence it is the
    # previous step's output.
    assert step_text(browser, "input") == "a:go"
    heading = browser.find_element(By.CSS_SELECTOR, "#step h4").get_attribute("textContent")
    assert heading == "Input (the previous step's output)"
    snap(browser, shots, "failed-step")


def test_a_failing_branch_is_red_and_its_cancelled_sibling_is_not(
    browser: WebDriver,  # noqa: F811
    server: LoopbackServer,
) -> None:
    open_playground(browser, server, "/branches")
    fill(browser, "input", "go")
    assert run_and_wait(browser) == "error"

    rows = {r["name"]: r for r in bars(browser)}
    assert set(rows) == {"/branches", "linger", "explode"}
    assert [name for name, r in rows.items() if r["failed"]] == ["explode"]
    linger = browser.find_element(By.CSS_SELECTOR, f'.bar[data-run-id="{rows["linger"]["id"]}"]')
    assert "aborted" in attribute(linger, "class").split()
    assert browser.find_element(By.ID, "step").get_attribute("data-run-id") == rows["explode"]["id"]
    # A branch's input is the parallel's input.
    assert step_text(browser, "input") == "go"


# ---------------------------------------------------------------------------- config


def test_config_panel_offers_the_configurable_fields_and_the_run_uses_them(
    browser: WebDriver,  # noqa: F811
    server: LoopbackServer,
    shots: Path,
) -> None:
    open_playground(browser, server, "/config")
    wait_for(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#config-fields [data-kind]"),
        "the config",
    )
    panel = browser.find_element(By.ID, "config")
    assert panel.get_attribute("open") == "true"
    kinds = {
        f.find_element(By.CSS_SELECTOR, "[name]").get_attribute("name"): f.get_attribute(
            "data-kind"
        )
        for f in browser.find_elements(By.CSS_SELECTOR, "#config-fields [data-kind]")
    }
    assert kinds == {
        "model": "enum",
        "answers": "strings",  # FakeListChatModel.responses is a list[str] field
        "tags": "strings",
        "metadata": "json",
        "run_name": "string",
    }
    options = browser.find_elements(By.CSS_SELECTOR, '#config-fields [name="model"] option')
    assert [o.get_attribute("value") for o in options] == ["fast", "slow"]

    fill(browser, "question", "why")
    answers = browser.find_element(By.CSS_SELECTOR, '#config-fields [name="answers"]')
    assert attribute(answers, "value") == "fast answer"  # the default, one item a line
    answers.clear()
    answers.send_keys("custom")
    browser.find_element(By.CSS_SELECTOR, '#config-fields [name="tags"]').send_keys("blue\ngreen")
    browser.find_element(By.CSS_SELECTOR, '#config-fields [name="metadata"]').send_keys(
        '{"user": "ada"}'
    )
    assert run_and_wait(browser) == "done"
    out = json.loads(browser.find_element(By.ID, "output").text)
    assert (out["answer"], out["tags"], out["metadata"]["user"]) == (
        "custom",
        ["blue", "green"],
        "ada",
    )
    snap(browser, shots, "config")

    browser.find_element(
        By.CSS_SELECTOR, '#config-fields [name="model"] option[value="slow"]'
    ).click()
    assert run_and_wait(browser) == "done"
    assert json.loads(browser.find_element(By.ID, "output").text)["answer"] == "slow answer"
    assert "slow_model" in [r["name"] for r in bars(browser)]


def test_bad_config_json_is_refused_before_sending(
    browser: WebDriver,  # noqa: F811
    server: LoopbackServer,
) -> None:
    open_playground(browser, server, "/config")
    wait_for(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#config-fields [data-kind]"),
        "the config",
    )
    fill(browser, "question", "why")
    browser.find_element(By.CSS_SELECTOR, '#config-fields [name="metadata"]').send_keys("{user}")
    browser.find_element(By.ID, "run").click()
    assert 'Field "metadata" is not valid JSON' in error_text(browser)
    assert bars(browser) == []


# ---------------------------------------------------------------------------- chat


def test_chat_input_keeps_the_conversation_across_runs(
    browser: WebDriver,  # noqa: F811
    server: LoopbackServer,
    shots: Path,
) -> None:
    open_playground(browser, server, "/chat")
    field = browser.find_element(By.CSS_SELECTOR, "#fields [data-kind]")
    assert field.get_attribute("data-kind") == "messages"
    browser.find_element(By.ID, "run").click()
    assert error_text(browser) == "The conversation is empty; type a message before running."
    first = browser.find_element(By.CSS_SELECTOR, ".chat-msg textarea")
    first.send_keys("hello")
    assert run_and_wait(browser) == "done"
    assert browser.find_element(By.ID, "output").text == "first answer"

    def conversation() -> list[tuple[str, str]]:
        return [
            (
                attribute(m, "data-role"),
                attribute(m.find_element(By.TAG_NAME, "textarea"), "value"),
            )
            for m in browser.find_elements(By.CSS_SELECTOR, ".chat-msg")
        ]

    assert conversation() == [("human", "hello"), ("ai", "first answer"), ("human", "")]
    browser.find_elements(By.CSS_SELECTOR, ".chat-msg textarea")[-1].send_keys("and again")
    # A system turn added with its role.
    browser.find_element(By.CSS_SELECTOR, '[data-action="add-message"]').click()
    last = browser.find_elements(By.CSS_SELECTOR, ".chat-msg")[-1]
    last.find_element(By.CSS_SELECTOR, 'option[value="system"]').click()
    last.find_element(By.TAG_NAME, "textarea").send_keys("be brief")
    assert run_and_wait(browser) == "done"
    assert browser.find_element(By.ID, "output").text == "second answer"

    # The model received the whole conversation, roles included.
    click_step(browser, "/chat")
    sent = json.loads(step_text(browser, "input"))
    assert [(m["type"], m["content"]) for m in sent] == [
        ("human", "hello"),
        ("ai", "first answer"),
        ("human", "and again"),
        ("system", "be brief"),
    ]
    assert conversation()[-2:] == [("ai", "second answer"), ("human", "")]
    snap(browser, shots, "chat")


def test_a_history_field_gets_each_question_and_answer(
    browser: WebDriver,  # noqa: F811
    server: LoopbackServer,
    shots: Path,
) -> None:
    open_playground(browser, server, "/history")
    kinds = {
        f.find_element(By.CSS_SELECTOR, "[name], .chat").get_attribute("name")
        or f.find_element(By.CSS_SELECTOR, ".chat").get_attribute("data-name"): f.get_attribute(
            "data-kind"
        )
        for f in browser.find_elements(By.CSS_SELECTOR, "#fields [data-kind]")
    }
    assert kinds == {"history": "messages", "question": "string"}
    fill(browser, "question", "Capital of France?")
    assert run_and_wait(browser) == "done"
    fill(browser, "question", "How many people live there?")
    assert run_and_wait(browser) == "done"
    assert browser.find_element(By.ID, "output").text == "About two million"

    history = [
        (
            m.get_attribute("data-role"),
            m.find_element(By.TAG_NAME, "textarea").get_attribute("value"),
        )
        for m in browser.find_elements(By.CSS_SELECTOR, ".chat-msg")
    ]
    assert history == [
        ("human", "Capital of France?"),
        ("ai", "Paris"),
        ("human", "How many people live there?"),
        ("ai", "About two million"),
    ]
    question = browser.find_element(By.CSS_SELECTOR, '#fields [name="question"]')
    assert question.get_attribute("value") == ""
    # The second run sent the first question and answer as the history.
    click_step(browser, "ChatPromptTemplate")
    sent = json.loads(step_text(browser, "input"))
    assert [(m["type"], m["content"]) for m in sent["history"]] == [
        ("human", "Capital of France?"),
        ("ai", "Paris"),
    ]
    snap(browser, shots, "history-field")


# ---------------------------------------------------------------------------- auth, 422


def test_a_token_field_appears_for_an_app_with_auth_token(
    browser: WebDriver,  # noqa: F811
    server: LoopbackServer,
    shots: Path,
) -> None:
    browser.get(f"{server.url}/secret/playground")
    auth = wait_for(
        browser,
        lambda d: d.find_element(By.ID, "auth").is_displayed() and d.find_element(By.ID, "auth"),
        "the token field",
    )
    assert "needs a bearer token (401)" in browser.find_element(By.ID, "auth-msg").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#fields [data-kind]")

    token = browser.find_element(By.ID, "token")
    token.send_keys("wrong")
    browser.find_element(By.ID, "token-apply").click()
    wait_for(
        browser,
        lambda d: "refused this token" in d.find_element(By.ID, "auth-msg").text,
        "the refusal",
    )

    token.clear()
    token.send_keys(TOKEN)
    browser.find_element(By.ID, "token-apply").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#fields [data-kind]"), "the form")
    assert browser.find_element(By.ID, "auth-msg").text == "Token accepted."
    fill(browser, "customer", "Ada")
    fill(browser, "quantity", "2")
    assert run_and_wait(browser) == "done"
    assert json.loads(browser.find_element(By.ID, "output").text)["customer"] == "Ada"
    assert auth.get_attribute("type") is None  # the form element, not an input
    snap(browser, shots, "auth")


def test_a_422_names_the_field_the_server_rejected(
    browser: WebDriver,  # noqa: F811
    server: LoopbackServer,
    shots: Path,
) -> None:
    open_playground(browser, server, "/order")
    fill(browser, "customer", "Ada")
    fill(browser, "quantity", "-1")  # a whole number, but the model wants more than 0
    assert run_and_wait(browser) == "error"
    message = browser.find_element(By.ID, "error").text
    assert message.startswith("The server rejected the request (422); fix these and run again:")
    assert "input.quantity: Input should be greater than 0" in message
    quantity = browser.find_element(By.CSS_SELECTOR, '#fields [name="quantity"]')
    assert quantity.get_attribute("aria-invalid") == "true"
    customer = browser.find_element(By.CSS_SELECTOR, '#fields [name="customer"]')
    assert customer.get_attribute("aria-invalid") is None
    snap(browser, shots, "422")


# ---------------------------------------------------------------------------- required, reset


def test_required_fields_are_enforced_before_sending(
    browser: WebDriver,  # noqa: F811
    server: LoopbackServer,
    shots: Path,
) -> None:
    open_playground(browser, server, "/order")
    required = browser.find_elements(By.CSS_SELECTOR, '#fields [aria-required="true"]')
    assert sorted(attribute(r, "name") for r in required) == ["customer", "quantity"]
    fill(browser, "quantity", "2")
    browser.find_element(By.ID, "run").click()

    assert error_text(browser) == 'Field "customer" is required; fill it in before running.'
    customer = browser.find_element(By.CSS_SELECTOR, '#fields [name="customer"]')
    assert customer.get_attribute("aria-invalid") == "true"
    assert browser.switch_to.active_element == customer
    assert bars(browser) == []
    assert browser.execute_script("return document.body.dataset.state") is None
    snap(browser, shots, "required")

    fill(browser, "customer", "Ada")
    assert run_and_wait(browser) == "done"
    assert customer.get_attribute("aria-invalid") is None


def test_a_new_run_clears_the_previous_result(
    browser: WebDriver,  # noqa: F811
    server: LoopbackServer,
) -> None:
    open_playground(browser, server, "/failing")
    fill(browser, "input", "go")
    assert run_and_wait(browser) == "error"
    assert browser.find_element(By.ID, "step").is_displayed()

    # run() resets the page before its first await: read the page in the same task.
    after: dict[str, Any] = browser.execute_script(
        """document.getElementById('run').click();
        return {output: document.getElementById('output').textContent,
                error: document.getElementById('error').hidden,
                step: document.getElementById('step').hidden,
                bars: document.querySelectorAll('#timeline .bar').length,
                meta: document.getElementById('run-meta').textContent};"""
    )
    assert after == {"output": "", "error": True, "step": True, "bars": 0, "meta": ""}
    assert run_and_wait(browser) == "error"


# ---------------------------------------------------------------------------- history


def test_two_runs_from_the_history_compare_side_by_side(
    browser: WebDriver,  # noqa: F811
    server: LoopbackServer,
    shots: Path,
) -> None:
    open_playground(browser, server, "/config")
    wait_for(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#config-fields [data-kind]"),
        "the config",
    )
    fill(browser, "question", "why")
    assert run_and_wait(browser) == "done"
    browser.find_element(
        By.CSS_SELECTOR, '#config-fields [name="model"] option[value="slow"]'
    ).click()
    assert run_and_wait(browser) == "done"

    entries = browser.find_elements(By.CSS_SELECTOR, "#history li")
    assert len(entries) == 2
    compare = browser.find_element(By.ID, "compare")
    assert not compare.is_enabled()
    for entry in entries:
        entry.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    assert compare.is_enabled()
    compare.click()

    cols = browser.find_elements(By.CSS_SELECTOR, "#compare-view .col")
    assert [c.get_attribute("data-run") for c in cols] == ["1", "2"]
    inputs = [c.find_element(By.CSS_SELECTOR, "pre.input") for c in cols]
    assert all("differs" not in attribute(i, "class") for i in inputs)
    assert [json.loads(i.text) for i in inputs] == [{"question": "why"}] * 2
    outputs = [c.find_element(By.CSS_SELECTOR, "pre.output") for c in cols]
    assert all("differs" in attribute(o, "class").split() for o in outputs)
    assert [json.loads(o.text)["answer"] for o in outputs] == ["fast answer", "slow answer"]
    configs = [json.loads(c.find_element(By.CSS_SELECTOR, "pre.config").text) for c in cols]
    assert configs[1]["configurable"]["model"] == "slow"
    names = [[n.text for n in c.find_elements(By.CSS_SELECTOR, ".mini .nm")] for c in cols]
    assert "fast_model" in names[0] and "slow_model" in names[1]
    snap(browser, shots, "history-compare")
