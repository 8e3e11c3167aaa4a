"""The product's main job, end to end, on one machine: the daemon on embedded
PostgreSQL, a real Asterisk 22, and a mix of real SIP calls.

    scripts/demo.sh        (as root: in a root shell, or with sudo where it is installed)

Phases: open hours (calls answered by a queue agent), the line monitor
test-dialling the quiet line through the sandbox's public network (the path
breaks: a fault opens; it is repaired: the fault closes), callers who give up
(abandons and short abandons), then after hours (the supervisor's mobile
answers; the supervisor on leave → the deputy answers). Prints what the
daemon decided and measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.network import NetworkFault, PublicNetwork
from hotline_pbx.sandbox.pbx import AsteriskSandbox, PbxPorts
from hotline_pbx.sandbox.sipp import CallScript, SippResult, place_call
from hotline_pbx.sandbox.unprivileged import DAEMON_USER
from hotline_pbx.store import config_repo
from hotline_pbx.store.database import embedded_dsn, open_database

SUPERVISOR = {"id": "li.na", "name": "Li Na (supervisor)", "mobile": "13812300000"}
DEPUTY = {"id": "wang.wei", "name": "Wang Wei (deputy)", "mobile": "13822300000"}
HOTLINE = "4008001234"  # the hotline's own number, test-dialled by the line monitor
TEST_CALLER = "01088886666"  # the number its test calls come from


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


@contextlib.contextmanager
def running_pbx() -> Iterator[tuple[AsteriskSandbox, PublicNetwork]]:
    pbx = AsteriskSandbox(name="demo", ports=PbxPorts.allocate(), carrier_qualify_seconds=10)
    say("starting Asterisk 22 (sandbox root) and its public network…")
    pbx.start()
    try:
        with PublicNetwork(pbx, hotline_number=HOTLINE) as network:
            yield pbx, network
    finally:
        pbx.stop()
        say("Asterisk stopped")


def line_monitor_env(pbx: AsteriskSandbox) -> dict[str, str]:
    """The line monitor on, over the sandbox's ARI, with timings of seconds."""
    return {"HOTLINE_ARI_ENABLED": "true",
            "HOTLINE_ARI_URL": f"http://127.0.0.1:{pbx.ports.http}",
            "HOTLINE_ARI_USERNAME": pbx.ari_user, "HOTLINE_ARI_PASSWORD": pbx.ari_password,
            "HOTLINE_LINE_ENABLED": "true", "HOTLINE_LINE_TEST_NUMBER": HOTLINE,
            "HOTLINE_LINE_TEST_CALLER": TEST_CALLER, "HOTLINE_LINE_TEST_AFTER": "4",
            "HOTLINE_LINE_TEST_TIMEOUT": "6", "HOTLINE_LINE_RETEST_EVERY": "8"}


def write_config(dsn: str, step: Callable[..., Any], *args: Any) -> None:
    async def go() -> None:
        db = await open_database(DatabaseSettings(dsn=Secret(dsn)), Path("."))
        try:
            async with db.engine.begin() as conn:
                await step(conn, *args, "demo")
        finally:
            await db.close()

    asyncio.run(go())


def call_mix(pbx: AsteriskSandbox, scripts: list[CallScript]) -> list[SippResult]:
    with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
        futures = [pool.submit(place_call, s, pbx.ports.sip, timeout=60) for s in scripts]
        return [f.result() for f in futures]


def run_demo(work_dir: Path) -> int:
    work_dir.mkdir(parents=True, exist_ok=True)
    with running_pbx() as (pbx, network):
        daemon = DaemonProcess.for_sandbox(pbx, None, work_dir, line_monitor_env(pbx))
        pgdata = daemon.data_dir / "postgres"
        say(f"starting hotline-pbx as {DAEMON_USER} (embedded PostgreSQL in {pgdata})…")
        daemon.start(timeout=120)
        try:
            dsn = embedded_dsn(pgdata)  # the daemon's server: joined, never started as root
            say(f"daemon ready: {daemon.url}/readyz, /metrics, the console at /console/")
            play(pbx, network, daemon, dsn)
        finally:
            daemon.stop()
            daemon.home.remove()
    say(f"done; daemon log: {daemon.log_path}")
    return 0


