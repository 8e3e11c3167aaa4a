"""The product's main job, end to end, on one machine: the daemon on embedded
PostgreSQL, a real Asterisk 22, and a mix of real SIP calls.

    scripts/demo.sh        (as root: in a root shell, or with sudo where it is installed)

Phases: open hours (calls answered by a queue agent), callers who give up
(abandons and short abandons), then after hours (the supervisor's mobile
answers; the supervisor on leave → the deputy answers). Prints what the
daemon decided and measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import AsteriskSandbox, PbxPorts
from hotline_pbx.sandbox.sipp import CallScript, SippResult, place_call
from hotline_pbx.sandbox.unprivileged import DAEMON_USER
from hotline_pbx.store import config_repo
from hotline_pbx.store.database import embedded_dsn, open_database

SUPERVISOR = {"id": "li.na", "name": "Li Na (supervisor)", "mobile": "13812300000"}
DEPUTY = {"id": "wang.wei", "name": "Wang Wei (deputy)", "mobile": "13822300000"}


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


@contextlib.contextmanager
def running_pbx() -> Iterator[AsteriskSandbox]:
    pbx = AsteriskSandbox(name="demo", ports=PbxPorts.allocate())
    say("starting Asterisk 22 (sandbox root)…")
    pbx.start()
    try:
        yield pbx
    finally:
        pbx.stop()
        say("Asterisk stopped")


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
    with running_pbx() as pbx:
        daemon = DaemonProcess.for_sandbox(pbx, None, work_dir)
        pgdata = daemon.data_dir / "postgres"
        say(f"starting hotline-pbx as {DAEMON_USER} (embedded PostgreSQL in {pgdata})…")
        daemon.start(timeout=120)
        try:
            dsn = embedded_dsn(pgdata)  # the daemon's server: joined, never started as root
            say(f"daemon ready: {daemon.url}/readyz, /metrics")
            play(pbx, daemon, dsn)
        finally:
            daemon.stop()
            daemon.home.remove()
    say(f"done; daemon log: {daemon.log_path}")
    return 0


def play(pbx: AsteriskSandbox, daemon: DaemonProcess, dsn: str) -> None:
    now = datetime.now(UTC)
    write_config(dsn, config_repo.save_roster, {"supervisor": SUPERVISOR, "deputies": [DEPUTY]})

    say("phase 1: open hours (override: open) — 3 callers, a queue agent answers")
    write_config(dsn, config_repo.save_override,
                 {"mode": "open", "until": (now + timedelta(hours=1)).isoformat()})
    time.sleep(1)
    report(call_mix(pbx, [CallScript(caller=f"1390000000{i}", hold_after_answer=2)
                          for i in range(3)]))

    say("phase 2: nobody picks up — 2 callers give up after 7 s, 1 after 2 s")
    pbx.set_global("SANDBOX_AGENT_ANSWER", "no")
    report(call_mix(pbx, [CallScript(caller="13900000011", abandon_after=7),
                          CallScript(caller="13900000012", abandon_after=7),
                          CallScript(caller="13900000013", abandon_after=2)]))
    pbx.set_global("SANDBOX_AGENT_ANSWER", "yes")

    say("phase 3: after hours (override: closed) — the supervisor's mobile answers")
    write_config(dsn, config_repo.save_override,
                 {"mode": "closed", "until": (now + timedelta(hours=1)).isoformat()})
    time.sleep(1)
    report(call_mix(pbx, [CallScript(caller="13900000021", hold_after_answer=2)]))

    say("phase 4: the supervisor is on leave — the deputy answers")
    write_config(dsn, config_repo.save_roster, {
        "supervisor": SUPERVISOR, "deputies": [DEPUTY],
        "absences": [{"person_id": SUPERVISOR["id"], "from": now.isoformat(),
                      "to": (now + timedelta(days=1)).isoformat(), "reason": "leave"}]})
    time.sleep(1)
    report(call_mix(pbx, [CallScript(caller="13900000031", hold_after_answer=2)]))
    write_config(dsn, config_repo.save_override, None)
    pbx.wait_idle(30)
    summary(daemon)


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
        wanted = family.startswith(("hotline_calls", "hotline_agi_requests_total", "hotline_ami_"))
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
