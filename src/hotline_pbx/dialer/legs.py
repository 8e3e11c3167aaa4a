"""Each dialer channel's ARI events, routed by channel id to its :class:`Leg`.

A leg learns when its channel answered (``StasisStart``: an originated channel
enters our Stasis app once the far end answers), the keys pressed
(``ChannelDtmfReceived``), the end of a playback (``PlaybackFinished``) and the
channel's end with its Q.850 cause (``ChannelDestroyed``). Handlers only set
state and events: nothing here waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from hotline_pbx.ari.events import AriEvents

#: Keys kept per leg; later ones are ignored (a dialog reads one or two).
MAX_DTMF = 32
#: Every dialer channel's id starts so (reconciliation finds ours by it).
CHANNEL_PREFIX = "hotline-dialer-"


def agent_channel_id(attempt_key: str) -> str:
    """The agent leg's channel id of an agent-first attempt. Never the customer's
    id with a suffix: Asterisk refuses a new channel id that another channel's
    id starts with ("Channel with given unique ID already exists")."""
    return attempt_key.replace(CHANNEL_PREFIX, f"{CHANNEL_PREFIX}agent-", 1)


class Leg:
    """One channel the dialer originated."""

    def __init__(self, channel_id: str, clock: Callable[[], float] = time.time) -> None:
        self.channel_id = channel_id
        self._clock = clock
        self.answered = asyncio.Event()
        self.ended = asyncio.Event()
        self.key = asyncio.Event()  # set at each key; cleared by the reader
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.cause: int | None = None
        self.dtmf = ""

    def on_answered(self) -> None:
        if self.answered_at is None:
            self.answered_at = self._clock()
        self.answered.set()

    def on_dtmf(self, digit: str) -> None:
        if len(self.dtmf) < MAX_DTMF and len(digit) == 1:
            self.dtmf += digit
            self.key.set()

    def on_ended(self, cause: int | None) -> None:
        if self.ended_at is None:
            self.ended_at = self._clock()
            self.cause = cause
        self.ended.set()
        self.key.set()  # wake a reader waiting for a key


class LegBook:
    """The legs in flight and the playbacks being waited for, fed by one AriEvents."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.legs: dict[str, Leg] = {}
        self._playbacks: dict[str, asyncio.Event] = {}

    def attach(self, events: AriEvents) -> None:
        events.subscribe("StasisStart", self._on_stasis_start)
        events.subscribe("ChannelDtmfReceived", self._on_dtmf)
        events.subscribe("ChannelDestroyed", self._on_destroyed)
        events.subscribe("PlaybackFinished", self._on_playback_finished)

    def open(self, channel_id: str) -> Leg:
        leg = Leg(channel_id, self._clock)
        self.legs[channel_id] = leg
        return leg

    def close(self, leg: Leg) -> None:
        self.legs.pop(leg.channel_id, None)

    @property
    def up(self) -> int:
        """Channels of ours that have not ended (originated, ringing or answered)."""
        return sum(1 for leg in self.legs.values() if not leg.ended.is_set())

    def playback(self, playback_id: str) -> asyncio.Event:
        event = self._playbacks.setdefault(playback_id, asyncio.Event())
        return event

    def forget_playback(self, playback_id: str) -> None:
        self._playbacks.pop(playback_id, None)

    def _leg_of(self, event: Mapping[str, Any]) -> Leg | None:
        channel = event.get("channel")
        if not isinstance(channel, Mapping):
            return None
        return self.legs.get(str(channel.get("id", "")))

    def _on_stasis_start(self, event: Mapping[str, Any]) -> None:
        leg = self._leg_of(event)
        if leg is not None:
            leg.on_answered()

    def _on_dtmf(self, event: Mapping[str, Any]) -> None:
        leg = self._leg_of(event)
        if leg is not None:
            leg.on_dtmf(str(event.get("digit", "")))

    def _on_destroyed(self, event: Mapping[str, Any]) -> None:
        leg = self._leg_of(event)
        if leg is not None:
            cause = event.get("cause")
            leg.on_ended(cause if isinstance(cause, int) else None)

    def _on_playback_finished(self, event: Mapping[str, Any]) -> None:
        playback = event.get("playback")
        if isinstance(playback, Mapping):
            waiting = self._playbacks.get(str(playback.get("id", "")))
            if waiting is not None:
                waiting.set()
