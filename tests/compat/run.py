"""Run langchain-core's own unit tests against runnables and report how many pass.

    python tests/compat/run.py            # run, print the summary
    python tests/compat/run.py --write    # also rewrite COMPAT.md and baseline.json
    python tests/compat/run.py --check    # fail if fewer pass than baseline.json says

langchain-core's sdist (it ships ``tests/``) is fetched once with pip into
``.cache/compat/`` (git-ignored). Its tests are collected against the real langchain-core
(installed by the ``compat`` extra) to count them and to mark the not-applicable ones
(``rules.py``), then run with every ``langchain_core`` import served by runnables
(``shim.py``). A test in a file that cannot be imported under runnables counts as failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from rules import FILES, NOT_APPLICABLE, VERSION  # noqa: E402

CACHE = REPO / ".cache" / "compat"
SOURCE = CACHE / f"langchain_core-{VERSION}"
BASELINE = HERE / "baseline.json"
#: How many tests the check lets slip below the baseline: a test or two of langchain-core's
#: suite depend on timing and were seen to flip between runs on a loaded machine (the
#: measured count varied by one over three runs). A real regression costs more than that.
FLAKY_MARGIN = 2
REPORT = REPO / "COMPAT.md"
TIMEOUT = 120  # seconds per test: a hang fails that test, not the suite


def fetch() -> Path:
    """langchain-core's sdist, unpacked under .cache/compat (downloaded once)."""
    if (SOURCE / "tests" / "unit_tests").is_dir():
        return SOURCE
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"langchain_core-{VERSION}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                f"langchain-core=={VERSION}",
                "--no-binary",
                ":all:",
                "--no-deps",
                "-d",
                str(CACHE),
            ],
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data")
    return SOURCE


def pytest(mode: str, out: Path, extra: list[str], env: dict[str, str] | None = None) -> int:
    paths = [f"tests/unit_tests/{f}" for f in FILES]
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "shim",
        "-p",
        "no:cacheprovider",
        "-c",
        str(HERE / "pytest.ini"),
        "--rootdir",
        str(SOURCE),
        *extra,
        *paths,
    ]
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "COMPAT_MODE": mode,
        "COMPAT_OUT": str(out),
        **(env or {}),
    }
    done = subprocess.run(cmd, cwd=SOURCE, env=full_env, capture_output=True, text=True)
    if not out.exists():
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"the compatibility run ({mode}) wrote no results; output above.")
    return done.returncode


def _reason(error: str) -> str:
    """One failure's reason, worded so that failures of the same cause group together."""
    m = re.search(r"MissingAPIError: missing API: ([\w.<>]+)", error)
    if m:
        name = m.group(1)
        private = any(part.startswith("_") for part in name.split("."))
        return f"missing API{' (a private langchain-core helper)' if private else ''}: {name}"
    m = re.search(r"cannot import name '(\w+)' from '([\w.]+)'", error)
    if m:
        return f"missing API: {m.group(2)}.{m.group(1)}"
    m = re.search(r"No module named '([\w.]+)'", error)
    if m:
        return f"missing API: module {m.group(1)}"
    m = re.search(r"module '([\w.]+)' has no attribute '(\w+)'", error)
    if m:
        return f"missing API: {m.group(1)}.{m.group(2)}"
    m = re.search(r"'(\w+)' object has no attribute '(\w+)'", error)
    if m:
        return f"missing attribute: {m.group(1)}.{m.group(2)}"
    m = re.search(r"got an unexpected keyword argument '(\w+)'", error)
    if m:
        return f"unsupported keyword argument: {m.group(1)}"
    head = re.sub(r"0x[0-9a-f]+|\b[0-9a-f]{8}-[0-9a-f-]{27}\b", "…", error)
    head = head.split(":", 1)[0] if head.startswith("assert") else head
    return f"behaviour: {head[:140]}"


def measure() -> dict[str, Any]:
    fetch()
    collected_path = CACHE / "collected.json"
    results_path = CACHE / "results.json"
    skip_path = CACHE / "not_applicable.json"
    for p in (collected_path, results_path):
        p.unlink(missing_ok=True)
    pytest("collect", collected_path, ["--collect-only"])
    collected: dict[str, Any] = json.loads(collected_path.read_text())
    broken = {k: v["error"] for k, v in collected.items() if isinstance(v, dict)}
    if broken:
        raise SystemExit(
            f"Under the real langchain-core these files do not import: {broken}. Install "
            "the test dependencies: bash scripts/setup (the compat extra)."
        )
    skip_path.write_text(json.dumps(sorted(k for k, v in collected.items() if v)))
    pytest(
        "run",
        results_path,
        # --tb=line: only each failure's error line is kept, and formatting whole
        # tracebacks parses sources with ast, which CPython 3.11 can fail after a
        # timed-out asyncio test (SystemError: AST constructor recursion depth
        # mismatch), stopping the run and failing every file after it.
        [f"--timeout={TIMEOUT}", "--continue-on-collection-errors", "--tb=line"],
        {"COMPAT_SKIP": str(skip_path)},
    )
    results: dict[str, dict[str, str]] = json.loads(results_path.read_text())
    file_errors = {k: v["error"] for k, v in results.items() if "::" not in k}
    files: dict[str, Counter[str]] = defaultdict(Counter)
    failures: dict[str, list[tuple[str, str]]] = defaultdict(list)
    rules: Counter[str] = Counter()
    for nodeid in sorted(set(collected) | {k for k in results if "::" in k}):
        file = nodeid.split("::", 1)[0].removeprefix("tests/unit_tests/")
        files[file]["collected"] += 1
        rule = collected.get(nodeid)
        if rule:
            files[file]["not applicable"] += 1
            rules[rule] += 1
            continue
        result = results.get(nodeid)
        if result is None:
            error = file_errors.get(f"tests/unit_tests/{file}", "not collected under runnables")
            result = {"outcome": "failed", "error": error}
        outcome = result["outcome"]
        if outcome in ("failed", "error"):
            files[file]["failed"] += 1
            failures[file].append((nodeid.split("::", 1)[1], _reason(result.get("error", ""))))
        elif outcome == "passed":
            files[file]["passed"] += 1
        else:
            files[file]["skipped"] += 1
    passed = sum(c["passed"] for c in files.values())
    failed = sum(c["failed"] for c in files.values())
    return {
        "files": files,
        "failures": failures,
        "rules": rules,
        "passed": passed,
        "applicable": passed + failed,
    }


