"""LangServe itself, fetched with pip at test time, for the parity tests.

Nothing of LangServe is kept in this repository: :func:`langserve_sdist` downloads its
sdist (``pip download langserve==VERSION --no-binary :all: --no-deps``) into
``tests/serve/langserve_upstream/.cache/`` (ignored by git) once, and unpacks it there.

LangServe's test suite is another matter: no release on PyPI ships its ``tests/``
folder (neither the sdists nor the wheels, 0.0.1 to 0.3.3), so
:func:`upstream_tests` takes it from the sdist if a release ever does, and otherwise
from a LangServe source checkout named by ``LANGSERVE_SOURCE`` (a work tree, or a git
repository read at ``LANGSERVE_REV``, default ``HEAD``), or else from ``shared/langserve``
beside this repository (where the project's steering folder sits on CI machines), so
that placing LangServe's ``tests/`` there turns the suite on in CI too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

VERSION = "0.3.3"
CACHE = Path(__file__).parent / ".cache"
#: The steering folder's copy of LangServe, if any (``<repo>/../shared/langserve``).
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "langserve"


def langserve_sdist() -> Path:
    """The unpacked sdist of LangServe ``VERSION`` (the folder holding ``langserve/``)."""
    root = CACHE / f"langserve-{VERSION}"
    if (root / "langserve" / "client.py").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"langserve-{VERSION}.tar.gz"
    if not archive.exists():
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"langserve=={VERSION}",
                "--no-binary",
                ":all:",
                "--no-deps",
                "--quiet",
                "-d",
                str(CACHE),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0 or not archive.exists():
            raise RuntimeError(
                f"pip could not download LangServe {VERSION}'s sdist into {CACHE}: "
                f"{done.stderr.strip()[-2000:]}"
            )
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data")
    return root


def import_langserve() -> None:
    """Make ``import langserve`` load the downloaded LangServe."""
    path = str(langserve_sdist())
    if path not in sys.path:
        sys.path.insert(0, path)


def upstream_tests() -> Path | None:
    """The folder holding LangServe's ``tests/unit_tests/``, or None if none is at hand."""
    sdist = langserve_sdist()
    if (sdist / "tests" / "unit_tests" / "test_server_client.py").exists():
        return sdist
    source = os.environ.get("LANGSERVE_SOURCE")
    if not source:
        beside = SHARED / "tests" / "unit_tests" / "test_server_client.py"
        return SHARED if beside.exists() else None
    root = Path(source)
    if (root / "tests" / "unit_tests" / "test_server_client.py").exists():
        return root
    rev = os.environ.get("LANGSERVE_REV", "HEAD")
    out = CACHE / f"source-{rev}"
    if not (out / "tests" / "unit_tests" / "test_server_client.py").exists():
        out.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "--git-dir", str(_git_dir(root)), "archive", rev, "tests"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "x", "-C", str(out)], input=archive, check=True)
    return out


def _git_dir(root: Path) -> Path:
    return root / ".git" if (root / ".git").exists() else root
