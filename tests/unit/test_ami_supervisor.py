"""The AMI supervisor's reconnect loop, against real sockets on loopback."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from hotline_pbx.ami.supervisor import (
    AmiError,
    AmiSupervisor,
    AmiUnavailable,
    _is_plain_event,
    _Listing,
    _Manager,
    _Protocol,
    describe,
    event_fields,
    plain_event,
)
from hotline_pbx.config import AmiSettings, Secret
from hotline_pbx.sandbox.pbx import free_port

EOL = b"\r\n"
# panoramisk's own reconnect delay (Manager.defaults['reconnect_timeout']): an
# attempt left behind would connect again this long after it failed.
PANORAMISK_RETRY = 2.0


async def _failure_logged(caplog: pytest.LogCaptureFixture, timeout: float) -> str:
    async with asyncio.timeout(timeout):
        while True:
            for record in caplog.records:
                if "failed:" in record.getMessage():
                    return record.getMessage()
            await asyncio.sleep(0.05)


async def test_a_login_that_times_out_is_logged_with_its_type_and_limit(
        caplog: pytest.LogCaptureFixture) -> None:
    """A peer that accepts the connection and never speaks (no banner, no login
    reply), as Asterisk does when it is overloaded: the reason must not be empty."""
    silent: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    supervisor = AmiSupervisor(AmiSettings(host="127.0.0.1", port=port, secret=Secret("s"),
                                           connect_timeout=0.3, reconnect_backoff_max=0.5),
                               lambda _event: None)
    caplog.set_level(logging.WARNING, logger="hotline_pbx.ami.supervisor")
    await supervisor.start()
    try:
        message = await _failure_logged(caplog, 10)
    finally:
        await supervisor.stop()
        for writer in silent:
            writer.close()
        server.close()
        await server.wait_closed()
    assert message.endswith("failed: TimeoutError after 0.3s (no AMI banner or login reply)")
    assert silent  # it did connect: the login, not the TCP connect, timed out


def test_an_exception_without_text_is_described_by_its_type() -> None:
    assert describe(TimeoutError()) == "TimeoutError"
    assert describe(ConnectionResetError("peer reset")) == "peer reset"


class ScriptedAmi:
    """Asterisk's AMI as far as the supervisor sees it, on a loopback port that can go down.

    Down, nothing listens (connections are refused, as when Asterisk is
    stopped); up, each connection gets the banner and its Login and Ping
    answered. `broadcast` writes one event to every logged-in connection.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.logins = 0
        self.sessions: list[asyncio.StreamWriter] = []  # logged in, still open
        self.no_session = asyncio.Event()
        self.listings: dict[str, int] = {}  # action (lower case) → events it lists
        self._server: asyncio.Server | None = None

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                  reuse_address=True)

    async def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        sessions, self.sessions = self.sessions, []
        for writer in sessions:
            writer.close()

    def _list(self, writer: asyncio.StreamWriter, action: dict[str, str], count: int) -> None:
        """An event list as Asterisk writes it; a negative count: refused."""
        action_id = action.get("ActionID", "")
        if count < 0:
            writer.write(_message({"Response": "Error", "ActionID": action_id,
                                   "Message": "Permission denied"}))
            return
        writer.write(_message({"Response": "Success", "ActionID": action_id,
                               "EventList": "start", "Message": "Channels will follow"}))
        for n in range(count):
            writer.write(_message({"Event": "CoreShowChannel", "ActionID": action_id,
                                   "Channel": f"PJSIP/carrier-{n:08x}",
                                   "Uniqueid": f"1754380000.{n}"}))
        writer.write(_message({"Event": "CoreShowChannelsComplete", "ActionID": action_id,
                               "EventList": "Complete", "ListItems": str(count)}))

    def broadcast(self, fields: dict[str, str]) -> None:
        for writer in self.sessions:
            writer.write(_message(fields))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0" + EOL)
        try:
            while True:
                block = await reader.readuntil(EOL + EOL)
                action = dict(line.split(": ", 1) for line in
                              block.decode().strip().split("\r\n") if ": " in line)
                reply = {"Response": "Success", "ActionID": action.get("ActionID", "")}
                if action.get("Action", "").lower() in self.listings:
                    self._list(writer, action, self.listings[action["Action"].lower()])
                    continue
                if action.get("Action", "").lower() == "login":
                    self.logins += 1
                    self.sessions.append(writer)
                    self.no_session.clear()
                    reply["Message"] = "Authentication accepted"
                writer.write(_message(reply))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if writer in self.sessions:
                self.sessions.remove(writer)
            if not self.sessions:
                self.no_session.set()
            writer.close()


