"""End to end under load: SIPp → the sandbox Asterisk 22 → the daemon → PostgreSQL.

    sudo .venv/bin/python bench/sipp_bench.py [--rates 10,30,50,100] [--seconds 20]
                                              [--loops uvloop,asyncio] [--quiet-seconds 30]
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
* the daemon's **RSS** after the run; the AMI events it received per call;
* **above quiet**: the same CPU less what the daemon and Asterisk use with no
  call at all (measured first, ``--quiet-seconds``: timers, the AMI watchdog,
  the locks' checks) over the rate's window, per call: what the calls add.

Then ``--concurrent`` calls (2,000) are put up at 100 a second and held (the
stand-in talks 99 s): the daemon's RSS while it tracks them all and its peak,
against the 100 MB limit, and the RSS every half second with the calls up
(``timeline_s_calls_rss_mb``: a step while nothing changes is a burst of work
of the daemon's own, such as a listing). (Asterisk's maxcalls is raised for this sandbox:
three channels a call.)

Results go to ``--json`` as well.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import profile_split  # beside this file: the script's directory is on sys.path

from hotline_pbx.config import AmiSettings
from hotline_pbx.metrics import AGI_BUCKETS
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import AsteriskSandbox, PbxPorts
from hotline_pbx.sandbox.proc import cpu_seconds, cpu_times, rss_mb
from hotline_pbx.sandbox.sipp import CallScript, SippResult, place_load

TARGET_CPU_MS = 1.5
RSS_LIMIT_MB = 100
CLOSED = {"timezone": "Asia/Shanghai", "weekly": []}
ALWAYS_OPEN = {"timezone": "Asia/Shanghai", "weekly": [
    {"day": day, "start": "00:00", "end": "24:00"}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]}
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


def task_queue_warnings(pbx: AsteriskSandbox) -> int:
    """Asterisk's "The 'stasis/m:manager:core-…' task processor queue reached N
    scheduled tasks" warnings so far: AMI's event queue falling behind."""
    try:
        text = pbx.log_path.read_text(errors="replace")
    except FileNotFoundError:
        return 0
    return sum(1 for line in text.splitlines()
               if "task processor queue reached" in line and "manager" in line)


def counted(metrics: dict[str, float], outcome: str = "") -> float:
    wanted = f'outcome="{outcome}"'
    return sum(v for k, v in metrics.items()
               if k.startswith("hotline_calls_total{") and (not outcome or wanted in k))


def mean_wait(before: dict[str, float], after: dict[str, float]) -> float | None:
    def total(metrics: dict[str, float], suffix: str) -> float:
        return sum(v for k, v in metrics.items()
                   if k.startswith(f"hotline_call_wait_seconds_{suffix}{{"))
    calls = total(after, "count") - total(before, "count")
    return None if calls <= 0 else (total(after, "sum") - total(before, "sum")) / calls


def run_rate(pbx: AsteriskSandbox, daemon: DaemonProcess, token: str, rate: int,
             seconds: float, asterisk_pid: int, daemon_pid: int) -> dict[str, Any]:
    calls = int(rate * seconds)
    before = daemon.metrics()
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    cpu_d, cpu_a = cpu_seconds(daemon_pid), cpu_seconds(asterisk_pid)
    sys_d = cpu_times(daemon_pid)[1]
    window_start = time.monotonic()
    warned = task_queue_warnings(pbx)
    result = place_load(CallScript(caller="13912300000", hold_after_answer=30), pbx.ports.sip,
                        rate=rate, calls=calls)
    pbx.wait_idle(120)
    deadline = time.monotonic() + 30
    while counted(daemon.metrics()) - counted(before) < calls and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # the writer's last batch
    used_d, used_a = cpu_seconds(daemon_pid) - cpu_d, cpu_seconds(asterisk_pid) - cpu_a
    window = time.monotonic() - window_start
    kernel_d = cpu_times(daemon_pid)[1] - sys_d
    after = daemon.metrics()
    stored = stored_rows(daemon, token, since)
    events = after.get("hotline_ami_events_total", 0) - before.get("hotline_ami_events_total", 0)
    p50 = quantile(route_buckets(before), route_buckets(after), 0.50)
    p99 = quantile(route_buckets(before), route_buckets(after), 0.99)
    return {
        "rate": rate, "calls": calls, "successful": result.successful, "failed": result.failed,
        "success_ratio": round(result.successful / calls, 4),
        "counted": int(counted(after) - counted(before)),
        "answered": int(counted(after, "answered") - counted(before, "answered")),
        "mean_wait_s": None if (w := mean_wait(before, after)) is None else round(w, 2),
        "rows": stored,
        "route_p50_ms": None if p50 is None else round(p50 * 1000, 3),
        "route_p99_ms": None if p99 is None else round(p99 * 1000, 3),
        "window_s": round(window, 2), "daemon_cpu_s": round(used_d, 3),
        "daemon_cpu_ms_per_call": round(used_d / calls * 1000, 3),
        "daemon_system_share": round(kernel_d / max(used_d, 1e-9), 2),
        "asterisk_cpu_ms_per_call": round(used_a / calls * 1000, 3),
        "ami_events_per_call": round(events / calls, 1),
        "daemon_rss_mb": round(rss_mb(daemon_pid), 1),
        "asterisk_task_queue_warnings": task_queue_warnings(pbx) - warned,
    }


