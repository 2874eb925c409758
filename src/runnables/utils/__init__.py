"""Helpers langchain-core keeps under ``langchain_core.utils`` that runnables users call
too (see :mod:`runnables.utils.pydantic`)."""

__all__: list[str] = []
