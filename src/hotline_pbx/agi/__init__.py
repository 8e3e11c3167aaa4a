"""Our own FastAGI server (not `panoramisk.fast_agi`: see docs/DESIGN, "Dependencies").

`app.py` builds a `FastAgiServer` with one handler object per script name;
a handler gets an `AgiSession` (what Asterisk sent) and an `AgiChannel`
(commands and replies).
"""

from hotline_pbx.agi.errors import (
    AgiCommandError,
    AgiConnectionLost,
    AgiEncodeError,
    AgiError,
    AgiHangup,
    AgiLineTooLong,
    AgiProtocolError,
    AgiStateError,
    AgiTimeout,
)
from hotline_pbx.agi.protocol import AgiEnvironment, AgiReply, AgiStreamParser
from hotline_pbx.agi.server import AgiHandler, FastAgiServer
from hotline_pbx.agi.session import AgiChannel, AgiSession

__all__ = [
    "AgiChannel",
    "AgiCommandError",
    "AgiConnectionLost",
    "AgiEncodeError",
    "AgiEnvironment",
    "AgiError",
    "AgiHandler",
    "AgiHangup",
    "AgiLineTooLong",
    "AgiProtocolError",
    "AgiReply",
    "AgiSession",
    "AgiStateError",
    "AgiStreamParser",
    "AgiTimeout",
    "FastAgiServer",
]
