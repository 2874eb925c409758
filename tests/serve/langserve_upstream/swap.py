"""``add_routes`` for LangServe's test file: LangServe's signature, runnables' server.

Copied into the suite's workspace as ``runnables_swap.py`` and imported by LangServe's
``test_server_client.py`` in place of ``langserve.server.add_routes``. LangServe's
arguments that runnables' ``add_routes`` has under another form are translated
(``input_type``/``output_type`` become ``with_types``). Those for LangServe features
that runnables does not have (callback events in responses, LangSmith feedback
endpoints, a name allow-list for stream_log) are taken and not provided: many of
LangServe's fixtures turn them on without testing them, and the tests that do test
them fail and are listed in ``exclusions.py`` with the reason. A custom serializer
is refused: it would change every answer.
"""

from __future__ import annotations

from typing import Any

from runnables.serve import add_routes as _add_routes

# LangServe features runnables does not have; see the module docstring.
_NOT_PROVIDED = (
    "include_callback_events",
    "enable_feedback_endpoint",
    "enable_public_trace_link_endpoint",
    "token_feedback_config",
    "stream_log_name_allow_list",
    "playground_type",
)
# LangServe's values that mean "the default": they ask for nothing runnables lacks.
_INERT = {
    "serializer": (None,),
    "astream_events_version": ("v2", None),
}


def add_routes(app: Any, runnable: Any, path: str = "", **kwargs: Any) -> None:
    """LangServe's ``add_routes(app, runnable, path, ...)`` served by runnables."""
    input_type = kwargs.pop("input_type", "auto")
    output_type = kwargs.pop("output_type", "auto")
    for name in _NOT_PROVIDED:
        kwargs.pop(name, None)
    for name, inert in _INERT.items():
        if name in kwargs and kwargs.pop(name) not in inert:
            raise NotImplementedError(
                f"runnables' add_routes has no {name!r} (a LangServe feature); the tests that "
                "use it are listed in exclusions.py."
            )
    if input_type != "auto" or output_type != "auto":
        runnable = runnable.with_types(
            input_type=None if input_type == "auto" else input_type,
            output_type=None if output_type == "auto" else output_type,
        )
    kwargs.setdefault("config_keys", ("configurable",))  # LangServe's default
    _add_routes(app, runnable, path, **kwargs)
