"""LangServe's own ``test_server_client.py`` run against runnables' ``add_routes``.

The file is taken from LangServe's source (see ``tests/serve/langserve_upstream``), its
``add_routes`` swapped for runnables' (``langserve_upstream/swap.py``) and the chains it
serves built with runnables' runnables, prompts and parsers, while LangServe's own
client (``RemoteRunnable``, from its sdist) makes every request. It runs in a
subprocess, in a workspace under the git-ignored cache, and the test here fails when
fewer of its tests pass than ``exclusions.PASSING``, when an applicable test fails that
``exclusions.KNOWN_FAILING`` does not list (or one listed passes), when a test listed as
excluded starts to pass, or when the file gains or loses tests: so the lists, and the
count in README, stay true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from serve.langserve_upstream import CACHE, langserve_sdist, upstream_tests
from serve.langserve_upstream.exclusions import EXCLUDED, KNOWN_FAILING, PASSING, TOTAL

HERE = Path(__file__).parent / "langserve_upstream"

# The imports of the server side that are swapped: LangServe's add_routes for
# runnables', and the chains' building blocks for runnables' own.
SWAPS = {
    "from langserve.server import add_routes": "from runnables_swap import add_routes",
    "from langchain_core.runnables import (": "from runnables import (",
    "from langchain_core.prompts import (": "from runnables.prompts import (",
    "    from langchain_core.runnables import RunnableGenerator": (
        "    from runnables import RunnableGenerator"
    ),
    "from langchain_core.output_parsers import StrOutputParser": (
        "from runnables.output_parsers import StrOutputParser"
    ),
}


def build_workspace(source: Path) -> Path:
    work = CACHE / "suite"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copytree(langserve_sdist() / "langserve", work / "langserve")
    shutil.copytree(source / "tests", work / "tests")
    shutil.copy(HERE / "swap.py", work / "runnables_swap.py")
    target = work / "tests" / "unit_tests" / "test_server_client.py"
    text = target.read_text()
    for old, new in SWAPS.items():
        if old not in text:
            raise AssertionError(f"LangServe's test file no longer has {old!r}; update SWAPS.")
        text = text.replace(old, new, 1)
    target.write_text(text)
    (work / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    return work


def run_suite(work: Path) -> dict[str, str]:
    """Each test's outcome: passed, failed or skipped."""
    report = work / "report.xml"
    env = {**os.environ, "PYTHONPATH": str(work)}
    env.pop("LANGCHAIN_TRACING_V2", None)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            str(work / "pytest.ini"),
            "--rootdir",
            str(work),
            f"--junitxml={report}",
            "tests/unit_tests/test_server_client.py",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        timeout=1200,
    )
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name", "")
        kinds = {child.tag for child in case}
        if "failure" in kinds or "error" in kinds:
            outcome = "failed"
        elif "skipped" in kinds:
            outcome = "skipped"
        else:
            outcome = "passed"
        # A test that errors in teardown after passing is reported twice: keep the worst.
        if outcomes.get(name) != "failed":
            outcomes[name] = outcome
    return outcomes


def test_langserves_server_client_suite_passes_against_add_routes() -> None:
    source = upstream_tests()
    if source is None:
        pytest.skip(
            "LangServe's test file is in no release on PyPI (its sdists and wheels ship no "
            "tests/); set LANGSERVE_SOURCE to a checkout of LangServe, or put its tests/ in "
            "shared/langserve beside this repository, to run this suite."
        )
    outcomes = run_suite(build_workspace(source))

    assert len(outcomes) == TOTAL, (
        f"LangServe's file has {len(outcomes)} tests, exclusions.TOTAL says {TOTAL}: "
        "update exclusions.py and the README's count."
    )
    unknown = sorted(set(EXCLUDED) - {n.split("[")[0] for n in outcomes})
    assert not unknown, f"exclusions.py lists tests the file no longer has: {unknown}"
    passed = sorted(n for n, o in outcomes.items() if o == "passed")
    now_pass = sorted(n for n in passed if n.split("[")[0] in EXCLUDED)
    assert not now_pass, f"Excluded tests that pass now (remove them from EXCLUDED): {now_pass}"
    failing = sorted(
        n for n, o in outcomes.items() if o != "passed" and n.split("[")[0] not in EXCLUDED
    )
    assert len(passed) >= PASSING, (
        f"{len(passed)} of LangServe's applicable tests pass, fewer than the {PASSING} "
        f"recorded; failing: {failing}"
    )
    # The lists stay true, and so does README's count: a known failure that passes now
    # is moved out of KNOWN_FAILING, and PASSING raised with it.
    assert failing == sorted(KNOWN_FAILING), (
        f"Applicable tests failing now: {failing}; exclusions.KNOWN_FAILING lists "
        f"{sorted(KNOWN_FAILING)}."
    )
    assert len(passed) == PASSING == TOTAL - len(EXCLUDED) - len(KNOWN_FAILING)


def test_the_exclusions_add_up() -> None:
    assert not set(EXCLUDED) & set(KNOWN_FAILING)
    assert PASSING + len(EXCLUDED) + len(KNOWN_FAILING) == TOTAL
    assert all(reason.strip() for reason in [*EXCLUDED.values(), *KNOWN_FAILING.values()])