def play(pbx: AsteriskSandbox, network: PublicNetwork, daemon: DaemonProcess,
         dsn: str) -> None:
    now = datetime.now(UTC)
    write_config(dsn, config_repo.save_roster, {"supervisor": SUPERVISOR, "deputies": [DEPUTY]})

    say("phase 1: open hours (override: open) — 3 callers, a queue agent answers")
    write_config(dsn, config_repo.save_override,
                 {"mode": "open", "until": (now + timedelta(hours=1)).isoformat()})
    time.sleep(1)
    report(call_mix(pbx, [CallScript(caller=f"1390000000{i}", hold_after_answer=2)
                          for i in range(3)]))

    say("phase 2: a quiet line — the line monitor test-dials it through the public network")
    seen = wait_for_log(daemon, "line test passed", 30)
    say("  the carrier path breaks (busy): a fault opens at the next test")
    network.set_fault(NetworkFault.BUSY)
    seen = wait_for_log(daemon, "line fault opened", 30, since=seen)
    say("  the path is repaired: the retest passes and the fault closes")
    network.set_fault(NetworkFault.NORMAL)
    wait_for_log(daemon, "line fault closed", 30, since=seen)

    say("phase 3: nobody picks up — 2 callers give up after 7 s, 1 after 2 s")
    pbx.set_global("SANDBOX_AGENT_ANSWER", "no")
    report(call_mix(pbx, [CallScript(caller="13900000011", abandon_after=7),
                          CallScript(caller="13900000012", abandon_after=7),
                          CallScript(caller="13900000013", abandon_after=2)]))
    pbx.set_global("SANDBOX_AGENT_ANSWER", "yes")

    say("phase 4: after hours (override: closed) — the supervisor's mobile answers")
    write_config(dsn, config_repo.save_override,
                 {"mode": "closed", "until": (now + timedelta(hours=1)).isoformat()})
    time.sleep(1)
    report(call_mix(pbx, [CallScript(caller="13900000021", hold_after_answer=2)]))

    say("phase 5: the supervisor is on leave — the deputy answers")
    write_config(dsn, config_repo.save_roster, {
        "supervisor": SUPERVISOR, "deputies": [DEPUTY],
        "absences": [{"person_id": SUPERVISOR["id"], "from": now.isoformat(),
                      "to": (now + timedelta(days=1)).isoformat(), "reason": "leave"}]})
    time.sleep(1)
    report(call_mix(pbx, [CallScript(caller="13900000031", hold_after_answer=2)]))
    write_config(dsn, config_repo.save_override, None)
    pbx.wait_idle(30)
    summary(daemon)
    show_wallboard(daemon)


def show_wallboard(daemon: DaemonProcess) -> None:
    """Log in to the console as a viewer and read one board of its live stream."""
    made = daemon.cli("token", "create", "--name", "demo-wallboard", "--role", "viewer")
    if made.returncode != 0:
        say(f"console: no token ({made.stderr.strip()})")
        return
    cookies = urllib.request.HTTPCookieProcessor()
    opener = urllib.request.build_opener(cookies)
    form = urllib.parse.urlencode({"token": made.stdout.strip()}).encode()
    opener.open(f"{daemon.url}/console/login", data=form, timeout=10).close()
    with opener.open(f"{daemon.url}/console/events", timeout=10) as stream:
        for raw in stream:
            if raw.startswith(b"data: "):
                board = json.loads(raw[6:])
                break
    today = board["today"]
    rate = "-" if today["answer_rate"] is None else f"{today['answer_rate'] * 100:.1f} %"
    say(f"console wallboard ({daemon.url}/console/): today {today['offered']} offered in "
        f"open hours, answer rate {rate}, {today['after_hours']} after hours; "
        f"on duty: {board['on_duty']['role'] if board['on_duty'] else 'nobody'}")


def wait_for_log(daemon: DaemonProcess, prefix: str, timeout: float, since: int = 0) -> int:
    """Until the daemon logs a line starting with ``prefix`` (after its first
    ``since`` lines), which is then shown; returns how many lines there are."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = daemon.log_records()
        found = [r for r in records[since:] if str(r.get("message", "")).startswith(prefix)]
        if found:
            say(f"  daemon: {found[0]['message']}")
            return len(records)
        time.sleep(0.2)
    raise RuntimeError(f"the daemon did not log {prefix!r} within {timeout}s:\n"
                       + daemon.log_tail())


def report(results: list[SippResult]) -> None:
    ok = sum(r.ok for r in results)
    say(f"  SIPp: {ok}/{len(results)} calls completed as scripted")


def summary(daemon: DaemonProcess) -> None:
    time.sleep(1)  # the last records leave the writer's batch
    report = daemon.cli("report", "--period", "all")
    say("hotline-pbx report --period all:")
    for line in (report.stdout or report.stderr).splitlines():
        say(f"  {line}")
    routes = [r for r in daemon.log_records() if str(r.get("message", "")).startswith("call ")]
    say(f"routing decisions and call records ({len(routes)} log lines):")
    for record in routes:
        say(f"  {record['message']}")
    metrics = daemon.metrics()
    say("metrics:")
    for name, value in sorted(metrics.items()):
        family = name.partition("{")[0]
        wanted = family.startswith(("hotline_calls", "hotline_agi_requests_total", "hotline_ami_",
                                    "hotline_line_", "hotline_ari_"))
        if wanted and value and not family.endswith("_created"):
            say(f"  {name} = {value:g}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path(".demo"),
                        help="where the daemon's log is kept (default .demo); its embedded "
                             "database lives in a temporary directory of the daemon user's")
    args = parser.parse_args(argv)
    return run_demo(args.work_dir.resolve())


if __name__ == "__main__":
    sys.exit(main())
