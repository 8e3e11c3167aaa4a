"""Dialer benchmark: a 1,000-target campaign against the sandbox's stand-in customers.

    sudo .venv/bin/python bench/dialer_bench.py [--targets 1000] [--max-cps 10]
                                                [--max-channels 20]

Runs a sandbox Asterisk 22 with the public network (stand-ins of
``sandbox/network/extensions.conf``) and the real daemon on embedded
PostgreSQL, as the daemon user. The campaign is posted through the API: four
in five targets are busy (185…: an attempt costs one originate and no talk),
one in five answers and presses 1 after 3 s (186 1…), each with one attempt.

Printed:

* **attempts per second** while the campaign runs, against ``dialer.max_cps``,
  and the most originates seen by the network in any one second (never above
  ``max_cps`` but for the boundary of a window);
* **channels in use**: the most ``PJSIP/general-trunk-`` channels on the PBX at
  once (sampled every 0.1 s) and the most ``hotline_dialer_active`` read, against
  ``dialer.max_channels``;
* the daemon's **CPU** (user + system seconds per 1,000 attempts, and as a share
  of one core over the run) and its **RSS** before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.network import PublicNetwork
from hotline_pbx.sandbox.pbx import AsteriskSandbox, PbxPorts
from hotline_pbx.sandbox.proc import cpu_seconds, rss_mb
from hotline_pbx.sandbox.unprivileged import daemon_account

CALLED = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.\d+\].*network: stand-in (\d+) called",
                    re.M)


def post(daemon: DaemonProcess, path: str, token: str, body: Any) -> tuple[int, Any]:
    req = urllib.request.Request(daemon.url + path, data=json.dumps(body).encode(),
                                 method="POST")
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=120) as response:
        return response.status, json.loads(response.read())


def get(daemon: DaemonProcess, path: str, token: str) -> Any:
    req = urllib.request.Request(daemon.url + path)
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read())


class Sampler(threading.Thread):
    def __init__(self, pbx: AsteriskSandbox, daemon: DaemonProcess) -> None:
        super().__init__(daemon=True)
        self.pbx, self.dialer = pbx, daemon
        self.max_channels = 0
        self.max_active = 0.0
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                lines = self.pbx.rx("core show channels concise").splitlines()
                self.max_channels = max(self.max_channels, sum(
                    line.startswith("PJSIP/general-trunk-") for line in lines))
                self.max_active = max(self.max_active, self.dialer.metrics().get(
                    "hotline_dialer_active", 0.0))
            except Exception:  # a busy CLI or HTTP: the next sample
                pass
            self.stop_event.wait(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--max-cps", type=float, default=10.0)
    parser.add_argument("--max-channels", type=int, default=20)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (the Asterisk sandbox uses chroot and mount)", file=sys.stderr)
        return 2
    pbx = AsteriskSandbox(name=f"bench-dialer-{os.getpid()}", ports=PbxPorts.allocate())
    pbx.start()
    try:
        with PublicNetwork(pbx) as network, \
                tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
            return run(pbx, network, Path(tmp), args)
    finally:
        pbx.stop()


def run(pbx: AsteriskSandbox, network: PublicNetwork, tmp: Path,
        args: argparse.Namespace) -> int:
    relative = f"run/hotline-pbx/{pbx.name}/dialer-sounds"
    sounds = pbx.root / relative
    sounds.mkdir(parents=True, exist_ok=True)
    account = daemon_account()
    os.chown(sounds, account.pw_uid, account.pw_gid)
    env = {"HOTLINE_ARI_ENABLED": "true", "HOTLINE_ARI_URL": f"http://127.0.0.1:{pbx.ports.http}",
           "HOTLINE_ARI_USERNAME": pbx.ari_user, "HOTLINE_ARI_PASSWORD": pbx.ari_password,
           "HOTLINE_DIALER_MAX_CPS": str(args.max_cps),
           "HOTLINE_DIALER_MAX_CHANNELS": str(args.max_channels),
           "HOTLINE_DIALER_RING_TIMEOUT": "10", "HOTLINE_DIALER_DTMF_TIMEOUT": "3",
           "HOTLINE_DIALER_SOUNDS_DIR": str(sounds),
           "HOTLINE_DIALER_SOUNDS_MEDIA_DIR": f"/{relative}",
           "HOTLINE_DAEMON_LOG_FORMAT": "json"}
    daemon = DaemonProcess.for_sandbox(pbx, None, tmp, env)  # embedded PostgreSQL
    daemon.start(timeout=120)
    try:
        assert daemon.process is not None
        pid = daemon.process.pid
        token = daemon.cli("token", "create", "--name", "bench", "--role", "admin").stdout.strip()
        rows = [{"name": f"C{i}", "account": f"A-{i}",
                 "phone": f"1861{i:07d}" if i % 5 == 0 else f"185{i:08d}"}
                for i in range(args.targets)]
        rss_before = rss_mb(pid)
        sampler = Sampler(pbx, daemon)
        sampler.start()
        cpu_before, started = cpu_seconds(pid), time.monotonic()
        status, created = post(daemon, "/api/v1/campaigns", token, {
            "name": "bench", "rows": rows, "max_attempts": 1,
            "message_text": "This is a benchmark of the emergency notification."})
        if status != 201:
            raise RuntimeError(f"campaign refused: {status} {created}")
        job = created["id"]
        while True:
            progress = get(daemon, f"/api/v1/campaigns/{job}", token)
            if progress["final"] == progress["total"]:
                break
            if time.monotonic() - started > 3600:
                raise RuntimeError("the campaign did not finish within an hour")
            time.sleep(0.5)
        wall = time.monotonic() - started
        cpu = cpu_seconds(pid) - cpu_before
        sampler.stop_event.set()
        sampler.join(5)
        rss_after = rss_mb(pid)
        attempts = sum(v for k, v in daemon.metrics().items()
                       if k.startswith("hotline_dialer_attempts_total"))
        per_second: dict[str, int] = {}
        for second, _number in CALLED.findall(network.log_path.read_text(errors="replace")):
            per_second[second] = per_second.get(second, 0) + 1
        seconds = sorted(per_second)
        span = (datetime.fromisoformat(seconds[-1]) - datetime.fromisoformat(seconds[0])
                ).total_seconds() + 1 if seconds else wall
        counts = progress["counts"]
    finally:
        daemon.stop()
    rate = attempts / span
    print(f"campaign of {args.targets} targets: {attempts:.0f} attempts in {wall:.1f} s "
          f"(done {counts['done']}, unreached {counts['unreached']})")
    print(f"  attempts per second  {rate:6.2f}   max_cps {args.max_cps:g}   "
          f"ratio {rate / args.max_cps:.2f}")
    print(f"  most originates in one second (network log) {max(per_second.values())}"
          f"   ratio to max_cps {max(per_second.values()) / args.max_cps:.2f}")
    print(f"  channels at once: PBX general trunk {sampler.max_channels}, "
          f"hotline_dialer_active {sampler.max_active:.0f}; cap {args.max_channels}; "
          f"ratio {sampler.max_channels / args.max_channels:.2f}")
    print(f"  daemon CPU {cpu:.1f} s = {cpu / attempts * 1000:.2f} s per 1,000 attempts, "
          f"{cpu / wall * 100:.1f} % of one core; RSS {rss_before:.0f} → {rss_after:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