def _message(fields: dict[str, str]) -> bytes:
    return b"".join(f"{k}: {v}".encode() + EOL for k, v in fields.items()) + EOL


async def test_ami_down_for_several_rounds_then_back_gives_one_session() -> None:
    """Asterisk's AMI refuses connections for several reconnect rounds, then is back:
    one login, one live session, each event delivered once; after stop, no more logins.
    Before, each failed attempt's Manager kept a panoramisk reconnect timer and logged
    in by itself once AMI was back (11 logins seen instead of 1)."""
    ami = ScriptedAmi()
    delivered: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    supervisor = AmiSupervisor(AmiSettings(
        host="127.0.0.1", port=ami.port, secret=Secret("s"), connect_timeout=0.5,
        reconnect_backoff_max=0.2, ping_interval=60.0), delivered.put_nowait)
    await supervisor.start()
    try:
        await asyncio.sleep(2.5)  # down: an attempt every 0.2 s, each refused
        assert not supervisor.connected.is_set()
        await ami.up()
        async with asyncio.timeout(5):
            await supervisor.connected.wait()
        await asyncio.sleep(PANORAMISK_RETRY + 0.5)  # long enough for a left-behind timer
        assert (ami.logins, len(ami.sessions)) == (1, 1)
        ami.broadcast({"Event": "Newchannel", "Uniqueid": "1754380000.1"})
        async with asyncio.timeout(5):
            event = await delivered.get()
        assert event["Uniqueid"] == "1754380000.1"
        await asyncio.sleep(0.2)
        assert delivered.empty()  # delivered once
    finally:
        await supervisor.stop()
    async with asyncio.timeout(5):
        await ami.no_session.wait()  # stop closed the one session
    await ami.down()  # down and up again: nothing of the stopped supervisor may return
    await ami.up()
    try:
        await asyncio.sleep(PANORAMISK_RETRY + 0.5)
        assert ami.logins == 1
    finally:
        await ami.down()


@pytest.mark.parametrize("window", [0.0, 0.3])
async def test_the_rest_of_a_burst_is_read_one_gather_window_after_its_first_event(
        window: float) -> None:
    """`ami.gather_window` reaches the live connection (read_gathering.py): the
    first event is delivered at once, the two that follow it within the window
    together, at its end; with 0 each as it comes."""
    ami = ScriptedAmi()
    await ami.up()
    loop = asyncio.get_running_loop()
    delivered: asyncio.Queue[tuple[float, dict[str, str]]] = asyncio.Queue()
    supervisor = AmiSupervisor(AmiSettings(
        host="127.0.0.1", port=ami.port, secret=Secret("s"), ping_interval=60.0,
        gather_window=window), lambda event: delivered.put_nowait((loop.time(), event)))
    await supervisor.start()
    try:
        async with asyncio.timeout(5):
            await supervisor.connected.wait()
        await asyncio.sleep(1.0)  # whatever the login's reads started is over
        sent = loop.time()
        ami.broadcast({"Event": "Newchannel", "Uniqueid": "1754380000.1"})
        async with asyncio.timeout(5):
            first, _ = await delivered.get()
        assert first - sent < 0.15
        for n in (2, 3):
            await asyncio.sleep(0.01)
            ami.broadcast({"Event": "Newchannel", "Uniqueid": f"1754380000.{n}"})
        async with asyncio.timeout(5):
            (second, _), (third, _) = await delivered.get(), await delivered.get()
        if window:
            assert third - second < 0.005  # one read
            assert second - first >= window * 0.9
        else:
            assert second - first < 0.25  # each read as it comes, 10 ms apart
    finally:
        await supervisor.stop()
        await ami.down()


