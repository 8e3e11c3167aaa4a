"""bench/profile_split.py: each sample of a py-spy --native profile under its part."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

LOOP = ("_run_module_as_main (<frozen runpy>:198);main (hotline_pbx/cli.py:90);"
        "Runner.run (asyncio/runners.py:118);run_until_complete (loop.c:35410);"
        "run_forever (loop.c:33192);uv_run (core.c:452)")


def _module() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "profile_split.py"
    spec = importlib.util.spec_from_file_location("profile_split", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


split = _module()

SAMPLES = [
    # An AMI read: the parse and a write of the log line count for the AMI part.
    f"{LOOP};uv__read (stream.c:1);_Protocol.data_received (hotline_pbx/ami/supervisor.py:126);"
    "Logger._log (logging/__init__.py:1622);StreamHandler.emit (logging/__init__.py:1113);"
    "write (libc.so.6) 3",
    f"{LOOP};_Protocol.data_received (hotline_pbx/ami/supervisor.py:126);"
    "plain_event (hotline_pbx/ami/supervisor.py:60) 4",
    # /route, with its socket write in C below it.
    f"{LOOP};Handle__run (loop.c:70935);FastAgiServer.serve (hotline_pbx/agi/server.py:266);"
    "_AgiConnection.send (hotline_pbx/agi/server.py:495);write (libc.so.6) 2",
    # The loop's own C, then the loop waiting, then an executor thread waiting.
    f"{LOOP};uv__io_poll (epoll.c:1);uv__io_start (core.c:1) 1",
    f"{LOOP};uv__io_poll (epoll.c:1);epoll_pwait (libc.so.6) 7",
    "0x7f77ca0bb8ec (libc.so.6);Thread._bootstrap (threading.py:995);"
    "_worker (concurrent/futures/thread.py:81);0x7f77c680ac2e (_queue.so) 5",
    "",
    "not a sample",
]

ASYNCIO = ("_run_module_as_main (<frozen runpy>:198);Runner.run (asyncio/runners.py:118);"
           "BaseEventLoop.run_until_complete (asyncio/base_events.py:640);"
           "BaseEventLoop.run_forever (asyncio/base_events.py:607);"
           "BaseEventLoop._run_once (asyncio/base_events.py:1922)")
ASYNCIO_SAMPLES = [
    # Python's own loop: its frames are skipped, ours count; its select is a wait.
    f"{ASYNCIO};Handle._run (asyncio/events.py:80);"
    "_Protocol.data_received (hotline_pbx/ami/supervisor.py:126) 2",
    f"{ASYNCIO};EpollSelector.select (selectors.py:468);epoll_wait (libc.so.6) 9",
    f"{ASYNCIO};Handle._run (asyncio/events.py:80) 1",
    # An executor thread at work is busy, in its queue's get it is idle.
    "0x7f (libc.so.6);Thread._bootstrap (threading.py:995);"
    "_worker (concurrent/futures/thread.py:81);WorkItem.run (concurrent/futures/thread.py:58);"
    "render_pdf (hotline_pbx/documents/pdf.py:40) 3",
]


def test_each_sample_counts_for_the_part_the_loop_called() -> None:
    counts, across = split.split(SAMPLES)
    assert counts == {
        "AMI events (read, parsed, dispatched)": 7,
        "FastAGI sessions (/route)": 2,
        split.LOOP: 1,
        "idle": 12,
    }
    assert across == {"log lines": 3, "system calls (reads, writes, socket options)": 5}


def test_shares_are_of_the_busy_samples() -> None:
    counts, _ = split.split(SAMPLES)
    shares = split.shares(counts)
    assert list(shares) == ["AMI events (read, parsed, dispatched)",
                            "FastAGI sessions (/route)", split.LOOP]
    assert abs(sum(shares.values()) - 1.0) < 1e-9
    assert shares["FastAGI sessions (/route)"] == 0.2
    assert split.shares({"idle": 3}) == {}


def test_the_report_names_the_file_and_the_idle(tmp_path: Path) -> None:
    profile = tmp_path / "daemon.uvloop"
    profile.write_text("\n".join(SAMPLES), encoding="utf-8")
    text = split.report(str(profile))
    assert text.splitlines()[0] == f"{profile}: 10 busy samples (12 idle left out)"
    assert "  70.0%  AMI events (read, parsed, dispatched)" in text
    assert "  30.0%  log lines" in text


def test_on_pythons_own_loop_its_frames_are_skipped_and_its_select_is_idle() -> None:
    counts, _ = split.split(ASYNCIO_SAMPLES)
    assert counts == {
        "AMI events (read, parsed, dispatched)": 2,
        split.LOOP: 1,
        split.THREADS: 3,
        "idle": 9,
    }
