from __future__ import annotations

import pytest

from hotline_pbx.domain.errors import (
    ErrorCollector,
    ValidationError,
    ValidationErrors,
    join_path,
    raise_errors,
)


@pytest.mark.parametrize(
    ("prefix", "field", "joined"),
    [
        ("", "end", "end"),
        ("weekly[2]", "end", "weekly[2].end"),
        ("weekly", "[2]", "weekly[2]"),
        ("roster", "deputies[1].mobile", "roster.deputies[1].mobile"),
        ("override", "", "override"),
    ],
)
def test_join_path(prefix: str, field: str, joined: str) -> None:
    assert join_path(prefix, field) == joined


def test_validation_error_carries_field_reason_example() -> None:
    error = ValidationError("weekly[2].end", "must be later than the start", "12:00")
    assert error.field == "weekly[2].end"
    assert error.reason == "must be later than the start"
    assert error.example == "12:00"
    assert error.errors == (error,)
    assert "weekly[2].end" in str(error) and "12:00" in str(error)
    assert error.as_dict() == {
        "field": "weekly[2].end",
        "reason": "must be later than the start",
        "example": "12:00",
    }
    assert error.at("schedule").field == "schedule.weekly[2].end"


def test_validation_errors_flatten_and_prefix() -> None:
    a = ValidationError("a", "bad a", "1")
    b = ValidationError("b", "bad b", "2")
    c = ValidationError("c", "bad c", "3")
    many = ValidationErrors([a, ValidationErrors([b, c])])
    assert isinstance(many, ValidationError)
    assert [e.field for e in many.errors] == ["a", "b", "c"]
    assert (many.field, many.reason, many.example) == ("a", "bad a", "1")
    assert "3 problems" in str(many)
    assert [e.field for e in many.at("x").errors] == ["x.a", "x.b", "x.c"]
    with pytest.raises(ValueError):
        ValidationErrors([])


def test_raise_errors_single_or_many() -> None:
    raise_errors([])
    single = ValidationError("a", "bad", "1")
    with pytest.raises(ValidationError) as info:
        raise_errors([single])
    assert info.value is single
    with pytest.raises(ValidationErrors):
        raise_errors([single, ValidationError("b", "bad", "2")])


def test_collector_records_under_path() -> None:
    def fail() -> int:
        raise ValidationError("end", "bad", "12:00")

    errors = ErrorCollector("weekly[0]")
    assert errors.attempt("", fail) is None
    assert errors.attempt("", lambda: 5) == 5
    errors.add("day", "bad day", "mon")
    assert not errors.ok
    with pytest.raises(ValidationErrors) as info:
        errors.raise_if_any()
    assert [e.field for e in info.value.errors] == ["weekly[0].end", "weekly[0].day"]
