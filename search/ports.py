"""Ports for the servers a search starts (Ray's dashboard, optuna-dashboard)."""

from __future__ import annotations

import socket

from data_prep.config import ConfigError


def free_port(host: str, first: int) -> int:
    """The first port from `first` that nothing listens on at `host`."""
    for port in range(first, first + 100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise ConfigError(f"--dashboard-port: no free port in {first}-{first + 99} on {host}")
