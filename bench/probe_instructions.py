"""Probe (not a workload): run one workload's runnables side N times, for counting the
CPU instructions a call costs with valgrind, which the machine's load does not move.

Wall-clock figures of W1-W14 move by more than 5% between processes of the same tree,
so a before/after comparison within 5% needs a second measure. Count a tree's
instructions for N and 6N calls; the difference over 5N is one call's (or chunk's)
instructions, start-up and imports cancelled out::

    count() {  # tree workload n
      PYTHONHASHSEED=0 RUNNABLES_OFFLOAD_THRESHOLD=1000 PYTHONPATH=$1/src \\
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python bench/probe_instructions.py $2 $3 2>&1 | grep -o 'Collected : [0-9]*'
    }
    count /tmp/before W1 200; count /tmp/before W1 1200

``RUNNABLES_OFFLOAD_THRESHOLD=1000``: under valgrind every sync step runs ~50x slower
and would be judged blocking and moved to a thread. N is calls for W1, W2, W3, W10
and W13 (a request through W13's ASGI app in-process, on uvloop), chunks for W7 and
W11, chunks of the event stream for W8, characters of the document for W12.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from http_servers import post_scope


async def _w13(n: int) -> None:
    import w13_http_requests_per_second as w13

    app = w13.runnables_app()
    body = json.dumps(w13.BODY).encode()
    scope = post_scope("/chain/invoke", body)
    for _ in range(n):
        sent: list[dict[str, Any]] = []
        received = False

        async def receive() -> dict[str, Any]:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never leaves
            raise AssertionError

        async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        if sent[0]["status"] != 200 or w13.EXPECTED.encode() not in sent[1]["body"]:
            raise RuntimeError(f"W13's app answered {sent!r}")


async def run(workload: str, n: int) -> None:
    from runnables import RunnableLambda

    if workload in ("W1", "W2"):
        from w01_ainvoke_sync_chain import make_funcs

        funcs = make_funcs()
        chain: Any = RunnableLambda(funcs[0])
        for f in funcs[1:]:
            chain = chain | RunnableLambda(f)
        for _ in range(n):
            if workload == "W2":
                chain.invoke(0)
            else:
                await chain.ainvoke(0)
    elif workload == "W3":
        from w03_ainvoke_async_chain import make_afuncs

        afuncs = make_afuncs()
        chain = RunnableLambda(afuncs[0])
        for af in afuncs[1:]:
            chain = chain | RunnableLambda(af)
        for _ in range(n):
            await chain.ainvoke(0)
    elif workload == "W7":
        from w07_astream_generators import chains as w7_chains
        from w07_astream_generators import drain as w7_drain

        await w7_drain(w7_chains()[0].astream(n))
    elif workload == "W8":
        from w08_astream_events import chains as w8_chains
        from w08_astream_events import count_events

        await count_events(w8_chains()[0].astream_events(n, version="v2"))
    elif workload == "W10":
        from w10_prompt_model_parser import QUESTION
        from w10_prompt_model_parser import chains as w10_chains

        chain = w10_chains()[0]
        for _ in range(n):
            await chain.ainvoke(QUESTION)
    elif workload == "W11":
        from w11_stream_prompt_model_parser import QUESTION as W11_QUESTION
        from w11_stream_prompt_model_parser import SENTENCE
        from w11_stream_prompt_model_parser import chains as w11_chains
        from w11_stream_prompt_model_parser import drain as w11_drain

        answer = (SENTENCE * (n // len(SENTENCE) + 1))[:n]
        await w11_drain(w11_chains(answer)[0].astream(W11_QUESTION))
    elif workload == "W12":
        from runnables.output_parsers import JsonOutputParser
        from w12_json_stream_parser import chars, make_doc
        from w12_json_stream_parser import drain as w12_drain

        await w12_drain(JsonOutputParser().atransform(chars(make_doc(n))))
    elif workload == "W13":
        await _w13(n)
    else:
        raise SystemExit(f"Unknown workload {workload!r}: give one of W1-W3, W7, W8, W10-W13.")


def main() -> None:
    if len(sys.argv) != 3 or not sys.argv[2].isdigit():
        raise SystemExit("usage: python bench/probe_instructions.py WORKLOAD N (e.g. W1 200)")
    workload, n = sys.argv[1].upper(), int(sys.argv[2])
    if workload == "W13":
        import uvloop  # W13's server runs on uvloop

        uvloop.run(run(workload, n))
    else:
        asyncio.run(run(workload, n))


if __name__ == "__main__":
    main()
