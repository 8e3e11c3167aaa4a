"""One lifecycle for every component: start, stop, and a readiness report.

A **service** (:class:`Service`) has a ``name`` (for log lines), ``async
start()``, ``async stop()`` and ``readiness()``. ``start`` either succeeds or
leaves nothing running; ``stop`` is safe to call once after a successful
start. ``app.py`` starts the services in order with :class:`Components`, one
``AsyncExitStack``: a failure at any step stops exactly what had started, in
reverse, once each.

A long-running coroutine of a service (a reconnect loop, a queue consumer, a
periodic sweep) runs in a :class:`BackgroundTask`: start, stop (cancel and
await, after an optional grace period), and a task that ends while nobody
stopped it is logged once with its traceback and makes its service not ready
(never silently gone).

``/readyz`` reads one :class:`ReadinessBoard`: named components (database,
routing, ami, agi), each the sum of the services that report as it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from contextlib import AsyncExitStack
from typing import Any, NamedTuple, Protocol, TypeVar

log = logging.getLogger(__name__)


class Readiness(NamedTuple):
    """Ready or not, and why (a person reads ``detail`` in ``/readyz``)."""

    ok: bool
    detail: str


READY = Readiness(True, "")


class Reporter(Protocol):
    """Anything that reports readiness: at once, or by asking (the database
    answers ``SELECT 1``)."""

    def readiness(self) -> Readiness | Awaitable[Readiness]: ...


class Service(Reporter, Protocol):
    @property
    def name(self) -> str: ...  # for log lines

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=Service)


def describe(exc: BaseException) -> str:
    """An exception for a log line or a readiness detail: its type and text."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class BackgroundTask:
    """One long-running coroutine: started, stopped, and never silently gone.

    The coroutine is meant to run until :meth:`stop`. If it ends before (it
    raised, returned, or someone else cancelled it) that is logged once, with
    the traceback, and :meth:`readiness` says so until the service stops.
    """

    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.failure: str | None = None  # why it ended unexpectedly

    @property
    def active(self) -> bool:
        """Started and not yet stopped (it may have died meanwhile: see ``failure``)."""
        return self._task is not None and not self._stopping

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError(f"{self.name} already started")
        self._task = asyncio.create_task(self._run(), name=self.name)
        self._task.add_done_callback(self._ended)

    async def stop(self, grace: float = 0.0) -> None:
        """Let the task finish on its own for up to ``grace`` seconds (its owner
        has told it to), then cancel it; returns once it has ended."""
        task = self._task
        if task is None or self._stopping:
            return
        self._stopping = True
        try:
            if grace > 0:
                await asyncio.wait({task}, timeout=grace)
            task.cancel()
            await asyncio.wait({task})  # never raises what the task raised: logged already
        finally:
            task.cancel()  # also when the caller itself is cancelled while waiting

    def readiness(self) -> Readiness:
        if self._task is None:
            return Readiness(False, f"{self.name} not started")
        if self.failure is not None:
            return Readiness(False, f"{self.name} {self.failure}")
        if self._stopping:
            return Readiness(False, f"{self.name} stopped")
        return READY

    def _ended(self, task: asyncio.Task[None]) -> None:
        if self._stopping:
            return
        if task.cancelled():
            self.failure = "was cancelled"
            log.error("background task %s was cancelled", self.name)
            return
        exc = task.exception()
        if exc is None:
            self.failure = "ended"
            log.error("background task %s ended on its own", self.name)
            return
        self.failure = f"died: {describe(exc)}"
        log.error("background task %s died", self.name, exc_info=exc)


NOT_STARTED = Readiness(False, "not started")


class Fixed:
    """A reporter whose answer never changes (``ami``: disabled)."""

    def __init__(self, readiness: Readiness) -> None:
        self._readiness = readiness

    def readiness(self) -> Readiness:
        return self._readiness


async def report_of(reporter: Reporter) -> Readiness:
    """Ask one reporter; one that fails to answer is not ready (never a 500)."""
    try:
        result = reporter.readiness()
        return await result if inspect.isawaitable(result) else result
    except Exception as exc:
        return Readiness(False, describe(exc))


def combine(parts: Iterable[Readiness]) -> Readiness:
    """A component is ready when all its parts are; the detail names what is not
    (or, when all are, what the parts say)."""
    parts = list(parts)
    if not parts:
        return NOT_STARTED
    failing = [part for part in parts if not part.ok]
    shown = failing or parts
    return Readiness(not failing, "; ".join(part.detail for part in shown if part.detail))


class ReadinessBoard:
    """The readiness of the daemon: named components, each reported by its services.

    A component declared but not yet reported by any service (still starting)
    is not ready.
    """

    def __init__(self, components: Iterable[str] = (), *, advisory: Iterable[str] = ()) -> None:
        self._reporters: dict[str, list[Reporter]] = {name: [] for name in components}
        # Reported, but never what makes the daemon not ready: a component whose
        # trouble must not take call routing out of service (the line monitor).
        self.advisory = frozenset(advisory)

    def ready(self, report: Mapping[str, Readiness]) -> bool:
        return all(item.ok for name, item in report.items() if name not in self.advisory)

    def add(self, component: str, reporter: Reporter) -> None:
        self._reporters.setdefault(component, []).append(reporter)

    async def report(self) -> Mapping[str, Readiness]:
        return {name: combine([await report_of(r) for r in reporters])
                for name, reporters in self._reporters.items()}


class Components:
    """Services started in order on one ``AsyncExitStack`` and stopped in reverse.

    :meth:`start` puts a service on the stack only once its own ``start`` has
    succeeded, so :meth:`stop` (after a failure at any step, or at shutdown)
    stops exactly what started, once each. A service whose ``stop`` fails is
    logged and the others still stop.
    """

    def __init__(self, board: ReadinessBoard) -> None:
        self.board = board
        self._stack = AsyncExitStack()

    async def start(self, service: S, *, reports_as: str | None = None) -> S:
        await service.start()
        self._stack.push_async_callback(_stop_logged, service.name, service.stop)
        if reports_as is not None:
            self.board.add(reports_as, service)
        return service

    def on_stop(self, name: str, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` first when stopping (before everything started so far)."""
        self._stack.push_async_callback(_stop_logged, name, callback)

    async def stop(self) -> None:
        await self._stack.aclose()


async def _stop_logged(name: str, stop: Callable[[], Awaitable[None]]) -> None:
    try:
        await stop()
    except Exception:
        log.exception("error while stopping %s", name)
