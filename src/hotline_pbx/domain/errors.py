"""Validation errors of the domain.

Every bad input is reported as a :class:`ValidationError` that names the
offending field with a path (``weekly[2].end``, ``deputies[1].mobile``), says
in a sentence what is wrong and how to fix it (``reason``) and shows a valid
value (``example``). The REST API turns each one into an entry of an
``application/problem+json`` body.

Several problems found in one input are raised together as
:class:`ValidationErrors`, which *is* a :class:`ValidationError` (its
``field``/``reason``/``example`` are those of the first problem), so callers
catch one type and iterate ``.errors``::

    try:
        schedule = schedule_from_dict(body)  # hotline_pbx.api.schemas.schedule
    except ValidationError as exc:
        problems = [e.as_dict() for e in exc.errors]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import ParamSpec, TypeVar

__all__ = [
    "ErrorCollector",
    "ValidationError",
    "ValidationErrors",
    "join_path",
    "raise_errors",
]

T = TypeVar("T")
P = ParamSpec("P")


def join_path(prefix: str, field: str) -> str:
    """Join two parts of a field path: ``join_path("weekly[2]", "end")`` is
    ``weekly[2].end``, ``join_path("weekly", "[2]")`` is ``weekly[2]``."""
    if not prefix:
        return field
    if not field:
        return prefix
    if field.startswith("["):
        return prefix + field
    return f"{prefix}.{field}"


class ValidationError(Exception):
    """One bad value: which field, why, and what a valid value looks like."""

    def __init__(self, field: str, reason: str, example: str) -> None:
        super().__init__(f"{field or '(body)'}: {reason} (example: {example})")
        self.field = field
        self.reason = reason
        self.example = example

    @property
    def errors(self) -> tuple[ValidationError, ...]:
        """Every problem carried by this exception (here: just itself)."""
        return (self,)

    def at(self, prefix: str) -> ValidationError:
        """The same error with ``prefix`` put in front of its field path."""
        return ValidationError(join_path(prefix, self.field), self.reason, self.example)

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason, "example": self.example}


class ValidationErrors(ValidationError):
    """Several problems found in one input, in the order they were found."""

    def __init__(self, errors: Iterable[ValidationError]) -> None:
        flat: list[ValidationError] = []
        for error in errors:
            flat.extend(error.errors)
        if not flat:
            raise ValueError("ValidationErrors needs at least one error")
        first = flat[0]
        super().__init__(first.field, first.reason, first.example)
        self._errors = tuple(flat)
        self.args = (f"{len(flat)} problems: " + "; ".join(str(e) for e in flat),)

    @property
    def errors(self) -> tuple[ValidationError, ...]:
        return self._errors

    def at(self, prefix: str) -> ValidationErrors:
        return ValidationErrors(e.at(prefix) for e in self._errors)


def raise_errors(errors: Sequence[ValidationError]) -> None:
    """Raise nothing for no errors, the error itself for one, else all of them."""
    if not errors:
        return
    if len(errors) == 1:
        raise errors[0]
    raise ValidationErrors(errors)


class ErrorCollector:
    """Collects problems so one response can list all of them.

    ``attempt`` runs a parsing step and records its ValidationError (under a
    path prefix) instead of letting it escape; ``raise_if_any`` raises at the
    end.
    """

    def __init__(self, path: str = "") -> None:
        self.path = path
        self._errors: list[ValidationError] = []

    @property
    def ok(self) -> bool:
        return not self._errors

    def add(self, field: str, reason: str, example: str) -> None:
        self._errors.append(ValidationError(join_path(self.path, field), reason, example))

    def extend(self, error: ValidationError, prefix: str = "") -> None:
        self._errors.extend(error.at(join_path(self.path, prefix)).errors)

    def attempt(
        self, prefix: str, step: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T | None:
        """Run ``step(*args, **kwargs)``; on ValidationError record it under
        ``prefix`` and return None."""
        try:
            return step(*args, **kwargs)
        except ValidationError as error:
            self.extend(error, prefix)
            return None

    def raise_if_any(self) -> None:
        raise_errors(self._errors)
