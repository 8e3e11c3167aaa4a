"""Waiting in e2e tests: poll a condition until a deadline, never sleep and hope.

A fixed ``time.sleep`` either wastes time or, on a busy machine, is too short
and the test fails for the wrong reason. :func:`wait_until` returns as soon as
the condition holds and fails naming what did not happen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, what: str,
               interval: float = 0.1) -> T:
    """The first truthy value of ``predicate()`` within ``timeout`` seconds, else an
    AssertionError saying ``what`` did not happen (and the last value seen)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} "
                                 f"(last: {value!r})")
        time.sleep(interval)


def udp_bound(port: int) -> bool:
    """Does a socket of this machine listen on UDP ``port`` (any address)?"""
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local = line.split()[1]  # address:port, the port in hex
            if int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False
