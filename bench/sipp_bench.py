"""End to end under load: SIPp → the sandbox Asterisk 22 → the daemon → PostgreSQL.

    sudo .venv/bin/python bench/sipp_bench.py [--rates 10,30,50,100] [--seconds 20]
                                              [--json bench/results/sipp_bench.json]

Runs a sandbox Asterisk with the shipped configuration and the real daemon
(as the daemon user, embedded PostgreSQL). The hotline is closed, so every
call is routed by ``/route`` to the supervisor's stand-in mobile (rings 1 s,
talks 2 s, hangs up): no queue capacity in the way, the same mix at every
rate. For each rate SIPp places ``rate × seconds`` calls; then, per rate:

* **success**: calls SIPp completed / placed;
* **rows**: calls the daemon counted as written (``hotline_calls_total``) and the
  rows ``/api/v1/calls`` holds for the run: one per call;
* **/route** p50 and p99 (``hotline_agi_request_seconds``, interpolated in its buckets);
* **CPU per call**: the daemon's user + system time over the rate's run, divided
  by its calls, against **Asterisk's** own over the same run (the peer in the
  same run: the PBX the daemon serves) and against the **target**, 1.5 ms;
* the daemon's **RSS** after the run; the AMI events it received per call.

Results go to ``--json`` as well.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from hotline_pbx.metrics import AGI_BUCKETS
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import AsteriskSandbox, PbxPorts
from hotline_pbx.sandbox.proc import cpu_seconds, rss_mb
from hotline_pbx.sandbox.sipp import CallScript, place_load

TARGET_CPU_MS = 1.5
CLOSED = {"timezone": "Asia/Shanghai", "weekly": []}
ROSTER = {"supervisor": {"id": "li.na", "name": "Li Na", "mobile": "13810200000"},
          "deputies": [{"id": "wang.wei", "name": "Wang Wei", "mobile": "13810200001"}]}
ROUTE = 'hotline_agi_request_seconds_bucket{le="%s",script="route"}'


def request(daemon: DaemonProcess, method: str, path: str, token: str,
            body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(daemon.url + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.loads(response.read() or b"null")


def stored_rows(daemon: DaemonProcess, token: str, since: str) -> int:
    """The calls stored since ``since``: the rows of the CSV export, header aside."""
    req = urllib.request.Request(f"{daemon.url}/api/v1/calls.csv?from={since}")
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=120) as response:
        return max(0, len(response.read().decode("utf-8-sig").splitlines()) - 1)


def route_buckets(metrics: dict[str, float]) -> list[tuple[float, float]]:
    bounds = [*AGI_BUCKETS, float("inf")]
    return [(bound, metrics.get(ROUTE % ("+Inf" if bound == float("inf") else repr(bound)),
                                0.0)) for bound in bounds]


def quantile(before: list[tuple[float, float]], after: list[tuple[float, float]],
             q: float) -> float | None:
    """The q-quantile of the requests between two scrapes, linear within a bucket."""
    counts = [(bound, a - b) for (bound, b), (_, a) in zip(before, after, strict=True)]
    total = counts[-1][1]
    if total <= 0:
        return None
    wanted, lower, below = q * total, 0.0, 0.0
    for bound, cumulative in counts:
        if cumulative >= wanted:
            if bound == float("inf"):
                return lower
            share = (wanted - below) / max(cumulative - below, 1e-9)
            return lower + (bound - lower) * share
        lower, below = bound, cumulative
    return lower


def counted(metrics: dict[str, float]) -> float:
    return sum(v for k, v in metrics.items() if k.startswith("hotline_calls_total{"))


def run_rate(pbx: AsteriskSandbox, daemon: DaemonProcess, token: str, rate: int,
             seconds: float, asterisk_pid: int, daemon_pid: int) -> dict[str, Any]:
    calls = int(rate * seconds)
    before = daemon.metrics()
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    cpu_d, cpu_a = cpu_seconds(daemon_pid), cpu_seconds(asterisk_pid)
    result = place_load(CallScript(caller="13912300000", hold_after_answer=30), pbx.ports.sip,
                        rate=rate, calls=calls)
    pbx.wait_idle(120)
    deadline = time.monotonic() + 30
    while counted(daemon.metrics()) - counted(before) < calls and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # the writer's last batch
    used_d, used_a = cpu_seconds(daemon_pid) - cpu_d, cpu_seconds(asterisk_pid) - cpu_a
    after = daemon.metrics()
    stored = stored_rows(daemon, token, since)
    events = after.get("hotline_ami_events_total", 0) - before.get("hotline_ami_events_total", 0)
    p50 = quantile(route_buckets(before), route_buckets(after), 0.50)
    p99 = quantile(route_buckets(before), route_buckets(after), 0.99)
    return {
        "rate": rate, "calls": calls, "successful": result.successful, "failed": result.failed,
        "success_ratio": round(result.successful / calls, 4),
        "counted": int(counted(after) - counted(before)),
        "rows": stored,
        "route_p50_ms": None if p50 is None else round(p50 * 1000, 3),
        "route_p99_ms": None if p99 is None else round(p99 * 1000, 3),
        "daemon_cpu_ms_per_call": round(used_d / calls * 1000, 3),
        "asterisk_cpu_ms_per_call": round(used_a / calls * 1000, 3),
        "ami_events_per_call": round(events / calls, 1),
        "daemon_rss_mb": round(rss_mb(daemon_pid), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="10,30,50,100")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path, default=Path("bench/results/sipp_bench.json"))
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",")]
    if os.geteuid() != 0:
        print("run as root: the Asterisk sandbox needs chroot (the daemon runs unprivileged)",
              file=sys.stderr)
        return 2
    pbx = AsteriskSandbox(name=f"sippbench-{os.getpid()}", ports=PbxPorts.allocate())
    pbx.start()
    try:
        with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
            daemon = DaemonProcess.for_sandbox(pbx, None, Path(tmp), {
                "HOTLINE_DAEMON_LOG_LEVEL": "warning", "HOTLINE_LINE_ENABLED": "false",
                "HOTLINE_ROUTING_USE_STATUTORY_CALENDAR": "false"})
            daemon.start(timeout=120)
            try:
                rows = measure(pbx, daemon, rates, args.seconds)
            finally:
                daemon.stop()
    finally:
        pbx.stop()
    report(rows, args.json)
    return 0 if all(r["success_ratio"] == 1.0 for r in rows) else 1


def measure(pbx: AsteriskSandbox, daemon: DaemonProcess, rates: list[int],
            seconds: float) -> list[dict[str, Any]]:
    assert daemon.process is not None and pbx._process is not None
    token = daemon.cli("token", "create", "--name", "bench", "--role", "admin").stdout.strip()
    request(daemon, "PUT", "/api/v1/schedule", token, CLOSED)
    request(daemon, "PUT", "/api/v1/roster", token, ROSTER)
    time.sleep(1.0)
    rows = []
    for rate in rates:
        row = run_rate(pbx, daemon, token, rate, seconds, pbx._process.pid, daemon.process.pid)
        rows.append(row)
        print(f"{rate:>4} calls/s: {row['successful']}/{row['calls']} answered, "
              f"{row['counted']} counted, {row['rows']} rows; /route p50 "
              f"{row['route_p50_ms']} ms p99 {row['route_p99_ms']} ms; CPU per call: daemon "
              f"{row['daemon_cpu_ms_per_call']} ms, Asterisk "
              f"{row['asterisk_cpu_ms_per_call']} ms; {row['ami_events_per_call']} AMI "
              f"events/call; RSS {row['daemon_rss_mb']} MB", flush=True)
    return rows


def report(rows: list[dict[str, Any]], path: Path) -> None:
    print("\nrate  daemon/Asterisk CPU  daemon/target(1.5 ms)  success")
    for row in rows:
        daemon_ms, asterisk_ms = row["daemon_cpu_ms_per_call"], row["asterisk_cpu_ms_per_call"]
        print(f"{row['rate']:>4}  {daemon_ms / max(asterisk_ms, 1e-9):>19.2f}  "
              f"{daemon_ms / TARGET_CPU_MS:>21.2f}  {row['success_ratio']:>7.4f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"target_cpu_ms_per_call": TARGET_CPU_MS, "rows": rows},
                               indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    sys.exit(main())
