"""The playground page that ``add_routes`` serves at ``GET {path}/playground``.

The page is one self-contained file (``index.html``: inline CSS and JavaScript, nothing
fetched from a CDN). It builds a form from ``{path}/input_schema`` (a chat for a
message-list input) and a config panel from ``{path}/config_schema``, POSTs the input to
``{path}/stream_events`` and shows the root run's output as it streams in, beside a live
timeline with one bar per step. Clicking a step shows its input, output, error, metadata
and token usage; the page keeps its runs to compare two side by side, and asks for the
bearer token when the routes answer 401 (``add_routes(auth_token=...)``).

>>> html = render_playground("RunnableSequence", "/chat")
>>> 'content="/chat"' in html
True
"""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files

from runnables.errors import InvalidArgumentError

__all__ = ["playground_html", "render_playground"]

_BASE_PATH = "{{BASE_PATH}}"
_NAME = "{{RUNNABLE_NAME}}"


@cache
def playground_html() -> str:
    """The page's template, with its ``{{BASE_PATH}}`` and ``{{RUNNABLE_NAME}}`` placeholders."""
    return files(__package__).joinpath("index.html").read_text(encoding="utf-8")


def render_playground(name: str, base_path: str) -> str:
    """The playground page for the runnable called ``name`` served under ``base_path``.

    ``base_path`` is the prefix the routes were added under (``"/chat"`` for
    ``add_routes(app, chain, path="/chat")``, including any ``root_path`` a proxy adds); the
    page calls ``{base_path}/input_schema`` and ``{base_path}/stream_events``. Both values
    are HTML-escaped, so a name like ``RunnableParallel<a,b>`` is shown as is.
    """
    if base_path and not base_path.startswith("/"):
        raise InvalidArgumentError(
            f"The playground's base path must start with '/', got {base_path!r}; "
            "pass the path the routes were added under, such as '/chat'."
        )
    page = playground_html()
    page = page.replace(_BASE_PATH, html.escape(base_path.rstrip("/"), quote=True))
    return page.replace(_NAME, html.escape(name, quote=True))
