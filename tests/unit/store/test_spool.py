"""The spool on its own (files only, no database): private modes, and records of
every kind coming back exactly as they went in."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_pbx.store.batch_writer import REJECTED, Spool
from hotline_pbx.store.blocked_repo import ACTIONS, BLOCKED_ATTEMPTS, METHODS, BlockedRecord
from hotline_pbx.store.call_writer import CALL_RECORDS
from tests.integration.test_call_writer import make_record


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("permissive_umask")
def test_a_new_spool_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """Issue #9 item 13: records hold caller numbers."""
    root = tmp_path / "spool"
    spool = Spool(root, CALL_RECORDS, segment_records=2)
    spool.open()
    spool.append([make_record(n) for n in range(3)])  # two segments
    spool.reject(make_record(9), "a constraint")
    assert (mode(root), mode(root / "calls")) == (0o700, 0o700)
    files = sorted((root / "calls").iterdir())
    assert [p.name for p in files] == ["calls-0000000001.jsonl", "calls-0000000002.jsonl",
                                       REJECTED]
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


@pytest.mark.usefixtures("permissive_umask")
def test_an_existing_spool_is_made_private_at_start(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    (root / "blocked_outbound").mkdir(parents=True, mode=0o755)
    os.chmod(root, 0o755)
    legacy = root / "rejected.jsonl"  # left by a version with one flat spool
    legacy.write_text("{}\n")
    os.chmod(legacy, 0o644)
    segment = root / "blocked_outbound" / "blocked_outbound-0000000001.jsonl"
    segment.write_text("")
    os.chmod(segment, 0o666)
    Spool(root, BLOCKED_ATTEMPTS).open()
    assert (mode(root), mode(root / "blocked_outbound")) == (0o700, 0o700)
    assert (mode(legacy), mode(segment)) == (0o600, 0o600)


def test_each_kind_has_its_own_directory(tmp_path: Path) -> None:
    calls, blocked = Spool(tmp_path, CALL_RECORDS), Spool(tmp_path, BLOCKED_ATTEMPTS)
    calls.open(), blocked.open()
    calls.append([make_record(1)])
    assert blocked.segments() == [] and len(calls.segments()) == 1
    assert calls.directory == tmp_path / "calls"


T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
blocked_records = st.builds(
    BlockedRecord,
    event_key=text, occurred_at=st.integers(0, 10**9).map(lambda s: T0 + timedelta(
        microseconds=s)),
    method=st.sampled_from(METHODS), action=st.sampled_from(ACTIONS),
    source_channel=text, source=text,
    dialled_number=st.text(st.sampled_from("0123456789 +-#*\n\u3000"), max_size=20),
    reaction_ms=st.none() | st.floats(0, 1e6),
    details=st.dictionaries(text, text | st.integers(-(2**53), 2**53), max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(blocked_records, max_size=12), st.integers(1, 5))
def test_blocked_records_come_back_from_the_spool_as_they_went_in(
        records: list[BlockedRecord], segment_records: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp), BLOCKED_ATTEMPTS, segment_records)
        assert spool.open() == 0
        spool.append(records)
        assert spool.open() == len(records)
        assert [r for segment in spool.segments() for r in spool.read(segment)] == records
