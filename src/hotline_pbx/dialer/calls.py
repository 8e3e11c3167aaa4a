"""Placing and watching one channel, shared by every dialog: originate into the
dialer's Stasis app, wait for answer or end, play and read keys, hang up.

Every wait is bounded; an ARI error ends the step, never the dialer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from hotline_pbx.ari.client import AriClient
from hotline_pbx.ari.errors import AriError
from hotline_pbx.dialer.legs import Leg, LegBook
from hotline_pbx.lifecycle import describe

log = logging.getLogger(__name__)

#: Seconds beyond the ring timeout before a leg that neither answered nor ended
#: is given up (Asterisk should have ended it by then).
RING_GRACE = 10.0
#: Seconds a hung-up channel may take to report its end.
HANGUP_WAIT = 5.0
#: Longest a prompt may play before we stop waiting for its end.
PLAY_LIMIT = 150.0

_playbacks = itertools.count(1)


class OriginateGate:
    """Originates at least ``1 / max_cps`` seconds apart, whatever each attempt
    did before (a message synthesised, a slow database write): the dialer's
    loop paces the starts, this paces the originates themselves."""

    def __init__(self, max_cps: float, clock: Callable[[], float]) -> None:
        self._interval = 1.0 / max_cps
        self._clock = clock
        self._lock = asyncio.Lock()
        self._last: float | None = None

    async def turn(self) -> None:
        async with self._lock:
            if self._last is not None:
                wait = self._last + self._interval - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            self._last = self._clock()


@dataclass(frozen=True)
class CallContext:
    """What every dialog needs: ARI, the legs' events, the dialer's app and timings."""

    ari: AriClient
    legs: LegBook
    app: str
    ring_timeout: int
    dtmf_timeout: float
    short_answer_seconds: float
    caller_id: str | None
    clock: Callable[[], float]
    gate: OriginateGate


async def first_of(*events: asyncio.Event, timeout: float) -> bool:
    """Wait until any of ``events`` is set (True) or ``timeout`` passes (False)."""
    if any(e.is_set() for e in events):
        return True
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        done, _pending = await asyncio.wait(waiters, timeout=timeout,
                                            return_when=asyncio.FIRST_COMPLETED)
        return bool(done)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def place(ctx: CallContext, leg: Leg, endpoint: str, *, caller_id: str | None) -> bool:
    """Originate ``leg`` (its id is the channel id) and wait for it to answer;
    False when it ended first or never answered (its cause is on the leg)."""
    await ctx.gate.turn()
    try:
        await ctx.ari.originate(endpoint, channel_id=leg.channel_id, caller_id=caller_id,
                                timeout=ctx.ring_timeout, app=ctx.app)
    except AriError as exc:
        log.warning("dialer: originate to %s refused: %s", endpoint.split("/")[0], describe(exc))
        leg.on_ended(None)
        return False
    await first_of(leg.answered, leg.ended, timeout=ctx.ring_timeout + RING_GRACE)
    if leg.answered.is_set() and not leg.ended.is_set():
        return True
    if not leg.ended.is_set():  # neither: Asterisk did not end it in time
        await hang_up(ctx, leg)
        leg.on_ended(19)
    return False


async def hang_up(ctx: CallContext, leg: Leg) -> None:
    """Hang the leg up and wait (bounded) for its end."""
    if leg.ended.is_set():
        return
    with contextlib.suppress(AriError):  # already gone is fine
        await ctx.ari.hangup(leg.channel_id)
    await first_of(leg.ended, timeout=HANGUP_WAIT)
    leg.on_ended(leg.cause if leg.cause is not None else 16)


def first_valid(dtmf: str, valid: str) -> str | None:
    return next((digit for digit in dtmf if digit in valid), None)


async def play(ctx: CallContext, leg: Leg, media: str, *, valid: str) -> None:
    """Play ``media`` to the leg; returns at its end, a valid key or hang-up."""
    playback_id = f"{leg.channel_id}-play-{next(_playbacks)}"
    finished = ctx.legs.playback(playback_id)
    try:
        await ctx.ari.play(leg.channel_id, media, playback_id=playback_id)
        deadline = ctx.clock() + PLAY_LIMIT
        while first_valid(leg.dtmf, valid) is None and not leg.ended.is_set():
            leg.key.clear()
            remaining = deadline - ctx.clock()
            if remaining <= 0 or not await first_of(finished, leg.key, leg.ended,
                                                    timeout=remaining):
                break
            if finished.is_set():
                break
    except AriError as exc:
        log.warning("dialer: cannot play %s: %s", media, describe(exc))
    finally:
        ctx.legs.forget_playback(playback_id)


async def wait_key(ctx: CallContext, leg: Leg, valid: str, timeout: float) -> str | None:
    deadline = ctx.clock() + timeout
    while True:
        digit = first_valid(leg.dtmf, valid)
        if digit is not None or leg.ended.is_set():
            return digit
        leg.key.clear()
        remaining = deadline - ctx.clock()
        if remaining <= 0 or not await first_of(leg.key, leg.ended, timeout=remaining):
            return first_valid(leg.dtmf, valid)


async def ask(ctx: CallContext, leg: Leg, prompts: list[str], valid: str) -> str | None:
    """Play the prompts, wait for a valid key; once more if none came. A key
    pressed at any time since the answer counts (the customer may not wait)."""
    for _round in range(2):
        for media in prompts:
            await play(ctx, leg, media, valid=valid)
            if first_valid(leg.dtmf, valid) is not None or leg.ended.is_set():
                return first_valid(leg.dtmf, valid)
        digit = await wait_key(ctx, leg, valid, ctx.dtmf_timeout)
        if digit is not None or leg.ended.is_set():
            return digit
    return None
