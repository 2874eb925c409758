"""LangServe itself, fetched with pip at test time, for the parity tests.

Nothing of LangServe is kept in this repository: :func:`langserve_sdist` downloads its
sdist (``pip download langserve==VERSION --no-binary :all: --no-deps``) into
``tests/serve/langserve_upstream/.cache/`` (ignored by git) once, and unpacks it there.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

VERSION = "0.3.3"
CACHE = Path(__file__).parent / ".cache"


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
