"""A complaint row written straight through SQL, for the tests of what the
register's neighbours do with complaints (visits, monthly statistics). The
register itself (store/complaint_repo.py) computes these deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.store import models


def complaint_row(received: datetime | None = None, **extra: Any) -> dict[str, Any]:
    at = received or datetime.now(UTC)
    row: dict[str, Any] = {
        "received_at": at, "customer_name": "张三", "phone": "13800138000",
        "channel": "hotline", "content": "the repair came late", "category": "complaint",
        "department": "customer_service", "severity": "general", "state": "resolved",
        "found_true": True, "first_reply_due": at + timedelta(hours=2),
        "progress_reply_due": at + timedelta(hours=24),
        "resolve_target": at + timedelta(days=1), "resolve_hard_max": at + timedelta(days=3),
        "resolve_due": at + timedelta(days=1), "created_by": "token:supervisor-user"}
    row.update(extra)
    return row


async def add_complaint(conn: AsyncConnection, **fields: Any) -> int:
    return int((await conn.execute(insert(models.complaints).values(**complaint_row(**fields))
                                   .returning(models.complaints.c.id))).scalar_one())
