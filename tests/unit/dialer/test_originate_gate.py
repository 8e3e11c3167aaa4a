"""Originates themselves are paced (dialer/calls.py OriginateGate), whatever each
attempt did before its originate."""

from __future__ import annotations

import asyncio
import itertools
import time

from hotline_pbx.dialer.calls import OriginateGate


async def test_concurrent_attempts_originate_at_most_max_cps() -> None:
    gate = OriginateGate(20.0, time.monotonic)
    times: list[float] = []

    async def attempt() -> None:
        await gate.turn()
        times.append(time.monotonic())

    await asyncio.gather(*(attempt() for _ in range(6)))
    gaps = [b - a for a, b in itertools.pairwise(sorted(times))]
    assert len(times) == 6 and min(gaps) >= 0.05 - 0.005, gaps
