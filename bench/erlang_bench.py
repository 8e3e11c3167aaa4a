"""Time one full week of staffing advice: 336 half hours through Erlang A.

    .venv/bin/python bench/erlang_bench.py

A busy profile (up to 400 calls an hour, AHT 240 s, patience 120 s) in every
half hour of the week; prints the time against the 1 s limit and the ratio.
"""

from __future__ import annotations

import math
import sys
import time

from hotline_pbx.domain.staffing import SLOTS_PER_DAY, SlotHistory, advise

LIMIT_SECONDS = 1.0


def week() -> list[SlotHistory]:
    rows = []
    for weekday in range(7):
        for slot in range(SLOTS_PER_DAY):
            per_hour = 20 + 380 * math.sin(math.pi * slot / SLOTS_PER_DAY) ** 2
            calls = round(per_hour / 2 * 4)  # four working days of this weekday
            rows.append(SlotHistory(weekday, slot, 4, calls, int(calls * 0.9),
                                    int(calls * 0.05), int(calls * 0.8),
                                    calls * 0.9 * 240.0, calls * 0.05 * 120.0))
    return rows


def main() -> int:
    history = week()
    start = time.perf_counter()
    advice = advise(history, service_level_seconds=20.0)
    took = time.perf_counter() - start
    most = max(row.agents_needed or 0 for row in advice.rows)
    print(f"{len(advice.rows)} half hours advised in {took:.3f}s (limit {LIMIT_SECONDS:g}s, "
          f"ratio {took / LIMIT_SECONDS:.2f}); most agents needed: {most}")
    return 0 if took < LIMIT_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