def rate(m: dict[str, Any]) -> float:
    passed: int = m["passed"]
    applicable: int = m["applicable"]
    return round(100 * passed / max(applicable, 1), 1)


def _split(m: dict[str, Any]) -> list[str]:
    """The figure for issue #8's 19 files, and for the files of its section-3 APIs."""
    lines = []
    for title, files in (
        ("the files issue #8 measured (it lists 18)", FILES[:18]),
        ("section 3", FILES[18:]),
    ):
        passed = sum(m["files"][f]["passed"] for f in files)
        applicable = passed + sum(m["files"][f]["failed"] for f in files)
        share = round(100 * passed / max(applicable, 1), 1)
        lines.append(f"- {title}: {passed} of {applicable} pass ({share}%)")
    return lines


def report(m: dict[str, Any]) -> str:
    lines = [
        "# Compatibility with langchain-core's own unit tests",
        "",
        f"langchain-core {VERSION}'s unit tests (from its sdist), with `langchain_core` imports",
        "served by runnables. Produced by `python tests/compat/run.py --write`; CI runs",
        "`python tests/compat/run.py --check` (in `scripts/check`), which fails when more",
        f"than {FLAKY_MARGIN} fewer tests pass than `tests/compat/baseline.json` records (a test",
        "or two depend on timing and flip between runs on a loaded machine).",
        "",
        f"**{m['passed']} of {m['applicable']} applicable tests pass ({rate(m)}%).**",
        "",
        *_split(m),
        "",
        "| file | collected | not applicable | passed | failed | skipped |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for file in FILES:
        c = m["files"][file]
        lines.append(
            f"| {file} | {c['collected']} | {c['not applicable']} | {c['passed']} | "
            f"{c['failed']} | {c['skipped']} |"
        )
    lines += [
        "",
        "Skipped: by the test's own marks (`skipif`, `xfail`), as in langchain-core's run;",
        "they count neither as passed nor as failed.",
        "",
        "## Not applicable: the rules (`tests/compat/rules.py`), and how many each removes",
        "",
        "| rule | tests | why |",
        "|---|---:|---|",
    ]
    for rule in NOT_APPLICABLE:
        lines.append(f"| {rule.name} | {m['rules'][rule.name]} | {rule.why} |")
    reasons: Counter[str] = Counter(r for fs in m["failures"].values() for _, r in fs)
    lines += ["", "## Why the rest fail, grouped", "", "| reason | tests |", "|---|---:|"]
    for reason, n in reasons.most_common():
        lines.append(f"| {reason.replace('|', '/')} | {n} |")
    lines += ["", "## Every failing test", ""]
    for file in FILES:
        if m["failures"][file]:
            lines += [f"### {file}", ""]
            lines += [f"- `{t}`: {r}" for t, r in m["failures"][file]]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite COMPAT.md and baseline")
    parser.add_argument("--check", action="store_true", help="fail below the baseline")
    args = parser.parse_args()
    m = measure()
    print(
        f"langchain-core {VERSION} unit tests: {m['passed']} of {m['applicable']} pass ({rate(m)}%)"
    )
    if args.write:
        REPORT.write_text(report(m))
        BASELINE.write_text(
            json.dumps({"passed": m["passed"], "applicable": m["applicable"], "rate": rate(m)})
            + "\n"
        )
    if args.check:
        base = json.loads(BASELINE.read_text())
        floor = base["passed"] - FLAKY_MARGIN
        if m["passed"] < floor or m["passed"] / m["applicable"] < floor / base["applicable"]:
            raise SystemExit(
                f"Compatibility fell: {m['passed']} tests pass ({rate(m)}%), the committed "
                f"baseline is {base['passed']} ({base['rate']}%, {FLAKY_MARGIN} may flip). Fix the "
                "regression, or if a "
                "change is intended, rerun with --write and say why in the commit."
            )


if __name__ == "__main__":
    main()
