"""Line monitor benchmark: test-call round trip and fault detection, through a real PBX.

    sudo .venv/bin/python bench/line_monitor_bench.py [--calls 50]

Runs a sandbox Asterisk 22 with the sandbox's public network
(:mod:`hotline_pbx.sandbox.network`) and the real daemon on embedded
PostgreSQL, as the daemon user, with the line monitor on.

* **Round trip**: ``--calls`` test calls asked for one after the other
  (``POST /api/v1/line/test``), each originate → seen at ``/route``
  (``round_trip_seconds``), against the peer: the bare loop, an AMI
  ``Originate`` of the same dial string until the PBX's carrier channel
  appears (what the network and PJSIP cost without the daemon, ARI or the
  AGI). Printed as p50/p99 and the ratio; and against the limit
  (``line.test_timeout``).
* **Detection**: the path is broken (busy, then lost) at a random moment of a
  quiet line and the time until ``GET /api/v1/line`` shows the open fault is
  compared with the bound the schedule gives (``test_after`` + the test's own
  time: ``test_timeout`` for a call that never arrives).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hotline_pbx.sandbox.ami_recorder import AmiEvent, AmiRecorder
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.network import NetworkFault, PublicNetwork
from hotline_pbx.sandbox.pbx import AsteriskSandbox, PbxPorts

HOTLINE = "4008001234"
TEST_CALLER = "01088886666"
TEST_AFTER, TEST_TIMEOUT, RETEST_EVERY = 5.0, 6.0, 8.0


def request(daemon: DaemonProcess, method: str, path: str, token: str,
            timeout: float = 60) -> tuple[int, Any]:
    req = urllib.request.Request(daemon.url + path, data=b"" if method == "POST" else None,
                                 method=method)
    req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _carrier_channel_of(caller: str) -> Callable[[AmiEvent], bool]:
    def matches(event: AmiEvent) -> bool:
        return (event.get("Event") == "Newchannel" and event.get("CallerIDNum") == caller
                and event.get("Channel", "").startswith("PJSIP/carrier-"))
    return matches


def bare_loop(pbx: AsteriskSandbox, network: PublicNetwork, calls: int) -> list[float]:
    """AMI Originate → the PBX's carrier channel, seconds per call."""
    trips = []
    with AmiRecorder(pbx.ports.ami, pbx.ami_user, pbx.ami_secret) as ami:
        for n in range(calls):
            caller = f"1390001{n:04d}"
            sent = time.time()
            pbx.ami_action({"Action": "Originate", "Channel": network.dial_string,
                            "Application": "Wait", "Data": "1", "Async": "true",
                            "CallerID": f"<{caller}>", "Timeout": "5000"})
            seen = ami.wait_for(_carrier_channel_of(caller), 10)
            trips.append(float(seen["Timestamp"]) - sent)
            pbx.wait_idle(15)
    return trips


def detection(daemon: DaemonProcess, network: PublicNetwork, token: str,
              fault: NetworkFault) -> float:
    """Break the path at a random moment; seconds until the API shows the fault."""
    network.set_fault(NetworkFault.NORMAL)
    deadline = time.monotonic() + 60
    while request(daemon, "GET", "/api/v1/line", token)[1]["up"] is not True:
        if time.monotonic() > deadline:
            raise RuntimeError("the line did not come up again")
        time.sleep(0.2)
    time.sleep(random.uniform(0, TEST_AFTER))
    broken = time.monotonic()
    network.set_fault(fault)
    while request(daemon, "GET", "/api/v1/line", token)[1]["open_fault"] is None:
        if time.monotonic() - broken > 120:
            raise RuntimeError(f"no fault within 120 s of {fault}")
        time.sleep(0.1)
    return time.monotonic() - broken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--breaks", type=int, default=3, help="breaks per fault kind")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (the Asterisk sandbox uses chroot and mount)", file=sys.stderr)
        return 2
    pbx = AsteriskSandbox(name=f"bench-line-{os.getpid()}", ports=PbxPorts.allocate(),
                          carrier_qualify_seconds=10)
    pbx.start()
    try:
        with PublicNetwork(pbx, hotline_number=HOTLINE) as network, \
                tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
            return run(pbx, network, Path(tmp), args)
    finally:
        pbx.stop()


