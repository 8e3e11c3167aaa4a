"""Long calls and the queue watch through the real PBX (issue 12, item 3).

The real daemon (ARI on), SIPp callers on the 400 trunk and the sandbox's
stand-in agent (``Local/agent1@hotline-agents``, talking as long as
``SANDBOX_AGENT_TALK``). What the daemon did is checked from outside: an
independent AMI recorder, an ARI observer of our own (``subscribeAll``: every
channel's events, playbacks included), the database and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from hotline_pbx.sandbox.ami_recorder import AmiRecorder
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import OBSERVER_USER, AsteriskSandbox
from hotline_pbx.sandbox.sipp import CallScript, SippResult, place_call
from hotline_pbx.sandbox.tcp_relay import TcpRelay
from tests.e2e.conftest import ConfigWriter
from tests.e2e.test_call_records import ALWAYS_OPEN, DAEMON_ENV, db_rows
from tests.e2e.waiting import wait_until

AGENT = "Local/agent1@hotline-agents"
THRESHOLD = 5  # the least long_call.threshold accepts


class AriObserver:
    """Every ARI event of every channel (an app of our own with subscribeAll), in a
    thread: the daemon's snoop channels and playbacks, seen from outside."""

    def __init__(self, pbx: AsteriskSandbox) -> None:
        self.url = (f"ws://127.0.0.1:{pbx.ports.http}/ari/events?app=e2e-observer"
                    f"&subscribeAll=true&api_key={pbx.ari_user}:{pbx.ari_password}")
        self.events: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self._run(),), daemon=True)

    def __enter__(self) -> AriObserver:
        self._thread.start()
        assert self._ready.wait(10), "the ARI observer did not connect"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        async with aiohttp.ClientSession() as session, session.ws_connect(self.url) as ws:
            self._ready.set()
            reader = asyncio.ensure_future(self._read(ws))
            await self._stop.wait()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.events.append(json.loads(message.data))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e.get("type") == kind]


def snoops(observer: AriObserver) -> list[dict[str, Any]]:
    """Snoop channels the daemon created (ChannelCreated, name Snoop/<uniqueid>-…)."""
    return [e["channel"] for e in observer.of("ChannelCreated")
            if e["channel"]["name"].startswith("Snoop/")]


def playbacks_on(observer: AriObserver, kind: str, channel_id: str) -> list[dict[str, Any]]:
    return [e["playback"] for e in observer.of(kind)
            if e["playback"].get("target_uri") == f"channel:{channel_id}"]


def ari_time(event: dict[str, Any]) -> float:
    """An ARI event's ``timestamp`` (``2026-12-02T18:41:21.494+0000``) as epoch seconds."""
    return datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def _event_of(observer: AriObserver, kind: str, channel_id: str) -> dict[str, Any]:
    return next(e for e in observer.of(kind)
                if e.get("channel", e.get("playback", {})).get("id") == channel_id
                or e.get("playback", {}).get("target_uri") == f"channel:{channel_id}")


def _request(daemon: DaemonProcess, method: str, path: str, token: str,
             timeout: float = 40) -> tuple[int, Any]:
    request = urllib.request.Request(daemon.url + path, method=method,
                                     data=b"" if method == "POST" else None)
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _token(daemon: DaemonProcess, role: str) -> str:
    made = daemon.cli("token", "create", "--name", f"e2e-{role}-{time.monotonic_ns()}",
                      "--role", role)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def _daemon_env(pbx: AsteriskSandbox, **extra: str) -> dict[str, str]:
    return {**DAEMON_ENV, "HOTLINE_ARI_ENABLED": "true",
            "HOTLINE_ARI_URL": f"http://127.0.0.1:{pbx.ports.http}",
            "HOTLINE_ARI_USERNAME": pbx.ari_user, "HOTLINE_ARI_PASSWORD": pbx.ari_password,
            "HOTLINE_LONG_CALL_THRESHOLD": str(THRESHOLD),
            "HOTLINE_LONG_CALL_CHECK_EVERY": "0.5",
            # The task of a call continued elsewhere stays for people here: the
            # dialer would ring the only agent first (tests/e2e/test_dialer.py).
            "HOTLINE_CALLBACKS_AUTO_DIAL": "false", **extra}


def _listing(daemon: DaemonProcess, token: str) -> dict[str, Any]:
    status, body = _request(daemon, "GET", "/api/v1/long-calls", token)
    assert status == 200, body
    return dict(body)


def _call_of(listing: dict[str, Any], caller: str) -> dict[str, Any] | None:
    return next((c for c in listing["calls"] if c["caller"] == caller), None)


