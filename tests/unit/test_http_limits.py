"""The built-in server's limits: validated at start-up, and the per-address count that follows
a connection from HTTP to WebSocket."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chevet.settings import SettingsError, load_settings
from chevet.web.http_limits import AddressCount, HttpLimits


class _Transport(asyncio.BaseTransport):
    def __init__(self, address: str) -> None:
        super().__init__({"peername": (address, 40000)})


def test_defaults_hold_against_slowloris(tmp_path: Path) -> None:
    limits = HttpLimits.of(load_settings(tmp_path, environ={}))
    assert limits == HttpLimits()
    assert limits.max_header_bytes <= 16384 and limits.max_headers <= 100 and limits.header_timeout <= 10
    assert limits.max_connections_per_address <= 64 and limits.body_min_bytes_per_second > 0


@pytest.mark.parametrize("env", [{"CHEVET_HTTP_MAX_CONNECTIONS_PER_ADDRESS": "0"},
                                 {"CHEVET_HTTP_HEADER_TIMEOUT_SECONDS": "0"},
                                 {"CHEVET_HTTP_MAX_HEADER_BYTES": "lots"},
                                 {"CHEVET_HTTP_MAX_REQUEST_LINE_BYTES": "20000",
                                  "CHEVET_HTTP_MAX_HEADER_BYTES": "16384"}])
def test_bad_limits_stop_the_start_naming_the_setting(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path, environ=env)
    assert "http_max" in str(err.value) or "http_header_timeout" in str(err.value)


def test_address_count_caps_each_address_and_releases_once() -> None:
    count = AddressCount(2)
    a1, a2, a3, b1 = _Transport("10.0.0.1"), _Transport("10.0.0.1"), _Transport("10.0.0.1"), _Transport("10.0.0.2")
    assert count.admit(a1) and count.admit(a2)
    assert not count.admit(a3)  # a third from the same address
    assert count.admit(b1)  # another address is not affected
    count.release(a1)
    count.release(a1)  # the HTTP and the WebSocket protocol may both report the end
    assert count.of("10.0.0.1") == 1
    count.release(a3)  # never admitted: nothing to give back
    assert count.of("10.0.0.1") == 1 and count.admit(a3)
    for t in (a2, a3, b1):
        count.release(t)
    assert count.of("10.0.0.1") == count.of("10.0.0.2") == 0
