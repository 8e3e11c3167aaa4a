"""The staffing advisor: agents needed per half hour to hold the answer-rate floor
and the service-level target, by Erlang A (:mod:`hotline_pbx.domain.erlang`).

Input: per (weekday, half hour) the recorded open-period calls of the working
days in the window (short abandons left out, as the answer rate leaves them
out) and how many working days of that weekday the window held. Per slot:

* arrivals per hour = calls / (working days of the weekday × 0.5 h): the mean
  over the weeks, a day without calls counting as zero;
* AHT = mean talk time of the answered calls;
* patience θ̂ = abandons / total time waited by every caller, answered,
  abandoned and missed alike: the maximum-likelihood estimate of an
  exponential patience rate from censored waits (an answered caller's wait is
  a lower bound of its patience). See Brown, Gans, Mandelbaum, Sakov, Shen,
  Zeltyn and Zhao, "Statistical analysis of a telephone call center: a
  queueing-science perspective", JASA 100(469), 2005, section 6, and
  Mandelbaum & Zeltyn (2009) on E[wait] = P(abandon)/θ.

A slot with too few answered calls or abandons of its own to estimate from
uses the whole window's value (``MIN_SAMPLES``). Then the smallest n with
answer rate ≥ the floor and service level ≥ the target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .contract import ANSWER_RATE_FLOOR, SERVICE_LEVEL_TARGET
from .erlang import QueueFigures, erlang_a
from .queue_state import DeviceState, Member

__all__ = ["Advice", "LoggedIn", "SlotAdvice", "SlotHistory", "advise", "agents_needed",
           "logged_in", "patience_rate", "slot_label"]

SLOT_SECONDS = 1800
SLOTS_PER_DAY = 48
#: A slot estimates its own AHT (patience) from at least this many answered calls
#: (abandons); below it, the whole window's.
MIN_SAMPLES = 10
#: The most agents the advisor looks at for one half hour.
MAX_AGENTS = 2000


#: The weekday keys of the advice (``date.weekday()`` order), as the API writes them.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

@dataclass(frozen=True, slots=True)
class SlotHistory:
    """The recorded calls of one (weekday, half hour) over the window's working days."""

    weekday: int  # 0 = Monday
    slot: int  # 0..47: the half hour starting at slot × 30 minutes
    days: int  # working days of this weekday in the window
    calls: int  # arrivals (short abandons excluded)
    answered: int
    abandoned: int
    answered_within: int  # within kpi.service_level_seconds
    talk_sum: float  # of answered calls
    wait_sum: float  # of every call


@dataclass(frozen=True, slots=True)
class SlotAdvice:
    weekday: int
    slot: int
    calls: int
    arrivals_per_hour: float
    aht_seconds: float | None
    patience_seconds: float | None  # 1/θ; None: nobody abandoned (Erlang C)
    agents_needed: int | None  # None: no handle time known
    predicted: QueueFigures | None
    observed_answer_rate: float | None
    observed_service_level: float | None


@dataclass(frozen=True, slots=True)
class Advice:
    rows: tuple[SlotAdvice, ...]
    aht_seconds: float | None
    patience_seconds: float | None
    calls: int


def slot_label(slot: int) -> str:
    return f"{slot // 2:02d}:{30 * (slot % 2):02d}"


def patience_rate(abandoned: int, wait_sum: float) -> float:
    """θ̂ = abandons / total time waited (per second); 0 when nobody abandoned."""
    if abandoned <= 0:
        return 0.0
    return abandoned / max(wait_sum, 1.0)


def _meets(figures: QueueFigures, floor: float, target: float) -> bool:
    return figures.answer_rate >= floor and figures.service_level >= target


def agents_needed(arrival_rate: float, service_rate: float, theta: float,
                  target_seconds: float, *, floor: float = ANSWER_RATE_FLOOR,
                  target: float = SERVICE_LEVEL_TARGET) -> tuple[int, QueueFigures]:
    """The smallest n meeting both goals, and the figures at n.

    Starts at ⌊floor·a⌋ (n agents answer at most nμ/λ of the callers) and
    counts up: both figures grow with n."""
    load = arrival_rate / service_rate
    n = max(1, int(floor * load))
    while n <= MAX_AGENTS:
        figures = erlang_a(arrival_rate, service_rate, theta, n, target_seconds)
        if _meets(figures, floor, target):
            return n, figures
        n += 1
    raise ValueError(f"more than {MAX_AGENTS} agents would be needed for "
                     f"{arrival_rate * 3600:.0f} calls an hour")


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def _slot(row: SlotHistory, aht: float | None, theta: float, target_seconds: float,
          floor: float, target: float) -> SlotAdvice:
    own_aht = _ratio(row.talk_sum, row.answered) if row.answered >= MIN_SAMPLES else None
    own_theta = (patience_rate(row.abandoned, row.wait_sum)
                 if row.abandoned >= MIN_SAMPLES else None)
    slot_aht = own_aht or aht
    slot_theta = theta if own_theta is None else own_theta
    rate = row.calls / (max(row.days, 1) * SLOT_SECONDS)
    needed: int | None = None
    figures: QueueFigures | None = None
    if slot_aht and rate > 0:
        needed, figures = agents_needed(rate, 1 / slot_aht, slot_theta, target_seconds,
                                        floor=floor, target=target)
    return SlotAdvice(
        weekday=row.weekday, slot=row.slot, calls=row.calls,
        arrivals_per_hour=rate * 3600, aht_seconds=slot_aht,
        patience_seconds=1 / slot_theta if slot_theta > 0 else None,
        agents_needed=needed, predicted=figures,
        observed_answer_rate=_ratio(row.answered, row.calls),
        observed_service_level=_ratio(row.answered_within, row.calls))


def advise(history: Iterable[SlotHistory], *, service_level_seconds: float,
           floor: float = ANSWER_RATE_FLOOR, target: float = SERVICE_LEVEL_TARGET) -> Advice:
    """One row per (weekday, half hour) with calls, in week order."""
    rows = sorted((h for h in history if h.calls > 0), key=lambda h: (h.weekday, h.slot))
    answered = sum(h.answered for h in rows)
    aht = _ratio(sum(h.talk_sum for h in rows), answered)
    theta = patience_rate(sum(h.abandoned for h in rows), sum(h.wait_sum for h in rows))
    advice = tuple(_slot(h, aht, theta, service_level_seconds, floor, target) for h in rows)
    return Advice(advice, aht, 1 / theta if theta > 0 else None, sum(h.calls for h in rows))


@dataclass(frozen=True, slots=True)
class LoggedIn:
    """Queue members now: logged in (device reachable), of them paused, and free."""

    agents: int
    paused: int
    free: int


_ABSENT = frozenset({DeviceState.UNAVAILABLE, DeviceState.INVALID})


def logged_in(members: Iterable[Member]) -> LoggedIn:
    """Each interface once (a member of several watched queues is one agent)."""
    present: dict[str, Member] = {}
    for member in members:
        if member.state not in _ABSENT:
            present.setdefault(member.interface, member)
    agents = present.values()
    return LoggedIn(len(present), sum(m.paused for m in agents), sum(m.free for m in agents))
