"""Fewer wake-ups for the AMI event stream: the kernel gathers a burst for us.

Asterisk writes each manager event with a write of its own, so on a busy PBX
the events reach the daemon a few hundred bytes at a time, and every one of
them woke the event loop: at 100 calls/s that was 17 wake-ups a call, each a
context switch that cost more CPU than parsing the event (docs/performance.md).

After a read, :class:`ReadGathering` raises the socket's low-water mark
(``SO_RCVLOWAT``): the kernel then keeps what arrives without waking us until
:data:`BURST_BYTES` are there, and a timer lowers the mark again after the
*window*. Lowering it makes Linux (4.18 and later: ``tcp_set_rcvlowat`` calls
``tcp_data_ready``) report the socket readable at once if anything is waiting,
and the next read takes all of it. So:

* the first event of a burst is read as soon as it arrives, the rest of the
  burst at most one window later (5 ms by default; ``ami.gather_window``,
  0 turns this off);
* once a window passes with nothing read, the mark stays at 1 and no timer
  runs: a quiet stream costs nothing and is read as it comes;
* a large burst (an event list of thousands of channels) wakes the loop when
  :data:`BURST_BYTES` are in, without waiting for the timer;
* the end of the stream always wakes the loop, whatever the mark.

The mark is set through a duplicate of the transport's descriptor, made once
and closed with the connection: the socket object a transport hands out may be
a stand-in that makes a new socket object, and asks the kernel for its
address, at every ``setsockopt`` (uvloop's: two of them a window). Where the
socket has no such option (not Linux, or a transport without a socket), every
read is taken as it comes, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

__all__ = ["BURST_BYTES", "ReadGathering"]

log = logging.getLogger(__name__)

#: The mark while gathering: this much waiting wakes the loop before the window ends.
BURST_BYTES = 64 * 1024
_SO_RCVLOWAT: int | None = getattr(socket, "SO_RCVLOWAT", None)


class ReadGathering:
    """Gathers what a transport's socket receives for up to `window` seconds after each read."""

    def __init__(self, transport: asyncio.BaseTransport, window: float) -> None:
        self._transport = transport
        self._window = window
        self._timer: asyncio.TimerHandle | None = None
        self._sock = _duplicate(transport) if window > 0 and _SO_RCVLOWAT is not None else None
        self._loop = asyncio.get_running_loop() if self._sock is not None else None

    @property
    def gathering(self) -> bool:
        """True while the mark is raised (a timer will lower it)."""
        return self._timer is not None

    def after_read(self) -> None:
        """Called after each read is handled: gather what comes next for one window."""
        if self._sock is None or self._timer is not None or self._transport.is_closing():
            return
        if not self._set_mark(BURST_BYTES):
            return
        assert self._loop is not None
        self._timer = self._loop.call_later(self._window, self._release)

    def stop(self) -> None:
        """No more gathering: the timer cancelled, the mark back at 1 if the
        connection goes on, and our duplicate of its descriptor closed."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            if not self._transport.is_closing():
                self._set_mark(1)  # a raised mark with no timer would stall the stream
        sock, self._sock = self._sock, None
        if sock is not None:
            # The kernel closes a socket (FIN to the peer) when its last descriptor
            # closes: ours must not outlive the transport's.
            sock.close()

    def _release(self) -> None:
        self._timer = None
        if not self._transport.is_closing():
            self._set_mark(1)  # readable at once if anything waits: read it all now

    def _set_mark(self, nbytes: int) -> bool:
        assert _SO_RCVLOWAT is not None
        if self._sock is None:
            return False
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, _SO_RCVLOWAT, nbytes)
        except OSError as exc:
            # A socket that refuses the option is read as it comes from now on.
            log.debug("AMI read gathering off: SO_RCVLOWAT refused (%s)", exc)
            self.stop()
            return False
        return True


def _duplicate(transport: asyncio.BaseTransport) -> socket.socket | None:
    """A socket object of our own on the transport's socket, or None (no socket)."""
    sock = transport.get_extra_info("socket")
    try:
        fd = sock.fileno() if sock is not None else -1
        duplicate = os.dup(fd) if fd >= 0 else -1
    except (OSError, AttributeError, TypeError) as exc:
        log.debug("AMI read gathering off: no socket to gather on (%s)", exc)
        return None
    if duplicate < 0:
        return None
    try:
        return socket.socket(fileno=duplicate)
    except OSError as exc:
        os.close(duplicate)
        log.debug("AMI read gathering off: no socket to gather on (%s)", exc)
        return None
