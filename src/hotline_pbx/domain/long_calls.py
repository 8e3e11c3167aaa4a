"""The long-call rule: a call connected to an agent too long while others wait.

Pure: :mod:`hotline_pbx.long_calls` asks :class:`LongCallBook` every tick
which connected calls (from :class:`~hotline_pbx.domain.queue_state.QueueState`)
have just become long, and does the I/O (whisper, record flag, counter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hotline_pbx.domain.queue_state import ConnectedCall

#: ``long_call.threshold`` limits, seconds: below 5 s every call would be long,
#: above a day none.
THRESHOLD_RANGE = (5.0, 86_400.0)
#: ``long_call.min_waiting`` limits: callers waiting that make a call "blocking".
MIN_WAITING_RANGE = (1, 10_000)
#: ``long_call.whisper_seconds``: how long the agent's whisper may play at most.
WHISPER_SECONDS_RANGE = (0.5, 30.0)


#: What ``long_call.whisper_media``/``apology_media`` may name: ARI's media URIs.
MEDIA_SCHEMES = ("sound:", "tone:")


def check_media(media: str) -> str | None:
    """Why ``media`` is not an ARI media URI we play, or None."""
    if not media.startswith(MEDIA_SCHEMES) or len(media) <= len(media.split(":")[0]) + 1:
        return f"must be an ARI media URI such as sound:beep or tone:beep, not {media!r}"
    if len(media) > 200 or any(c.isspace() or c in "&?#" for c in media):
        return f"must be one media URI without spaces or &?#, not {media[:40]!r}"
    return None


@dataclass(frozen=True, slots=True)
class LongCallRule:
    threshold: float = 600.0
    min_waiting: int = 1
    only_while_waiting: bool = True

    def blocking(self, callers_waiting: int) -> bool:
        """Do the callers waiting make a long call worth flagging now?"""
        return not self.only_while_waiting or callers_waiting >= self.min_waiting

    def is_long(self, call: ConnectedCall, now: float, callers_waiting: int) -> bool:
        return duration(call, now) >= self.threshold and self.blocking(callers_waiting)


def duration(call: ConnectedCall, now: float) -> float:
    """Seconds connected so far (never negative: clocks of PBX and daemon may differ)."""
    return max(0.0, now - call.connected_at)


@dataclass(slots=True)
class LongCallBook:
    """Which calls were flagged (each once, by ``linkedid``), while they are connected."""

    rule: LongCallRule
    flagged: dict[str, float] = field(default_factory=dict)  # linkedid → flagged at

    def newly_long(self, calls: Iterable[ConnectedCall], now: float,
                   callers_waiting: int) -> list[ConnectedCall]:
        """The calls that are long now and were not flagged before; marks them.
        Flags of calls no longer connected are forgotten (the book stays small)."""
        calls = list(calls)
        live = {c.linkedid for c in calls}
        for gone in [k for k in self.flagged if k not in live]:
            del self.flagged[gone]
        found = []
        for call in calls:
            if call.linkedid not in self.flagged and self.rule.is_long(call, now,
                                                                      callers_waiting):
                self.flagged[call.linkedid] = now
                found.append(call)
        return found

    def is_flagged(self, linkedid: str) -> bool:
        return linkedid in self.flagged
