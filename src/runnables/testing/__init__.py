"""Helpers for testing code built on runnables offline.

- :mod:`runnables.testing.openai_server`: a scripted OpenAI-compatible server on
  loopback, with faults (429s, 500s, hangs, dropped connections, malformed streams).
"""
