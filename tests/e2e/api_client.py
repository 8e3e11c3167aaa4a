"""The REST API of a running daemon (DaemonProcess), the way an admin's script calls it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from hotline_pbx.sandbox.daemon import DaemonProcess


def admin_token(daemon: DaemonProcess, role: str = "admin") -> str:
    """A fresh token of ``role`` made with the daemon's own CLI."""
    made = daemon.cli("token", "create", "--name", f"e2e-{role}-{time.monotonic_ns()}",
                      "--role", role)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def request(daemon: DaemonProcess, method: str, path: str, token: str,
            body: Any = None, timeout: float = 60) -> tuple[int, Any]:
    """(status, parsed JSON body) of one request; an error status is returned too."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(daemon.url + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
