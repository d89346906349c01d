"""The harness that starts servers for tests, `ask` and the bench."""

from __future__ import annotations

from bot.serve.harness import _ephemeral_start, free_port


def test_free_ports_for_servers_are_below_the_range_outgoing_connections_use():
    """A port outgoing connections may take between picking and binding would be a flaky start."""
    ports = {free_port() for _ in range(20)}
    assert all(20000 <= port < _ephemeral_start() for port in ports)
    assert len(ports) > 1
