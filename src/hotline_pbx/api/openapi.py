"""The OpenAPI 3.1 document served at ``/api/v1/openapi.json``.

Written by hand next to the handlers it describes. Two checks keep it true:
``tests/unit/api/test_openapi.py`` compares its paths, methods, query
parameters and roles with the registered endpoints, and
``tests/integration/test_schemathesis.py`` runs schemathesis against the
live daemon: no 5xx, and every response matches its schema.

Request schemas are as strict as the handlers (patterns, enums, no unknown
fields) so generated requests reach the handlers' real work; response
schemas describe what comes back, including masked numbers for viewers.
"""

from __future__ import annotations

from typing import Any

from hotline_pbx import __version__
from hotline_pbx.api.schemas.exceptions import STORED_DATE
from hotline_pbx.api.schemas.fault_form import MAX_NOTE as MAX_FAULT_NOTE
from hotline_pbx.api.schemas.fault_form import MAX_REPORTED_BY
from hotline_pbx.domain.callbacks import (
    MANUAL_RESULTS,
    CallbackReason,
    CallbackResult,
    CallbackState,
)
from hotline_pbx.domain.complaints import Channel, ComplaintState, ReplyKind, Severity
from hotline_pbx.domain.contract import (
    COUNTED_PERIODS,
    DEFAULT_LANGUAGE,
    LANGUAGES,
    MAX_ABSENCES,
    MAX_CALL_NOTE_LENGTH,
    MAX_DAY_PERIODS,
    MAX_DEPUTIES,
    MAX_NAME_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_WEEKLY_PERIODS,
    Outcome,
)
from hotline_pbx.domain.line_health import FaultCause
from hotline_pbx.domain.monthly import DayMark  # issue 15
from hotline_pbx.domain.purposes import MAX_ENTRIES as MAX_PURPOSE_ENTRIES  # issue 13
from hotline_pbx.domain.purposes import MAX_NAME as MAX_PURPOSE_NAME  # issue 13

JSON = "application/json"
PERIOD_VALUES = [period.value for period in COUNTED_PERIODS]
OUTCOME_VALUES = [outcome.value for outcome in Outcome]
PROBLEM = "application/problem+json"
FAULT_CAUSES = [cause.value for cause in FaultCause]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Any], required: list[str] | None = None, *,
        closed: bool = True, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required is None:
        required = [name for name in properties if name not in optional]
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


STRING = {"type": "string"}
TIME = {"type": "string", "format": "date-time",
        "description": "ISO 8601 with the offset of the configured zone"}
HHMM = {"type": "string", "pattern": r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
        "examples": ["08:30"]}
NUMBER_OR_NULL = nullable({"type": "number"})


def _page(item: str) -> dict[str, Any]:
    return obj({"items": {"type": "array", "items": ref(item)},
                "next_cursor": nullable(STRING)})


CALL_PROPS: dict[str, Any] = {
        "id": {"type": "integer"}, "call_key": STRING,
        "caller": {"type": "string", "description": "masked for viewers: *******8000"},
        "caller_name": STRING, "dnid": STRING, "started_at": TIME,
        "routed_at": nullable(TIME), "answered_at": nullable(TIME), "ended_at": nullable(TIME),
        "period": {"enum": PERIOD_VALUES},
        "route": nullable(STRING),
        "outcome": {"enum": OUTCOME_VALUES},
        "wait_seconds": NUMBER_OR_NULL, "talk_seconds": NUMBER_OR_NULL,
        "answered_by": nullable(STRING), "answered_role": nullable(STRING),
        "failover_attempts": {"type": "integer"}, "hangup_side": nullable(STRING),
        "hangup_cause": nullable({"type": "integer"}), "is_test": {"type": "boolean"},
        "needs_callback": {"type": "boolean"}, "note_count": {"type": "integer"},
    }

KPI_PROPS: dict[str, Any] = {
    "offered": {"type": "integer"}, "answered": {"type": "integer"},
    "abandoned": {"type": "integer"}, "short_abandoned": {"type": "integer"},
    "missed": {"type": "integer"}, "answered_within_service_level": {"type": "integer"},
    "answer_rate": NUMBER_OR_NULL, "service_level": NUMBER_OR_NULL,
    "abandon_rate": NUMBER_OR_NULL, "asa_seconds": NUMBER_OR_NULL,
    "mean_talk_seconds": NUMBER_OR_NULL,
}

