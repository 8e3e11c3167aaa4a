"""The words of the printable statistics pack, in Chinese (the default: the
hotline's staff and managers are Chinese) and English.

One table per language with the same keys; :func:`words` picks one and a unit
test checks that both have every key. Values are plain text: the template
escapes them.
"""

from __future__ import annotations

from typing import Final

from hotline_pbx.domain.contract import DEFAULT_LANGUAGE, LANGUAGES

__all__ = ["DEFAULT_LANGUAGE", "EN", "LANGUAGES", "ZH", "word", "words"]

ZH: Final[dict[str, str]] = {
    "title_month": "客服热线月度统计 {label}",
    "title_day": "客服热线日报 {label}",
    "subtitle": "时区 {zone} · 生成于 {generated}",
    "partial": "统计期尚未结束，数字截至生成时间。",
    "empty": "本期没有来电记录。",
    "summary": "概要",
    "offered": "来电", "answered": "接通", "abandoned": "放弃", "short_abandoned": "短时放弃",
    "missed": "未接", "answer_rate": "接通率", "service_level": "服务水平",
    "asa": "平均应答时间", "floor": "85 % 下限", "meets_floor": "达标", "below_floor": "未达标",
    "all_periods": "全部时段来电", "open_hours": "工作时间", "working_days": "工作日",
    "unrouted": "路由前挂断", "test_calls": "线路测试呼叫",
    "daily": "每日接通率（工作时间）", "day": "日期", "mark": "日历",
    "chart_daily": "每日接通率与 85 % 下限",
    "heat": "接通率：时段 × 星期（工作时间）", "hour": "时", "no_calls": "无来电",
    "after_hours": "非工作时间来电", "taken_by": "接听人", "role": "角色", "person": "人员",
    "calls": "来电数", "not_answered": "未接听",
    "failovers": "转接备用人", "failover_calls": "转接的来电", "failover_attempts": "转接次数",
    "blocked_outbound": "被拦截的外呼", "line": "线路", "faults": "故障",
    "downtime": "故障总时长", "still_open": "未修复", "line_tests": "线路测试（通过）",
    "callbacks": "回拨", "opened": "新建", "done": "完成", "done_by_deadline": "按时完成",
    "overdue": "逾期未办", "cancelled": "取消",
    "long_calls": "长时通话", "longest_talk": "最长通话",
    "longest_waits": "等待最久的来电", "started": "时间", "wait": "等待", "outcome": "结果",
    "period": "时段",
    "purposes": "来电用途", "purpose": "用途", "talk_target": "通话目标", "met_target": "达标",
    "none_yet": "（未分类）",
    "complaints": "投诉", "received": "受理", "resolved": "解决",
    "mean_resolution": "平均解决用时（工作小时）", "by_department": "按部门",
    "by_category": "按类别", "by_severity": "按严重程度", "sla": "时限达成",
    "sla_target": "目标时限内", "sla_due": "延期后时限内", "sla_hard_max": "最长时限内",
    "visits": "回访满意度", "visit_count": "回访", "by_dialer": "自动回访",
    "by_person": "人工回访", "mean_score": "平均分", "scale": "分制",
    "staffing": "人员配置建议（Erlang A）",
    "staffing_note": "{first} 至 {last} 的 {days} 个工作日；"
                     "每半小时为达到接通率 ≥ 85 % 与服务水平目标所需的坐席数。",
    "agents_needed": "所需坐席", "staffing_empty": "该时段没有工作时间来电，无法给出建议。",
    "seconds": "秒", "hours": "小时", "minutes": "分",
    "weekday_0": "周一", "weekday_1": "周二", "weekday_2": "周三", "weekday_3": "周四",
    "weekday_4": "周五", "weekday_5": "周六", "weekday_6": "周日",
    "mark_working": "工作日", "mark_non_working": "休息日", "mark_statutory_holiday": "法定节假日",
    "mark_make_up_workday": "调休上班", "mark_exception_open": "特别开放",
    "mark_exception_closed": "特别休息",
    "period_open": "工作时间", "period_closed": "非工作时间", "period_override": "人工切换",
    "period_failsafe": "应急路由",
    "outcome_answered": "接通", "outcome_abandoned": "放弃", "outcome_short_abandoned": "短时放弃",
    "outcome_missed": "未接",
    "role_supervisor": "值班主管", "role_deputy": "代班人", "role_agent": "坐席",
    "role_unknown": "未知",
    "severity_simple": "简单", "severity_general": "一般", "severity_complex": "复杂",
    "definitions": "口径：接通率 = 接通 ÷ (来电 − 短时放弃)，只计工作时间；"
                   "非工作时间、人工切换与应急路由的来电不拉低接通率（docs/kpi.md）。",
}

