"""Exceptions of the FastAGI package.

Handlers catch these by type. A hang-up is a normal ending of a call, so
`AgiHangup` is kept apart from the errors a handler may want to report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hotline_pbx.agi.protocol import AgiReply


class AgiError(Exception):
    """Base class of everything this package raises on purpose."""


class AgiProtocolError(AgiError, ValueError):
    """The peer sent bytes that are not FastAGI (the only error the parser raises)."""


class AgiLineTooLong(AgiProtocolError):
    """A line longer than the configured limit: refused before it is buffered whole."""


class AgiEncodeError(AgiError, ValueError):
    """A command we were asked to send cannot be sent safely (newline, NUL, too long)."""


class AgiStateError(AgiError, RuntimeError):
    """A command was issued on a channel that can no longer carry one."""


class AgiTimeout(AgiError, TimeoutError):
    """Asterisk did not answer within the read timeout; the session is closed."""


class AgiHangup(AgiError):
    """The caller hung up (`HANGUP` line or a `511` reply): a normal ending.

    `reply` is the reply of the command that was in flight, if one was read.
    """

    def __init__(self, message: str, reply: AgiReply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class AgiConnectionLost(AgiHangup):
    """Asterisk closed or reset the connection while a reply was awaited."""


class AgiCommandError(AgiError):
    """Asterisk refused a command: `510` (unknown command) or `520` (bad syntax)."""

    def __init__(self, reply: AgiReply) -> None:
        super().__init__(f"AGI command refused: {reply.text}")
        self.reply = reply

    @property
    def code(self) -> int:
        return self.reply.code
