"""Batch jobs over files that survive ``kill -9``: ``run_batch`` and ``runnables batch``.

>>> from runnables.batch import run_batch_sync
>>> result = run_batch_sync(chain, "in.jsonl", "out.jsonl", key="id", max_concurrency=64)
>>> result.exit_code  # 0: every row ok, 3: some rows failed, 1: aborted by max_errors

One output record a row, written as the row finishes; running the same job again
resumes it (see :func:`run_batch`). Parquet needs the ``batch`` extra
(``pip install 'runnables[batch]'``); ``engine="ray"`` runs the rows on a Ray cluster
under one :class:`ClusterBudget` (``pip install 'runnables[ray]'``).
"""

from __future__ import annotations

from runnables.batch.cluster import ClusterBudget
from runnables.batch.job import BatchResult, run_batch, run_batch_sync
from runnables.batch.journal import read_state, state_path
from runnables.errors import ResumeRefusedError

__all__ = [
    "BatchResult",
    "ClusterBudget",
    "ResumeRefusedError",
    "read_state",
    "run_batch",
    "run_batch_sync",
    "state_path",
]