EN: Final[dict[str, str]] = {
    "title_month": "Hotline monthly statistics {label}",
    "title_day": "Hotline daily statistics {label}",
    "subtitle": "Time zone {zone} · generated {generated}",
    "partial": "The period has not ended: figures as of the time generated.",
    "empty": "No calls were recorded in this period.",
    "summary": "Summary",
    "offered": "Offered", "answered": "Answered", "abandoned": "Abandoned",
    "short_abandoned": "Short abandons", "missed": "Missed", "answer_rate": "Answer rate",
    "service_level": "Service level", "asa": "ASA", "floor": "85 % floor",
    "meets_floor": "met", "below_floor": "BELOW",
    "all_periods": "Offered, every period", "open_hours": "Open hours",
    "working_days": "Working days", "unrouted": "Hung up before routing",
    "test_calls": "Line test calls",
    "daily": "Answer rate per day (open hours)", "day": "Day", "mark": "Calendar",
    "chart_daily": "Answer rate per day against the 85 % floor",
    "heat": "Answer rate by hour of day × weekday (open hours)", "hour": "Hour",
    "no_calls": "no calls",
    "after_hours": "After-hours calls", "taken_by": "Taken by", "role": "Role",
    "person": "Person", "calls": "Calls", "not_answered": "Not answered",
    "failovers": "Failovers", "failover_calls": "Calls failed over",
    "failover_attempts": "Failover attempts",
    "blocked_outbound": "Blocked outbound attempts", "line": "Line", "faults": "Faults",
    "downtime": "Total downtime", "still_open": "Still open",
    "line_tests": "Line tests (passed)",
    "callbacks": "Callbacks", "opened": "Opened", "done": "Done",
    "done_by_deadline": "Done by the deadline", "overdue": "Overdue", "cancelled": "Cancelled",
    "long_calls": "Long calls", "longest_talk": "Longest talk",
    "longest_waits": "Longest waits", "started": "Time", "wait": "Wait",
    "outcome": "Outcome", "period": "Period",
    "purposes": "Call purposes", "purpose": "Purpose", "talk_target": "Talk target",
    "met_target": "Met target", "none_yet": "(not given yet)",
    "complaints": "Complaints", "received": "Received", "resolved": "Resolved",
    "mean_resolution": "Mean resolution (working hours)", "by_department": "By department",
    "by_category": "By category", "by_severity": "By severity", "sla": "Deadlines met",
    "sla_target": "Within the target", "sla_due": "Within the extended deadline",
    "sla_hard_max": "Within the hard maximum",
    "visits": "Visit satisfaction", "visit_count": "Visits", "by_dialer": "By the dialer",
    "by_person": "By a person", "mean_score": "Mean score", "scale": "Scale",
    "staffing": "Staffing advice (Erlang A)",
    "staffing_note": "{days} working days from {first} to {last}; agents needed per half "
                     "hour for an answer rate ≥ 85 % and the service-level target.",
    "agents_needed": "Agents needed",
    "staffing_empty": "No open-hours calls in this window: nothing to advise from.",
    "seconds": "s", "hours": "h", "minutes": "min",
    "weekday_0": "Mon", "weekday_1": "Tue", "weekday_2": "Wed", "weekday_3": "Thu",
    "weekday_4": "Fri", "weekday_5": "Sat", "weekday_6": "Sun",
    "mark_working": "working day", "mark_non_working": "non-working day",
    "mark_statutory_holiday": "statutory holiday", "mark_make_up_workday": "make-up workday",
    "mark_exception_open": "exception, open", "mark_exception_closed": "exception, closed",
    "period_open": "open", "period_closed": "closed", "period_override": "override",
    "period_failsafe": "fail-safe",
    "outcome_answered": "answered", "outcome_abandoned": "abandoned",
    "outcome_short_abandoned": "short abandon", "outcome_missed": "missed",
    "role_supervisor": "supervisor", "role_deputy": "deputy", "role_agent": "agent",
    "role_unknown": "unknown",
    "severity_simple": "simple", "severity_general": "general", "severity_complex": "complex",
    "definitions": "Definitions: answer rate = answered ÷ (offered − short abandons), open "
                   "hours only; closed-period, override and fail-safe calls never pull it "
                   "down (docs/kpi.md).",
}

_TABLES: Final = {"zh-CN": ZH, "en": EN}


def words(language: str) -> dict[str, str]:
    """The table of ``language`` (one of :data:`LANGUAGES`); KeyError otherwise."""
    return _TABLES[language]


def word(table: dict[str, str], key: str) -> str:
    """A word, or the key itself for a value the table does not know (a custom
    department id, a new outcome), so nothing is ever left blank."""
    return table.get(key, key.split("_", 1)[-1] if "_" in key else key)
