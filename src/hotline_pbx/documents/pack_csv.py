"""The statistics pack as CSV: one table after another (the days, the purposes,
the complaints, the visits), for a spreadsheet. The API's ``format=csv`` and the
CLI's ``--format csv`` write it. It starts with the byte-order mark Excel needs
to read UTF-8 (the Chinese names) rather than guess a code page."""

from __future__ import annotations

import csv
import io
from typing import Any

DAY_COLUMNS = ("day", "mark", "working_day", "offered_all_periods", "offered", "answered",
               "abandoned", "short_abandoned", "missed", "answer_rate", "meets_floor",
               "service_level", "asa_seconds")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _day_line(day: dict[str, Any]) -> list[str]:
    opened = day["open_hours"] or {}
    every = day["all_periods"] or {}
    values = [day["day"], day["mark"], day["working_day"], every.get("offered", 0)]
    values += [opened.get(k, 0) for k in ("offered", "answered", "abandoned",
                                           "short_abandoned", "missed")]
    values += [opened.get(k) for k in ("answer_rate", "meets_floor", "service_level",
                                       "asa_seconds")]
    return [_cell(v) for v in values]


def pack_csv(pack: dict[str, Any]) -> str:
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow([pack["kind"], pack[pack["kind"]], "timezone", pack["timezone"],
                  "note", pack["note"] or ""])
    out.writerows([[], DAY_COLUMNS, *(_day_line(d) for d in pack["days"])])
    out.writerows([[], ["purpose", "name", "talk_target_seconds", "calls", "answered",
                        "met_target"]])
    out.writerows([_cell(p[k]) for k in ("purpose", "name", "talk_target_seconds", "calls",
                                         "answered", "met_target")] for p in pack["purposes"])
    complaints = pack["complaints"]
    out.writerows([[], ["complaints", "group", "value", "count"]])
    for group in ("by_department", "by_category", "by_severity"):
        out.writerows(["complaints", group, k, n] for k, n in complaints[group].items())
    out.writerows(["complaints", "sla", k, _cell(v["compliance"])]
                  for k, v in complaints["sla"].items())
    out.writerow(["complaints", "mean_resolution_working_hours", "",
                  _cell(complaints["mean_resolution_working_hours"])])
    out.writerows([[], ["visits", "scale", "count", "mean", "distribution"]])
    out.writerows(["visits", s["scale"], s["count"], _cell(s["mean"]),
                   " ".join(f"{k}:{v}" for k, v in s["distribution"].items())]
                  for s in pack["visits"]["per_scale"])
    return "\ufeff" + buffer.getvalue()
