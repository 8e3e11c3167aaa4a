"""The queue state rules: any order of events keeps every count sane, a reconcile
replaces, connected calls are found in a channel listing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.domain.queue_state import (
    ConnectedCall,
    DeviceState,
    ListedChannel,
    Member,
    QueueState,
    Snapshot,
    Waiting,
    connected_from_channels,
    member_of_channel,
)

AGENT = "Local/agent1@hotline-agents"
AGENT2 = "Local/agent2@hotline-agents"


def waiting(uid: str, at: float = 100.0, queue: str = "hotline") -> Waiting:
    return Waiting(queue, uid, f"PJSIP/carrier-{uid}", "13900000001", at)


def member(iface: str = AGENT, state: DeviceState = DeviceState.NOT_INUSE,
           paused: bool = False, queue: str = "hotline") -> Member:
    return Member(queue, iface, "Agent", state, paused)


def connected(uid: str, iface: str = AGENT, at: float = 100.0) -> ConnectedCall:
    return ConnectedCall("hotline", iface, f"{iface}-0001;1", f"PJSIP/carrier-{uid}",
                         "13900000001", uid, uid, at, agent_uniqueid=f"a{uid}")


def test_a_caller_waits_from_join_until_connected() -> None:
    state = QueueState(frozenset({"hotline"}))
    state.member_seen(member())
    state.caller_joined(waiting("1.1", at=100.0))
    assert state.callers_waiting() == 1 and state.longest_wait(130.0) == 30.0
    assert state.free_agents() == (AGENT,)
    state.agent_called("hotline", AGENT)
    assert state.free_agents() == ()  # ringing
    state.agent_connected(connected("1.1", at=131.0))
    assert state.callers_waiting() == 0 and state.longest_wait(140.0) == 0.0
    assert state.free_agents() == ()  # talking, even while its device state still lags
    assert [c.linkedid for c in state.connected_calls()] == ["1.1"]
    state.agent_completed("1.1")
    assert state.connected_calls() == () and state.free_agents() == (AGENT,)


def test_queues_not_watched_are_ignored() -> None:
    state = QueueState(frozenset({"hotline"}))
    state.caller_joined(waiting("1.1", queue="sales"))
    state.member_seen(member(queue="sales"))
    state.agent_connected(ConnectedCall("sales", AGENT, "x", "y", "1", "1.2", "1.2", 1.0))
    assert (state.callers_waiting(), state.free_agents(), state.connected_calls()) == (0, (), ())


def test_a_member_is_free_only_when_idle_unpaused_and_not_ringing() -> None:
    for state_value, paused, free in ((DeviceState.NOT_INUSE, False, True),
                                      (DeviceState.NOT_INUSE, True, False),
                                      (DeviceState.INUSE, False, False),
                                      (DeviceState.RINGING, False, False),
                                      (DeviceState.UNAVAILABLE, False, False)):
        state = QueueState()
        state.member_seen(member(state=state_value, paused=paused))
        assert state.free_agents() == ((AGENT,) if free else ()), (state_value, paused)


def test_a_member_of_two_queues_busy_in_one_is_not_free() -> None:
    state = QueueState()
    state.member_seen(member(queue="hotline"))
    state.member_seen(member(queue="vip", paused=True))
    assert state.free_agents() == ()


def test_a_ring_no_answer_frees_the_member_again() -> None:
    state = QueueState()
    state.member_seen(member())
    state.agent_called("hotline", AGENT)
    state.agent_not_answered("hotline", AGENT)
    assert state.free_agents() == (AGENT,)


def test_a_hangup_ends_waiting_and_connected_alike() -> None:
    state = QueueState()
    state.caller_joined(waiting("1.1"))
    state.agent_connected(connected("1.2"))
    state.channel_gone("1.1")
    state.channel_gone("1.2")
    assert state.callers_waiting() == 0 and state.connected_calls() == ()


def test_a_rejoin_keeps_the_first_join_time() -> None:
    state = QueueState()
    state.caller_joined(waiting("1.1", at=100.0))
    state.caller_joined(waiting("1.1", at=150.0))
    assert state.callers_waiting() == 1 and state.longest_wait(160.0) == 60.0


def test_a_member_talking_is_not_free_whatever_its_device_state_says() -> None:
    """Found by the property below: AgentConnect, then a late QueueMemberStatus
    saying NOT_INUSE (a Local channel's device state lags the bridge)."""
    state = QueueState()
    state.agent_connected(connected("1.1", iface=AGENT))
    state.member_seen(member(AGENT, state=DeviceState.NOT_INUSE, paused=False))
    assert AGENT not in state.free_agents()
    state.agent_completed("1.1")
    assert AGENT in state.free_agents()


# -- any order, any gap ------------------------------------------------------------------

UIDS = st.sampled_from(["1.1", "1.2", "1.3"])
IFACES = st.sampled_from([AGENT, AGENT2])
EVENTS = st.one_of(
    st.tuples(st.just("join"), UIDS, st.floats(0, 1000)),
    st.tuples(st.just("leave"), UIDS),
    st.tuples(st.just("connect"), UIDS, IFACES),
    st.tuples(st.just("complete"), UIDS),
    st.tuples(st.just("gone"), UIDS),
    st.tuples(st.just("member"), IFACES, st.sampled_from(list(DeviceState)), st.booleans()),
    st.tuples(st.just("removed"), IFACES),
    st.tuples(st.just("called"), IFACES),
    st.tuples(st.just("noanswer"), IFACES),
)


def apply(state: QueueState, event: tuple) -> None:  # type: ignore[type-arg]
    kind, *args = event
    if kind == "join":
        state.caller_joined(waiting(args[0], at=args[1]))
    elif kind == "leave":
        state.caller_left(args[0])
    elif kind == "connect":
        state.agent_connected(connected(args[0], iface=args[1]))
    elif kind == "complete":
        state.agent_completed(args[0])
    elif kind == "gone":
        state.channel_gone(args[0])
    elif kind == "member":
        state.member_seen(member(args[0], state=args[1], paused=args[2]))
    elif kind == "removed":
        state.member_removed("hotline", args[0])
    elif kind == "called":
        state.agent_called("hotline", args[0])
    else:
        state.agent_not_answered("hotline", args[0])


@given(st.lists(EVENTS, max_size=60), st.floats(0, 2000))
def test_any_order_of_events_keeps_the_state_sane(events: list, now: float) -> None:  # type: ignore[type-arg]
    state = QueueState()
    for event in events:
        apply(state, event)
        waiting_ids = set(state.waiting)
        connected_ids = set(state.connected)
        assert 0 <= state.callers_waiting() <= 3
        assert state.longest_wait(now) >= 0.0
        assert not waiting_ids & connected_ids, "a caller both waiting and connected"
        assert set(state.free_agents()) <= {m.interface for m in state.members.values()}
        for call in state.connected.values():  # a member talking is never free
            assert call.member_interface not in state.free_agents()


@given(st.lists(EVENTS, max_size=40), st.lists(EVENTS, max_size=10))
def test_a_reconcile_replaces_whatever_came_before(before: list, after: list) -> None:  # type: ignore[type-arg]
    snapshot = Snapshot(waiting=(waiting("2.1", at=5.0),), members=(member(AGENT2),),
                        connected=(connected("2.2", iface=AGENT),))
    fresh, used = QueueState(), QueueState()
    for event in before:
        apply(used, event)
    fresh.reconcile(snapshot)
    used.reconcile(snapshot)
    assert (used.waiting, used.members, used.connected) == \
        (fresh.waiting, fresh.members, fresh.connected)
    assert used.callers_waiting() == 1 and used.free_agents() == (AGENT2,)
    for event in after:  # and events go on from there alike
        apply(fresh, event)
        apply(used, event)
    assert (used.waiting, used.members, used.connected) == \
        (fresh.waiting, fresh.members, fresh.connected)


# -- connected calls from a channel listing (after an AMI gap) ---------------------------


def listed(channel: str, uid: str, bridge: str, started: float = 50.0,
           linkedid: str = "9.1") -> ListedChannel:
    return ListedChannel(channel, uid, linkedid, bridge, "13900000009", started)


def test_a_member_channel_bridged_with_one_caller_is_a_connected_call() -> None:
    channels = [
        listed("PJSIP/carrier-00000001", "9.1", "b1", started=10.0),
        listed(f"{AGENT}-00000002;1", "9.2", "b1", started=40.0),
        listed(f"{AGENT}-00000002;2", "9.3", ""),  # the agent's own half: not bridged
        listed("PJSIP/carrier-00000003", "9.4", "", linkedid="9.4"),  # waiting
    ]
    (call,) = connected_from_channels(channels, [member()])
    assert (call.linkedid, call.uniqueid, call.caller_channel, call.agent_channel,
            call.agent_uniqueid, call.member_interface, call.connected_at) == (
        "9.1", "9.1", "PJSIP/carrier-00000001", f"{AGENT}-00000002;1", "9.2", AGENT, 40.0)


def test_a_bridge_of_three_or_without_a_member_is_no_connected_call() -> None:
    three = [listed("PJSIP/a-1", "1", "b"), listed("PJSIP/b-2", "2", "b"),
             listed(f"{AGENT}-3;1", "3", "b")]
    none = [listed("PJSIP/a-1", "1", "c"), listed("PJSIP/b-2", "2", "c")]
    assert connected_from_channels([*three, *none], [member()]) == ()


def test_member_of_channel_needs_the_separator() -> None:
    assert member_of_channel("PJSIP/1001-00000001", ["PJSIP/1001"]) == "PJSIP/1001"
    assert member_of_channel("PJSIP/10011-00000001", ["PJSIP/1001"]) is None