def positive_seconds(text: str) -> float:
    seconds = float(text)
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="10,30,50,100")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--quiet-seconds", type=positive_seconds, default=30.0,
                        help="first, the daemon's and Asterisk's CPU with no call, over this "
                             "long (default 30: the quiet timers' 10, 15 and 30 s each a "
                             "whole number of times; /proc counts 10 ms ticks)")
    parser.add_argument("--json", type=Path, default=Path("bench/results/sipp_bench.json"))
    parser.add_argument("--concurrent", type=int, default=2000,
                        help="then this many calls up at once, for the daemon's RSS (0: skip)")
    parser.add_argument("--queue-rates", default="",
                        help="then the open hours: calls/s through the hotline queue, e.g. 50,100")
    parser.add_argument("--agents", type=int, default=600,
                        help="stand-in agents in the queue for --queue-rates (ring 1 s, talk 3 s)")
    parser.add_argument("--loops", default="uvloop,asyncio",
                        help="daemon.event_loop values to measure in turn (default: the "
                             "default, uvloop, then its peer, Python's own asyncio loop); "
                             "LOOP@MS also sets ami.gather_window to MS milliseconds "
                             "(uvloop@0: read gathering off)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="py-spy --native's stacks of the daemon over the runs, to "
                             "FILE.LOOP, split by part at the end (a name ending in strace: "
                             "strace -c's counts instead); a profiled run's CPU figures are "
                             "not comparable with an unprofiled one's")
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",") if r]
    if os.geteuid() != 0:
        print("run as root: the Asterisk sandbox needs chroot (the daemon runs unprivileged)",
              file=sys.stderr)
        return 2
    # Three channels a call (the trunk's leg, the Local pair to the mobile): the
    # concurrent phase needs more than the shipped maxcalls.
    pbx = AsteriskSandbox(name=f"sippbench-{os.getpid()}", ports=PbxPorts.allocate(),
                          options={"maxcalls": str(max(2000, 4 * args.concurrent))})
    pbx.start()
    rows: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    try:
        for n, loop in enumerate(args.loops.split(",")):
            # The concurrent and queue phases with the first loop only: their
            # figures are about Asterisk and memory, not the loop.
            measured, concurrent = run_daemon(pbx, loop, rates, args.seconds,
                                              args.quiet_seconds, args.profile,
                                              args.concurrent if n == 0 else 0,
                                              args if n == 0 else None)
            rows += measured
            held += concurrent
    finally:
        pbx.stop()
    report(rows, held, args.json)
    return 0 if all(r["success_ratio"] == 1.0 for r in rows) else 1