SCHEMAS: dict[str, Any] = {
    "Problem": obj({
        "type": STRING, "title": STRING, "status": {"type": "integer"}, "detail": STRING,
        "instance": STRING, "field": STRING, "reason": STRING, "example": STRING,
        "errors": {"type": "array", "items": obj({"field": STRING, "reason": STRING,
                                                  "example": STRING})},
    }, ["type", "title", "status", "detail"]),
    "TimeRange": obj({"start": HHMM, "end": HHMM}),
    "WeeklyPeriod": obj({"day": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
                         "start": HHMM, "end": HHMM}),
    "Schedule": obj({
        "timezone": {"type": "string", "examples": ["Asia/Shanghai"]},
        "weekly": {"type": "array", "items": ref("WeeklyPeriod"), "maxItems": MAX_WEEKLY_PERIODS},
        "workday_periods": nullable({"type": "array", "items": ref("TimeRange"),
                                     "maxItems": MAX_DAY_PERIODS}),
    }, ["weekly"]),
    "ScheduleDocument": obj({
        "timezone": STRING,
        "weekly": {"type": "array", "items": ref("WeeklyPeriod")},
        "workday_periods": nullable({"type": "array", "items": ref("TimeRange")}),
    }),
    "Exception": obj({
        "date": {"type": "string", "format": "date", "examples": ["2026-10-01"]},
        "kind": {"enum": ["closed", "open"]},
        "periods": {"type": "array", "items": ref("TimeRange"), "maxItems": MAX_DAY_PERIODS},
        "note": {"type": "string", "maxLength": MAX_NOTE_LENGTH},
    }, ["date", "kind"]),
    "ExceptionList": obj({"items": {"type": "array", "items": ref("Exception")}}),
    "OverrideInput": obj({
        "mode": {"enum": ["open", "closed"]},
        "until": {"type": "string", "format": "date-time",
                  "examples": ["2026-10-01T08:30:00+08:00"]},
        "note": {"type": "string", "maxLength": MAX_NOTE_LENGTH},
    }, ["mode", "until"]),
    "OverrideState": obj({
        "override": nullable(obj({"mode": {"enum": ["open", "closed"]}, "until": TIME,
                                  "note": STRING, "set_by": STRING, "set_at": TIME})),
        "active": {"type": "boolean"},
    }),
    "PersonInput": obj({
        "id": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH},
        "mobile": {"type": "string", "pattern": r"^\+?[0-9]{5,20}$"},
    }),
    "AbsenceInput": obj({
        "person_id": STRING,
        "from": {"type": "string", "format": "date-time"},
        "to": nullable({"type": "string", "format": "date-time"}),
        "reason": {"enum": ["leave", "resigned", "no_signal", "other"]},
        "note": {"type": "string", "maxLength": MAX_NOTE_LENGTH},
    }, ["person_id", "from", "reason"]),
    "RosterInput": obj({
        "supervisor": nullable(ref("PersonInput")),
        "deputies": {"type": "array", "items": ref("PersonInput"), "maxItems": MAX_DEPUTIES},
        "absences": {"type": "array", "items": ref("AbsenceInput"), "maxItems": MAX_ABSENCES},
    }, []),
    "Person": obj({"id": STRING, "name": STRING,
                   "mobile": {"type": "string", "description": "masked for viewers"}}),
    "Absence": obj({"person_id": STRING, "from": TIME, "to": nullable(TIME),
                    "reason": STRING, "note": STRING}),
    "Roster": obj({"supervisor": nullable(ref("Person")),
                   "deputies": {"type": "array", "items": ref("Person")},
                   "absences": {"type": "array", "items": ref("Absence")}}),
    "Call": obj(CALL_PROPS),
    "Note": obj({"id": {"type": "integer"}, "author": STRING, "body": STRING,
                 "created_at": TIME}),
    "NoteInput": obj({"body": {"type": "string", "minLength": 1,
                               "maxLength": MAX_CALL_NOTE_LENGTH}}),
    "TimelineEntry": obj({"at": nullable(STRING), "event": STRING}, ["event"], closed=False),
    "CallDetail": obj({**CALL_PROPS,
                       "timeline": {"type": "array", "items": ref("TimelineEntry")},
                       "details": {"type": "object"},
                       "notes": {"type": "array", "items": ref("Note")},
                       "callbacks": {"type": "array", "items": ref("CallbackSummary")}}),
    "CallPage": _page("Call"),
    "DayKpis": obj({"day": {"type": "string", "format": "date"}, **KPI_PROPS}),
    "Stats": obj({
        "from": TIME, "to": TIME,
        "period": {"enum": ["all", *PERIOD_VALUES]},
        "timezone": STRING, "service_level_seconds": {"type": "number"},
        "short_abandon_seconds": {"type": "number"},
        **KPI_PROPS,
        "unrouted": {"type": "integer", "description": "callers who hung up before routing"},
        "test_calls": {"type": "integer", "description": "line-monitor calls, excluded"},
        "days": {"type": "array", "items": ref("DayKpis")},
    }),
    "Fault": obj({"id": {"type": "integer"}, "cause": STRING,
                  "source": {"enum": ["test", "trunk"]}, "started_at": TIME,
                  "ended_at": nullable(TIME), "duration_seconds": NUMBER_OR_NULL,
                  "details": {"type": "object"}, "reported_by": STRING,
                  "reported_at": nullable(TIME), "repaired_at": nullable(TIME),
                  "note": STRING, "updated_at": nullable(TIME)}),
    "FaultForm": obj({
        "reported_by": {"type": "string", "maxLength": MAX_REPORTED_BY},
        "reported_at": nullable({"type": "string", "format": "date-time"}),
        "repaired_at": nullable({"type": "string", "format": "date-time"}),
        "note": {"type": "string", "maxLength": MAX_FAULT_NOTE}}, [], closed=True)
    | {"minProperties": 1},
    "LineTest": obj({"started_at": TIME, "ended_at": TIME, "passed": {"type": "boolean"},
                     "cause": nullable({"enum": FAULT_CAUSES}),
                     "round_trip_seconds": NUMBER_OR_NULL, "requested_by": nullable(STRING),
                     "detail": STRING}),
    "Line": obj({"monitor": {"enum": ["enabled", "disabled"]},
                 "up": nullable({"type": "boolean"}), "last_test_at": nullable(TIME),
                 "last_result": nullable(ref("LineTest")),
                 "open_fault": nullable(ref("Fault")),
                 "open_faults": {"type": "array", "items": ref("Fault")}}),
    "FaultPage": _page("Fault"),
    "BlockedOutbound": obj({
        "id": {"type": "integer"}, "occurred_at": TIME, "source_channel": STRING,
        "source": STRING, "dialled_number": STRING, "method": STRING, "action": STRING,
        "reaction_ms": NUMBER_OR_NULL, "details": {"type": "object"}}),
    "BlockedOutboundPage": _page("BlockedOutbound"),
    "AuditEntry": obj({"id": {"type": "integer"}, "at": TIME, "actor": STRING,
                       "action": STRING, "target": STRING, "before": {}, "after": {},
                       "client": STRING}),
    "AuditPage": _page("AuditEntry"),
    "Health": obj({"status": STRING}),
    "Readiness": obj({"ready": {"type": "boolean"}, "components": {
        "type": "object", "additionalProperties": obj({"ok": {"type": "boolean"},
                                                       "detail": STRING})}}),
}


# -- callbacks (issue 12) ----------------------------------------------------------
CALLBACK_STATES = [state.value for state in CallbackState]
CALLBACK_RESULTS = [result.value for result in CallbackResult]
CALLBACK_REASONS = [reason.value for reason in CallbackReason]
SCHEMAS.update({
    "CallbackSummary": obj({"id": {"type": "integer"}, "reason": {"enum": CALLBACK_REASONS},
                            "state": {"enum": CALLBACK_STATES},
                            "due_at": TIME, "result": nullable({"enum": CALLBACK_RESULTS}),
                            "done_at": nullable(TIME)}),
    "Callback": obj({
        "id": {"type": "integer"}, "call_id": nullable({"type": "integer"}),
        "call_key": nullable(STRING),
        "caller": {"type": "string", "description": "masked for viewers: *******8000"},
        "reason": {"enum": CALLBACK_REASONS}, "state": {"enum": CALLBACK_STATES},
        "created_at": TIME, "due_at": TIME,
        "overdue": {"type": "boolean", "description": "still waiting and past due_at"},
        "result": nullable({"enum": CALLBACK_RESULTS}), "note": STRING,
        "done_at": nullable(TIME), "done_by": nullable(STRING),
        "score": nullable({"type": "integer"}), "attempts": {"type": "integer"},
        "dialer_job_id": nullable({"type": "integer"})}),
    "CallbackPage": _page("Callback"),
    "CallbackDone": obj({"result": {"enum": [r.value for r in MANUAL_RESULTS]},
                         "note": {"type": "string", "maxLength": MAX_CALL_NOTE_LENGTH}},
                        ["result"]),
})


