"""What masking costs: one call note, one log line, hostile 64 KB inputs.

    .venv/bin/python bench/masking_bench.py [--repeat 7]

Prints the best of ``--repeat`` timeit rounds per case, in microseconds per
call: ``mask_text`` on a typical note, a log record through the text
formatter with and without masking (``daemon.log_numbers``), and, for scale,
64 KB of plain prose against 64 KB of hostile input (digits and separators
only; separators only after one digit; invisible characters between digits).
"""

from __future__ import annotations

import argparse
import logging
import timeit
from collections.abc import Callable

from hotline_pbx.domain.masking import mask_text
from hotline_pbx.logs import Identifier, formatter

NOTE = "客户王先生来电，要求回拨 138 0013 8000（分机 8001），10:30 前处理，工单 42。"
SIZE = 64 * 1024
HOSTILE = {
    "plain prose": ("the caller asked for a callback tomorrow. " * SIZE)[:SIZE],
    "digit groups": ("139 - 1234 / " * SIZE)[:SIZE],
    "one digit, separators": "1" + " -" * (SIZE // 2),
    "digits and soft hyphens": ("1\u00ad" * SIZE)[:SIZE],
    "date-like": ("2026-10-01T08:30 " * SIZE)[:SIZE],
}


def _record() -> logging.LogRecord:
    return logging.LogRecord("hotline_pbx.bench", logging.INFO, __file__, 1,
                             "call %s from %s routed to %s", (
                                 Identifier("1754380000.1"), "+86 138 0013 8000",
                                 "Local/13900139000@mobiles"), None)


def _best(func: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    masked, whole = formatter("text"), formatter("text", log_numbers=True)
    record = _record()
    cases: list[tuple[str, Callable[[], object], int]] = [
        ("mask_text(note)", lambda: mask_text(NOTE), 20000),
        ("log line, masked", lambda: masked.format(record), 5000),
        ("log line, log_numbers", lambda: whole.format(record), 5000),
    ]
    for name, text in HOSTILE.items():
        cases.append((f"mask_text(64 KB {name})", lambda text=text: mask_text(text), 5))
    for name, func, number in cases:
        print(f"{name:40} {_best(func, number, args.repeat):12.1f} µs")


if __name__ == "__main__":
    main()
