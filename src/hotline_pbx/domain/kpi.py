"""The KPI set of docs/kpi.md, as a value, and its definition in plain Python.

:func:`kpis_from_records` is the reference: the SQL of
:mod:`hotline_pbx.store.stats` must give the same numbers for the same calls
(the integration tests check it on random call mixes), and the Prometheus
rules apply the same formulas to the counters.

* offered = calls that reached routing (period not ``unrouted``), test calls excluded
* countable = offered − short_abandoned
* answer rate = answered / countable
* service level = answered with wait ≤ service_level_seconds / countable
* abandon rate = abandoned / countable
* ASA = mean wait of answered calls

A rate over no countable call is ``None`` (no value), not 0 and not 100 %.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .call_record import CallRecord
from .contract import Outcome

__all__ = ["KpiSet", "kpis_from_counts", "kpis_from_records"]


@dataclass(frozen=True, slots=True)
class KpiSet:
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    missed: int
    answered_within_service_level: int
    answer_rate: float | None
    service_level: float | None
    abandon_rate: float | None
    asa_seconds: float | None
    mean_talk_seconds: float | None

    @property
    def countable(self) -> int:
        return self.offered - self.short_abandoned

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None


def kpis_from_counts(*, answered: int, abandoned: int, short_abandoned: int, missed: int,
                     answered_within_service_level: int, wait_sum_answered: float,
                     talk_sum_answered: float) -> KpiSet:
    offered = answered + abandoned + short_abandoned + missed
    countable = offered - short_abandoned
    return KpiSet(
        offered=offered,
        answered=answered,
        abandoned=abandoned,
        short_abandoned=short_abandoned,
        missed=missed,
        answered_within_service_level=answered_within_service_level,
        answer_rate=_ratio(answered, countable),
        service_level=_ratio(answered_within_service_level, countable),
        abandon_rate=_ratio(abandoned, countable),
        asa_seconds=wait_sum_answered / answered if answered else None,
        mean_talk_seconds=talk_sum_answered / answered if answered else None,
    )


def kpis_from_records(records: Iterable[CallRecord], service_level_seconds: float) -> KpiSet:
    """The definition: only offered calls (routed, not line-monitor tests) count."""
    counts = dict.fromkeys(Outcome, 0)
    within = 0
    wait_sum = talk_sum = 0.0
    for record in records:
        if not record.offered:
            continue
        counts[record.outcome] += 1
        if record.outcome is Outcome.ANSWERED:
            wait_sum += record.wait_seconds
            talk_sum += record.talk_seconds or 0.0
            if record.wait_seconds <= service_level_seconds:
                within += 1
    return kpis_from_counts(
        answered=counts[Outcome.ANSWERED], abandoned=counts[Outcome.ABANDONED],
        short_abandoned=counts[Outcome.SHORT_ABANDONED], missed=counts[Outcome.MISSED],
        answered_within_service_level=within, wait_sum_answered=wait_sum,
        talk_sum_answered=talk_sum,
    )
