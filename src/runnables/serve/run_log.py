"""A run as langchain-core's ``astream_log`` patches, for LangServe's ``/stream_log``.

LangServe's ``RemoteRunnable.astream_log`` reads ``{"ops": [...]}`` JSON-patch lists
and applies them to a run state ``{"id", "name", "type", "streamed_output",
"final_output", "logs"}``. :func:`run_log_patches` makes them from the run's
``astream_events`` (v2), in langchain-core's order and shape: one ``replace ""`` when
the root run starts; for each root output chunk ``add /streamed_output/-`` with
``replace /final_output`` (the chunks added so far); for each step the filters
include, ``add /logs/{name}`` when it starts (``{name}:2`` for the second of a name),
its streamed chunks, and ``final_output`` and ``end_time`` when it ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from runnables.core.base import Runnable
from runnables.core.chunks import add
from runnables.core.config import RunnableConfig
from runnables.core.tasks import aclose

__all__ = ["run_log_patches"]

_NO_VALUE = object()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _included(
    name: str, run_type: str, tags: Sequence[str], filters: Mapping[str, Sequence[str]]
) -> bool:
    """langchain-core's rule (``LogStreamCallbackHandler.include_run``)."""
    names, types, tag_set = (
        filters.get("include_names"),
        filters.get("include_types"),
        filters.get("include_tags"),
    )
    include = names is None and types is None and tag_set is None
    if names is not None:
        include = include or name in names
    if types is not None:
        include = include or run_type in types
    if tag_set is not None:
        include = include or any(t in tag_set for t in tags)
    if (excluded := filters.get("exclude_names")) is not None:
        include = include and name not in excluded
    if (excluded := filters.get("exclude_types")) is not None:
        include = include and run_type not in excluded
    if (excluded := filters.get("exclude_tags")) is not None:
        include = include and all(t not in excluded for t in tags)
    return include


def _run_outputs(output: Any) -> Any:
    # A run's recorded outputs, as langchain-core's tracer keeps them.
    return output if isinstance(output, dict) else {"output": output}


async def run_log_patches(
    runnable: Runnable[Any, Any],
    value: Any,
    config: RunnableConfig,
    filters: Mapping[str, Sequence[str]],
) -> AsyncIterator[dict[str, list[dict[str, Any]]]]:
    """The run of ``runnable`` on ``value`` as ``{"ops": [...]}`` patches."""
    root: str | None = None
    final: Any = _NO_VALUE
    keys: dict[str, str] = {}
    counts: Counter[str] = Counter()
    source = runnable.astream_events(value, config, version="v2")
    try:
        async for event in source:
            kind: str = event["event"]
            run_id = str(event["run_id"])
            _, _, rest = kind.partition("_")
            run_type, _, phase = rest.rpartition("_")
            if root is None:
                root = run_id
                state = {
                    "id": run_id,
                    "streamed_output": [],
                    "final_output": None,
                    "logs": {},
                    "name": event["name"],
                    "type": run_type,
                }
                yield {"ops": [{"op": "replace", "path": "", "value": state}]}
                continue
            data = event.get("data", {})
            if run_id == root:
                if phase == "stream":
                    chunk = data.get("chunk")
                    final = chunk if final is _NO_VALUE else add(final, chunk)
                    yield {
                        "ops": [
                            {"op": "add", "path": "/streamed_output/-", "value": chunk},
                            {"op": "replace", "path": "/final_output", "value": final},
                        ]
                    }
                continue
            if phase == "start":
                name = event["name"]
                tags = list(event.get("tags") or [])
                if not _included(name, run_type, tags, filters):
                    continue
                counts[name] += 1
                key = name if counts[name] == 1 else f"{name}:{counts[name]}"
                keys[run_id] = key
                entry = {
                    "id": run_id,
                    "name": name,
                    "type": run_type,
                    "tags": tags,
                    "metadata": dict(event.get("metadata") or {}),
                    "start_time": _now(),
                    "streamed_output": [],
                    "streamed_output_str": [],
                    "final_output": None,
                    "end_time": None,
                }
                yield {"ops": [{"op": "add", "path": f"/logs/{key}", "value": entry}]}
                continue
            key = keys.get(run_id, "")
            if not key:
                continue
            if phase == "stream":
                chunk = data.get("chunk")
                ops = []
                if run_type in ("chat_model", "llm"):
                    text = getattr(chunk, "text", chunk)
                    ops.append(
                        {"op": "add", "path": f"/logs/{key}/streamed_output_str/-", "value": text}
                    )
                ops.append({"op": "add", "path": f"/logs/{key}/streamed_output/-", "value": chunk})
                yield {"ops": ops}
            elif phase == "end":
                yield {
                    "ops": [
                        {
                            "op": "add",
                            "path": f"/logs/{key}/final_output",
                            "value": _run_outputs(data.get("output")),
                        },
                        {"op": "add", "path": f"/logs/{key}/end_time", "value": _now()},
                    ]
                }
    finally:
        await aclose(source)
