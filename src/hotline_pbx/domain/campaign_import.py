"""The rows of an emergency campaign's customer list, checked one by one.

The API hands each row with its line number (the CSV file's line, the header
being line 1; a JSON list's rows count from 1) to :func:`check_rows`; every
refusal is a :class:`~hotline_pbx.domain.errors.ValidationError` whose field
names the line (``line 7.phone``), so the admin can fix the file. A row with
an empty phone is kept: "no contact number" (listed, never dialled).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hotline_pbx.domain.dialer import (
    TargetSpec,
    national_number,
    normalise_phone,
    phone_problem,
)
from hotline_pbx.domain.errors import ValidationError

#: The columns of a list, in a CSV file's header and a JSON row.
COLUMNS = ("name", "account", "phone")
#: Longest name or account kept (a longer one is refused, never cut).
MAX_TEXT = 200
#: Most rows one campaign may have (documented in docs/dialer.md).
MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class CheckedList:
    targets: tuple[TargetSpec, ...]  # the valid rows, in order
    errors: tuple[ValidationError, ...]  # every refusal, in order of its line


def _row_error(line_no: int, field: str, reason: str, example: str) -> ValidationError:
    return ValidationError(f"line {line_no}.{field}", reason, example)


def check_row(line_no: int, row: Mapping[str, object], *, own_numbers: tuple[str, ...],
              seen: dict[str, int]) -> TargetSpec | ValidationError:
    """One row: a TargetSpec, or the first problem found in it. ``seen``: the
    numbers of earlier valid rows (number → line), updated here."""
    unknown = sorted(str(k) for k in row if k not in COLUMNS)
    if unknown:
        return _row_error(line_no, unknown[0] or '""', "unknown column; the columns are "
                          + ", ".join(COLUMNS), "name,account,phone")
    values: dict[str, str] = {}
    for column in COLUMNS:
        value = row.get(column, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            return _row_error(line_no, column, "must be text", '"13800138000"')
        if len(value) > MAX_TEXT:
            return _row_error(line_no, column, f"is longer than {MAX_TEXT} characters",
                              "Zhang San")
        if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
            return _row_error(line_no, column, "holds control characters", "Zhang San")
        values[column] = value.strip()
    phone = normalise_phone(values["phone"])
    if phone:
        problem = phone_problem(phone, own_numbers=own_numbers)
        if problem is not None:
            return _row_error(line_no, "phone", problem, "13800138000")
        # One person however the number is written: +86 138…, 0086 138…, 138….
        key = national_number(phone)
        first = seen.get(key)
        if first is not None:
            return _row_error(line_no, "phone", f"is a duplicate of line {first}: each "
                              "number is called once", "13800138000")
        seen[key] = line_no
    return TargetSpec(line_no=line_no, phone=phone or None, name=values["name"],
                      account=values["account"])


def check_rows(rows: Iterable[tuple[int, Mapping[str, object]]], *,
               own_numbers: tuple[str, ...] = ()) -> CheckedList:
    """Every row checked; the valid ones and every refusal with its line."""
    seen: dict[str, int] = {}
    targets: list[TargetSpec] = []
    errors: list[ValidationError] = []
    for line_no, row in rows:
        checked = check_row(line_no, row, own_numbers=own_numbers, seen=seen)
        if isinstance(checked, ValidationError):
            errors.append(checked)
        else:
            targets.append(checked)
    return CheckedList(tuple(targets), tuple(errors))
