"""Record the sandbox's AMI event stream from a test, independently of the daemon.

A plain socket reader in a background thread (no panoramisk here: tests must
observe the PBX through a path that shares no code with what they test).
Events are kept as ``dict[str, str]`` in arrival order; :meth:`save` writes
them as a JSON array, the format of the tracker's replay fixtures.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

AmiEvent = dict[str, str]


class AmiRecorder:
    def __init__(self, port: int, username: str, secret: str, host: str = "127.0.0.1") -> None:
        self._address = (host, port)
        self._login = (username, secret)
        self._events: list[AmiEvent] = []
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="ami-recorder", daemon=True)

    def start(self, timeout: float = 10.0) -> AmiRecorder:
        sock = socket.create_connection(self._address, timeout=timeout)
        sock.sendall(
            f"Action: Login\r\nUsername: {self._login[0]}\r\nSecret: {self._login[1]}\r\n"
            "Events: on\r\n\r\n".encode()
        )
        sock.settimeout(0.5)
        self._sock = sock
        self._thread.start()
        self.wait_for(lambda e: e.get("Response") == "Success", timeout)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> AmiRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        assert self._sock is not None
        buffer = b""
        while not self._stop.is_set():
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\r\n\r\n" in buffer:
                block, buffer = buffer.split(b"\r\n\r\n", 1)
                message = _parse(block.decode("utf-8", errors="replace"))
                if message:
                    with self._lock:
                        self._events.append(message)
                        self._lock.notify_all()

    def events(self, name: str | None = None) -> list[AmiEvent]:
        with self._lock:
            return [e for e in self._events if name is None or e.get("Event") == name]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def wait_for(self, predicate: Callable[[AmiEvent], bool], timeout: float = 10.0) -> AmiEvent:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._lock:
            while True:
                for event in self._events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self._events)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching AMI event within {timeout}s")
                self._lock.wait(remaining)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.events(), indent=1, ensure_ascii=False) + "\n")


def _parse(block: str) -> AmiEvent:
    message: AmiEvent = {}
    for line in block.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            message[key.strip()] = value.strip()
    return message
