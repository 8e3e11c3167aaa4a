"""Property tests: the calendar against a naive reference, round trips, the roster chain."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline_pbx.api.schemas.calendar import calendar_from_dict, calendar_to_dict
from hotline_pbx.api.schemas.exceptions import exception_from_dict
from hotline_pbx.api.schemas.override import override_from_dict
from hotline_pbx.api.schemas.roster import roster_from_dict, roster_to_dict
from hotline_pbx.api.schemas.schedule import schedule_from_dict, schedule_to_dict
from hotline_pbx.domain.calendar import (
    BusinessCalendar,
    DateException,
    ExceptionKind,
    Override,
    OverrideMode,
    Schedule,
    TimeRange,
    Weekday,
    WeeklyPeriod,
)
from hotline_pbx.domain.contract import Period, Route
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.roster import Absence, AbsenceReason, Person, Roster
from hotline_pbx.domain.routing import RoutingSnapshot, decide_route

from .helpers import FakeStatutory

PROPS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SLOW_PROPS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# zones with DST at 02:00/03:00, a 30-minute DST shift, DST at midnight (São Paulo
# until 2019: the day started at 01:00) and no DST at all
ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
]
FIRST, LAST = datetime(2015, 1, 1, tzinfo=UTC), datetime(2030, 12, 31, tzinfo=UTC)


def _transitions(zone: ZoneInfo) -> list[datetime]:
    """UTC instants where the zone's offset changes (reference: sample every 12 hours,
    then bisect to the minute)."""

    def offset(at: datetime) -> timedelta | None:
        return at.astimezone(zone).utcoffset()

    found = []
    at = FIRST
    while at < LAST:
        nxt = at + timedelta(hours=12)
        if offset(nxt) != offset(at):
            lo, hi = at, nxt
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) // 2
                mid = mid.replace(second=0, microsecond=0)
                lo, hi = (mid, hi) if offset(mid) == offset(lo) else (lo, mid)
            found.append(hi)
        at = nxt
    return found


TRANSITIONS = {name: _transitions(ZoneInfo(name)) for name in ZONES}


def reference_is_open(weekly: list[WeeklyPeriod], zone: ZoneInfo, at: datetime) -> bool:
    local = at.astimezone(zone)
    minute = local.hour * 60 + local.minute
    return any(p.day == local.weekday() and p.hours.start <= minute < p.hours.end for p in weekly)


@st.composite
def day_ranges(draw: st.DrawFn) -> list[TimeRange]:
    cuts = sorted(draw(st.lists(st.integers(0, 1440), unique=True, max_size=6)))
    ranges = [TimeRange(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
    # sometimes make two neighbours touch (allowed: half-open periods do not overlap)
    if len(ranges) >= 2 and draw(st.booleans()):
        ranges[1] = TimeRange(ranges[0].end, ranges[1].end)
    return ranges


@st.composite
def weekly_periods(draw: st.DrawFn) -> list[WeeklyPeriod]:
    periods = [WeeklyPeriod(day, r) for day in Weekday for r in draw(day_ranges())]
    return draw(st.permutations(periods))


@st.composite
def instants(draw: st.DrawFn, zone_name: str) -> datetime:
    """Any instant, or one within a few hours of a DST transition of the zone."""
    near = TRANSITIONS[zone_name]
    use_near: bool = bool(near) and draw(st.booleans())
    if use_near:
        base = draw(st.sampled_from(near))
        return base + timedelta(minutes=draw(st.integers(-300, 300)))
    return draw(st.datetimes(FIRST.replace(tzinfo=None), LAST.replace(tzinfo=None))).replace(
        tzinfo=UTC
    )


# ------------------------------------------------------------------ calendar vs reference


@PROPS
@given(st.data())
def test_weekly_is_open_matches_reference(data: st.DataObject) -> None:
    zone_name = data.draw(st.sampled_from(ZONES))
    weekly = data.draw(weekly_periods())
    calendar = BusinessCalendar(Schedule(zone_name, tuple(weekly)))
    zone = ZoneInfo(zone_name)
    for _ in range(20):
        at = data.draw(instants(zone_name))
        state = calendar.state_at(at)
        expected = reference_is_open(weekly, zone, at)
        assert state.is_open is expected
        assert state.period is (Period.OPEN if expected else Period.CLOSED)


@SLOW_PROPS
@given(st.data())
def test_next_change_matches_minute_by_minute_scan(data: st.DataObject) -> None:
    zone_name = data.draw(st.sampled_from(ZONES))
    weekly = data.draw(weekly_periods())
    start = data.draw(instants(zone_name)).replace(second=0, microsecond=0)
    local_day = start.astimezone(ZoneInfo(zone_name)).date()
    override = None
    if data.draw(st.booleans()):
        until = start + timedelta(minutes=data.draw(st.integers(-60, 3 * 24 * 60)))
        override = Override(data.draw(st.sampled_from(list(OverrideMode))), until)
    holiday = local_day + timedelta(days=data.draw(st.integers(0, 2)))
    workday = local_day + timedelta(days=data.draw(st.integers(0, 2)))
    statutory = FakeStatutory(
        holidays={holiday}, workdays={workday} - {holiday}, years={holiday.year, workday.year}
    )
    exceptions: tuple[DateException, ...] = ()
    if data.draw(st.booleans()):
        exception_day = local_day + timedelta(days=data.draw(st.integers(0, 2)))
        ranges = tuple(data.draw(day_ranges()))
        kind = ExceptionKind.OPEN if ranges else ExceptionKind.CLOSED
        exceptions = (DateException(exception_day, kind, ranges),)
    calendar = BusinessCalendar(Schedule(zone_name, tuple(weekly)), exceptions, override, statutory)

    horizon = timedelta(days=2)
    current = calendar.state_at(start)
    expected = None
    at = start
    while at < start + horizon:
        at += timedelta(minutes=1)
        state = calendar.state_at(at)
        if (state.is_open, state.period) != (current.is_open, current.period):
            expected = at
            break
    change = calendar.next_change(start, horizon=horizon)
    if expected is None:
        assert change is None
    else:
        assert change is not None
        assert change.at == expected
        assert change.state == calendar.state_at(expected)


# ------------------------------------------------------------------ round trips


@PROPS
@given(st.sampled_from(ZONES), weekly_periods(), st.none() | day_ranges().filter(bool))
def test_schedule_round_trip(
    zone_name: str, weekly: list[WeeklyPeriod], workday: list[TimeRange] | None
) -> None:
    schedule = Schedule(zone_name, tuple(weekly), None if workday is None else tuple(workday))
    data = schedule_to_dict(schedule)
    assert schedule_from_dict(data) == schedule
    assert schedule_to_dict(schedule_from_dict(data)) == data


notes = st.text(st.characters(max_codepoint=0x2FFF, exclude_categories=("Cc", "Cs")), max_size=30)


@st.composite
def exceptions(draw: st.DrawFn) -> tuple[DateException, ...]:
    days = draw(st.lists(st.dates(date(2000, 1, 1), date(2100, 12, 31)), unique=True, max_size=5))
    result = []
    for day in days:
        ranges = tuple(draw(day_ranges()))
        kind = ExceptionKind.OPEN if ranges else ExceptionKind.CLOSED
        result.append(DateException(day, kind, ranges, draw(notes)))
    return tuple(result)


@st.composite
def overrides(draw: st.DrawFn) -> Override | None:
    if draw(st.booleans()):
        return None
    offset = timedelta(minutes=draw(st.integers(-14 * 60, 14 * 60)))
    until = draw(st.datetimes(datetime(2001, 1, 1), datetime(2099, 1, 1)))
    return Override(
        draw(st.sampled_from(list(OverrideMode))),
        until.replace(tzinfo=timezone(offset)),
        draw(notes),
    )


@PROPS
@given(weekly_periods(), exceptions(), overrides())
def test_calendar_round_trip(
    weekly: list[WeeklyPeriod], excs: tuple[DateException, ...], override: Override | None
) -> None:
    calendar = BusinessCalendar(Schedule(weekly=tuple(weekly)), excs, override)
    data = calendar_to_dict(calendar)
    again = calendar_from_dict(data)
    assert again == calendar
    assert calendar_to_dict(again) == data


# ------------------------------------------------------------------ roster


@st.composite
def rosters(draw: st.DrawFn) -> Roster:
    count = draw(st.integers(0, 6))
    people = [Person(f"p{i}", f"Person {i}", f"1380000{i:04d}") for i in range(count)]
    has_supervisor = bool(people) and draw(st.booleans())
    supervisor = people[0] if has_supervisor else None
    deputies = tuple(people[1:] if has_supervisor else people)
    absences = []
    base = datetime(2026, 10, 1, tzinfo=UTC)
    for _ in range(draw(st.integers(0, 8)) if people else 0):
        who = draw(st.sampled_from(people))
        start = base + timedelta(hours=draw(st.integers(-48, 48)))
        end = None if draw(st.booleans()) else start + timedelta(hours=draw(st.integers(1, 72)))
        absences.append(Absence(who.id, start, end, draw(st.sampled_from(list(AbsenceReason)))))
    return Roster(supervisor, deputies, tuple(absences))


@PROPS
@given(rosters(), st.integers(-72, 72))
def test_failover_chain_skips_exactly_the_absent_and_keeps_order(
    roster: Roster, hours: int
) -> None:
    at = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(hours=hours)
    chain = roster.failover_chain(at)
    everyone = [p for _, p in roster.people]
    absent = {
        a.person_id for a in roster.absences if a.start <= at and (a.end is None or at < a.end)
    }
    assert all(p.id not in absent for p in chain)
    assert list(chain) == [p for p in everyone if p.id not in absent]
    if roster.supervisor is not None and roster.supervisor.id not in absent:
        assert chain[0] == roster.supervisor


@PROPS
@given(rosters())
def test_roster_round_trip(roster: Roster) -> None:
    data = roster_to_dict(roster)
    assert roster_from_dict(data) == roster
    assert roster_to_dict(roster_from_dict(data)) == data


@PROPS
@given(rosters(), weekly_periods(), st.integers(-72, 72))
def test_route_agrees_with_calendar_and_chain(
    roster: Roster, weekly: list[WeeklyPeriod], hours: int
) -> None:
    calendar = BusinessCalendar(Schedule(weekly=tuple(weekly)))
    at = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(hours=hours)
    decision = decide_route(RoutingSnapshot(calendar, roster), at)
    chain = roster.failover_chain(at)
    if calendar.is_open(at):
        assert decision.route is Route.QUEUE and decision.targets == ()
    elif chain:
        assert decision.route is Route.FORWARD
        assert [t.person_id for t in decision.targets] == [p.id for p in chain]
    else:
        assert decision.route is Route.CLOSED and decision.targets == ()


# ------------------------------------------------------------------ fuzzing: only ValidationError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
times = (
    st.sampled_from(["08:30", "24:00", "25:00", "12:60", "00:00", "7:05", "", "x"]) | json_values
)
shaped_period = st.fixed_dictionaries(
    {},
    optional={
        "day": st.sampled_from(["mon", "sun", "Mon", "xx"]) | json_values,
        "start": times,
        "end": times,
        "note": json_values,
    },
)
shaped_schedule = st.fixed_dictionaries(
    {},
    optional={
        "timezone": st.sampled_from([*ZONES, "Nowhere/Town", "..", "", "UTC"]) | json_values,
        "weekly": st.lists(shaped_period | json_values, max_size=6) | json_values,
        "workday_periods": st.none() | st.lists(shaped_period, max_size=3) | json_values,
        "extra": json_values,
    },
)


def _only_validation_errors(parse: Any, data: Any) -> None:
    try:
        parse(data)
    except ValidationError as error:
        for problem in error.errors:
            assert isinstance(problem.field, str)
            assert problem.reason and problem.example


@PROPS
@given(shaped_schedule | json_values)
def test_schedule_garbage_raises_only_validation_errors(data: Any) -> None:
    _only_validation_errors(schedule_from_dict, data)


shaped_person = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(["a", "b", "", "a b"]) | json_values,
        "name": json_values,
        "mobile": st.sampled_from(["13800000001", "+86", "x", "13800000001"]) | json_values,
    },
)
shaped_absence = st.fixed_dictionaries(
    {},
    optional={
        "person_id": st.sampled_from(["a", "b", "zz"]) | json_values,
        "from": st.sampled_from(["2026-10-01T00:00:00+08:00", "2026-10-01T00:00:00"]) | json_values,
        "to": st.sampled_from(["2026-09-01T00:00:00+08:00", "2026-11-01T00:00:00Z"]) | json_values,
        "reason": st.sampled_from(["leave", "sick"]) | json_values,
    },
)
shaped_roster = st.fixed_dictionaries(
    {},
    optional={
        "supervisor": shaped_person | json_values,
        "deputies": st.lists(shaped_person, max_size=3) | json_values,
        "absences": st.lists(shaped_absence, max_size=3) | json_values,
    },
)


@PROPS
@given(shaped_roster | json_values)
def test_roster_garbage_raises_only_validation_errors(data: Any) -> None:
    _only_validation_errors(roster_from_dict, data)


@PROPS
@given(json_values)
def test_exception_and_override_garbage_raise_only_validation_errors(data: Any) -> None:
    _only_validation_errors(exception_from_dict, data)
    _only_validation_errors(override_from_dict, data)