def _callback_paths(v1: str) -> dict[str, Any]:
    flag = {"type": "boolean", "default": False}
    task_id = {**P_CALL_ID, "description": "the task's id"}
    return {
        f"{v1}/callbacks": {"get": _op(
            "callback tasks, newest first (audited; callers masked for viewers)", "viewer",
            {"200": _ok("CallbackPage")},
            params=[_query("state", {"enum": CALLBACK_STATES}, "only tasks in this state"),
                    _query("due", flag, "still waiting and due by now"),
                    _query("overdue", flag, "still waiting and past due"),
                    _query("done", flag, "only done tasks"),
                    P_FROM, P_TO, P_LIMIT, P_CURSOR], tag="callbacks")},
        f"{v1}/callbacks/{{id}}": {"get": _op(
            "one callback task (audited)", "viewer",
            {"200": _ok("Callback"), "404": _problem("no such task")},
            params=[task_id], tag="callbacks")},
        f"{v1}/callbacks/{{id}}/done": {"post": _op(
            "mark a task done with a result and a note", "supervisor", {
                "200": _ok("Callback"), "404": _problem("no such task"),
                "409": _problem("the task is done or cancelled already")},
            params=[task_id], body="CallbackDone", tag="callbacks")},
    }
# -- long calls (issue 12) -------------------------------------------------------------
SCHEMAS.update({
    "LongCall": obj({
        "linkedid": STRING, "queue": STRING, "agent": STRING, "agent_channel": STRING,
        "caller_channel": STRING, "caller": STRING, "connected_at": TIME,
        "duration_seconds": {"type": "number"}, "long": {"type": "boolean"}}),
    "LongCalls": obj({
        "watching": {"type": "boolean"}, "callers_waiting": {"type": "integer"},
        "longest_wait_seconds": {"type": "number"},
        "free_agents": {"type": "array", "items": STRING},
        "threshold_seconds": {"type": "number"},
        "calls": {"type": "array", "items": ref("LongCall")}}),
    "LongCallContinued": obj({
        "linkedid": STRING, "task_id": nullable({"type": "integer"}),
        "apology_played": {"type": "boolean"}, "hung_up": {"type": "boolean"}}),
})


# -- purposes, complaint visits, monthly statistics (issues 13, 15) ---------------------
_ID = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$", "examples": ["billing"]}
_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_PURPOSE_NAME}
_NAME_EN = {"type": "string", "maxLength": MAX_PURPOSE_NAME}
for _call_schema in ("Call", "CallDetail"):
    SCHEMAS[_call_schema]["properties"].update(
        purpose=nullable(STRING), purpose_set_by=nullable(STRING))
    SCHEMAS[_call_schema]["required"] += ["purpose", "purpose_set_by"]
SCHEMAS["Note"]["properties"]["purpose"] = STRING  # when the note set the call's purpose
SCHEMAS["NoteInput"]["properties"]["purpose"] = {
    **_ID, "description": "a purpose id of GET /api/v1/purposes; sets the call's purpose"}
_SLA = obj({"due": {"type": "integer"}, "met": {"type": "integer"},
            "compliance": NUMBER_OR_NULL})
