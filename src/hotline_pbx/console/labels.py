"""The console's words, Chinese (the default) and English; the same keys in both
(a unit test checks). Plain text: the templates escape them."""

from __future__ import annotations

from typing import Final

from hotline_pbx.domain.contract import DEFAULT_LANGUAGE, LANGUAGES

__all__ = ["DEFAULT_LANGUAGE", "EN", "LANGUAGES", "LANG_COOKIE", "ZH", "words"]

LANG_COOKIE: Final = "hotline_lang"

ZH: Final[dict[str, str]] = {
    "title": "客服热线控制台", "login": "登录", "logout": "退出", "token": "访问令牌",
    "token_help": "使用 hotline-pbx token create 生成的令牌（hpx_…）",
    "login_failed": "令牌无效或已吊销。", "language": "语言",
    "wallboard": "实时看板", "schedule": "日程与切换", "calls": "来电记录", "reports": "统计报表",
    "open": "工作中", "closed": "已关闭", "lunch": "午休", "override": "人工切换",
    "next_change": "下次变更", "on_duty": "值班", "supervisor": "值班主管", "deputy": "代班人",
    "supervisor_absent": "主管不在岗，由代班人接听", "nobody_on_duty": "无人值班",
    "waiting": "排队中", "longest_wait": "最长等待", "in_progress": "通话中",
    "long_calls": "长时通话", "today": "今日", "offered": "来电", "answered": "接通",
    "abandoned": "放弃", "missed": "未接", "answer_rate": "接通率", "floor": "85 % 下限",
    "service_level": "服务水平", "asa": "平均应答", "after_hours": "非工作时间来电",
    "line": "线路", "line_up": "正常", "line_down": "故障", "line_unknown": "未知",
    "complaints_overdue": "逾期投诉", "seconds": "秒", "connected": "已连接",
    "reconnecting": "重新连接中…", "override_title": "日夜切换",
    "override_help": "强制开放或关闭热线，直到指定时间；到时自动恢复日程。",
    "mode": "模式", "force_open": "强制开放", "force_closed": "强制关闭", "until": "直到",
    "reason": "原因", "apply": "应用", "clear_override": "取消切换", "saved": "已保存",
    "current_override": "当前切换", "none": "无", "refused": "未接受：",
    "caller": "主叫号码", "started": "时间", "period": "时段", "outcome": "结果",
    "wait": "等待", "talk": "通话", "purpose": "用途", "load_more": "更多",
    "month": "月份", "show": "显示", "download_pdf": "下载 PDF", "role": "角色",
    "roster": "值班表", "callbacks": "回拨任务", "complaints": "投诉", "faults": "线路故障",
    "campaigns": "紧急通知", "blocked": "外呼拦截", "call": "来电", "timeline": "时间线",
    "notes": "备注", "note": "备注", "add_note": "添加备注", "name": "姓名", "mobile": "手机",
    "deputies": "代班人", "absences": "缺勤", "person": "人员", "from": "从", "to": "至",
    "save": "保存", "weekly": "每周工作时间", "weekday": "星期", "start": "开始", "end": "结束",
    "period_row": "时段", "exceptions": "特别日期", "date": "日期", "kind": "类型",
    "kind_closed": "休息", "kind_open": "开放", "periods": "开放时段", "add": "添加",
    "delete": "删除", "remove": "移除", "open_call": "查看",
    "callbacks_overdue": "逾期回拨", "blocked_today": "今日拦截外呼",
}

EN: Final[dict[str, str]] = {
    "title": "Hotline console", "login": "Log in", "logout": "Log out", "token": "Access token",
    "token_help": "A token made with hotline-pbx token create (hpx_…)",
    "login_failed": "The token is unknown or revoked.", "language": "Language",
    "wallboard": "Wallboard", "schedule": "Schedule and switch", "calls": "Calls",
    "reports": "Reports",
    "open": "Open", "closed": "Closed", "lunch": "Lunch break", "override": "Override",
    "next_change": "Next change", "on_duty": "On duty", "supervisor": "Supervisor",
    "deputy": "Deputy", "supervisor_absent": "The supervisor is away: a deputy takes calls",
    "nobody_on_duty": "Nobody on duty",
    "waiting": "Waiting", "longest_wait": "Longest wait", "in_progress": "In progress",
    "long_calls": "Long calls", "today": "Today", "offered": "Offered", "answered": "Answered",
    "abandoned": "Abandoned", "missed": "Missed", "answer_rate": "Answer rate",
    "floor": "85 % floor", "service_level": "Service level", "asa": "ASA",
    "after_hours": "After-hours calls", "line": "Line", "line_up": "up", "line_down": "down",
    "line_unknown": "unknown", "complaints_overdue": "Complaints overdue", "seconds": "s",
    "connected": "connected", "reconnecting": "reconnecting…",
    "override_title": "Day/night switch",
    "override_help": "Force the hotline open or closed until a time; the schedule applies "
                     "again after it.",
    "mode": "Mode", "force_open": "Force open", "force_closed": "Force closed",
    "until": "Until", "reason": "Reason", "apply": "Apply", "clear_override": "Clear",
    "saved": "Saved", "current_override": "Current override", "none": "none",
    "refused": "Refused: ",
    "caller": "Caller", "started": "Time", "period": "Period", "outcome": "Outcome",
    "wait": "Wait", "talk": "Talk", "purpose": "Purpose", "load_more": "More",
    "month": "Month", "show": "Show", "download_pdf": "Download PDF", "role": "Role",
    "roster": "Roster", "callbacks": "Callbacks", "complaints": "Complaints",
    "faults": "Line faults", "campaigns": "Campaigns", "blocked": "Blocked outbound",
    "call": "Call", "timeline": "Timeline", "notes": "Notes", "note": "Note",
    "add_note": "Add note", "name": "Name", "mobile": "Mobile", "deputies": "Deputies",
    "absences": "Absences", "person": "Person", "from": "From", "to": "To", "save": "Save",
    "weekly": "Weekly hours", "weekday": "Day", "start": "Start", "end": "End",
    "period_row": "Period", "exceptions": "Dated exceptions", "date": "Date", "kind": "Kind",
    "kind_closed": "closed", "kind_open": "open", "periods": "Open periods", "add": "Add",
    "delete": "Delete", "remove": "Remove", "open_call": "Open",
    "callbacks_overdue": "Callbacks overdue", "blocked_today": "Blocked outbound today",
}

_TABLES: Final = {"zh-CN": ZH, "en": EN}


def words(language: str) -> dict[str, str]:
    return _TABLES.get(language, ZH)