def _connect_of(recorder: AmiRecorder, caller: str, timeout: float = 20) -> dict[str, str]:
    return recorder.wait_for(lambda e: e.get("Event") == "AgentConnect"
                             and e.get("CallerIDNum") == caller, timeout)


def _metric(daemon: DaemonProcess) -> float:
    return daemon.metrics().get("hotline_long_calls_total", -1.0)


def pause(pbx: AsteriskSandbox, paused: bool) -> None:
    """By CLI: the AMI user's write classes (manager.conf) do not include agent."""
    pbx.rx(f"queue {'pause' if paused else 'unpause'} member {AGENT} queue hotline")


@pytest.fixture
def sipp_pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        yield pool


def _call(pool: ThreadPoolExecutor, pbx: AsteriskSandbox, caller: str,
          hold: float) -> Future[SippResult]:
    return pool.submit(place_call, CallScript(caller=caller, hold_after_answer=hold),
                       pbx.ports.sip, timeout=90)


def test_a_long_call_while_a_caller_waits_is_whispered_flagged_and_continued_elsewhere(
        pbx_clean: AsteriskSandbox, daemon_factory: Callable[..., DaemonProcess],
        config: ConfigWriter, sipp_pool: ThreadPoolExecutor) -> None:
    pbx = pbx_clean
    config.schedule(ALWAYS_OPEN)
    pbx.set_global("SANDBOX_AGENT_RING", "1")
    pbx.set_global("SANDBOX_AGENT_TALK", "60")
    with AmiRecorder(pbx.ports.ami, OBSERVER_USER, pbx.ami_secret) as recorder, \
            AriObserver(pbx) as observer:
        daemon = daemon_factory(_daemon_env(pbx))
        viewer, supervisor = _token(daemon, "viewer"), _token(daemon, "supervisor")
        wait_until(lambda: AGENT in _listing(daemon, viewer)["free_agents"], 15,
                   "agent1 free before any call")
        first = _call(sipp_pool, pbx, "13900000101", hold=60)
        connect = _connect_of(recorder, "13900000101")
        linkedid, agent_uid = connect["Linkedid"], connect["DestUniqueid"]
        second = _call(sipp_pool, pbx, "13900000102", hold=2)  # waits: the agent talks
        listing = wait_until(lambda: (lambda li: li if li["callers_waiting"] == 1 else None)(
            _listing(daemon, viewer)), 15, "the second caller waiting")
        assert listing["free_agents"] == []
        assert _call_of(listing, "13900000101") is None  # masked for a viewer
        (entry,) = listing["calls"]
        assert (entry["linkedid"], entry["agent"], entry["long"]) == (linkedid, AGENT, False)

        # Past the threshold: flagged once, whispered to the agent's channel only.
        wait_until(lambda: _metric(daemon) == 1.0, THRESHOLD + 10, "the long call counted")
        (snoop,) = wait_until(lambda: snoops(observer) or None, 5, "the snoop channel")
        assert snoop["name"].startswith(f"Snoop/{agent_uid}-"), snoop
        finished = wait_until(lambda: playbacks_on(observer, "PlaybackFinished", snoop["id"]),
                              10, "the whisper played to its end")
        assert finished[0]["media_uri"] == "sound:beep"
        assert [e for e in observer.of("ChannelHangupRequest")
                if e["channel"]["id"] == snoop["id"]], "the daemon hung its snoop up"
        caller_uid = connect["Uniqueid"]
        long_at = float(connect["Timestamp"]) + THRESHOLD
        created = ari_time(_event_of(observer, "ChannelCreated", snoop["id"]))
        started = ari_time(_event_of(observer, "PlaybackStarted", snoop["id"]))
        ended = ari_time(_event_of(observer, "PlaybackFinished", snoop["id"]))
        print(f"\nlong-call whisper: threshold crossed → snoop channel {created - long_at:.3f}s "
              f"(check_every 0.5 s), → playback started {started - long_at:.3f}s, "
              f"playback {ended - started:.3f}s")
        assert playbacks_on(observer, "PlaybackStarted", caller_uid) == []
        assert playbacks_on(observer, "PlaybackStarted", agent_uid) == []
        assert len(snoops(observer)) == 1  # the caller's channel was not snooped
        listing = _listing(daemon, supervisor)
        entry = _call_of(listing, "13900000101")
        assert entry is not None and entry["long"] is True and entry["duration_seconds"] >= 5
        time.sleep(2)
        assert _metric(daemon) == 1.0  # once

        # Continue from another line: a task, the apology to the caller, the hang-up.
        path = f"/api/v1/long-calls/{linkedid}/callback"
        assert _request(daemon, "POST", path, viewer)[0] == 403
        posted = time.time()
        status, done = _request(daemon, "POST", path, supervisor)
        answered = time.time()
        assert status == 200, done
        assert done["hung_up"] is True and done["apology_played"] is True
        assert isinstance(done["task_id"], int)
        assert first.result(timeout=30).ok  # the caller got a BYE (its scenario's far_bye)
        hangup = recorder.wait_for(lambda e: e.get("Event") == "Hangup"
                                   and e.get("Uniqueid") == caller_uid, 5)
        print(f"continue from another line: POST answered in {answered - posted:.3f}s, "
              f"caller hung up {float(hangup['Timestamp']) - posted:.3f}s after the POST "
              "(the apology included)")
        apology = [s for s in snoops(observer) if s["name"].startswith(f"Snoop/{caller_uid}-")]
        assert len(apology) == 1
        assert playbacks_on(observer, "PlaybackFinished", apology[0]["id"])[0]["media_uri"] \
            == "sound:im-sorry"
        assert second.result(timeout=40).ok  # the agent was free again for the next caller
        # The snoop channels are gone with the call. (They end once their audiohook
        # sees a frame on the snooped channel: SIPp sends no RTP here.)
        for channel in snoops(observer):
            recorder.wait_for(lambda e, name=channel["name"]: e.get("Event") == "Hangup"
                              and e.get("Channel") == name, 10)
        assert _request(daemon, "POST", path, supervisor)[0] == 404  # no longer connected

    dsn = daemon.env["HOTLINE_DATABASE_DSN"]
    row = wait_until(lambda: db_rows(dsn, "SELECT long_call, outcome FROM calls WHERE "
                                     f"call_key = '{linkedid}'"), 15, "the call's row")
    assert row == [(True, "answered")]
    assert db_rows(dsn, "SELECT reason, caller, state, call_key FROM callbacks") == [
        ("long_call", "13900000101", "open", linkedid)]
    # The waiting caller's call ended a moment ago: its row may still be on its way.
    others = wait_until(lambda: db_rows(dsn, "SELECT long_call FROM calls WHERE "
                                        f"call_key <> '{linkedid}'"), 15, "the other row")
    assert others == [(False,)]
    assert _metric(daemon) == 1.0