_MONTH_KPIS = {"type": "object", "description": "the KPIs of GET /api/v1/stats"}
_INT = {"type": "integer"}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
SCHEMAS.update({
    "Catalogue": obj({
        "departments": {"type": "array", "minItems": 1, "maxItems": MAX_PURPOSE_ENTRIES,
                        "items": obj({"id": _ID, "name": _NAME, "name_en": _NAME_EN},
                                     ["id", "name"])},
        "purposes": {"type": "array", "minItems": 1, "maxItems": MAX_PURPOSE_ENTRIES,
                     "items": obj({"id": _ID, "name": _NAME, "name_en": _NAME_EN,
                                   "department": _ID,
                                   "talk_target_seconds": nullable(
                                       {"type": "number", "minimum": 0, "maximum": 3600})},
                                  ["id", "name", "department"])}}),
    "CallPurposeInput": obj({"purpose": _ID}),
    "CallPurpose": obj({"id": {"type": "integer"}, "purpose": STRING,
                        "purpose_set_by": STRING}),
    "VisitInput": obj({"score": {"type": "integer", "minimum": 1, "maximum": 5},
                       "result": {"type": "string", "minLength": 1,
                                  "maxLength": MAX_CALL_NOTE_LENGTH},
                       "note": {"type": "string", "minLength": 1,
                                "maxLength": MAX_CALL_NOTE_LENGTH}}, ["score"]),
    "Visit": obj({"id": {"type": "integer"}, "state": STRING, "visit_state": STRING,
                  "visit_by": STRING, "visit_score": nullable({"type": "integer"}),
                  "visit_scale": nullable({"type": "integer"}), "visit_result": STRING,
                  "visit_note": STRING, "visit_attempts": {"type": "integer"},
                  "visited_at": nullable(TIME),
                  "dialer_job_id": nullable({"type": "integer"})}),
    "MonthlyPack": obj({
        "kind": {"enum": ["month", "day"]},
        "month": {**STRING, "description": "YYYY-MM, in a monthly pack"},
        "day": {"type": "string", "format": "date", "description": "in a daily pack"},
        "from": TIME, "to": TIME, "timezone": STRING, "generated_at": TIME,
        "partial": {"type": "boolean", "description": "the month is still running"},
        "empty": {"type": "boolean", "description": "no call was offered in the month"},
        "note": nullable(STRING), "answer_rate_floor": {"type": "number"},
        "service_level_seconds": {"type": "number"}, "working_days": {"type": "integer"},
        "open_hours": _MONTH_KPIS, "all_periods": _MONTH_KPIS,
        "unrouted": {"type": "integer"}, "test_calls": {"type": "integer"},
        "days": {"type": "array", "items": obj({
            "day": {"type": "string", "format": "date"},
            "mark": {"enum": [m.value for m in DayMark]}, "working_day": {"type": "boolean"},
            "open_hours": nullable(_MONTH_KPIS), "all_periods": nullable(_MONTH_KPIS)})},
        "purposes": {"type": "array", "items": obj({
            "purpose": nullable(STRING), "name": nullable(STRING), "name_en": nullable(STRING),
            "talk_target_seconds": NUMBER_OR_NULL, "calls": {"type": "integer"},
            "answered": {"type": "integer"},
            "met_target": nullable({"type": "integer"})})},
        "complaints": obj({
            "received": {"type": "integer"}, "resolved": {"type": "integer"},
            "by_department": {"type": "object", "additionalProperties": {"type": "integer"}},
            "by_category": {"type": "object", "additionalProperties": {"type": "integer"}},
            "by_severity": {"type": "object", "additionalProperties": {"type": "integer"}},
            "sla": obj({"target": _SLA, "due": _SLA, "hard_max": _SLA}),
            "mean_resolution_working_hours": NUMBER_OR_NULL}),
        "visits": obj({
            "count": {"type": "integer"}, "by_dialer": {"type": "integer"},
            "by_person": {"type": "integer"},
            "per_scale": {"type": "array", "items": obj({
                "scale": {"type": "integer"}, "count": {"type": "integer"},
                "mean": {"type": "number"},
                "distribution": {"type": "object",
                                 "additionalProperties": {"type": "integer"}}})}}),
        "heat_map": {"type": "array", "items": obj({
            "weekday": {"type": "integer", "minimum": 0, "maximum": 6},
            "hour": {"type": "integer", "minimum": 0, "maximum": 23},
            "offered": _INT, "answered": _INT, "answer_rate": NUMBER_OR_NULL,
            "meets_floor": nullable({"type": "boolean"})})},
        "departments": {"type": "array", "items": obj({
            "id": STRING, "name": STRING, "name_en": STRING})},
        "after_hours": obj({
            "calls": _INT, "answered": _INT, "not_answered": _INT,
            "by_period": _COUNTS,
            "taken_by": {"type": "array", "items": obj({
                "role": STRING, "person": STRING, "calls": _INT})}}),
        "failovers": obj({"calls": _INT, "attempts": _INT, "answered": _INT}),
        "blocked_outbound": obj({"count": _INT, "by_action": _COUNTS}),
        "line": obj({"faults": _INT, "by_cause": _COUNTS, "still_open": _INT,
                     "downtime_seconds": {"type": "number"}, "tests": _INT,
                     "tests_passed": _INT}),
        "callbacks": obj({"opened": _INT, "done": _INT, "done_by_deadline": _INT,
                          "on_time_rate": NUMBER_OR_NULL, "cancelled": _INT,
                          "overdue": _INT, "by_reason": _COUNTS}),
        "long_calls": obj({"count": _INT, "longest_talk_seconds": NUMBER_OR_NULL}),
        "longest_waits": {"type": "array", "items": obj({
            "call_id": _INT, "started_at": TIME, "wait_seconds": {"type": "number"},
            "outcome": STRING, "period": STRING})},
        "staffing": ref("StaffingAdvice"),
    }, required=None, optional=("month", "day")),
})


def _purpose_paths(v1: str) -> dict[str, Any]:
    in_use = _problem("a removed purpose or department is still used by stored records")
    month = _query("month", {"type": "string", "pattern": r"^\d{4}-\d{2}$",
                             "examples": ["2026-11"]},
                   "the month, YYYY-MM (begun, within retention.days)", required=True)
    return {
        f"{v1}/purposes": {
            "get": _op("the call purposes and departments in force", "viewer",
                       {"200": _ok("Catalogue")}, tag="purposes"),
            "put": _op("replace the catalogue (audited with before and after)", "admin",
                       {"200": _ok("Catalogue"), "409": in_use}, body="Catalogue",
                       tag="purposes")},
        f"{v1}/calls/{{id}}/purpose": {"put": _op(
            "set a call's purpose (audited)", "supervisor",
            {"200": _ok("CallPurpose"), "404": _problem("no such call")},
            params=[P_CALL_ID], body="CallPurposeInput", tag="purposes")},
        f"{v1}/complaints/{{id}}/visit": {"post": _op(
            "record a person's callback visit of a resolved complaint (audited); a dialer "
            "visit still pending is cancelled", "supervisor",
            {"200": _ok("Visit"), "404": _problem("no such complaint"),
             "409": _problem("not resolved or informed yet, or the visit is done already")},
            params=[{**P_CALL_ID, "description": "the complaint's id"}], body="VisitInput",
            tag="complaints")},
        f"{v1}/reports/monthly": {"get": _op(
            "the monthly statistics pack (JSON, CSV, or the printable HTML/PDF document "
            "with its charts; audited)", "viewer",
            {"200": _PACK_CONTENT,
             "422": _problem("month malformed, not begun, or older than retention.days"),
             "429": _problem("http.max_exports PDFs are being rendered; Retry-After"),
             "501": _problem("this server cannot render PDFs (WeasyPrint missing)")},
            params=[month, *_pack_params()], tag="reports")},
        f"{v1}/reports/daily": {"get": _op(
            "the statistics pack of one local day (the same sections and formats)",
            "viewer",
            {"200": _PACK_CONTENT,
             "422": _problem("day malformed, not begun, or older than retention.days"),
             "429": _problem("http.max_exports PDFs are being rendered; Retry-After"),
             "501": _problem("this server cannot render PDFs (WeasyPrint missing)")},
            params=[_query("day", {"type": "string", "format": "date",
                                   "examples": ["2026-11-03"]},
                           "the local day, YYYY-MM-DD (begun, within retention.days)",
                           required=True), *_pack_params()], tag="reports")},
    }


