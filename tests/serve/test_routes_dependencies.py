"""FastAPI dependencies apply to every route add_routes makes, however it serves them.

On a FastAPI app without dependencies the POST routes take a plain ASGI path that skips
FastAPI's dependency solving; these tests check that a dependency anywhere (the call's,
the app's, or an including router's) still guards every endpoint.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request

from runnables import RunnableLambda
from runnables.serve import add_routes

ENDPOINTS = ["invoke", "batch", "stream", "stream_events"]


def refuse(request: Request) -> None:
    if request.headers.get("x-key") != "open":
        raise HTTPException(status_code=403, detail="Send the x-key header.")


def body(endpoint: str) -> dict[str, Any]:
    return {"inputs": ["a"]} if endpoint == "batch" else {"input": "a"}


async def statuses(app: FastAPI, prefix: str, headers: dict[str, str]) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return [
            (await client.post(f"{prefix}/{e}", json=body(e), headers=headers)).status_code
            for e in ENDPOINTS
        ]


def upper_chain() -> RunnableLambda[str, str]:
    return RunnableLambda(lambda s: s.upper())


@pytest.mark.parametrize("where", ["add_routes", "app", "include_router"])
def test_a_dependency_guards_every_post_route(where: str) -> None:
    guard = [Depends(refuse)]
    if where == "add_routes":
        app = FastAPI()
        add_routes(app, upper_chain(), path="/c", dependencies=guard)
    elif where == "app":
        app = FastAPI(dependencies=guard)
        add_routes(app, upper_chain(), path="/c")
    else:
        router = APIRouter()
        add_routes(router, upper_chain(), path="/c")
        app = FastAPI()
        app.include_router(router, dependencies=guard)

    assert asyncio.run(statuses(app, "/c", {})) == [403] * len(ENDPOINTS)
    assert asyncio.run(statuses(app, "/c", {"x-key": "open"})) == [200] * len(ENDPOINTS)


def test_without_dependencies_the_post_routes_answer_and_stay_in_the_openapi_schema() -> None:
    app = FastAPI()
    add_routes(app, upper_chain(), path="/c")

    assert asyncio.run(statuses(app, "/c", {})) == [200] * len(ENDPOINTS)
    paths = app.openapi()["paths"]
    assert all(f"/c/{e}" in paths for e in ENDPOINTS), sorted(paths)