def test_a_long_call_with_nobody_waiting_is_not_flagged(
        pbx_clean: AsteriskSandbox, daemon_factory: Callable[..., DaemonProcess],
        config: ConfigWriter, sipp_pool: ThreadPoolExecutor) -> None:
    pbx = pbx_clean
    config.schedule(ALWAYS_OPEN)
    pbx.set_global("SANDBOX_AGENT_RING", "1")
    pbx.set_global("SANDBOX_AGENT_TALK", str(THRESHOLD + 5))
    with AmiRecorder(pbx.ports.ami, OBSERVER_USER, pbx.ami_secret) as recorder, \
            AriObserver(pbx) as observer:
        daemon = daemon_factory(_daemon_env(pbx))
        supervisor = _token(daemon, "supervisor")
        call = _call(sipp_pool, pbx, "13900000103", hold=30)
        linkedid = _connect_of(recorder, "13900000103")["Linkedid"]
        time.sleep(THRESHOLD + 2)
        listing = _listing(daemon, supervisor)
        entry = _call_of(listing, "13900000103")
        assert entry is not None and entry["long"] is False, listing
        assert entry["duration_seconds"] > THRESHOLD and listing["callers_waiting"] == 0
        status, body = _request(daemon, "POST", f"/api/v1/long-calls/{linkedid}/callback",
                                supervisor)
        assert status == 409, body
        assert call.result(timeout=30).ok
    assert _metric(daemon) == 0.0
    assert snoops(observer) == []
    dsn = daemon.env["HOTLINE_DATABASE_DSN"]
    assert wait_until(lambda: db_rows(dsn, "SELECT long_call FROM calls"), 15, "the row") \
        == [(False,)]
    assert db_rows(dsn, "SELECT count(*) FROM callbacks") == [(0,)]