_PACK_CONTENT = {"description": "the pack", "content": {
    JSON: {"schema": ref("MonthlyPack")}, "text/csv": {"schema": {"type": "string"}},
    "text/html": {"schema": {"type": "string"}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}


def _pack_params() -> list[dict[str, Any]]:
    return [_query("format", {"enum": ["json", "csv", "html", "pdf"], "default": "json"},
                   "json, csv, or the printable document as html or pdf"),
            _query("lang", {"enum": list(LANGUAGES), "default": DEFAULT_LANGUAGE},
                   "the document's language (html, pdf)")]
# -- end purposes, complaint visits, monthly statistics ---------------------------------


def _long_call_paths() -> dict[str, Any]:
    v1 = "/api/v1"
    linkedid = {"name": "linkedid", "in": "path", "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
    force = _query("force", {"type": "boolean", "default": False},
                   "end the call with a callback task even if it is not flagged long")
    return {
        f"{v1}/long-calls": {"get": _op(
            "the queues now: callers waiting, free agents, connected calls and which are "
            "long", "viewer", {"200": _ok("LongCalls")}, tag="calls")},
        f"{v1}/long-calls/{{linkedid}}/callback": {"post": _op(
            "continue a long call from another line: a callback task, an apology, the "
            "caller hung up", "supervisor", {
                "200": _ok("LongCallContinued"),
                "404": _problem("no such call is connected to an agent now"),
                "409": _problem("the call is not flagged long (use force=true)")},
            params=[linkedid, force], tag="calls")},
    }
# -- end long calls ----------------------------------------------------------------------


# -- parameters --------------------------------------------------------------------

def _query(name: str, schema: dict[str, Any], description: str,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


INSTANT = {"type": "string", "examples": ["2026-10-01", "2026-10-01T08:30:00+08:00"]}
P_FROM = _query("from", INSTANT, "first instant: a date (its start, configured zone) or "
                "a date-time with offset")
P_TO = _query("to", INSTANT, "end (exclusive): a date means the end of that day")
P_LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                 "rows per page")
P_CURSOR = _query("cursor", STRING, "next_cursor of the previous page, unchanged")
P_PERIOD = _query("period", {"enum": PERIOD_VALUES},
                  "the call's period")
P_OUTCOME = _query("outcome", {"enum": OUTCOME_VALUES}, "the call's outcome")
P_CALLER = _query("caller", {"type": "string", "pattern": r"^\+?[0-9*#]{1,32}$"},
                  "exact caller number (supervisor and admin only)")
P_TEST = _query("include_test", {"type": "boolean", "default": False},
                "include the line monitor's test calls")
P_CALL_ID = {"name": "id", "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1, "format": "int64"}}
# A stored exception's date as GET lists it: any year PostgreSQL holds, so that
# a row written by SQL that does not load can be deleted.
STORED_DATE_SCHEMA = {"type": "string", "pattern": f"^(?:{STORED_DATE.pattern})$",
                      "examples": ["2026-10-01", "1999-01-01", "infinity", "0044-03-15 BC"]}
P_DATE_PATH = {"name": "date", "in": "path", "required": True, "schema": STORED_DATE_SCHEMA}

# -- responses ---------------------------------------------------------------------


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": ref("Problem")}}}


def _ok(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref(schema)}}}


NO_CONTENT = {"description": "done"}
AUTH_ERRORS = {
    "400": _problem("a query parameter is unknown, repeated or invalid"),
    "401": _problem("no token, or an unknown or revoked one"),
    "403": _problem("the token's role may not do this"),
    "503": _problem("the database cannot be reached, or every database connection is in "
                    "use (type …:busy); Retry-After says when to try again"),
}
BODY_ERRORS = {
    "413": _problem("the body is over http.max_body_bytes"),
    "415": _problem("the body is not application/json"),
    "422": _problem("the body is not valid; errors name each field"),
}


def _op(summary: str, role: str, responses: dict[str, Any], *,
        params: list[dict[str, Any]] | None = None, body: str | None = None,
        tag: str) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag],
                          "description": f"Role: {role} or above.",
                          "x-hotline-role": role, "responses": {**responses, **AUTH_ERRORS}}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": ref(body)}}}
        op["responses"].update(BODY_ERRORS)
    return op


CALL_FILTERS = [P_FROM, P_TO, P_PERIOD, P_OUTCOME, P_CALLER, P_TEST]


