"""Reading a request for the routes: auth, the JSON body, the config, the input.

One :class:`RequestReader` per ``add_routes`` call holds what that route allows (its
``config_keys``, ``per_req_config_modifier``, tokens, body limit and input schema);
every endpoint reads its request through it, so a rule about what a request may send
is in one place. Bad requests raise FastAPI's ``RequestValidationError`` (422) or an
``HTTPException`` with a message naming the field and the fix.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from uuid import UUID, uuid4

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, RootModel, ValidationError

from runnables.core.base import Runnable
from runnables.errors import InvalidArgumentError
from runnables.serve.guards import check_bearer, filter_config, read_json_body

__all__ = ["ConfigModifier", "RequestReader", "invalid", "unpack"]

ConfigModifier = Callable[[dict[str, Any], Request], dict[str, Any] | Awaitable[dict[str, Any]]]
SCHEMA_MODULE = "runnables.core.schema"


class RequestReader:
    """What one route accepts in a request, and the reading of it."""

    def __init__(
        self,
        runnable: Runnable[Any, Any],
        *,
        config_keys: Sequence[str],
        per_req_config_modifier: ConfigModifier | None,
        auth_token: str | Sequence[str] | None,
        run_name: str,
        max_body_bytes: int | None,
        timeout: float | None,
    ) -> None:
        self.config_keys = tuple(config_keys)
        self.modifier = per_req_config_modifier
        self.run_name = run_name
        if isinstance(auth_token, str):
            auth_token = [auth_token]
        self.tokens = [t.encode() for t in auth_token] if auth_token is not None else None
        if self.tokens is not None and (not self.tokens or not all(self.tokens)):
            raise InvalidArgumentError("auth_token must be a non-empty token or a list of them.")
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout
        self.input_model = runnable.get_input_schema()

    def guard(self, request: Request) -> None:
        if self.tokens is not None:
            check_bearer(request, self.tokens)

    async def body(self, request: Request) -> dict[str, Any]:
        self.guard(request)
        body = await read_json_body(request, self.max_body_bytes)
        if not isinstance(body, dict):
            raise invalid(("body",), "The body must be a JSON object.", body)
        return body

    async def config(
        self, raw: Any, request: Request, where: tuple[str | int, ...]
    ) -> dict[str, Any]:
        if (
            isinstance(raw, Mapping)
            and raw.get("configurable")
            and "configurable" not in self.config_keys
        ):
            # LangServe's rule: other keys the server does not allow are dropped, but
            # configurable values would change the run, so sending them is an error.
            raise HTTPException(
                status_code=422,
                detail="The config field `configurable` has been disallowed by the server. "
                "This can be modified server side by adding `configurable` to the list of "
                "`config_keys` argument in `add_routes`.",
            )
        config = filter_config(raw, self.config_keys, where=where)
        if self.run_name and "run_name" not in config:
            config["run_name"] = self.run_name
        if self.modifier is not None:
            modified = self.modifier(config, request)
            config = await modified if inspect.isawaitable(modified) else modified
        if self.timeout is not None:
            config["timeout"] = self.timeout
        config["run_id"] = self.run_id(config.get("run_id"), where)
        return config

    def run_id(self, given: Any, where: tuple[str | int, ...]) -> UUID:
        """The client's run id (when ``config_keys`` lets it send one, as LangServe's
        client does with ``run_id``), or a new one."""
        if given is None:
            return uuid4()
        if isinstance(given, UUID):
            return given
        try:
            return UUID(str(given))
        except ValueError:
            raise invalid(
                (*where, "run_id"),
                f"config['run_id'] must be a UUID, got {given!r}; for example "
                f"{str(uuid4())!r}, or leave it out for the server to pick one.",
                given,
            ) from None

    def input(self, value: Any, where: tuple[str | int, ...]) -> Any:
        try:
            validated = self.input_model.model_validate(value)
        except ValidationError as exc:
            raise RequestValidationError(
                [
                    {**err, "loc": (*where, *err["loc"])}
                    for err in exc.errors(include_url=False, include_context=False)
                ]
            ) from None
        return unpack(validated)

    async def single(self, request: Request) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        body = await self.body(request)
        if "input" not in body:
            raise invalid(("body", "input"), "Field required: send {'input': ...}.", None)
        config = await self.config(body.get("config"), request, ("body", "config"))
        return self.input(body["input"], ("body", "input")), config, body


def invalid(loc: tuple[str | int, ...], msg: str, value: Any) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg, "input": value}])


def unpack(validated: Any) -> Any:
    """The validated input as the runnable gets it: LangServe's rule.

    A model made for validation (the schema of a dict input, or a ``with_types``
    model) is handed over as a dict, nested models as nested dicts, so a chain gets what
    the client sent; this library's own types (messages, documents) stay objects.
    """
    if isinstance(validated, RootModel):
        return unpack(validated.root)
    if not isinstance(validated, BaseModel):
        return validated
    module = type(validated).__module__
    if module.startswith("runnables.") and module != SCHEMA_MODULE:
        return validated
    # In a schema made here, an optional field the request left out (a prompt's optional
    # variable) stays out rather than arriving as None; a user's own model is dumped whole.
    made_here = module == SCHEMA_MODULE
    given = validated.model_fields_set
    out = {
        (field.alias or name): unpack(getattr(validated, name))
        for name, field in type(validated).model_fields.items()
        if not made_here or name in given or field.is_required()
    }
    if validated.model_extra:
        out.update(validated.model_extra)
    return out