def test_the_queue_watch_follows_the_queue_and_is_reconciled_after_an_ami_gap(
        pbx_clean: AsteriskSandbox, daemon_factory: Callable[..., DaemonProcess],
        config: ConfigWriter, sipp_pool: ThreadPoolExecutor) -> None:
    pbx = pbx_clean
    config.schedule(ALWAYS_OPEN)
    pbx.set_global("SANDBOX_AGENT_RING", "1")
    pbx.set_global("SANDBOX_AGENT_TALK", "20")
    with TcpRelay(pbx.ports.ami) as relay, \
            AmiRecorder(pbx.ports.ami, OBSERVER_USER, pbx.ami_secret) as recorder:
        daemon = daemon_factory(_daemon_env(pbx, **{
            "HOTLINE_AMI_PORT": str(relay.port), "HOTLINE_AMI_PING_INTERVAL": "1",
            "HOTLINE_AMI_PING_TIMEOUT": "1", "HOTLINE_AMI_RECONNECT_BACKOFF_MAX": "0.5"}))
        admin = _token(daemon, "admin")
        wait_until(lambda: _listing(daemon, admin)["free_agents"] == [AGENT], 15,
                   "agent1 free (from the QueueStatus at login)")
        pause(pbx, True)
        try:
            wait_until(lambda: _listing(daemon, admin)["free_agents"] == [], 10,
                       "agent1 not free while paused")
            call = _call(sipp_pool, pbx, "13900000104", hold=30)
            waiting = wait_until(lambda: (lambda li: li if li["callers_waiting"] == 1
                                          else None)(_listing(daemon, admin)), 15,
                                 "the caller waiting")
            assert waiting["longest_wait_seconds"] >= 0 and waiting["calls"] == []
            # The caller reaches the agent while the daemon's AMI link is down.
            relay.cut()
            wait_until(lambda: daemon.metrics()["hotline_ami_connected"] == 0, 10,
                       "the daemon to notice the gap")
            stale = _listing(daemon, admin)
            assert stale["callers_waiting"] == 1  # nothing seen: still waiting
            pause(pbx, False)
            connect = _connect_of(recorder, "13900000104")
            time.sleep(1)
            relay.restore()
            after = wait_until(lambda: (lambda li: li if li["calls"] else None)(
                _listing(daemon, admin)), 20, "the connected call after the reconcile")
        finally:
            pause(pbx, False)
        assert after["callers_waiting"] == 0 and after["free_agents"] == []
        (entry,) = after["calls"]
        assert (entry["linkedid"], entry["agent"], entry["caller"]) == (
            connect["Linkedid"], AGENT, "13900000104")
        assert entry["agent_channel"] == connect["DestChannel"]
        assert abs(entry["duration_seconds"] - (time.time() - float(connect["Timestamp"]))) < 3
        assert call.result(timeout=40).ok  # the agent hangs up after its talk time
        wait_until(lambda: (lambda li: li["calls"] == [] and li["free_agents"] == [AGENT])(
            _listing(daemon, admin)), 15, "agent1 free again after the call")


def test_the_agents_feature_code_continues_the_call_from_another_line(
        pbx_clean: AsteriskSandbox, daemon_factory: Callable[..., DaemonProcess],
        config: ConfigWriter, sipp_pool: ThreadPoolExecutor) -> None:
    """*9 pressed by the agent (features.conf's hotline-long-callback, DTMF sent by
    the stand-in agent's own half of its Local channel): the same as the API."""
    pbx = pbx_clean
    config.schedule(ALWAYS_OPEN)
    pbx.set_global("SANDBOX_AGENT_RING", "1")
    pbx.set_global("SANDBOX_AGENT_TALK", "40")
    with AmiRecorder(pbx.ports.ami, OBSERVER_USER, pbx.ami_secret) as recorder:
        daemon = daemon_factory(_daemon_env(pbx))
        call = _call(sipp_pool, pbx, "13900000105", hold=40)
        connect = _connect_of(recorder, "13900000105")
        time.sleep(1)
        agent_side = connect["DestChannel"].replace(";1", ";2")  # the agent's own half
        for digit in "*9":
            reply = pbx.ami_action({"Action": "PlayDTMF", "Channel": agent_side,
                                    "Digit": digit, "Duration": "120"})
            assert "Success" in reply, reply
            time.sleep(0.3)
        pressed = time.time()
        assert call.result(timeout=20).ok  # hung up by the daemon, well before 40 s
        hangup = recorder.wait_for(lambda e: e.get("Event") == "Hangup"
                                   and e.get("Uniqueid") == connect["Uniqueid"], 5)
        print(f"\n*9 pressed → caller hung up {float(hangup['Timestamp']) - pressed:.3f}s later "
              "(the apology included)")
    dsn = daemon.env["HOTLINE_DATABASE_DSN"]
    assert db_rows(dsn, "SELECT reason, caller, call_key FROM callbacks") == [
        ("long_call", "13900000105", connect["Linkedid"])]
    assert _metric(daemon) == 0.0  # continued before it was long: not counted as long