async def _lost(supervisor: AmiSupervisor, timeout: float = 5.0) -> None:
    """Until the supervisor has seen its session end."""
    deadline = asyncio.get_running_loop().time() + timeout
    while supervisor.connected.is_set():
        assert asyncio.get_running_loop().time() < deadline, "the session's end not seen"
        await asyncio.sleep(0.05)


async def test_read_gathering_leaves_no_descriptor_behind_across_reconnects() -> None:
    """Each session's read gathering holds a duplicate of its socket's descriptor
    (read_gathering.py): the session's end closes it, however often AMI drops."""
    ami = ScriptedAmi()
    await ami.up()
    delivered: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    supervisor = AmiSupervisor(AmiSettings(
        host="127.0.0.1", port=ami.port, secret=Secret("s"), connect_timeout=0.5,
        reconnect_backoff_max=0.2, ping_interval=60.0, gather_window=0.3),
        delivered.put_nowait)
    await supervisor.start()
    open_fds: list[int] = []
    try:
        for n in range(4):
            async with asyncio.timeout(10):
                await supervisor.connected.wait()  # logged in: ami.sessions has it
            ami.broadcast({"Event": "Newchannel", "Uniqueid": f"1754380000.{n}"})
            async with asyncio.timeout(5):
                assert (await delivered.get())["Uniqueid"] == f"1754380000.{n}"
            open_fds.append(len(os.listdir("/proc/self/fd")))  # gathering: duplicate open
            await ami.down()
            await _lost(supervisor)
            await ami.up()
        assert len(set(open_fds)) == 1, open_fds
    finally:
        await supervisor.stop()
        await ami.down()


async def test_a_connection_completing_after_its_attempt_was_abandoned_is_closed_unused() -> None:
    """The supervisor gave up on an attempt (its login timeout) just as the TCP connect
    completed: that Manager must not log in, and its socket closes quietly."""
    ami = ScriptedAmi()
    await ami.up()
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        manager = _Manager(on_lost=lambda _exc: errors.append({"lost": _exc}), loop=loop,
                           host="127.0.0.1", port=ami.port, username="u", secret="s")
        connected: asyncio.Future[Any] = loop.create_future()
        connected.set_result(await loop.create_connection(AMIProtocol, "127.0.0.1", ami.port))
        manager.close()  # abandoned first
        manager.connection_made(connected)
        transport, _protocol = connected.result()
        assert transport.is_closing()
        with pytest.raises(AmiUnavailable):
            manager.connect()
        await asyncio.sleep(0.2)
        assert (ami.logins, errors) == (0, [])
    finally:
        loop.set_exception_handler(None)
        await ami.down()


@given(st.dictionaries(st.text(min_size=1, alphabet=st.characters(blacklist_characters=":\r\n")),
                       st.text(alphabet=st.characters(blacklist_characters="\r\n")),
                       max_size=12))
def test_event_fields_are_the_messages_own_names_and_values(headers: dict[str, str]) -> None:
    lines = "\r\n".join(["Event: Test", *(f"{k}: {v}" for k, v in headers.items())])
    message = Message.from_line(lines)
    assert event_fields(message) == {str(k): str(v) for k, v in message.items()}


def test_a_header_given_twice_keeps_both_values_as_text() -> None:
    message = Message.from_line("Event: Test\r\nChanVariable: A=1\r\nChanVariable: B=2")
    assert event_fields(message) == {"Event": "Test", "ChanVariable": "['A=1', 'B=2']",
                                     "content": ""}  # panoramisk's own field, as before


_names = st.text(min_size=1, max_size=12,
                 alphabet=st.characters(min_codepoint=33, max_codepoint=126,
                                        blacklist_characters=":"))
