"""The campaign upload's wire format (api/schemas/campaigns.py): any bytes as CSV
and any JSON value either load or are refused with a ValidationError naming a
line or a field; never another exception."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.api.schemas.campaigns import from_csv, from_json
from hotline_pbx.domain.errors import ValidationError

QUERY = {"name": "outage", "message_text": "Gas is off", "partial": "true"}
_LINE = re.compile(r"line \d+(\.\w+)?")


@given(st.binary(max_size=400))
def test_any_bytes_as_csv_load_or_are_refused_by_line(data: bytes) -> None:
    try:
        form = from_csv(b"name,account,phone\n" + data, QUERY)
    except ValidationError as error:
        assert all(_LINE.fullmatch(e.field) for e in error.errors), error.errors
        return
    assert all(_LINE.fullmatch(e.field) for e in form.row_errors)
    assert all(line >= 2 for line, _row in form.rows)


@given(st.text(alphabet="ab,\"\n\r 0123456789", max_size=200))
def test_csv_text_rows_keep_their_spreadsheet_line_numbers(text: str) -> None:
    form = from_csv(("name,account,phone\n" + text).encode(), QUERY)
    lines = [line for line, _row in form.rows] + [
        int(e.field.split()[1].split(".")[0]) for e in form.row_errors]
    assert len(lines) == len(set(lines)) and all(line >= 2 for line in lines)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@given(st.one_of(_JSON, st.fixed_dictionaries(
    {"name": st.text(max_size=5), "message_text": st.text(max_size=5),
     "rows": st.lists(_JSON, max_size=5)})))
def test_any_json_loads_or_is_refused_with_fields(body: object) -> None:
    try:
        form = from_json(body)
    except ValidationError as error:
        assert all(e.field and e.reason for e in error.errors)
        return
    assert form.name and (form.rows or form.row_errors)
