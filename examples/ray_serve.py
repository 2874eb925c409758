"""Serving a chain on Ray Serve: runnables' ``add_routes`` app as a Ray Serve ingress.

::

    pip install 'runnables[serve]' 'ray[serve]'
    serve run examples.ray_serve:deployment      # or: python examples/ray_serve.py

Then ``POST http://127.0.0.1:8000/chain/invoke`` with ``{"input": "hello"}`` answers as
``runnables serve`` would: the same routes (``/invoke``, ``/batch``, ``/stream``,
``/stream_events``, the playground), since they are the same FastAPI app. Ray Serve adds
replicas across a cluster, autoscaling and rolling updates; it also adds a proxy hop
and a Ray call per request (measured in docs/ray.md and BENCHMARKS.md, W18c: 190
requests/s against ``runnables serve``'s 3,592 on one 2-core machine), so on one
machine ``runnables serve`` is the faster choice.

``runnables serve``'s own protections (Host check, connection limits, graceful
shutdown) belong to its command, not to ``add_routes``: behind Ray Serve, put them at
Ray Serve's proxy or a load balancer.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from ray import serve

from runnables import RunnableLambda
from runnables.serve import add_routes


def make_chain() -> Any:
    """The chain to serve: replace with your own (a prompt | model | parser, ...)."""
    return RunnableLambda(lambda text: text.upper())


app = FastAPI()
add_routes(app, make_chain(), path="/chain")


@serve.deployment(num_replicas=1, max_ongoing_requests=256)
@serve.ingress(app)
class ChainServer:
    """One replica: the app above, in a Ray actor; Ray Serve's proxy routes to it."""


deployment = ChainServer.bind()  # type: ignore[attr-defined]

if __name__ == "__main__":
    import time

    serve.run(deployment, route_prefix="/")
    print("Serving on http://127.0.0.1:8000/chain (Ctrl-C to stop)")
    while True:
        time.sleep(3600)
