"""hotline_pbx.lifecycle: background tasks, start/stop in order on one exit stack,
and the readiness board, with real small services (real tasks, real sockets)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_pbx.lifecycle import (
    BackgroundTask,
    Components,
    Fixed,
    Readiness,
    ReadinessBoard,
    combine,
)

WAIT = 5.0


def task_records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "hotline_pbx.lifecycle"
            and name in r.getMessage()]


async def until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


# -- BackgroundTask -------------------------------------------------------------------


async def test_a_task_that_raises_is_logged_once_with_its_traceback_and_reported(
        caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("the queue is gone")

    task = BackgroundTask("doomed", run)
    task.start()
    assert task.readiness() == Readiness(True, "")
    await until(lambda: task.failure is not None)
    await asyncio.sleep(0.05)  # nothing more is logged later
    [record] = task_records(caplog, "doomed")
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert "raise RuntimeError" in caplog.text  # the traceback itself
    assert task.readiness() == Readiness(False, "doomed died: RuntimeError: the queue is gone")
    await task.stop()  # stopping a dead task neither raises nor logs again
    assert len(task_records(caplog, "doomed")) == 1
    assert not task.readiness().ok


async def test_a_task_that_returns_or_is_cancelled_by_someone_else_is_not_silently_gone(
        caplog: pytest.LogCaptureFixture) -> None:
    async def returns() -> None:
        await asyncio.sleep(0)

    async def forever() -> None:
        await asyncio.Event().wait()

    ended = BackgroundTask("quitter", returns)
    cancelled = BackgroundTask("victim", forever)
    ended.start()
    cancelled.start()
    await asyncio.sleep(0)
    for task in asyncio.all_tasks():
        if task.get_name() == "victim":
            task.cancel()
    await until(lambda: ended.failure is not None and cancelled.failure is not None)
    assert ended.readiness() == Readiness(False, "quitter ended")
    assert cancelled.readiness() == Readiness(False, "victim was cancelled")
    assert len(task_records(caplog, "quitter")) == len(task_records(caplog, "victim")) == 1
    await ended.stop()
    await cancelled.stop()


async def test_stop_cancels_and_awaits_the_task(caplog: pytest.LogCaptureFixture) -> None:
    cleaned_up: list[str] = []
    running = asyncio.Event()

    async def run() -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.01)  # cleanup that itself awaits
            cleaned_up.append("done")

    task = BackgroundTask("worker", run)
    task.start()
    await running.wait()
    assert task.active
    await task.stop()
    assert cleaned_up == ["done"]  # stop returned only after the task had ended
    assert not task.active
    assert task.readiness() == Readiness(False, "worker stopped")
    assert task_records(caplog, "worker") == []  # an asked-for end is not an error
    await task.stop()  # twice: nothing happens
    assert cleaned_up == ["done"]


async def test_stop_with_grace_lets_a_task_finish_on_its_own() -> None:
    told = asyncio.Event()
    finished: list[bool] = []

    async def run() -> None:
        await told.wait()
        await asyncio.sleep(0.05)  # the last batch
        finished.append(True)

    task = BackgroundTask("drainer", run)
    task.start()
    told.set()
    await task.stop(grace=WAIT)
    assert finished == [True]  # not cancelled half-way


async def test_stop_after_the_grace_period_cancels() -> None:
    async def run() -> None:
        await asyncio.Event().wait()

    task = BackgroundTask("stubborn", run)
    task.start()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await task.stop(grace=0.1)
    assert 0.1 <= loop.time() - started < WAIT
    assert [t for t in asyncio.all_tasks() if t.get_name() == "stubborn"] == []


async def test_a_stop_that_is_itself_cancelled_still_cancels_the_task() -> None:
    async def run() -> None:
        await asyncio.Event().wait()

    task = BackgroundTask("orphan", run)
    task.start()
    stopping = asyncio.create_task(task.stop(grace=60))
    await asyncio.sleep(0.05)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    await until(lambda: not [t for t in asyncio.all_tasks() if t.get_name() == "orphan"])


async def test_a_task_cannot_be_started_twice() -> None:
    async def run() -> None:
        await asyncio.Event().wait()

    task = BackgroundTask("once", run)
    task.start()
    with pytest.raises(RuntimeError, match="already started"):
        task.start()
    await task.stop()


# -- Components: start in order, unwind exactly what started ------------------------------


class Listener:
    """A real small service: a TCP listener on loopback, with a heartbeat task."""

    def __init__(self, name: str, port: int, journal: list[str]) -> None:
        self.name = name
        self.port = port
        self.journal = journal
        self.server: asyncio.Server | None = None
        self.beats = 0
        self._heartbeat = BackgroundTask(f"{name}-heartbeat", self._beat)

    async def _beat(self) -> None:
        while True:
            self.beats += 1
            await asyncio.sleep(0.01)

    async def start(self) -> None:
        self.journal.append(f"start {self.name}")
        self.server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1",
                                                 self.port)  # OSError if taken
        self.port = self.server.sockets[0].getsockname()[1]
        self._heartbeat.start()

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")
        await self._heartbeat.stop()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    def readiness(self) -> Readiness:
        return self._heartbeat.readiness()


def accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def start_until_failure(count: int, failing: int) -> tuple[list[str], list[Listener]]:
    """Start listeners 1..count in order; number ``failing`` (1-based) finds its
    port taken. Returns the journal and the listeners."""
    journal: list[str] = []
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        services = [Listener(f"s{i}", taken if i == failing else 0, journal)
                    for i in range(1, count + 1)]
        components = Components(ReadinessBoard())
        try:
            for service in services:
                await components.start(service, reports_as="all")
        except OSError:
            await components.stop()
        else:
            raise AssertionError("the taken port did not fail")
        await components.stop()  # a second stop finds nothing left to stop
    return journal, services


async def test_a_start_failure_at_step_k_stops_steps_k_minus_1_to_1_once_in_reverse() -> None:
    journal, services = await start_until_failure(count=5, failing=4)
    assert journal == ["start s1", "start s2", "start s3", "start s4",
                       "stop s3", "stop s2", "stop s1"]
    for service in services[:3]:
        assert not accepts(service.port)  # really closed
        assert service.beats > 0 and not service.readiness().ok  # its task ran, then stopped
    assert services[4].server is None  # never started


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=6).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=1, max_value=n))))
def test_any_failing_step_unwinds_exactly_what_started(case: tuple[int, int]) -> None:
    count, failing = case
    journal, _ = asyncio.run(start_until_failure(count, failing))
    assert journal == ([f"start s{i}" for i in range(1, failing + 1)]
                       + [f"stop s{i}" for i in range(failing - 1, 0, -1)])


async def test_a_stop_that_fails_is_logged_and_the_others_still_stop(
        caplog: pytest.LogCaptureFixture) -> None:
    journal: list[str] = []
    first, second = Listener("first", 0, journal), Listener("second", 0, journal)
    components = Components(ReadinessBoard())
    await components.start(first)
    await components.start(second)

    async def broken() -> None:
        journal.append("stop broken")
        raise OSError("disk gone")

    components.on_stop("broken", broken)
    await components.stop()
    assert journal[-3:] == ["stop broken", "stop second", "stop first"]
    assert "error while stopping broken" in caplog.text
    assert not accepts(first.port) and not accepts(second.port)


# -- the readiness board -----------------------------------------------------------------------


class Asking:
    """A reporter that has to ask (like the database's SELECT 1)."""

    def __init__(self, answer: Readiness | Exception) -> None:
        self.answer = answer

    async def readiness(self) -> Readiness:
        await asyncio.sleep(0)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_the_board_reports_every_declared_component_in_order() -> None:
    board = ReadinessBoard(("database", "routing", "ami"))
    board.add("database", Asking(Readiness(True, "PostgreSQL at db:5432/hotline")))
    board.add("database", Fixed(Readiness(True, "")))  # a writer that runs
    board.add("ami", Fixed(Readiness(False, "not connected")))
    board.add("ami", Asking(TimeoutError()))
    report = await board.report()
    assert list(report) == ["database", "routing", "ami"]
    assert report["database"] == Readiness(True, "PostgreSQL at db:5432/hotline")
    assert report["routing"] == Readiness(False, "not started")  # declared, not reported yet
    assert report["ami"] == Readiness(False, "not connected; TimeoutError")


async def test_a_dead_task_makes_its_component_not_ready() -> None:
    async def run() -> None:
        raise ValueError("bad event")

    task = BackgroundTask("ami-events", run)
    board = ReadinessBoard(("ami",))
    board.add("ami", Fixed(Readiness(True, "connected to 127.0.0.1:5038")))
    board.add("ami", task)
    task.start()
    await until(lambda: task.failure is not None)
    assert (await board.report())["ami"] == Readiness(
        False, "ami-events died: ValueError: bad event")
    await task.stop()


@given(st.lists(st.tuples(st.booleans(), st.text(max_size=5)), min_size=1, max_size=6))
def test_a_component_is_ready_exactly_when_all_its_parts_are(
        parts: list[tuple[bool, str]]) -> None:
    combined = combine(Readiness(ok, detail) for ok, detail in parts)
    assert combined.ok == all(ok for ok, _ in parts)
    for ok, detail in parts:
        if detail and (ok == combined.ok):  # what is not ready is named, and when ready, all
            assert detail in combined.detail