_values = st.text(max_size=20, alphabet=st.characters(blacklist_characters="\r\n",
                                                      blacklist_categories=("Cs",)))


@given(st.lists(st.tuples(_names, _values), max_size=12), st.sampled_from(
    ["Newchannel", "VarSet", "Hangup", "ChanVariable"]))
def test_the_fast_lane_reads_an_event_as_panoramisk_does(
        headers: list[tuple[str, str]], name: str) -> None:
    # Asterisk never writes one header name in two cases (panoramisk would fold them).
    seen: set[str] = {"event"}
    distinct = [(k, v) for k, v in headers
                if k.lower() not in seen and not seen.add(k.lower())]  # type: ignore[func-returns-value]
    block = "\r\n".join([f"Event: {name}", *(f"{k}: {v}" for k, v in distinct),
                         "Result: %22quoted%22 "])
    assert plain_event(block) == event_fields(Message.from_line(block))


def test_events_of_actions_and_shutdown_take_panoramisks_lane() -> None:
    assert _is_plain_event("Event: Newchannel\r\nChannel: PJSIP/x")
    assert not _is_plain_event("Event: CoreShowChannel\r\nActionID: 7\r\nChannel: x")
    assert not _is_plain_event("Event: AsyncAGIExec\r\nCommandID: 7")
    assert not _is_plain_event("Event: Shutdown\r\nShutdown: Cleanly")
    assert not _is_plain_event("Response: Success\r\nActionID: 1")


