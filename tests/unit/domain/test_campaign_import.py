"""Row checks of a campaign's customer list (hotline_pbx.domain.campaign_import)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.domain.campaign_import import check_rows


def test_each_refusal_names_its_line_and_the_valid_rows_stay_in_order() -> None:
    rows = [
        (2, {"name": "A", "account": "1", "phone": "138 0013 8000"}),
        (3, {"name": "B", "account": "2", "phone": "138-0013-8000"}),  # duplicate of line 2
        (4, {"name": "C", "account": "3", "phone": "4008001234"}),  # the hotline's range
        (5, {"name": "D", "account": "4", "phone": "12ab"}),
        (6, {"name": "E", "account": "5", "phone": ""}),  # kept: no contact number
        (7, {"name": "F", "account": "6", "phone": "13900139000", "email": "x"}),
        (8, {"name": "G", "account": "7", "phone": "13900139000"}),
    ]
    checked = check_rows(rows)
    assert [(t.line_no, t.phone) for t in checked.targets] == [
        (2, "13800138000"), (6, None), (8, "13900139000")]
    assert [e.field for e in checked.errors] == [
        "line 3.phone", "line 4.phone", "line 5.phone", "line 7.email"]
    assert "duplicate of line 2" in checked.errors[0].reason
    assert "400" in checked.errors[1].reason


_VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=30),
                    st.text(alphabet="0123456789 -+()", max_size=20))
_ROW = st.dictionaries(st.sampled_from(["name", "account", "phone", "x"]), _VALUES, max_size=4)


@given(st.lists(_ROW, max_size=40))
def test_any_list_is_checked_without_crashing_and_every_row_is_accounted_for(
        rows: list[dict[str, object]]) -> None:
    numbered = [(i + 2, row) for i, row in enumerate(rows)]
    checked = check_rows(numbered)
    assert len(checked.targets) + len(checked.errors) == len(rows)
    lines = {line for line, _row in numbered}
    for error in checked.errors:
        found = re.fullmatch(r"line (\d+)\.(\w+)", error.field)
        assert found and int(found.group(1)) in lines and error.reason
    phones = [t.phone for t in checked.targets if t.phone]
    assert len(phones) == len(set(phones))


_WRITINGS = st.sampled_from(["{n}", "+86{n}", "0086{n}", "86{n}", "+86 {n}"])


@given(st.integers(min_value=13000000000, max_value=19999999999), _WRITINGS, _WRITINGS,
       st.booleans())
def test_one_number_written_two_ways_is_a_duplicate(number: int, first: str, second: str,
                                                     wide: bool) -> None:
    # Found by the probe: "+86 138…" and "138…" were two targets, one person called twice.
    later = second.format(n=number)
    if wide:  # full-width digits, as a Chinese input method types them
        later = later.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    rows = [(2, {"phone": first.format(n=number)}), (3, {"phone": later})]
    checked = check_rows(rows)
    assert len(checked.targets) == 1
    assert [e.field for e in checked.errors] == ["line 3.phone"]
    assert "duplicate of line 2" in checked.errors[0].reason