def run_daemon(pbx: AsteriskSandbox, loop: str, rates: list[int], seconds: float,
               quiet_seconds: float, profile: Path | None, concurrent: int,
               args: argparse.Namespace | None
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        event_loop, _, gather_ms = loop.partition("@")
        gather = {"HOTLINE_AMI_GATHER_WINDOW": str(float(gather_ms) / 1000)} if gather_ms else {}
        # The shipped AMI watchdog, not the tests' Ping every 2 s: what is
        # measured is the daemon as an operator runs it.
        shipped_ping = {"HOTLINE_AMI_PING_INTERVAL": str(AmiSettings.ping_interval),
                        "HOTLINE_AMI_PING_TIMEOUT": str(AmiSettings.ping_timeout)}
        daemon = DaemonProcess.for_sandbox(pbx, None, Path(tmp), {
            **shipped_ping,
            "HOTLINE_DAEMON_LOG_FORMAT": "text", "HOTLINE_LINE_ENABLED": "false",
            "HOTLINE_ROUTING_USE_STATUTORY_CALENDAR": "false",
            "HOTLINE_DAEMON_EVENT_LOOP": event_loop, **gather})
        daemon.start(timeout=120)
        profiler = None
        try:
            if profile is not None:
                assert daemon.process is not None
                command = (["strace", "-c", "-f", "-o", f"{profile}.{loop}.strace"]
                           if str(profile).endswith("strace") else
                           # --native: the C under each Python frame counts for it
                           # (bench/profile_split.py). It pauses the daemon at each
                           # sample: the rows of a profiled run are not comparable
                           # with those of a run without --profile.
                           [py_spy(), "record", "--native", "--format", "raw",
                            "--rate", "200", "-o", f"{profile}.{loop}"])
                profiler = subprocess.Popen([*command, "-p", str(daemon.process.pid)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rows = [{"event_loop": loop, **row}
                    for row in measure(pbx, daemon, rates, seconds, loop, quiet_seconds)]
            held = [{"event_loop": loop, **hold_concurrent(pbx, daemon, concurrent)}
                    ] if concurrent else []
            queue_rates = [int(r) for r in args.queue_rates.split(",") if r] if args else []
            if queue_rates:
                rows += [{"event_loop": loop, **row} for row in
                         through_queue(pbx, daemon, queue_rates, seconds,
                                       args.agents if args else 0)]
            return rows, held
        finally:
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
                if not str(profile).endswith("strace"):
                    try:
                        print(profile_split.report(f"{profile}.{loop}"), flush=True)
                    except (OSError, ValueError) as exc:  # py-spy wrote nothing usable
                        print(f"no profile split for {loop}: {exc}", flush=True)
            daemon.stop()


def py_spy() -> str:
    """py-spy on the PATH, or the one installed in this venv (``pip install py-spy``)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else "py-spy")


def quiet_cpu(asterisk_pid: int, daemon_pid: int, seconds: float) -> dict[str, float]:
    """ms of CPU a second the daemon and Asterisk use with no call up."""
    before_d, before_a, start = cpu_seconds(daemon_pid), cpu_seconds(asterisk_pid), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    return {"daemon": (cpu_seconds(daemon_pid) - before_d) / elapsed * 1000,
            "asterisk": (cpu_seconds(asterisk_pid) - before_a) / elapsed * 1000}


def above_quiet(row: dict[str, Any], quiet: dict[str, float]) -> dict[str, float]:
    """A rate's CPU per call less what the quiet daemon and Asterisk would have
    used over the same window anyway."""
    def per_call(ms_per_call: float, quiet_ms_per_s: float) -> float:
        return round(ms_per_call - quiet_ms_per_s * row["window_s"] / row["calls"], 3)
    return {"daemon_quiet_ms_per_s": round(quiet["daemon"], 2),
            "asterisk_quiet_ms_per_s": round(quiet["asterisk"], 2),
            "daemon_cpu_ms_per_call_above_quiet":
                per_call(row["daemon_cpu_ms_per_call"], quiet["daemon"]),
            "asterisk_cpu_ms_per_call_above_quiet":
                per_call(row["asterisk_cpu_ms_per_call"], quiet["asterisk"])}


def measure(pbx: AsteriskSandbox, daemon: DaemonProcess, rates: list[int],
            seconds: float, loop: str, quiet_seconds: float) -> list[dict[str, Any]]:
    assert daemon.process is not None and pbx._process is not None
    token = daemon.cli("token", "create", "--name", "bench", "--role", "admin").stdout.strip()
    request(daemon, "PUT", "/api/v1/schedule", token, CLOSED)
    request(daemon, "PUT", "/api/v1/roster", token, ROSTER)
    time.sleep(1.0)
    quiet = quiet_cpu(pbx._process.pid, daemon.process.pid, quiet_seconds)  # run_rate's order
    print(f"{loop:>9} no calls: daemon {quiet['daemon']:.2f} ms/s, Asterisk "
          f"{quiet['asterisk']:.2f} ms/s over {quiet_seconds:g} s", flush=True)
    rows = []
    for rate in rates:
        row = run_rate(pbx, daemon, token, rate, seconds, pbx._process.pid, daemon.process.pid)
        row.update(above_quiet(row, quiet))
        rows.append(row)
        print(f"{loop:>9} {rate:>4} calls/s: {row['successful']}/{row['calls']} answered, "
              f"{row['counted']} counted, {row['rows']} rows; /route p50 "
              f"{row['route_p50_ms']} ms p99 {row['route_p99_ms']} ms; CPU per call: daemon "
              f"{row['daemon_cpu_ms_per_call']} ms, Asterisk "
              f"{row['asterisk_cpu_ms_per_call']} ms; {row['ami_events_per_call']} AMI "
              f"events/call; RSS {row['daemon_rss_mb']} MB; manager task-queue warnings "
              f"{row['asterisk_task_queue_warnings']}", flush=True)
    return rows


def through_queue(pbx: AsteriskSandbox, daemon: DaemonProcess, rates: list[int],
                  seconds: float, agents: int) -> list[dict[str, Any]]:
    """Open hours: every call to the hotline queue, ``agents`` stand-ins in it."""
    assert daemon.process is not None and pbx._process is not None
    token = daemon.cli("token", "create", "--name", "queue", "--role", "admin").stdout.strip()
    request(daemon, "PUT", "/api/v1/schedule", token, ALWAYS_OPEN)
    for n in range(2, agents + 1):  # the CLI: the daemon's AMI user may not QueueAdd
        pbx.rx(f"queue add member Local/agent{n}@hotline-agents to hotline penalty 0 "
               f"as Agent{n}")
    members = pbx.rx("queue show hotline").count("@hotline-agents")
    if members != agents:
        raise RuntimeError(f"{members} agents in the queue, not {agents}")
    time.sleep(2.0)
    rows = []
    try:
        for rate in rates:
            row = run_rate(pbx, daemon, token, rate, seconds, pbx._process.pid,
                           daemon.process.pid)
            row = {"route": "queue", "agents": agents, **row}
            rows.append(row)
            print(f"  queue {rate:>4} calls/s, {agents} agents: {row['answered']}/"
                  f"{row['calls']} answered by an agent, mean wait {row['mean_wait_s']} s; "
                  f"daemon {row['daemon_cpu_ms_per_call']} ms, "
                  f"Asterisk {row['asterisk_cpu_ms_per_call']} ms a call", flush=True)
    finally:
        for n in range(2, agents + 1):
            pbx.rx(f"queue remove member Local/agent{n}@hotline-agents from hotline")
        request(daemon, "PUT", "/api/v1/schedule", token, CLOSED)
    return rows


def hold_concurrent(pbx: AsteriskSandbox, daemon: DaemonProcess,
                    concurrent: int) -> dict[str, Any]:
    """``concurrent`` calls up at once (the supervisor's stand-in talks 99 s):
    the daemon's RSS while it tracks them all, its peak, and after."""
    assert daemon.process is not None
    pid = daemon.process.pid
    token = daemon.cli("token", "create", "--name", "held", "--role", "admin").stdout.strip()
    long_talk = {**ROSTER, "supervisor": {**ROSTER["supervisor"], "mobile": "13819900000"}}
    request(daemon, "PUT", "/api/v1/roster", token, long_talk)
    time.sleep(1.0)
    before = rss_mb(pid)
    outcome: dict[str, Any] = {}
    load = threading.Thread(target=lambda: outcome.update(result=place_load(
        CallScript(caller="13912300001", hold_after_answer=150), pbx.ports.sip,
        rate=100, calls=concurrent, max_concurrent=concurrent + 10)))
    load.start()
    peak, at_full, most, peak_active = before, None, 0.0, 0.0
    started = time.monotonic()
    timeline: list[tuple[float, int, float]] = []  # how the RSS step was found: the sweep's list
    while load.is_alive():
        active = daemon.metrics().get("hotline_calls_active", 0.0)
        rss = rss_mb(pid)
        timeline.append((round(time.monotonic() - started, 1), int(active), round(rss, 1)))
        if rss > peak:
            peak, peak_active = rss, active
        most = max(most, active)
        if at_full is None and active >= concurrent:
            at_full = rss
        time.sleep(0.5)
    pbx.wait_idle(120)
    request(daemon, "PUT", "/api/v1/roster", token, ROSTER)
    result: SippResult = outcome["result"]
    row = {"concurrent": concurrent, "most_tracked": int(most),
           "successful": result.successful, "rss_before_mb": round(before, 1),
           "rss_all_up_mb": None if at_full is None else round(at_full, 1),
           "rss_peak_mb": round(peak, 1), "calls_up_at_the_peak": int(peak_active),
           "rss_after_mb": round(rss_mb(pid), 1),
           "timeline_s_calls_rss_mb": timeline}
    print(f"{concurrent} calls up at once: {int(most)} tracked at most; daemon RSS "
          f"{row['rss_before_mb']} → {row['rss_all_up_mb']} MB with all up (peak "
          f"{row['rss_peak_mb']} with {row['calls_up_at_the_peak']} up, after "
          f"{row['rss_after_mb']}); limit 100 MB", flush=True)
    return row


def cost_split(rows: list[dict[str, Any]]) -> dict[str, float] | None:
    """The daemon's CPU over the rates as ``fixed × seconds + marginal × calls``
    (least squares through the origin): what it spends whatever the traffic
    (timers, a writer's batch every 0.25 s however small) apart from what each
    call adds. At 10 calls/s the first is most of a call's share; at scale, the
    second is the cost of a call. Needs two rates or more."""
    if len(rows) < 2:
        return None
    t = [r["window_s"] for r in rows]
    n = [r["calls"] for r in rows]
    y = [r["daemon_cpu_s"] for r in rows]
    tt, nn = sum(a * a for a in t), sum(b * b for b in n)
    tn = sum(a * b for a, b in zip(t, n, strict=True))
    ty = sum(a * c for a, c in zip(t, y, strict=True))
    ny = sum(b * c for b, c in zip(n, y, strict=True))
    det = tt * nn - tn * tn
    if det <= 0:
        return None
    fixed, marginal = (ty * nn - ny * tn) / det, (ny * tt - ty * tn) / det
    asterisk = sum(r["asterisk_cpu_ms_per_call"] * r["calls"] for r in rows) / sum(n)
    return {"fixed_ms_per_s": round(fixed * 1000, 2),
            "marginal_ms_per_call": round(marginal * 1000, 3),
            "asterisk_ms_per_call": round(asterisk, 2)}


def report(rows: list[dict[str, Any]], held: list[dict[str, Any]], path: Path) -> None:
    print("\n     loop  rate  daemon/Asterisk CPU  daemon/target(1.5 ms)  "
          "above quiet: daemon/Asterisk  daemon/target  success")
    for row in rows:
        daemon_ms, asterisk_ms = row["daemon_cpu_ms_per_call"], row["asterisk_cpu_ms_per_call"]
        ratio = daemon_ms / max(asterisk_ms, 1e-9)
        added = ("", "")  # the queue's rows: no quiet measurement of their own
        if "daemon_cpu_ms_per_call_above_quiet" in row:
            added_d = row["daemon_cpu_ms_per_call_above_quiet"]
            added_a = row["asterisk_cpu_ms_per_call_above_quiet"]
            added = (f"{added_d / max(added_a, 1e-9):.2f}", f"{added_d / TARGET_CPU_MS:.2f}")
        print(f"{row['event_loop']:>9}  {row['rate']:>4}  {ratio:>19.2f}  "
              f"{daemon_ms / TARGET_CPU_MS:>21.2f}  {added[0]:>28}  {added[1]:>13}  "
              f"{row['success_ratio']:>7.4f}")
    fits: dict[str, dict[str, float]] = {}
    for loop in dict.fromkeys(r["event_loop"] for r in rows):  # the mobile mix, not the queue
        fit = cost_split([r for r in rows if r["event_loop"] == loop and "route" not in r])
        if fit is not None:
            fits[loop] = fit
            marginal = fit["marginal_ms_per_call"]
            print(f"{loop:>9}  fixed {fit['fixed_ms_per_s']} ms/s (timers, batch flushes) + "
                  f"{marginal} ms a call = {marginal / TARGET_CPU_MS:.2f} of the target; "
                  f"Asterisk {fit['asterisk_ms_per_call']} ms a call")
    path.parent.mkdir(parents=True, exist_ok=True)
    for row in held:
        print(f"{row['event_loop']:>9}  {row['concurrent']} up at once: RSS peak "
              f"{row['rss_peak_mb']} MB = {row['rss_peak_mb'] / RSS_LIMIT_MB:.2f} of the "
              f"{RSS_LIMIT_MB} MB limit")
    path.write_text(json.dumps({"target_cpu_ms_per_call": TARGET_CPU_MS,
                                "rss_limit_mb": RSS_LIMIT_MB, "rows": rows,
                                "cost_split": fits,
                                "concurrent": held}, indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    sys.exit(main())