def _paths() -> dict[str, Any]:
    v1 = "/api/v1"
    public = {"security": [], "tags": ["operations"]}
    return {
        "/healthz": {"get": {**public, "summary": "liveness",
                             "responses": {"200": _ok("Health")}}},
        "/readyz": {"get": {**public, "summary": "readiness of PostgreSQL, routing, AMI and AGI",
                            "responses": {"200": _ok("Readiness", "ready"),
                                          "503": _ok("Readiness", "not ready")}}},
        "/metrics": {"get": {**public, "summary": "Prometheus metrics", "responses": {
            "200": {"description": "text exposition format",
                    "content": {"text/plain": {"schema": STRING}}}}}},
        f"{v1}/openapi.json": {"get": {**public, "summary": "this document", "responses": {
            "200": {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {
                "type": "object"}}}}}}},
        f"{v1}/schedule": {
            "get": _op("the weekly schedule", "viewer", {"200": _ok("ScheduleDocument")},
                       tag="routing"),
            "put": _op("replace the weekly schedule (routing follows within 1 s)", "admin",
                       {"200": _ok("ScheduleDocument")}, body="Schedule", tag="routing"),
        },
        f"{v1}/exceptions": {
            "get": _op("dated exceptions", "viewer", {"200": _ok("ExceptionList")},
                       params=[_query("year", {"type": "integer", "minimum": 2000,
                                               "maximum": 2100}, "only this year")],
                       tag="routing"),
            "post": _op("add a dated closure or extra open day", "admin", {
                "201": _ok("Exception", "created"),
                "409": _problem("that date already has an exception")},
                body="Exception", tag="routing"),
            "delete": _op("remove the exception of a date", "admin", {
                "204": NO_CONTENT, "404": _problem("no exception on that date")},
                params=[_query("date", STORED_DATE_SCHEMA, "the date as GET lists it",
                               required=True)], tag="routing"),
        },
        f"{v1}/exceptions/{{date}}": {
            "delete": _op("remove the exception of a date", "admin", {
                "204": NO_CONTENT, "404": _problem("no exception on that date")},
                params=[P_DATE_PATH], tag="routing"),
        },
        f"{v1}/override": {
            "get": _op("the day/night override", "viewer", {"200": _ok("OverrideState")},
                       tag="routing"),
            "put": _op("force open or closed until a time", "admin",
                       {"200": _ok("OverrideState")}, body="OverrideInput", tag="routing"),
            "delete": _op("end the override now", "admin", {"204": NO_CONTENT},
                          tag="routing"),
        },
        f"{v1}/roster": {
            "get": _op("supervisor, deputies and absences (mobiles masked for viewers)",
                       "viewer", {"200": _ok("Roster")}, tag="routing"),
            "put": _op("replace the roster", "supervisor", {"200": _ok("Roster")},
                       body="RosterInput", tag="routing"),
        },
        f"{v1}/calls": {"get": _op(
            "the call register, newest first (audited)", "viewer", {"200": _ok("CallPage")},
            params=[*CALL_FILTERS, P_LIMIT, P_CURSOR], tag="calls")},
        f"{v1}/calls.csv": {"get": _op(
            "the call register as CSV, oldest first (audited)", "viewer", {"200": {
                "description": "date, time, caller, period, outcome, wait_seconds, "
                               "talk_seconds, answered_by, notes",
                "content": {"text/csv": {"schema": STRING}}},
                "429": _problem("http.max_exports exports are running already; "
                                "Retry-After says when to try again")},
            params=[*CALL_FILTERS, _query("limit", {"type": "integer", "minimum": 1,
                                                    "maximum": 100000}, "at most this many")],
            tag="calls")},
        f"{v1}/calls/{{id}}": {"get": _op(
            "one call with its timeline and notes (audited)", "viewer", {
                "200": _ok("CallDetail"), "404": _problem("no such call")},
            params=[P_CALL_ID], tag="calls")},
        f"{v1}/calls/{{id}}/notes": {"post": _op(
            "append a note to a call (notes are never edited)", "supervisor", {
                "201": _ok("Note", "created"), "404": _problem("no such call")},
            params=[P_CALL_ID], body="NoteInput", tag="calls")},
        f"{v1}/stats": {"get": _op(
            "KPIs of docs/kpi.md over [from, to) with a per-day breakdown", "viewer",
            {"200": _ok("Stats")},
            params=[{**P_FROM, "required": True}, {**P_TO, "required": True},
                    _query("period", {"enum": PERIOD_VALUES},
                           "only calls of this period (default: all)")],
            tag="reports")},
        f"{v1}/faults": {"get": _op(
            "line faults: cause, start, end", "viewer", {"200": _ok("FaultPage")},
            params=[P_FROM, P_TO, _query("cause", {"type": "string",
                                                   "pattern": r"^[A-Za-z0-9_.:@-]{1,100}$"},
                                         "only this cause"), P_LIMIT, P_CURSOR],
            tag="reports")},
        f"{v1}/faults/{{id}}": {"patch": _op(
            "fill in the fault form: reported to the technical department, repaired, a note",
            "supervisor", {"200": _ok("Fault"), "404": _problem("no such fault")},
            params=[P_CALL_ID], body="FaultForm", tag="reports")},
        f"{v1}/line": {"get": _op(
            "the line's health: up, the last test call, open faults", "viewer",
            {"200": _ok("Line")}, tag="reports")},
        f"{v1}/line/test": {"post": _op(
            "place a test call now and wait for its result", "admin", {
                "200": _ok("LineTest"),
                "409": _problem("the line monitor is disabled (line.enabled = false)"),
                "503": _problem("no instance ran the test in time")}, tag="reports")},
        f"{v1}/blocked-outbound": {"get": _op(
            "every blocked outbound attempt on the 400 trunk", "viewer",
            {"200": _ok("BlockedOutboundPage")}, params=[P_FROM, P_TO, P_LIMIT, P_CURSOR],
            tag="reports")},
        f"{v1}/audit": {"get": _op(
            "who changed or read what", "admin", {"200": _ok("AuditPage")},
            params=[P_FROM, P_TO,
                    _query("actor", {"type": "string",
                                     "pattern": r"^[A-Za-z0-9_.:@-]{1,100}$"},
                           "e.g. token:alice"),
                    _query("action", {"type": "string",
                                      "pattern": r"^[A-Za-z0-9_.:@-]{1,100}$"},
                           "e.g. schedule.update"), P_LIMIT, P_CURSOR],
            tag="reports")},
        **_callback_paths(v1),
        **_campaign_paths(v1),  # issue 12
        **_purpose_paths(v1),  # issues 13, 15: purposes, complaint visits, monthly pack
    }


# -- emergency campaigns (issue 12) ----------------------------------------------------

_CAMPAIGN_ROW = obj({"name": STRING, "account": STRING,
                     "phone": {"type": "string", "description": "empty: no contact number"}},
                    [], closed=False)
_TARGET = obj({"line": {"type": "integer"}, "name": STRING, "account": STRING,
               "phone": nullable(STRING), "attempts": {"type": "integer"},
               "result": nullable(STRING), "last_attempt_at": nullable(TIME)}, closed=False)
_CAMPAIGN_PROPS: dict[str, Any] = {
    "id": {"type": "integer"}, "name": STRING,
    "state": {"enum": ["active", "cancelled", "done"]}, "created_at": TIME,
    "created_by": STRING, "cancelled_at": nullable(TIME), "finished_at": nullable(TIME),
    "max_attempts": nullable({"type": "integer"}),
    "counts": {"type": "object", "additionalProperties": {"type": "integer"},
               "description": "targets by state: pending, dialling, done, unreached, "
                              "no_number, cancelled"},
    "total": {"type": "integer"}, "final": {"type": "integer"}}
