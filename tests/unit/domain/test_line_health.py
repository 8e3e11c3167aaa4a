"""The line-health rule: when a test is due, what a failed test means, which faults are open."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.domain.line_health import (
    CallTestResult,
    FaultBook,
    FaultCause,
    FaultSource,
    OpenFault,
    Schedule,
    TestWindow,
    cause_of_hangup,
    check_number,
    is_test_due,
    same_number,
)

SCHEDULE = Schedule(test_after=1800, test_timeout=20, retest_every=300)
times = st.floats(min_value=0, max_value=10**9, allow_nan=False)


def result(cause: FaultCause | None, at: float = 100.0) -> CallTestResult:
    return CallTestResult(at, at + 1, cause)


@given(now=times, last=times, is_open=st.booleans())
def test_nothing_is_due_on_a_healthy_line_outside_open_hours(now: float, last: float,
                                                             is_open: bool) -> None:
    due = is_test_due(now, is_open=False, last_activity=last, last_test=None,
                      test_fault_open=False, schedule=SCHEDULE)
    assert due is False


@given(quiet=st.floats(min_value=0, max_value=10**6), start=times)
def test_a_quiet_open_line_is_tested_once_quiet_for_test_after(quiet: float,
                                                               start: float) -> None:
    due = is_test_due(start + quiet, is_open=True, last_activity=start, last_test=None,
                      test_fault_open=False, schedule=SCHEDULE)
    assert due == (quiet >= SCHEDULE.test_after)


def test_a_passed_test_counts_as_activity() -> None:
    kwargs = {"is_open": True, "last_activity": 0.0, "test_fault_open": False,
              "schedule": SCHEDULE}
    assert is_test_due(2000, last_test=None, **kwargs)  # type: ignore[arg-type]
    assert not is_test_due(2000, last_test=1900, **kwargs)  # type: ignore[arg-type]
    assert is_test_due(1900 + 1800, last_test=1900, **kwargs)  # type: ignore[arg-type]


@given(is_open=st.booleans(), since=st.floats(min_value=0, max_value=10_000))
def test_an_open_test_fault_is_retested_every_retest_every_at_any_hour(is_open: bool,
                                                                       since: float) -> None:
    due = is_test_due(1000 + since, is_open=is_open, last_activity=0, last_test=1000,
                      test_fault_open=True, schedule=SCHEDULE)
    assert due == (since >= SCHEDULE.retest_every)


@pytest.mark.parametrize(("q850", "cause"), [
    (17, FaultCause.BUSY), (34, FaultCause.CONGESTION), (38, FaultCause.CONGESTION),
    (1, FaultCause.GENERAL_TRUNK_UNAVAILABLE), (20, FaultCause.GENERAL_TRUNK_UNAVAILABLE),
    (16, FaultCause.NOT_ARRIVED), (19, FaultCause.NOT_ARRIVED), (None, FaultCause.NOT_ARRIVED),
])
def test_the_hangup_cause_names_the_fault(q850: int | None, cause: FaultCause) -> None:
    assert cause_of_hangup(q850) is cause


def test_a_failed_test_opens_one_fault_and_a_pass_closes_it() -> None:
    book = FaultBook()
    [change] = book.after_test(result(FaultCause.BUSY))
    assert change.open is FaultCause.BUSY and change.close is None
    fault = OpenFault(1, FaultCause.BUSY, 100.0)
    book.opened(fault)
    assert not book.line_up
    assert book.after_test(result(FaultCause.BUSY)) == []  # the same fault goes on
    [closing] = book.after_test(result(None))
    assert closing.close == fault
    book.closed(fault)
    assert book.line_up and book.after_test(result(None)) == []


def test_a_new_cause_ends_the_fault_and_opens_one_of_its_own() -> None:
    book = FaultBook((OpenFault(1, FaultCause.BUSY, 1.0),))
    close, open_ = book.after_test(result(FaultCause.NOT_ARRIVED))
    assert close.close is not None and close.close.cause is FaultCause.BUSY
    assert open_.open is FaultCause.NOT_ARRIVED


def test_a_real_call_closes_the_test_fault_but_not_the_trunk_fault() -> None:
    test_fault = OpenFault(1, FaultCause.NOT_ARRIVED, 1.0)
    trunk_fault = OpenFault(2, FaultCause.CARRIER_UNREACHABLE, 1.0)
    book = FaultBook((test_fault, trunk_fault))
    assert [c.close for c in book.after_real_call()] == [test_fault]
    assert book.open_of(FaultSource.TRUNK) == trunk_fault


def test_the_trunk_state_opens_and_closes_its_own_fault() -> None:
    book = FaultBook()
    assert book.after_trunk_state(True) == []
    [change] = book.after_trunk_state(False)
    assert change.open is FaultCause.CARRIER_UNREACHABLE
    fault = OpenFault(3, FaultCause.CARRIER_UNREACHABLE, 5.0)
    book.opened(fault)
    assert book.after_trunk_state(False) == []  # still down: the same fault
    assert [c.close for c in book.after_trunk_state(True)] == [fault]


@given(st.lists(st.one_of(st.none(), st.sampled_from(list(FaultCause)[:-1])), max_size=30))
def test_at_most_one_fault_per_source_whatever_the_results(causes: list[FaultCause | None]
                                                           ) -> None:
    book = FaultBook()
    for n, cause in enumerate(causes):
        for change in book.after_test(result(cause)):
            if change.close is not None:
                book.closed(change.close)
            if change.open is not None:
                book.opened(OpenFault(n, change.open, float(n)))
        assert len(book.open_faults) <= 1
        assert book.line_up == (cause is None)


def test_the_window_recognises_the_test_caller_only_while_open() -> None:
    window = TestWindow("01012345678")
    assert not window.is_test_call("01012345678", 10.0)
    window.open(until=30.0)
    assert window.is_test_call("010 1234 5678", 10.0)  # written with spaces
    assert not window.is_test_call("13800138000", 10.0)  # a customer
    assert not window.is_test_call("01012345678", 31.0)  # the window is over
    window.close()
    assert not window.is_test_call("01012345678", 10.0)


@pytest.mark.parametrize("value", ["", "+", "400 800 1234", "4008-001234", "12", "１２３４",
                                   "4" * 21, "PJSIP/400@carrier"])
def test_numbers_that_cannot_be_dialled_are_refused(value: str) -> None:
    assert check_number(value) is not None


@pytest.mark.parametrize("value", ["4008001234", "+8613800138000", "110"])
def test_dialable_numbers_pass(value: str) -> None:
    assert check_number(value) is None


def test_same_number_compares_digits() -> None:
    assert same_number("+86 138 0013 8000", "8613800138000")
    assert not same_number("", "")
    assert not same_number("4008001234", "4008001235")


def test_a_roster_may_not_give_anyone_the_test_number() -> None:
    from hotline_pbx.domain.errors import ValidationError
    from hotline_pbx.domain.line_health import check_roster_spares
    from hotline_pbx.domain.roster import Person, Roster

    roster = Roster(supervisor=Person("li", "Li", "+8613800138000"),
                    deputies=(Person("wang", "Wang", "13900001111"),
                              Person("zhao", "Zhao", "4008001234")))
    with pytest.raises(ValidationError) as caught:
        check_roster_spares(roster, "4008001234")
    assert caught.value.errors[0].field == "deputies[1].mobile"
    check_roster_spares(roster, "4008009999")  # anyone else's number is fine
