"""The dialer's message format (dialer/sound.py) and the routing of ARI events to
its legs (dialer/legs.py)."""

from __future__ import annotations

import io
import wave

import pytest

from hotline_pbx.dialer.legs import MAX_DTMF, LegBook, agent_channel_id
from hotline_pbx.dialer.sound import SoundError, sound_name, to_asterisk_wav


def _wav(rate: int, channels: int, width: int, seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\x80" * int(rate * seconds) * channels * width)
    return out.getvalue()


@pytest.mark.parametrize(("rate", "channels", "width"), [
    (8000, 1, 2), (22050, 1, 2), (44100, 2, 2), (11025, 1, 1), (16000, 2, 1)])
def test_any_pcm_wav_becomes_8khz_mono_16bit_of_the_same_length(rate: int, channels: int,
                                                               width: int) -> None:
    out = to_asterisk_wav(_wav(rate, channels, width, 1.5))
    with wave.open(io.BytesIO(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert abs(w.getnframes() - 12000) <= 2


@pytest.mark.parametrize("data", [b"", b"RIFF....WAVEfmt ", b"not a wav at all" * 10])
def test_what_is_not_a_pcm_wav_is_refused(data: bytes) -> None:
    with pytest.raises(SoundError):
        to_asterisk_wav(data)


def test_a_message_over_two_minutes_is_refused_and_names_are_content_hashes() -> None:
    with pytest.raises(SoundError, match="120 seconds"):
        to_asterisk_wav(_wav(8000, 1, 2, 121))
    assert sound_name(b"a") == sound_name(b"a") != sound_name(b"b")


async def test_events_reach_their_leg_only() -> None:
    book = LegBook(clock=lambda: 100.0)
    leg = book.open("hotline-dialer-1")
    other = book.open(agent_channel_id("hotline-dialer-1"))
    assert other.channel_id == "hotline-dialer-agent-1"
    assert not other.channel_id.startswith(leg.channel_id)
    book._on_stasis_start({"channel": {"id": "hotline-dialer-1"}})
    for digit in "1" * (MAX_DTMF + 5):
        book._on_dtmf({"channel": {"id": "hotline-dialer-1"}, "digit": digit})
    book._on_dtmf({"channel": {"id": "nobody"}, "digit": "5"})
    book._on_destroyed({"channel": {"id": "hotline-dialer-1"}, "cause": 16})
    book._on_destroyed({"channel": "malformed"})
    assert leg.answered_at == 100.0 and leg.dtmf == "1" * MAX_DTMF
    assert leg.ended.is_set() and leg.cause == 16
    assert not other.answered.is_set() and other.dtmf == "" and book.up == 1
    finished = book.playback("p1")
    book._on_playback_finished({"playback": {"id": "p1"}})
    assert finished.is_set()


def test_the_dialers_events_leave_hotline_ari_connected_to_the_main_app() -> None:
    from hotline_pbx.ari.events import AriEvents
    from hotline_pbx.config import AriSettings
    from hotline_pbx.metrics import ARI_CONNECTED

    ARI_CONNECTED.set(1)
    AriEvents(AriSettings(app="hotline-dialer"), exports_connected=False)
    assert ARI_CONNECTED._value.get() == 1
    AriEvents(AriSettings())
    assert ARI_CONNECTED._value.get() == 0
