"""The guards ``runnables serve`` puts around an app: the Host allow-list."""

from __future__ import annotations

import pytest
from starlette.responses import PlainTextResponse

from runnables.serve.server import HostAllowList, default_allowed_hosts, is_loopback


def test_loopback_defaults_allow_loopback_names_and_addresses_only() -> None:
    guard = HostAllowList(PlainTextResponse("ok"), default_allowed_hosts("127.0.0.1") or [])

    for host in ("localhost:8000", "127.0.0.1", "127.0.0.2:1", "[::1]:8000", "a.localhost"):
        assert guard.allows(host), host
    for host in ("", "evil.example", "127.0.0.1.evil.example", "localhost.evil.example:80"):
        assert not guard.allows(host), host


def test_no_default_check_off_loopback() -> None:
    assert default_allowed_hosts("0.0.0.0") is None
    assert is_loopback("::1") and not is_loopback("10.0.0.1")


def test_an_empty_allow_list_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="'\\*'"):
        HostAllowList(PlainTextResponse("ok"), [" "])
