"""``StreamingStdOutCallbackHandler``: writes a chat model's tokens to stdout as they come."""

from __future__ import annotations

import sys
from typing import Any

from runnables.callbacks.base import BaseCallbackHandler

__all__ = ["StreamingStdOutCallbackHandler"]


class StreamingStdOutCallbackHandler(BaseCallbackHandler):
    """Writes each streamed token to stdout (and flushes), nothing else.

    Tokens are reported when the model streams (``stream``/``astream``, or inside
    ``astream_events``), as in langchain-core.
    """

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        """Write the token."""
        sys.stdout.write(str(token))
        sys.stdout.flush()
