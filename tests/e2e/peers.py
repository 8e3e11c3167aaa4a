"""SIP peers for e2e tests: what stands at the far end of the sandbox's trunks."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from tests.e2e.waiting import udp_bound, wait_until


@contextmanager
def sipp_uas(port: int) -> Iterator[None]:
    """SIPp's built-in UAS on the general trunk's far end: answers every call."""
    with tempfile.TemporaryDirectory(prefix="hotline-uas-") as tmp:
        proc = subprocess.Popen(
            ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-nostdin",
             "-timeout", "120s"],
            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: udp_bound(port), 10, f"SIPp's UAS to bind UDP {port}")
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