def run(pbx: AsteriskSandbox, network: PublicNetwork, tmp: Path,
        args: argparse.Namespace) -> int:
    env = {"HOTLINE_ARI_ENABLED": "true", "HOTLINE_ARI_URL": f"http://127.0.0.1:{pbx.ports.http}",
           "HOTLINE_ARI_USERNAME": pbx.ari_user, "HOTLINE_ARI_PASSWORD": pbx.ari_password,
           "HOTLINE_LINE_ENABLED": "true", "HOTLINE_LINE_TEST_NUMBER": HOTLINE,
           "HOTLINE_LINE_TEST_CALLER": TEST_CALLER,
           "HOTLINE_LINE_TEST_AFTER": str(TEST_AFTER),
           "HOTLINE_LINE_TEST_TIMEOUT": str(TEST_TIMEOUT),
           "HOTLINE_LINE_RETEST_EVERY": str(RETEST_EVERY),
           "HOTLINE_DAEMON_LOG_FORMAT": "json"}
    daemon = DaemonProcess.for_sandbox(pbx, None, tmp, env)  # embedded PostgreSQL
    daemon.start(timeout=120)
    try:
        made = daemon.cli("token", "create", "--name", "bench", "--role", "admin")
        token = made.stdout.strip()
        override = json.dumps({"mode": "open", "until": "2099-01-01T00:00:00Z"}).encode()
        req = urllib.request.Request(daemon.url + "/api/v1/override", data=override,
                                     method="PUT")
        req.add_header("Authorization", f"Bearer {token}")
        req.add_header("Content-Type", "application/json")
        urllib.request.urlopen(req, timeout=10).close()

        trips = []
        for _ in range(args.calls):
            status, body = request(daemon, "POST", "/api/v1/line/test", token)
            if status != 200 or not body["passed"]:
                raise RuntimeError(f"test call failed: {status} {body}")
            trips.append(body["round_trip_seconds"])
        bare = bare_loop(pbx, network, args.calls)
        ours50, ours99 = statistics.median(trips), percentile(trips, 0.99)
        bare50, bare99 = statistics.median(bare), percentile(bare, 0.99)
        print(f"test-call round trip, {len(trips)} calls (originate → seen at /route):")
        print(f"  line monitor   p50 {ours50 * 1000:7.1f} ms   p99 {ours99 * 1000:7.1f} ms")
        print(f"  bare AMI loop  p50 {bare50 * 1000:7.1f} ms   p99 {bare99 * 1000:7.1f} ms"
              f"   (originate → carrier channel, no daemon)")
        print(f"  ratio monitor/bare: p50 {ours50 / bare50:.1f}x, p99 {ours99 / bare99:.1f}x;"
              f" p99 / line.test_timeout = {ours99 / TEST_TIMEOUT:.3f}")

        print(f"fault detection after the path breaks (test_after {TEST_AFTER:g}s, "
              f"test_timeout {TEST_TIMEOUT:g}s):")
        for fault, bound in ((NetworkFault.BUSY, TEST_AFTER + 1),
                             (NetworkFault.LOST, TEST_AFTER + TEST_TIMEOUT + 1)):
            times = [detection(daemon, network, token, fault) for _ in range(args.breaks)]
            print(f"  {fault.value:5s} mean {statistics.mean(times):5.1f} s, max "
                  f"{max(times):5.1f} s; bound {bound:g} s; max/bound {max(times) / bound:.2f}")
        network.set_fault(NetworkFault.NORMAL)
    finally:
        daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
