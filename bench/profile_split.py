"""Where the daemon's CPU goes, by part: a py-spy ``--native`` raw profile, split.

Each sample is put under the first frame of our code that the event loop
called (uvloop's, or asyncio's whose own frames are skipped), so the C of
the loop, of the interpreter and the system calls count for the part that
asked for them; a sample with none of our frames under the loop is the
loop's own, and a thread waiting (a wait call below its last Python frame:
the loop with nothing to do, an executor thread on its queue) is idle and
left out of the shares. Without ``--native``, py-spy shows every C frame
as its nearest Python caller's: about half of the daemon's CPU at 100
calls/s then read as ``Runner.run`` itself (docs/performance.md).

    .venv/bin/python bench/profile_split.py PROFILE   # what --profile wrote
"""

from __future__ import annotations

import argparse
import collections
from collections.abc import Iterable

#: The part a frame of ours belongs to, by the first name the loop called.
PARTS = {
    "_Protocol.data_received": "AMI events (read, parsed, dispatched)",
    "ReadGathering._release": "AMI events (read, parsed, dispatched)",
    "FastAgiServer.serve": "FastAGI sessions (/route)",
    "_AgiConnection.data_received": "FastAGI sessions (/route)",
    "_AgiConnection.connection_made": "FastAGI sessions (/route)",
    "_AgiConnection.connection_lost": "FastAGI sessions (/route)",
    "FastAgiServer.start.<locals>.<lambda>": "FastAGI sessions (/route)",
    "BatchWriter._run": "writers (PostgreSQL)",
    "RequestHandler._handle_request": "REST API",
}
LOOP = "the event loop itself (C, or asyncio's Python)"
OTHER = "other Python"
THREADS = "other threads"
IDLE = "idle"  # waiting: left out of the shares
#: Work that runs in every part, counted across them: a sample is in one if its
#: stack has one of the frames (a name, or a file's path).
ACROSS = {
    "log lines": ("Logger._log ",),
    "metrics": ("(prometheus_client/",),
    "system calls (reads, writes, socket options)": tuple(f";{call} (" for call in (
        "write", "writev", "read", "readv", "recv", "recvfrom", "recvmsg", "send", "sendto",
        "sendmsg", "shutdown", "setsockopt", "getsockopt", "getsockname", "getpeername",
        "accept4", "close", "epoll_ctl")),
}
#: A thread in one of these below its last Python frame is waiting.
WAITS = ("epoll_pwait", "epoll_wait", "select", "poll", "futex", "pthread_cond_wait",
         "pthread_cond_timedwait", "sem_wait", "sem_timedwait", "do_futex_wait",
         "__futex_abstimed_wait_common", "__GI___futex_abstimed_wait_cancelable64")
#: The loop's own Python (asyncio's loop runs ours from these).
_LOOP_FILES = ("(asyncio/", "(selectors.py:")


def part_of(stack: str) -> str:
    """The part one collapsed stack counts for (`IDLE` when the thread was waiting)."""
    frames = stack.split(";")
    names = [f.split(" (")[0] for f in frames]
    python = [i for i, f in enumerate(frames) if ".py:" in f]
    last_python = python[-1] if python else -1
    if any(name in WAITS for name in names[last_python + 1:]):
        return IDLE
    if last_python >= 0 and names[last_python] == "_worker":
        return IDLE  # an executor's thread in its queue's get (C, often unresolved)
    loop = [i for i, name in enumerate(names) if name.endswith("run_until_complete")]
    if not loop:
        return THREADS
    ours = next((frames[i] for i in python
                 if i > loop[-1] and not any(mark in frames[i] for mark in _LOOP_FILES)), None)
    return LOOP if ours is None else PARTS.get(ours.split(" (")[0], OTHER)


def split(lines: Iterable[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Samples by part (the idle ones as `IDLE`), and the busy ones by `ACROSS`."""
    counts: collections.Counter[str] = collections.Counter()
    across: collections.Counter[str] = collections.Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        part = part_of(stack)
        counts[part] += int(count)
        if part != IDLE:
            for name, marks in ACROSS.items():
                if any(mark in stack for mark in marks):
                    across[name] += int(count)
    return dict(counts), dict(across)


def busy_samples(counts: dict[str, int]) -> int:
    return sum(n for part, n in counts.items() if part != IDLE)


def shares(counts: dict[str, int]) -> dict[str, float]:
    """Each part's share of the busy samples (idle left out)."""
    busy = busy_samples(counts)
    return {part: n / busy for part, n in sorted(counts.items(), key=lambda kv: -kv[1])
            if part != IDLE} if busy else {}


def report(path: str) -> str:
    with open(path, encoding="utf-8") as raw:
        counts, across = split(raw)
    busy = busy_samples(counts)
    lines = [f"{path}: {busy} busy samples ({counts.get(IDLE, 0)} idle left out)"]
    lines += [f"  {share:6.1%}  {part}" for part, share in shares(counts).items()]
    lines += ["  across the parts:"]
    lines += [f"  {n / busy:6.1%}  {name}" for name, n in across.items()] if busy else []
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", nargs="+", help="py-spy --native --format raw output")
    for path in parser.parse_args(argv).profile:
        print(report(path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
