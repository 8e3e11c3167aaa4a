"""The staffing advisor's pure part (hotline_pbx.domain.staffing)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_pbx.domain.erlang import erlang_a
from hotline_pbx.domain.queue_state import DeviceState, Member
from hotline_pbx.domain.staffing import (
    SlotHistory,
    advise,
    agents_needed,
    logged_in,
    patience_rate,
    slot_label,
)


@settings(max_examples=40, deadline=None)
@given(per_hour=st.floats(min_value=1, max_value=600), aht=st.floats(min_value=60, max_value=600),
       patience=st.floats(min_value=20, max_value=600))
def test_agents_needed_is_the_fewest_meeting_both_goals(per_hour: float, aht: float,
                                                        patience: float) -> None:
    lam, mu, theta = per_hour / 3600, 1 / aht, 1 / patience
    n, figures = agents_needed(lam, mu, theta, 20.0)
    assert figures.answer_rate >= 0.85 and figures.service_level >= 0.8
    if n > 1:
        fewer = erlang_a(lam, mu, theta, n - 1, 20.0)
        assert fewer.answer_rate < 0.85 or fewer.service_level < 0.8


def test_the_patience_estimator_counts_every_callers_wait() -> None:
    assert patience_rate(3, 600.0) == 3 / 600
    assert patience_rate(0, 600.0) == 0.0


def test_advice_per_slot_falls_back_to_the_window_for_small_samples() -> None:
    rows = [SlotHistory(0, 20, 4, 80, 70, 10, 60, 70 * 200.0, 80 * 20.0),
            SlotHistory(1, 21, 4, 4, 3, 1, 3, 3 * 100.0, 4 * 10.0),
            SlotHistory(2, 22, 4, 0, 0, 0, 0, 0.0, 0.0)]
    advice = advise(rows, service_level_seconds=20.0)
    assert [(r.weekday, slot_label(r.slot)) for r in advice.rows] == [(0, "10:00"),
                                                                       (1, "10:30")]
    busy, quiet = advice.rows
    assert busy.arrivals_per_hour == 80 / 4 * 2 and busy.aht_seconds == 200.0
    assert busy.patience_seconds == 1600 / 10
    assert quiet.aht_seconds == advice.aht_seconds == (70 * 200 + 300) / 73
    assert quiet.patience_seconds == advice.patience_seconds == 1640 / 11
    assert busy.agents_needed is not None and busy.agents_needed >= 2


def test_no_history_no_rows() -> None:
    advice = advise([], service_level_seconds=20.0)
    assert advice.rows == () and advice.aht_seconds is None and advice.calls == 0


def test_logged_in_counts_each_reachable_interface_once() -> None:
    members = [Member("hotline", "Local/a@x", state=DeviceState.NOT_INUSE),
               Member("other", "Local/a@x", state=DeviceState.NOT_INUSE),
               Member("hotline", "Local/b@x", state=DeviceState.INUSE, paused=True),
               Member("hotline", "Local/c@x", state=DeviceState.UNAVAILABLE)]
    seen = logged_in(members)
    assert (seen.agents, seen.paused, seen.free) == (2, 1, 1)
