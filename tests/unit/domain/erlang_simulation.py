"""A discrete-event simulation of M/M/n+M, the queue Erlang A describes.

Plain heapq over the busy agents' finishing instants; abandonment is lazy:
each queued caller carries the instant its patience runs out, and a freed
agent skips the callers whose instant has passed (they hung up then). FCFS,
exponential interarrival, handle and patience times, a fixed seed. The first
``warmup`` arrivals are not counted (the queue starts empty).
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Simulated:
    p_wait: float
    p_abandon: float
    asa_seconds: float  # mean wait of answered callers
    service_level: float  # answered within the target / all arrivals


@dataclass
class _Tally:
    waited: int = 0
    answered: int = 0
    abandoned: int = 0
    within: int = 0
    wait_sum: float = 0.0


def simulate(arrival_rate: float, service_rate: float, patience_rate: float, servers: int,
             target_seconds: float, *, arrivals: int = 200_000, warmup: int = 10_000,
             seed: int = 15) -> Simulated:
    rng = random.Random(seed)
    busy: list[float] = []  # heap of finishing instants
    queue: deque[tuple[float, float, bool]] = deque()  # (arrived, gives up at, counted)
    tally = _Tally()
    idle = servers

    def serve(arrived: float, start: float, counted: bool) -> None:
        heapq.heappush(busy, start + rng.expovariate(service_rate))
        if counted:
            tally.answered += 1
            tally.wait_sum += start - arrived
            tally.within += start - arrived <= target_seconds

    def next_caller(at: float) -> bool:
        while queue:
            arrived, gives_up, counted = queue.popleft()
            if gives_up > at:
                serve(arrived, at, counted)
                return True
            tally.abandoned += counted
        return False

    now = 0.0
    for index in range(arrivals):
        now += rng.expovariate(arrival_rate)
        while busy and busy[0] <= now:
            if not next_caller(heapq.heappop(busy)):
                idle += 1
        counted = index >= warmup
        if idle:
            idle -= 1
            serve(now, now, counted)
            continue
        tally.waited += counted
        patience = rng.expovariate(patience_rate) if patience_rate > 0 else float("inf")
        queue.append((now, now + patience, counted))
    n = arrivals - warmup
    return Simulated(tally.waited / n, tally.abandoned / n,
                     tally.wait_sum / tally.answered if tally.answered else 0.0,
                     tally.within / n)