SCHEMAS.update({
    "CampaignForm": obj({
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "message_text": {"type": "string", "maxLength": 2000,
                         "description": "spoken with espeak-ng (or give message_wav)"},
        "message_wav": {"type": "string", "description": "a PCM WAV file, base64"},
        "rows": {"type": "array", "minItems": 1, "maxItems": 100000, "items": _CAMPAIGN_ROW},
        "partial": {"type": "boolean", "default": False,
                    "description": "keep the valid rows when some are refused"},
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 20}},
        ["name", "rows"]),
    "Campaign": obj(_CAMPAIGN_PROPS, closed=False),
    "CampaignList": obj({"campaigns": {"type": "array", "items": ref("Campaign")}}),
    "CampaignDetail": obj({**_CAMPAIGN_PROPS,
                           "notified": {"type": "array", "items": _TARGET},
                           "not_reached": {"type": "array", "items": _TARGET},
                           "no_number": {"type": "array", "items": _TARGET},
                           # each list's first targets only; /export has them all
                           "listed_at_most": {"type": "integer"}}, closed=False),
    "CampaignCreated": obj({"id": {"type": "integer"}, "name": STRING,
                            "targets": {"type": "integer"}, "no_number": {"type": "integer"},
                            "refused_count": {"type": "integer"},
                            "max_attempts": nullable({"type": "integer"}),
                            "refused": {"type": "array", "items": obj(
                                {"field": STRING, "reason": STRING, "example": STRING})}},
                           closed=False),
})
P_CAMPAIGN_ID = {"name": "id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1, "format": "int64"}}


def _campaign_paths(v1: str) -> dict[str, Any]:
    create = _op("start an emergency campaign: a customer list (JSON, or text/csv with "
                 "the query parameters name, message_text, partial, max_attempts)", "admin",
                 {"201": _ok("CampaignCreated", "stored; the dialer starts calling"),
                  "413": _problem("over dialer.max_import_bytes or 100,000 rows")},
                 body="CampaignForm", tag="campaigns")
    create["requestBody"]["content"]["text/csv"] = {
        "schema": {"type": "string", "description": "UTF-8, header name,account,phone"}}
    create["responses"]["413"] = _problem("over dialer.max_import_bytes or 100,000 rows")
    create["responses"]["415"] = _problem("the body is not application/json or text/csv")
    create["parameters"] = [
        _query("name", STRING, "text/csv only: the campaign's name"),
        _query("message_text", STRING, "text/csv only: the message"),
        _query("partial", {"type": "boolean"}, "text/csv only: keep the valid rows"),
        _query("max_attempts", {"type": "integer", "minimum": 1, "maximum": 20},
               "text/csv only")]
    return {
        f"{v1}/campaigns": {
            "get": _op("the campaigns, newest first, with counts by state", "viewer",
                       {"200": _ok("CampaignList")}, tag="campaigns"),
            "post": create},
        f"{v1}/campaigns/{{id}}": {
            "get": _op("live progress and the lists notified, not_reached, no_number "
                       "(phones masked for viewers; audited)", "viewer",
                       {"200": _ok("CampaignDetail"), "404": _problem("no such campaign")},
                       params=[P_CAMPAIGN_ID], tag="campaigns"),
            "delete": _op("cancel: no new attempt from now, pending targets cancelled",
                          "admin", {"200": _ok("Campaign"),
                                    "404": _problem("no such campaign")},
                          params=[P_CAMPAIGN_ID], tag="campaigns")},
        f"{v1}/campaigns/{{id}}/export": {"get": _op(
            "one result list as CSV (audited)", "viewer",
            {"200": {"description": "text/csv", "content": {"text/csv": {
                "schema": {"type": "string"}}}}, "404": _problem("no such campaign")},
            params=[P_CAMPAIGN_ID, _query("list", {"enum": ["notified", "not_reached",
                                                           "no_number"]},
                                          "which list", required=True)],
            tag="campaigns")},
    }


# -- staffing advisor (issue 15) --------------------------------------------------------
RATE_OR_NULL = nullable({"type": "number", "minimum": 0, "maximum": 1})
SCHEMAS.update({
    "StaffingSlot": obj({
        "weekday": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        "start": HHMM, "calls": {"type": "integer", "minimum": 1},
        "arrivals_per_hour": {"type": "number", "minimum": 0},
        "aht_seconds": NUMBER_OR_NULL, "patience_seconds": NUMBER_OR_NULL,
        "agents_needed": nullable({"type": "integer", "minimum": 1}),
        "predicted_answer_rate": RATE_OR_NULL, "predicted_service_level": RATE_OR_NULL,
        "predicted_asa_seconds": NUMBER_OR_NULL,
        "observed_answer_rate": RATE_OR_NULL, "observed_service_level": RATE_OR_NULL}),
    "StaffingNow": obj({
        "watching": {"type": "boolean"}, "weekday": STRING, "start": HHMM,
        "agents_needed": nullable({"type": "integer"}),
        "logged_in": nullable({"type": "integer"}), "paused": nullable({"type": "integer"}),
        "free": nullable({"type": "integer"})}),
})
_STAFFING_ADVICE = {
    "weeks": {"type": "integer"}, "from": {"type": "string", "format": "date"},
    "to": {"type": "string", "format": "date"}, "working_days": {"type": "integer"},
    "calls": {"type": "integer"}, "empty": {"type": "boolean"}, "note": STRING,
    "answer_rate_floor": {"type": "number"}, "service_level_target": {"type": "number"},
    "service_level_seconds": {"type": "number"},
    "aht_seconds": NUMBER_OR_NULL, "patience_seconds": NUMBER_OR_NULL,
    "rows": {"type": "array", "items": ref("StaffingSlot")}}
SCHEMAS.update({
    "StaffingAdvice": obj(_STAFFING_ADVICE),  # the pack's staffing section
    "Staffing": obj({**_STAFFING_ADVICE, "now": ref("StaffingNow")}),
})


def _staffing_paths() -> dict[str, Any]:
    from hotline_pbx.domain.contract import (
        DEFAULT_STAFFING_WEEKS,
        MAX_STAFFING_WEEKS,
        MIN_STAFFING_WEEKS,
    )

    weeks = _query("weeks", {"type": "integer", "minimum": MIN_STAFFING_WEEKS,
                             "maximum": MAX_STAFFING_WEEKS,
                             "default": DEFAULT_STAFFING_WEEKS},
                   "weeks of history (working days only) the advice is computed from")
    return {"/api/v1/staffing": {"get": _op(
        "agents needed per half hour (Erlang A) for the answer-rate floor and the "
        "service-level target, next to the agents logged in now", "viewer", {
            "200": _ok("Staffing"),
            "422": _problem("weeks is not a whole number in range; errors name it")},
        params=[weeks], tag="stats")}}
# -- end staffing advisor ----------------------------------------------------------------


# -- the complaint register (issue 13) ---------------------------------------------------
SCHEMAS["Problem"]["properties"]["allowed"] = {
    "type": "array", "items": STRING,
    "description": "a 409 of a transition: the states the complaint may go to now"}
SCHEMAS["CallDetail"]["properties"]["complaints"] = {
    "type": "array", "items": obj({"id": {"type": "integer"}, "state": STRING,
                                   "severity": STRING, "received_at": TIME})}
SCHEMAS["CallDetail"]["required"].append("complaints")
_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_CALL_NOTE_LENGTH}
_SHORT = {"type": "string", "maxLength": 200}
_CATALOGUE_ID = {"type": "string", "examples": ["customer_service"],
                 "description": "an id of GET /api/v1/purposes"}
_DEADLINE = obj({"due": nullable(TIME), "done_at": nullable(TIME),
                 "met": nullable({"type": "boolean"}), "overdue": {"type": "boolean"}})
