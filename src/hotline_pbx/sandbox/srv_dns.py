"""The sandbox's DNS: SRV records for several daemons behind ``hagi://``.

``AGI(hagi://hotline.sandbox/route)`` makes Asterisk look up
``_agi._tcp.hotline.sandbox`` and try each SRV target in turn (priority, then
weight) until one accepts the FastAGI connection. Here a ``dnsmasq`` (Debian's
``dnsmasq-base``) answers those records, for the cached root's resolver only:
it listens on :data:`SANDBOX_DNS` (a loopback address of its own, the one the
root's ``resolv.conf`` names) and knows nothing else, so every other lookup is
refused at once as before.

Blocking, like the rest of the sandbox; always torn down (:meth:`SrvDns.stop`,
the context manager).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hotline_pbx.sandbox.pbx import SANDBOX_DNS, SandboxError

__all__ = ["AGI_DOMAIN", "SrvDns", "SrvTarget"]

#: The domain the failover tests put in ``HOTLINE_AGI_HOST``.
AGI_DOMAIN: Final = "hotline.sandbox"


@dataclass(frozen=True)
class SrvTarget:
    """One daemon's FastAGI listener, as an SRV record names it."""

    port: int
    priority: int = 10
    weight: int = 50
    address: str = "127.0.0.1"


class SrvDns:
    """A ``dnsmasq`` serving ``_agi._tcp.<domain>`` → the given targets."""

    def __init__(self, targets: Sequence[SrvTarget], domain: str = AGI_DOMAIN) -> None:
        if not targets:
            raise ValueError("an SRV name needs at least one target")
        self.domain = domain
        self.targets = tuple(targets)
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def service(self) -> str:
        return f"_agi._tcp.{self.domain}"

    def arguments(self) -> list[str]:
        """dnsmasq's command line: our records, no upstream, no hosts file."""
        arguments = ["--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
                     "--bind-interfaces", f"--listen-address={SANDBOX_DNS}", "--port=53",
                     "--user=nobody", "--group=nogroup",
                     "--pid-file", "--cache-size=0"]
        for n, target in enumerate(self.targets, 1):
            host = f"agi{n}.{self.domain}"
            arguments.append(f"--host-record={host},{target.address}")
            arguments.append(f"--srv-host={self.service},{host},{target.port},"
                             f"{target.priority},{target.weight}")
        return arguments

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("dnsmasq")
        if binary is None:
            raise SandboxError("dnsmasq is missing (Debian's dnsmasq-base; scripts/setup.sh "
                               "installs it)")
        self._dir = tempfile.TemporaryDirectory(prefix="hotline-dns-")
        log = Path(self._dir.name) / "dnsmasq.log"
        self._process = subprocess.Popen(
            [binary, *self.arguments(), "--log-queries", f"--log-facility={log}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        try:
            self._wait_answering(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if process is not None and process.stderr is not None:
            process.stderr.close()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> SrvDns:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def queries(self) -> int:
        """How many SRV lookups of our name it has answered (from its log)."""
        if self._dir is None:
            return 0
        log = Path(self._dir.name) / "dnsmasq.log"
        with contextlib.suppress(FileNotFoundError):
            return sum(1 for line in log.read_text(errors="replace").splitlines()
                       if "query[SRV]" in line and self.service in line)
        return 0

    def _wait_answering(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                error = self._process.stderr.read().decode(errors="replace").strip() \
                    if self._process.stderr else ""
                raise SandboxError(f"dnsmasq exited with {self._process.returncode}: {error}")
            if _answers(self.service):
                return
            time.sleep(0.1)
        raise SandboxError(f"dnsmasq did not answer on {SANDBOX_DNS}:53 within {timeout}s")


def _answers(name: str) -> bool:
    """Does a DNS server on SANDBOX_DNS answer an SRV query for ``name``?"""
    query = _srv_query(name)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.sendto(query, (SANDBOX_DNS, 53))
            reply, _ = probe.recvfrom(4096)
        except OSError:
            return False
    answers = int.from_bytes(reply[6:8], "big") if len(reply) >= 12 else 0
    return reply[:2] == query[:2] and answers > 0


def _srv_query(name: str) -> bytes:
    header = b"\x4a\x21\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"  # id, RD, one question
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
    return header + labels + b"\x00\x00\x21\x00\x01"  # type SRV, class IN