def test_the_protocol_delivers_plain_events_and_keeps_responses_for_their_actions() -> None:
    delivered: list[dict[str, str]] = []

    class Factory:
        def __init__(self) -> None:
            self.dispatched: list[Any] = []
            self.deliver_event = delivered.append

        def dispatch(self, message: Any) -> None:
            self.dispatched.append(message)

    protocol = _Protocol()
    protocol.connection_made(_NullTransport())
    factory = Factory()
    protocol.factory = factory
    protocol.data_received(b"Asterisk Call Manager/9.0.0\r\n")
    # The banner shares its block with the login's reply (panoramisk's lane).
    protocol.data_received(b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n")
    stream = (b"Event: Newchannel\r\nChannel: PJSIP/a-1\r\nUniqueid: 1.1\r\n\r\n"
              b"Event: CoreShowChannel\r\nActionID: 42\r\nChannel: PJSIP/a-1\r\n\r\n"
              b"Event: Hangup\r\nChan")
    protocol.data_received(stream)
    protocol.data_received(b"nel: PJSIP/a-1\r\nCause: 16\r\n\r\n")
    assert [e["Event"] for e in delivered] == ["Newchannel", "Hangup"]
    assert delivered[1]["Channel"] == "PJSIP/a-1"  # split across two reads
    # No action waits for ActionID 42: panoramisk dispatches it as an event.
    assert [m["event"] for m in factory.dispatched] == ["CoreShowChannel"]


def test_a_character_whose_bytes_two_reads_split_is_read_whole() -> None:
    """A caller's name in Chinese, cut inside 张 by the read boundary: decoding
    each read alone dropped the character."""
    delivered: list[dict[str, str]] = []
    protocol = _Protocol()
    protocol.connection_made(_NullTransport())
    protocol.factory = type("Factory", (), {"deliver_event": staticmethod(delivered.append)})()
    protocol.encoding = "utf8"  # the Manager's, as panoramisk sets it at connect
    protocol.data_received(b"Asterisk Call Manager/9.0.0\r\n")
    protocol.data_received(b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n")
    event = "Event: Newchannel\r\nCallerIDName: 张三\r\nUniqueid: 1.1\r\n\r\n".encode()
    cut = event.index("张".encode()) + 1
    for start in range(0, len(event), cut):  # every read ends inside a character or not
        protocol.data_received(event[start:start + cut])
    protocol.data_received(event[:cut])
    protocol.data_received(event[cut:])
    assert [e["CallerIDName"] for e in delivered] == ["张三", "张三"]


class _NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


async def test_a_listing_hands_on_each_event_as_read_and_keeps_none() -> None:
    """CoreShowChannels through ``listing``: every channel once, in order, as a
    plain dict; none reaches the event stream; a refusal raises AmiError."""
    ami = ScriptedAmi()
    ami.listings = {"coreshowchannels": 3000, "queuestatus": -1}
    stream: list[dict[str, str]] = []
    supervisor = AmiSupervisor(AmiSettings(
        host="127.0.0.1", port=ami.port, secret=Secret("s"), connect_timeout=0.5,
        ping_interval=60.0), stream.append)
    await ami.up()
    await supervisor.start()
    try:
        async with asyncio.timeout(5):
            await supervisor.connected.wait()
        listed: list[dict[str, str]] = []
        count = await supervisor.listing({"Action": "CoreShowChannels"}, listed.append)
        assert count == len(listed) == 3000
        assert [e["Uniqueid"] for e in listed] == [f"1754380000.{n}" for n in range(3000)]
        assert all(type(e) is dict and e["Event"] == "CoreShowChannel" for e in listed)
        with pytest.raises(AmiError, match="Permission denied"):
            await supervisor.listing({"Action": "QueueStatus"}, listed.append)
        assert len(listed) == 3000 and stream == []
    finally:
        await supervisor.stop()
        await ami.down()


async def test_a_listing_given_up_takes_the_rest_of_its_events_up_to_their_end() -> None:
    """After a timeout the late events of the listing are dropped, none handed on,
    and panoramisk forgets the action only at its end: a listing forgotten
    sooner would send its remaining CoreShowChannel events into the event stream."""
    handed: list[dict[str, str]] = []
    listing = _Listing({"Action": "CoreShowChannels"}, handed.append)
    response = Message.from_line("Response: Success\r\nActionID: 1\r\nEventList: start")
    channel = Message.from_line("Event: CoreShowChannel\r\nActionID: 1\r\nChannel: PJSIP/a")
    complete = Message.from_line("Event: CoreShowChannelsComplete\r\nActionID: 1\r\n"
                                 "EventList: Complete")
    assert listing.add_message(response) is False
    assert listing.add_message(channel) is False and len(handed) == 1
    listing.closed = True  # AmiSupervisor.listing timed out
    assert listing.add_message(channel) is False and len(handed) == 1
    assert listing.add_message(complete) is True
    assert not listing.future.done()  # nobody waits for it any more


async def test_a_listing_consumer_that_raises_fails_its_listing_not_the_connection() -> None:
    """on_event runs inside the protocol's read: its error is the listing's, the
    session stays, and the events after it in the same read are still delivered."""
    ami = ScriptedAmi()
    ami.listings = {"coreshowchannels": 3}
    stream: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    supervisor = AmiSupervisor(AmiSettings(
        host="127.0.0.1", port=ami.port, secret=Secret("s"), connect_timeout=0.5,
        ping_interval=60.0), stream.put_nowait)
    await ami.up()
    await supervisor.start()
    listed: list[dict[str, str]] = []

    def broken(_event: dict[str, str]) -> None:
        raise ValueError("a bug in a listing consumer")

    try:
        async with asyncio.timeout(5):
            await supervisor.connected.wait()
        with pytest.raises(ValueError, match="a bug in a listing consumer"):
            await supervisor.listing({"Action": "CoreShowChannels"}, broken)
        ami.broadcast({"Event": "Newchannel", "Uniqueid": "1754380000.9"})
        async with asyncio.timeout(5):
            assert (await stream.get())["Uniqueid"] == "1754380000.9"
        assert ami.logins == 1 and supervisor.connected.is_set()
        assert await supervisor.listing({"Action": "CoreShowChannels"}, listed.append) == 3
        assert stream.empty()  # the broken listing's remaining events went nowhere
    finally:
        await supervisor.stop()
        await ami.down()