_COMPLAINT_NEW = {
    "received_at": {"type": "string", "examples": ["2026-11-02T10:00:00+08:00"]},
    "customer_name": _SHORT, "account": _SHORT,
    "phone": {"type": "string", "examples": ["138 0013 8000"]},
    "channel": {"enum": [ch.value for ch in Channel]}, "received_by": _SHORT,
    "content": _TEXT, "category": _CATALOGUE_ID, "department": _CATALOGUE_ID,
    "severity": {"enum": [sv.value for sv in Severity]}}
SCHEMAS.update({
    "ComplaintInput": obj(_COMPLAINT_NEW, ["content", "department", "severity", "channel"]),
    "CallComplaintInput": obj(_COMPLAINT_NEW, ["content", "department", "severity"]),
    "ComplaintPatch": obj({"version": {"type": "integer"}, **{
        name: _TEXT for name in ("content", "verification", "solution", "callback_result",
                                 "explanation", "pm_opinion")}, **{
        name: _SHORT for name in ("customer_name", "account", "received_by",
                                  "department_manager", "handler")},
        "phone": {"type": "string"}, "channel": {"enum": [ch.value for ch in Channel]},
        "category": _CATALOGUE_ID}, ["version"]),
    "ComplaintTransition": obj({
        "to": {"enum": [st.value for st in ComplaintState
                        if st is not ComplaintState.REGISTERED]},
        "department": _CATALOGUE_ID, "handler": _SHORT, "found_true": {"type": "boolean"},
        "verification": _TEXT, "solution": _TEXT, "department_manager": _SHORT,
        "callback_result": _TEXT, "explanation": _TEXT, "pm_opinion": _TEXT,
        "pm_signed_by": _SHORT}, ["to"]),
    "ComplaintReply": obj({"kind": {"enum": [k.value for k in ReplyKind]}, "note": _TEXT},
                          ["kind"]),
    "ComplaintExtension": obj({"resolve_due": {"type": "string",
                                               "examples": ["2026-11-05T17:30:00+08:00"]},
                               "reason": _TEXT}, ["resolve_due"]),
    "Complaint": obj({"id": {"type": "integer"}, "state": {"enum": [
        st.value for st in ComplaintState]}, "allowed_next": {"type": "array", "items": STRING},
        "version": {"type": "integer"}, "sla": obj({
            "first_reply": _DEADLINE, "progress_reply": _DEADLINE, "visit": _DEADLINE,
            "resolution": {"type": "object"}, "overdue": {"type": "array", "items": STRING}}),
        "events": {"type": "array", "items": obj({
            "at": TIME, "actor": STRING, "kind": STRING, "from": nullable(STRING),
            "to": nullable(STRING), "details": {"type": "object"}})}},
        ["id", "state", "allowed_next", "version", "sla"], closed=False),
    "ComplaintPage": _page("Complaint"),
    "ComplaintDigest": obj({"at": TIME, "stages": {
        "type": "object", "additionalProperties": {"type": "array", "items": ref("Complaint")}}}),
})
P_COMPLAINT_ID = {**P_CALL_ID, "description": "the complaint's id"}


def _complaint_paths(v1: str) -> dict[str, Any]:
    missing = _problem("no such complaint")
    refused = _problem("not possible in this state: `allowed` names the next states")
    step = "supervisor"

    def write(summary: str, body: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return _op(summary, step, {"200": _ok("Complaint"), "404": missing, "409": refused,
                                   **(extra or {})},
                   params=[P_COMPLAINT_ID], body=body, tag="complaints")

    return {
        f"{v1}/complaints": {
            "post": _op("register a complaint by hand (deadlines computed in working time; "
                        "audited)", step, {"201": _ok("Complaint")}, body="ComplaintInput",
                        tag="complaints"),
            "get": _op("the register, newest first (audited; viewers see numbers and names "
                       "masked)", "viewer", {"200": _ok("ComplaintPage")}, params=[
                           _query("state", {"enum": [st.value for st in ComplaintState]},
                                  "the workflow state"),
                           _query("department", STRING, "a department id"),
                           _query("severity", {"enum": [sv.value for sv in Severity]},
                                  "the severity"),
                           _query("category", STRING, "a category (purpose) id"),
                           _query("overdue", {"type": "boolean"},
                                  "only complaints past a deadline now"),
                           P_FROM, P_TO, P_LIMIT, P_CURSOR], tag="complaints")},
        f"{v1}/complaints/digest": {"get": _op(
            "what must be chased now, per stage (audited)", "viewer",
            {"200": _ok("ComplaintDigest")}, tag="complaints")},
        f"{v1}/complaints/{{id}}": {
            "get": _op("one complaint with its SLA and events (audited)", "viewer",
                       {"200": _ok("Complaint"), "404": missing}, params=[P_COMPLAINT_ID],
                       tag="complaints"),
            "patch": write("change the forms' fields (with the version read; 409 when "
                           "changed meanwhile)", "ComplaintPatch")},
        f"{v1}/complaints/{{id}}/transitions": {"post": write(
            "move the complaint on (registered, assigned, verified, resolved, customer "
            "informed, visited, archived); resolving queues the callback visit",
            "ComplaintTransition")},
        f"{v1}/complaints/{{id}}/replies": {"post": write(
            "record the first or a progress reply to the customer", "ComplaintReply")},
        f"{v1}/complaints/{{id}}/extensions": {"post": write(
            "extend the resolution deadline (a reason past the target, never past the hard "
            "maximum)", "ComplaintExtension")},
        f"{v1}/calls/{{id}}/complaint": {"post": _op(
            "register a complaint from a call (its start, the caller's number; the call's "
            "purpose becomes complaint)", step,
            {"201": _ok("Complaint"), "404": _problem("no such call")},
            params=[P_CALL_ID], body="CallComplaintInput", tag="complaints")},
    }
# -- end the complaint register ----------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "hotline-pbx admin API", "version": __version__,
                 "description": "Schedules, exceptions, override and roster of the 400 "
                                "hotline; the call register and notes; KPIs; faults, "
                                "blocked outbound attempts and the audit log. Errors are "
                                "application/problem+json. See docs/api.md."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {**_paths(), **_long_call_paths(), **_staffing_paths(),
                  **_complaint_paths("/api/v1")},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "a token from `hotline-pbx token create`"}},
        },
    }
