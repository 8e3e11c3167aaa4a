"""Run the real daemon (``hotline-pbx run``) as a subprocess against a sandbox PBX.

Under root it runs as the daemon user, on its own copy of the package, with its
data in a temporary directory of that user's (:mod:`hotline_pbx.sandbox.unprivileged`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotline_pbx.sandbox.pbx import AsteriskSandbox, free_port
from hotline_pbx.sandbox.unprivileged import DaemonHome

SANDBOX_DIAL_TEMPLATE = "Local/{number}@sandbox-mobiles"


def daemon_environment(pbx: AsteriskSandbox, dsn: str | None, *, http_port: int,
                       extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """HOTLINE_* settings that point the daemon at this sandbox."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOTLINE_")}
    env.update({
        "HOTLINE_AGI_PORT": str(pbx.ports.agi),
        "HOTLINE_HTTP_PORT": str(http_port),
        "HOTLINE_AMI_PORT": str(pbx.ports.ami),
        "HOTLINE_AMI_USERNAME": pbx.ami_user,
        "HOTLINE_AMI_SECRET": pbx.ami_secret,
        "HOTLINE_AMI_PING_INTERVAL": "2",
        "HOTLINE_AMI_PING_TIMEOUT": "2",
        "HOTLINE_ROUTING_DIAL_TEMPLATE": SANDBOX_DIAL_TEMPLATE,
        "HOTLINE_DAEMON_LOG_FORMAT": "json",
    })
    if dsn:
        env["HOTLINE_DATABASE_DSN"] = dsn
    env.update(extra or {})
    return env


@dataclass
class DaemonProcess:
    """``hotline-pbx run`` in a subprocess; JSON logs go to ``log_path``.

    Its data directory (:attr:`data_dir`) lives as long as this object and
    survives a :meth:`stop` and :meth:`start` (a restart keeps its spool).
    """

    env: dict[str, str]
    log_path: Path
    http_port: int
    home: DaemonHome = field(default_factory=DaemonHome, repr=False)
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None
    _log: Any = field(default=None, repr=False)

    @classmethod
    def for_sandbox(cls, pbx: AsteriskSandbox, dsn: str | None, work_dir: Path,
                    extra: Mapping[str, str] | None = None) -> DaemonProcess:
        http_port = free_port()
        env = daemon_environment(pbx, dsn, http_port=http_port, extra=extra)
        return cls(env=env, log_path=work_dir / "daemon.log", http_port=http_port)

    @property
    def data_dir(self) -> Path:
        return self.home.data_dir

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 60.0, *, wait_ready: bool = True) -> None:
        self._log = self.log_path.open("ab")
        self.process = self.home.popen(["run"], self.env, stdout=self._log,
                                       stderr=subprocess.STDOUT)
        if wait_ready:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.process.returncode}:\n"
                                   + self.log_tail())
            try:
                status, body = self.get("/readyz")
                last = body
                if status == 200:
                    return dict(body)
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"daemon not ready within {timeout}s ({last}):\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait for a clean exit; returns the exit status."""
        if self.process is None:
            return self.exit_code or 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.exit_code = self.process.returncode
        self.process = None
        if self._log is not None:
            self._log.close()
        return self.exit_code

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``hotline-pbx ARGS`` with the daemon's settings, as the daemon's user."""
        return self.home.run(list(args), self.env, timeout=timeout)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.exit_code = self.process.returncode
            self.process = None
        if self._log is not None:
            self._log.close()

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.url + path)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, _decode(response.read(), response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read(), exc.headers)

    def metrics(self) -> dict[str, float]:
        """The /metrics samples as {'name{labels}': value}."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:
            text = response.read().decode()
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def config_reloads(self) -> float:
        """``hotline_config_reloads_total``: routing snapshots this process loaded."""
        return self.metrics().get("hotline_config_reloads_total", 0.0)

    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                records.append({"message": line})
        return records

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _decode(body: bytes, headers: Any) -> Any:
    if "json" in (headers.get("Content-Type") or ""):
        return json.loads(body)
    return body.decode(errors="replace")
