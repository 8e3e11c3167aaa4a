"""The outbound watchdog: any outbound channel on the 400 trunk is hung up at once.

An :class:`~hotline_pbx.ami.dispatch.EventDispatcher` subscriber, independent
of the dialplan, so a misconfigured or hostile dialplan, an AMI ``Originate``,
a CLI ``channel originate``, a forward or a transfer is still caught.

The subscriber only translates the event into domain facts (:func:`observe`)
and asks :class:`~hotline_pbx.domain.outbound_policy.OutboundWatch` what to
do; the AMI ``Hangup`` runs in its own task, so the dispatcher never waits.
Each attempt then gets ``settle_seconds`` for the events that explain it
(``DialBegin``, ``OriginateResponse``, ``Hangup``) and is recorded: one
``blocked_outbound`` row through the record writer
(:class:`~hotline_pbx.store.batch_writer.BatchWriter`), one warning log line,
and ``hotline_outbound_blocked_total`` (counted the moment the attempt is
seen, so the alert never waits for the database).

Two times are kept per attempt: ``reaction_ms`` = the PBX's ``Timestamp`` of
the ``Newchannel``/``DialBegin`` that revealed the channel → the ``Hangup``
response (one host, one clock), and ``details.pbx_lifetime_ms`` =
``Newchannel`` → the channel's ``Hangup`` event, both on the PBX clock. They
differ when the channel's own thread is busy (Asterisk answers the action
at once, the channel goes when its thread next looks).

Nothing else is sent on the live path: the one AMI session carries every
hang-up, and an action that waits on a channel (``Getvar`` of
``CHANNEL(pjsip,…)`` waits for its SIP serializer) would hold up the next.

Also here: :meth:`OutboundGuard.sweep` (``CoreShowChannels``: at every AMI
login and every ``sweep_interval``) for legs set up during an AMI gap, lost
in a dropped event, or whose hang-up failed; and :func:`check_trunks`, the
start-up check that both trunks exist as PJSIP endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from hotline_pbx.ami.supervisor import AmiEvent, AmiUnavailable
from hotline_pbx.config import TrunkSettings
from hotline_pbx.domain.contract import BlockedAction
from hotline_pbx.domain.outbound_policy import (
    ChannelFacts,
    DialFacts,
    Direction,
    HangUp,
    OutboundAttempt,
    OutboundWatch,
    direction_of_new_channel,
    refused_attempt,
)
from hotline_pbx.lifecycle import READY, BackgroundTask, Readiness
from hotline_pbx.metrics import OUTBOUND_BLOCKED
from hotline_pbx.store.blocked_repo import BlockedRecord

log = logging.getLogger(__name__)

REFUSED_EVENT = "HotlineOutboundRefused"  # the dialplan guard's UserEvent
HANGUP_CAUSE = "21"  # Call rejected: app_dial moves on (failover continues)
# Where chan_pjsip keeps the number of a leg whose DialBegin never came.
TARGET_URI = "CHANNEL(pjsip,target_uri)"
TRANSFER_EVENTS = ("BlindTransfer", "AttendedTransfer")
SWEEP_TRIGGER = "CoreShowChannel"


class AmiActions(Protocol):
    async def action(self, action: Mapping[str, str], *, timeout: float = 5.0,
                     as_list: bool | None = None) -> Any: ...

    async def listing(self, action: Mapping[str, str], on_event: Callable[[AmiEvent], None],
                      *, timeout: float = 5.0) -> int: ...


class RecordSink(Protocol):
    def submit(self, record: BlockedRecord) -> None: ...


@dataclass(frozen=True, slots=True)
class HangupResult:
    action: BlockedAction  # hung_up | already_ended | hangup_failed
    reaction_ms: float | None  # PBX event timestamp → Hangup response
    handled_ms: float  # event seen by the guard → Hangup response (daemon clock only)
    detail: str = ""


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def channel_facts(event: AmiEvent) -> ChannelFacts:
    return ChannelFacts(
        channel=event.get("Channel", ""), uniqueid=event.get("Uniqueid", ""),
        linkedid=event.get("Linkedid", ""), state=event.get("ChannelState", ""),
        context=event.get("Context", ""), exten=event.get("Exten", ""),
        caller_num=event.get("CallerIDNum", ""), application=event.get("Application", ""),
        at=_float(event.get("Timestamp")),
    )


def dial_facts(event: AmiEvent) -> DialFacts:
    return DialFacts(
        dest_channel=event.get("DestChannel", ""), dest_uniqueid=event.get("DestUniqueid", ""),
        dest_linkedid=event.get("DestLinkedid", ""), dial_string=event.get("DialString", ""),
        caller_channel=event.get("Channel", ""), caller_uniqueid=event.get("Uniqueid", ""),
        caller_num=event.get("CallerIDNum", ""), caller_context=event.get("Context", ""),
        caller_exten=event.get("Exten", ""), at=_float(event.get("Timestamp")),
    )


def observe(watch: OutboundWatch, event: AmiEvent) -> HangUp | OutboundAttempt | None:
    """Feed one AMI event to the watch: a channel to hang up, a dialplan refusal
    to record, or nothing. Synchronous and allocation-light: it runs for every event."""
    name = event.get("Event", "")
    if name == "Newchannel":
        facts = channel_facts(event)
        command = watch.on_new_channel(facts)
        if command is None and direction_of_new_channel(facts, watch.trunk) is Direction.UNKNOWN:
            log.warning("channel %s on the 400 trunk is neither a caller nor an outbound "
                        "leg (state %s): left alone", facts.channel, facts.state)
        return command
    if name == "DialBegin":
        return watch.on_dial_begin(dial_facts(event))
    if name == "Hangup":
        watch.on_hangup(event.get("Uniqueid", ""), _float(event.get("Timestamp")))
    elif name in ("DialEnd", "DialState") and event.get("Forward"):
        watch.on_forward(event.get("Linkedid", ""), event["Forward"])
    elif name in TRANSFER_EVENTS:
        watch.on_transfer(v for k, v in event.items() if k.endswith("Linkedid"))
    elif name == "OriginateResponse":
        watch.on_originate_response(event.get("Channel", ""), event.get("Uniqueid", ""))
    elif name == "UserEvent" and event.get("UserEvent") == REFUSED_EVENT:
        return refused_attempt(
            channel=event.get("Channel", ""), uniqueid=event.get("Uniqueid", ""),
            linkedid=event.get("Linkedid", ""), source=event.get("Source", ""),
            number=event.get("Number", ""), at=_float(event.get("Timestamp")),
        )
    return None


class OutboundGuard:
    def __init__(self, trunk: str, ami: AmiActions, sink: RecordSink, *,
                 settle_seconds: float = 1.0, hangup_timeout: float = 10.0,
                 sweep_interval: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.trunk = trunk
        self.watch = OutboundWatch(trunk)
        self._ami = ami
        self._sink = sink
        self._settle = settle_seconds
        self._hangup_timeout = hangup_timeout
        self._sweep_interval = sweep_interval
        self._clock = clock
        self.name = "outbound guard"
        self._tasks: set[asyncio.Task[None]] = set()  # hang-ups in flight, each short
        self._sweeper = BackgroundTask("outbound-guard-sweep", self._sweep_forever)
        self.blocked = 0

    # -- the subscriber (synchronous, quick) ---------------------------------------------

    def __call__(self, event: AmiEvent) -> None:
        result = observe(self.watch, event)
        if isinstance(result, HangUp):
            self._block(result)
        elif isinstance(result, OutboundAttempt):
            self._refused(result, event)

    # -- blocking ------------------------------------------------------------------------

    def _block(self, command: HangUp) -> None:
        OUTBOUND_BLOCKED.inc()
        self.blocked += 1
        seen = time.monotonic()
        task = asyncio.create_task(self._hang_up_and_record(command, seen),
                                   name=f"outbound-guard-{command.uniqueid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hang_up_and_record(self, command: HangUp, seen: float) -> None:
        result = HangupResult(BlockedAction.HANGUP_FAILED, None, 0.0, "stopped before the Hangup")
        try:
            if command.trigger == SWEEP_TRIGGER:
                # Up for a while already and its DialBegin was missed: read the
                # number first. Never on the live path: CHANNEL(pjsip,…) waits
                # for the channel's SIP serializer and holds our one AMI session
                # meanwhile (seconds, if that serializer is stuck in DNS).
                await self._read_target_uri(command)
            result = await self._hang_up(command, seen)
            if result.action == BlockedAction.HANGUP_FAILED:
                log.error("could not hang up outbound channel %s on the 400 trunk: %s; "
                          "the next sweep tries again", command.channel, result.detail)
            await asyncio.sleep(self._settle)
        finally:  # also on shutdown: record what is known
            self._record(command, result)

    async def _read_target_uri(self, command: HangUp) -> None:
        action = {"Action": "Getvar", "Channel": command.channel, "Variable": TARGET_URI}
        try:
            reply = await self._ami.action(action, timeout=self._hangup_timeout)
        except (AmiUnavailable, TimeoutError):
            return
        if _get(reply, "Response") == "Success":
            self.watch.on_target_uri(command.uniqueid, _get(reply, "Value"))

    async def _hang_up(self, command: HangUp, seen: float) -> HangupResult:
        """One Hangup: resending on the same session would only queue behind it."""
        action = {"Action": "Hangup", "Channel": command.channel, "Cause": HANGUP_CAUSE}
        outcome, detail = BlockedAction.HANGUP_FAILED, ""
        try:
            reply = await self._ami.action(action, timeout=self._hangup_timeout)
        except AmiUnavailable as exc:
            detail = str(exc)
        except TimeoutError:
            detail = f"no reply to Hangup within {self._hangup_timeout}s"
        else:
            response, message = _get(reply, "Response"), _get(reply, "Message")
            if response == "Success":
                outcome = BlockedAction.HUNG_UP
            elif "no such channel" in message.lower():
                outcome, detail = BlockedAction.ALREADY_ENDED, message
            else:
                detail = f"{response}: {message}"
        reaction = None
        if command.detected_at is not None and command.trigger != SWEEP_TRIGGER:
            reaction = (self._clock() - command.detected_at) * 1000  # a swept channel has none
        return HangupResult(outcome, reaction, (time.monotonic() - seen) * 1000, detail)

    def _record(self, command: HangUp, result: HangupResult) -> None:
        attempt = self.watch.settle(command.uniqueid,
                                    retry_later=result.action == BlockedAction.HANGUP_FAILED)
        if attempt is None:
            return
        details: dict[str, Any] = {
            "channel": attempt.channel, "uniqueid": attempt.uniqueid,
            "linkedid": attempt.linkedid, "trigger": attempt.trigger, "origin": attempt.origin,
            "handled_ms": round(result.handled_ms, 3),
        }
        if attempt.ended_at is not None and attempt.occurred_at is not None:
            details["pbx_lifetime_ms"] = round((attempt.ended_at - attempt.occurred_at) * 1000, 3)
        if result.detail:
            details["hangup_detail"] = result.detail
        if attempt.target_uri:
            details["target_uri"] = attempt.target_uri
        reaction = round(result.reaction_ms, 3) if result.reaction_ms is not None else None
        self._submit(attempt, result.action, reaction, details)

    def _refused(self, attempt: OutboundAttempt, event: AmiEvent) -> None:
        OUTBOUND_BLOCKED.inc()
        self.blocked += 1
        details = {"channel": attempt.channel, "uniqueid": attempt.uniqueid,
                   "linkedid": attempt.linkedid, "context": event.get("Context", ""),
                   "exten": event.get("Exten", "")}
        self._submit(attempt, BlockedAction.REFUSED, None, details)

    def _submit(self, attempt: OutboundAttempt, action: BlockedAction,
                reaction_ms: float | None, details: dict[str, Any]) -> None:
        at = attempt.occurred_at
        occurred = datetime.fromtimestamp(at, UTC) if at is not None else datetime.now(UTC)
        record = BlockedRecord(
            event_key=attempt.key, occurred_at=occurred, method=attempt.method.value,
            action=action.value, source_channel=attempt.source_channel, source=attempt.source,
            dialled_number=attempt.dialled_number, reaction_ms=reaction_ms, details=details,
        )
        log.warning("outbound attempt on the 400 trunk %s: %s by %s to %r (%s)",
                    action.replace("_", " "), record.method, record.source or "unknown",
                    record.dialled_number,
                    f"{reaction_ms:.1f} ms" if reaction_ms is not None else "no reaction time",
                    extra={"blocked_outbound": record.log_fields()})
        self._sink.submit(record)

    # -- sweep and lifecycle -----------------------------------------------------------------

    async def sweep(self, timeout: float = 5.0) -> int:
        """Hang up outbound trunk channels already up: set up during an AMI gap,
        never reported by an event, or whose hang-up failed. Returns how many.
        The listing is read channel by channel (``AmiSupervisor.listing``), none kept."""
        found = 0

        def check(event: AmiEvent) -> None:
            nonlocal found
            if event.get("Event") != "CoreShowChannel":
                return
            # No Timestamp in a listing: its start is now minus its Duration.
            event["Timestamp"] = str(self._clock() - _seconds(event.get("Duration", "")))
            command = self.watch.on_listed_channel(channel_facts(event))
            if command is not None:
                found += 1
                self._block(command)

        await self._ami.listing({"Action": "CoreShowChannels"}, check, timeout=timeout)
        return found

    async def start(self) -> None:
        """Sweep every ``sweep_interval`` seconds (a safety net; events do the work)."""
        self._sweeper.start()

    def readiness(self) -> Readiness:
        return self._sweeper.readiness()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                found = await self.sweep()
            except (AmiUnavailable, TimeoutError):
                continue  # not connected: the sweep at the next login covers it
            except Exception:
                log.exception("outbound sweep failed")
                continue
            if found:
                log.error("periodic sweep found %d outbound channel(s) on the 400 trunk "
                          "the events had not stopped: hanging up", found)

    async def stop(self) -> None:
        """Stop sweeping; cancel hang-ups in flight (each still records what it knows)."""
        await self._sweeper.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _seconds(duration: str) -> float:
    """``01:02:03`` → 3723.0 (0 if it is not that shape)."""
    try:
        hours, minutes, seconds = (int(part) for part in duration.split(":"))
    except ValueError:
        return 0.0
    return float(hours * 3600 + minutes * 60 + seconds)


def _get(message: Any, key: str) -> str:
    try:
        value = message.get(key, "")
    except AttributeError:
        return ""
    return str(value) if value is not None else ""


# -- the start-up check -------------------------------------------------------------------


async def check_trunks(ami: AmiActions, trunks: TrunkSettings,
                       timeout: float = 5.0) -> list[tuple[str, str]]:
    """``(key, problem)`` for each of ``trunks.hotline`` / ``trunks.general`` that is
    not a PJSIP endpoint of the PBX; empty when both exist."""
    problems = []
    for key, name in (("trunks.hotline", trunks.hotline), ("trunks.general", trunks.general)):
        reply = await ami.action({"Action": "PJSIPShowEndpoint", "Endpoint": name},
                                 timeout=timeout)
        first = reply[0] if isinstance(reply, list) and reply else reply
        if _get(first, "Response") != "Success":
            message = _get(first, "Message") or "no such endpoint"
            problems.append((key, f"PJSIP endpoint {name!r} does not exist in Asterisk "
                             f"({message}); define it in pjsip.conf or set {key} to an "
                             f"existing endpoint (see \"pjsip show endpoints\")"))
    return problems


class TrunkCheck:
    """What the last check of ``trunks.hotline`` and ``trunks.general`` found.

    Run after every AMI login; a problem keeps ``/readyz`` at 503 (part of the
    ``ami`` component) until a later check finds both endpoints.
    """

    def __init__(self, trunks: TrunkSettings) -> None:
        self._trunks = trunks
        self.problems: list[tuple[str, str]] = []
        self.checked = asyncio.Event()  # set once the first check has run

    async def run(self, ami: AmiActions) -> None:
        """Check now; an AMI that does not answer keeps the previous result."""
        try:
            self.problems = await check_trunks(ami, self._trunks)
        except (TimeoutError, AmiUnavailable) as exc:
            log.warning("could not check the trunks in Asterisk: %s", exc or "timeout")
        finally:
            self.checked.set()
        for key, problem in self.problems:
            log.error("%s: %s", key, problem)

    def readiness(self) -> Readiness:
        if self.problems:
            return Readiness(False, "; ".join(f"{key}: {problem}"
                                              for key, problem in self.problems))
        return READY
