"""The console's list pages: each shows one list endpoint of the API as a table
(the API masks, audits and pages it; the page only lays it out). A column is
(key of the item, Chinese heading, English heading)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ListPage:
    name: str  # the page's path under /console/ and its words key
    api: str  # the API list it shows
    items: str  # the key of the list in the API's answer
    columns: tuple[tuple[str, str, str], ...]


LIST_PAGES: tuple[ListPage, ...] = (
    ListPage("callbacks", "/api/v1/callbacks?limit=100", "items", (
        ("created_at", "创建时间", "Created"), ("caller", "号码", "Number"),
        ("reason", "原因", "Reason"), ("state", "状态", "State"),
        ("due_at", "期限", "Due"), ("overdue", "逾期", "Overdue"),
        ("result", "结果", "Result"), ("attempts", "尝试", "Attempts"))),
    ListPage("complaints", "/api/v1/complaints?limit=100", "items", (
        ("id", "编号", "No."), ("received_at", "受理时间", "Received"),
        ("customer_name", "客户", "Customer"), ("category", "类别", "Category"),
        ("department", "部门", "Department"), ("severity", "严重程度", "Severity"),
        ("state", "状态", "State"), ("resolve_due", "解决期限", "Resolve by"))),
    ListPage("faults", "/api/v1/faults?limit=100", "items", (
        ("started_at", "开始", "Started"), ("ended_at", "结束", "Ended"),
        ("cause", "原因", "Cause"), ("source", "来源", "Source"),
        ("duration_seconds", "时长（秒）", "Seconds"), ("note", "备注", "Note"))),
    ListPage("campaigns", "/api/v1/campaigns", "campaigns", (
        ("id", "编号", "No."), ("name", "名称", "Name"), ("state", "状态", "State"),
        ("created_at", "创建时间", "Created"), ("created_by", "创建人", "By"),
        ("finished_at", "完成时间", "Finished"))),
    ListPage("blocked", "/api/v1/blocked-outbound?limit=100", "items", (
        ("occurred_at", "时间", "Time"), ("dialled_number", "拨打号码", "Dialled"),
        ("source", "来源", "Source"), ("method", "方式", "Method"),
        ("action", "处理", "Action"), ("reaction_ms", "反应（毫秒）", "ms"))),
)
