"""The wallboard: today's tally and the board (pure), the feed's bounded viewers
(a viewer that stops reading is dropped, the others keep theirs), the login
sessions (expiry, bound, forged ids, CSRF), and the console's words."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.api.sessions import SessionStore
from hotline_pbx.config import load_settings
from hotline_pbx.console.labels import EN, ZH
from hotline_pbx.console.wallboard import Wallboard
from hotline_pbx.domain.call_record import CallRecord
from hotline_pbx.domain.call_tracker import Call, CallState
from hotline_pbx.domain.contract import Outcome, Period
from hotline_pbx.domain.wallboard import TodayTally
from hotline_pbx.store.config_repo import build_snapshot, default_config

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=ZONE)  # a Thursday, open hours


def record(outcome: Outcome, *, period: Period = Period.OPEN, wait: float = 5.0,
           started: datetime = NOW, is_test: bool = False) -> CallRecord:
    return CallRecord(
        call_key=f"k{id(object())}", linkedid="l", uniqueid="u", caller="13800138000",
        caller_name="", dnid="", started_at=started, routed_at=started,
        answered_at=started if outcome is Outcome.ANSWERED else None, ended_at=started,
        period=period, route="queue", outcome=outcome, wait_seconds=wait,
        talk_seconds=30.0 if outcome is Outcome.ANSWERED else None, answered_by=None,
        answered_role=None, failover_attempts=0, hangup_side=None, hangup_cause=None,
        is_test=is_test)


def test_the_tally_counts_open_hours_and_starts_again_at_midnight() -> None:
    tally = TodayTally(NOW.date(), 20.0)
    for outcome in (Outcome.ANSWERED, Outcome.ANSWERED, Outcome.ABANDONED,
                    Outcome.SHORT_ABANDONED):
        tally.add(record(outcome), NOW.date())
    tally.add(record(Outcome.ANSWERED, wait=40.0), NOW.date())
    tally.add(record(Outcome.ANSWERED, period=Period.CLOSED), NOW.date())
    tally.add(record(Outcome.ANSWERED, is_test=True), NOW.date())
    tally.add(record(Outcome.ANSWERED, period=Period.UNROUTED), NOW.date())
    k = tally.kpis()
    assert (k.offered, k.answered, k.abandoned, k.short_abandoned) == (5, 3, 1, 1)
    assert k.answer_rate == 3 / 4 and k.service_level == 2 / 4
    assert (tally.all_periods, tally.after_hours) == (6, 1)
    tally.add(record(Outcome.ANSWERED), NOW.date() - timedelta(days=1))  # yesterday's, late
    assert tally.kpis().offered == 5
    tally.add(record(Outcome.MISSED), NOW.date() + timedelta(days=1))
    assert (tally.day, tally.kpis().offered, tally.kpis().missed) == (
        NOW.date() + timedelta(days=1), 1, 1)


@dataclass
class Calls:
    calls: dict[str, Call] = field(default_factory=dict)


@dataclass
class Routing:
    snapshot: object


def wallboard(calls: Calls, clock: list[float], buffer: int = 2) -> Wallboard:
    settings = load_settings(None, {"HOTLINE_AMI_SECRET": "x"})
    snapshot = build_snapshot(default_config(settings), settings, version=1)
    return Wallboard(calls=calls, routing=Routing(snapshot), zone=ZONE,  # type: ignore[arg-type]
                     service_level_seconds=20.0, interval=0.05, buffer=buffer, max_viewers=3,
                     clock=lambda: clock[0])


@contextlib.asynccontextmanager
async def running_board() -> AsyncIterator[Wallboard]:
    """A started board with no calls up and no line monitor, stopped after."""
    board = wallboard(Calls(), [NOW.timestamp()])
    board.line = None
    await board.start()
    try:
        yield board
    finally:
        await board.stop()


def test_the_board_shows_waiting_calls_and_no_number() -> None:
    calls = Calls()
    clock = [NOW.timestamp()]
    board = wallboard(calls, clock)
    waiting = Call("l1", "u1", "SIP/x", NOW.timestamp() - 50, caller="13800138000",
                   in_queue=True, queued_at=NOW.timestamp() - 42)
    talking = Call("l2", "u2", "SIP/y", NOW.timestamp() - 100, caller="13900139000",
                   answered_at=NOW.timestamp() - 80, long_call=True,
                   state=CallState.ANSWERED)
    test = Call("l3", "u3", "SIP/z", NOW.timestamp() - 5, is_test=True, in_queue=True)
    calls.calls.update(l1=waiting, l2=talking, l3=test)
    b = board.build().to_dict()
    assert (b["waiting"], b["longest_wait_seconds"], b["in_progress"], b["answered_now"],
            b["long_calls"]) == (1, 42, 2, 1, 1)
    assert b["open"] is True and b["next_change"]["open"] is False  # lunch at 12:00
    assert b["next_change"]["at"].startswith("2026-12-03T12:00")
    text = json.dumps(b)
    assert "13800138000" not in text and "13900139000" not in text
    assert b["today"]["answer_rate"] is None and b["line"] == {"up": None, "open_fault": None}


async def test_a_viewer_that_stops_reading_is_dropped_and_the_others_are_not() -> None:
    calls = Calls()
    clock = [NOW.timestamp()]
    board = wallboard(calls, clock, buffer=2)
    reader, stuck = board.join(), board.join()
    assert reader is not None and stuck is not None
    for i in range(5):  # five changes: the stuck viewer's two places fill
        clock[0] += 1
        calls.calls[f"c{i}"] = Call(f"c{i}", f"u{i}", "SIP/x", clock[0])
        board.publish()
        while not reader.queue.empty():
            reader.queue.get_nowait()
    assert stuck.dropped and not reader.dropped
    assert board.viewers == 1 and board.dropped == 1
    assert board.join() is not None and board.join() is not None
    assert board.join() is None  # max_viewers = 3


async def test_an_ended_call_is_on_the_board_at_once() -> None:
    async with running_board() as board:
        viewer = board.join()
        assert viewer is not None
        first = json.loads(await asyncio.wait_for(viewer.queue.get(), 1))
        assert first["today"]["offered"] == 0
        board.call_ended(record(Outcome.ANSWERED))
        nxt = json.loads(await asyncio.wait_for(viewer.queue.get(), 1))
        assert (nxt["today"]["offered"], nxt["today"]["answer_rate"]) == (1, 1.0)


def test_sessions_expire_are_bounded_and_never_found_by_a_forged_id() -> None:
    now = [1000.0]
    store = SessionStore(lifetime=60, max_sessions=2, clock=lambda: now[0])
    a = store.open("hash-a")
    assert store.find(a.id) == a
    assert store.find(a.id + "x") is None and store.find("") is None
    assert store.find("x" * 500) is None
    assert a.csrf_matches(a.csrf) and not a.csrf_matches(None) and not a.csrf_matches("")
    b = store.open("hash-b")
    c = store.open("hash-c")  # the bound: the oldest login goes
    assert store.find(a.id) is None and store.find(b.id) == b and len(store) == 2
    now[0] += 61
    assert store.find(b.id) is None and store.find(c.id) is None
    d, e = store.open("hash-d"), store.open("hash-d")
    store.close_token("hash-d")
    assert store.find(d.id) is None and store.find(e.id) is None


@given(st.text(max_size=200))
def test_no_made_up_cookie_finds_a_session(cookie: str) -> None:
    store = SessionStore(lifetime=60, max_sessions=10)
    store.open("hash")
    assert store.find(cookie) is None


def test_both_languages_have_every_console_word() -> None:
    assert set(ZH) == set(EN) and all(ZH.values()) and all(EN.values())


def test_the_tally_day_is_local() -> None:
    late = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)  # 00:30 on the 4th in Shanghai
    board = wallboard(Calls(), [late.timestamp()])
    assert board.tally.day == date(2026, 12, 4)


def test_a_blocked_attempt_is_written_and_counted_today() -> None:
    from hotline_pbx.console.wallboard import BlockedTee
    from hotline_pbx.store.blocked_repo import BlockedRecord

    written: list[BlockedRecord] = []

    class Writer:
        def submit(self, record: BlockedRecord) -> None:
            written.append(record)

    board = wallboard(Calls(), [NOW.timestamp()])
    tee = BlockedTee(Writer(), board)
    attempt = BlockedRecord("e1", NOW, "dial", "hung_up")
    tee.submit(attempt)
    tee.submit(BlockedRecord("e0", NOW - timedelta(days=1), "dial", "refused"))  # yesterday's
    assert written == [attempt, written[1]] and len(written) == 2
    assert board.build().to_dict()["today"]["blocked_outbound"] == 1


async def test_who_joins_an_unwatched_board_sees_it_as_it_is_now() -> None:
    """While nobody watches the board is not rebuilt: the next viewer's first
    board is made when they join, with the calls that ended unwatched."""
    async with running_board() as board:
        first = board.join()
        assert first is not None
        assert json.loads(first.queue.get_nowait())["today"]["offered"] == 0
        board.leave(first)
        board.call_ended(record(Outcome.ANSWERED))
        again = board.join()
        assert again is not None
        assert json.loads(again.queue.get_nowait())["today"]["offered"] == 1
