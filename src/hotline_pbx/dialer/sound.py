"""A job's message as a file Asterisk plays: 8 kHz mono 16-bit PCM WAV.

Text is synthesised once with ``espeak-ng`` (its own output is 22,050 Hz), an
uploaded WAV is taken as it is when it is already 8 kHz mono 16-bit, else
converted here (mono mix, linear resampling): the sandbox's and a stock
Asterisk's ``format_wav`` read exactly that. Files are named by a hash of
their content, so a message is written once and a restart finds it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import shutil
import tempfile
import wave
from array import array
from pathlib import Path

RATE = 8000
#: Longest message kept (a WAV is refused beyond): two minutes at 8 kHz.
MAX_SECONDS = 120
#: Seconds espeak-ng may take for one message.
SYNTH_TIMEOUT = 30.0


class SoundError(ValueError):
    """A message that cannot be played: why, for an admin."""


def to_asterisk_wav(data: bytes) -> bytes:
    """Any PCM WAV (8/16-bit, mono or stereo, any rate) as 8 kHz mono 16-bit."""
    try:
        with wave.open(io.BytesIO(data)) as source:
            channels, width, rate = source.getnchannels(), source.getsampwidth(), \
                source.getframerate()
            frames = source.readframes(source.getnframes())
    except (wave.Error, EOFError) as exc:
        raise SoundError(f"is not a PCM WAV file ({exc})") from None
    if width not in (1, 2) or channels not in (1, 2) or not 4000 <= rate <= 96000:
        raise SoundError("must be 8- or 16-bit PCM, mono or stereo, 4-96 kHz")
    if len(frames) / (width * channels * rate) > MAX_SECONDS:
        raise SoundError(f"is longer than {MAX_SECONDS} seconds")
    samples = _mono16(frames, width, channels)
    if rate != RATE:
        samples = _resample(samples, rate, RATE)
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(RATE)
        target.writeframes(samples.tobytes())
    return out.getvalue()


def _mono16(frames: bytes, width: int, channels: int) -> array[int]:
    if width == 1:  # unsigned 8-bit
        samples = array("h", ((b - 128) << 8 for b in frames))
    else:
        samples = array("h")
        samples.frombytes(frames[: len(frames) // 2 * 2])
    if channels == 2:
        samples = array("h", ((samples[i] + samples[i + 1]) // 2
                              for i in range(0, len(samples) - 1, 2)))
    return samples


def _resample(samples: array[int], rate: int, target: int) -> array[int]:
    if not samples:
        return samples
    count = max(1, len(samples) * target // rate)
    step = (len(samples) - 1) / max(1, count - 1)
    out = array("h", bytes(2 * count))
    for i in range(count):
        position = i * step
        low = int(position)
        high = min(low + 1, len(samples) - 1)
        fraction = position - low
        out[i] = int(samples[low] + (samples[high] - samples[low]) * fraction)
    return out


def sound_name(data: bytes) -> str:
    return "dialer-" + hashlib.sha256(data).hexdigest()[:20]


async def synthesise(text: str, *, voice: str = "en") -> bytes:
    """``text`` spoken by espeak-ng, as 8 kHz mono WAV."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SoundError("espeak-ng is not installed: upload the message as a WAV instead "
                         "(or apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory(prefix="hotline-tts-") as tmp:
        path = Path(tmp) / "out.wav"
        process = await asyncio.create_subprocess_exec(
            espeak, "-v", voice, "-s", "150", "-w", str(path), "--", text,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            async with asyncio.timeout(SYNTH_TIMEOUT):
                _out, err = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise SoundError(f"espeak-ng took longer than {SYNTH_TIMEOUT:.0f}s") from None
        if process.returncode != 0:
            raise SoundError(f"espeak-ng failed: {err.decode('utf-8', 'replace')[:200]}")
        raw = await asyncio.to_thread(path.read_bytes)
    return await asyncio.to_thread(to_asterisk_wav, raw)


class SoundStore:
    """Files in ``directory`` (the daemon's path), played as ``sound:<media_dir>/<name>``
    (the same directory as Asterisk sees it)."""

    def __init__(self, directory: Path, media_dir: str) -> None:
        self.directory = directory
        self.media_dir = media_dir.rstrip("/") or str(directory)
        self._text_cache: dict[str, str] = {}

    async def media_for_wav(self, wav: bytes) -> str:
        name = sound_name(wav)
        path = self.directory / f"{name}.wav"
        if not await asyncio.to_thread(path.exists):
            await asyncio.to_thread(self._write, path, wav)
        return f"sound:{self.media_dir}/{name}"

    async def media_for_text(self, text: str) -> str:
        """Synthesised once per text (the file's name is kept for this process)."""
        cached = self._text_cache.get(text)
        if cached is not None:
            return cached
        media = await self.media_for_wav(await synthesise(text))
        if len(self._text_cache) < 1000:
            self._text_cache[text] = media
        return media

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o644)  # Asterisk runs as another user
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
