"""QueueWatch translates AMI's queue events (field names as Asterisk 22 sends
them) into the queue state; manager.conf lets every one of them through."""

from __future__ import annotations

from hotline_pbx.ami.queue_watch import EVENTS, QueueWatch
from tests.unit.tracker.shipped_filter import event_filters

AGENT = "Local/agent1@hotline-agents"
CALLER = {"Channel": "PJSIP/carrier-00000001", "Uniqueid": "1795748462.1",
          "Linkedid": "1795748462.1", "CallerIDNum": "13900000001", "Queue": "hotline"}


def member_status(status: str, paused: str = "0", event: str = "QueueMemberStatus") -> dict:  # type: ignore[type-arg]
    return {"Event": event, "Queue": "hotline", "MemberName": "Agent One",
            "Interface": AGENT, "StateInterface": AGENT, "Status": status, "Paused": paused,
            "InCall": "0", "Timestamp": "1795748462.0"}


def test_a_queued_call_seen_through_its_events() -> None:
    watch = QueueWatch({"hotline"}, clock=lambda: 1795748470.0)
    watch(member_status("1", event="QueueMemberAdded"))
    assert watch.free_agents() == (AGENT,)
    watch({"Event": "QueueCallerJoin", **CALLER, "Position": "1", "Count": "1",
           "Timestamp": "1795748462.5"})
    assert watch.callers_waiting() == 1
    assert watch.longest_wait(1795748472.5) == 10.0
    watch({"Event": "AgentCalled", **CALLER, "Interface": AGENT, "MemberName": "Agent One",
           "DestChannel": f"{AGENT}-00000002;1"})
    assert watch.free_agents() == ()
    watch({"Event": "QueueCallerLeave", **CALLER, "Count": "0"})
    watch({"Event": "AgentConnect", **CALLER, "Interface": AGENT, "MemberName": "Agent One",
           "DestChannel": f"{AGENT}-00000002;1", "DestUniqueid": "1795748462.2",
           "HoldTime": "3", "RingTime": "1", "Timestamp": "1795748465.0"})
    watch(member_status("2"))
    (call,) = watch.connected_calls()
    assert (call.queue, call.member_interface, call.agent_channel, call.agent_uniqueid,
            call.caller_channel, call.caller_number, call.linkedid, call.uniqueid,
            call.connected_at) == (
        "hotline", AGENT, f"{AGENT}-00000002;1", "1795748462.2", "PJSIP/carrier-00000001",
        "13900000001", "1795748462.1", "1795748462.1", 1795748465.0)
    assert watch.callers_waiting() == 0 and watch.free_agents() == ()
    watch({"Event": "AgentComplete", **CALLER, "Interface": AGENT, "TalkTime": "5",
           "Reason": "agent"})
    watch(member_status("1"))
    assert watch.connected_calls() == () and watch.free_agents() == (AGENT,)


def test_pause_and_removal() -> None:
    watch = QueueWatch({"hotline"})
    watch(member_status("1"))
    watch(member_status("1", paused="1", event="QueueMemberPause"))
    assert watch.free_agents() == ()
    watch(member_status("1", paused="0", event="QueueMemberPause"))
    assert watch.free_agents() == (AGENT,)
    watch({"Event": "QueueMemberRemoved", "Queue": "hotline", "Interface": AGENT})
    assert watch.free_agents() == ()


def test_an_abandon_or_a_hangup_ends_the_wait() -> None:
    watch = QueueWatch({"hotline"})
    watch({"Event": "QueueCallerJoin", **CALLER})
    watch({"Event": "QueueCallerAbandon", **CALLER, "HoldTime": "4"})
    assert watch.callers_waiting() == 0
    watch({"Event": "QueueCallerJoin", **CALLER})
    watch({"Event": "Hangup", **CALLER, "Cause": "16"})
    assert watch.callers_waiting() == 0


def test_events_of_other_queues_and_other_kinds_change_nothing() -> None:
    watch = QueueWatch({"hotline"})
    watch({"Event": "QueueCallerJoin", **CALLER, "Queue": "sales"})
    watch({"Event": "Newchannel", **CALLER})
    assert watch.callers_waiting() == 0 and watch.state.members == {}


def test_manager_conf_lets_every_queue_watch_event_through() -> None:
    included = {f["name"] for f in event_filters()
                if f.get("action") == "include" and "name" in f}
    assert included >= EVENTS, sorted(EVENTS - included)
    # and what the reconcile's listings answer with
    assert {"QueueMember", "QueueEntry", "QueueStatusComplete", "CoreShowChannel"} <= included


# -- the reconcile's listing, and the events that overtake it ------------------------------

STATUS = [
    {"Event": "QueueParams", "Queue": "hotline", "Calls": "2"},
    {"Event": "QueueMember", "Queue": "hotline", "Name": "Agent One", "Location": AGENT,
     "StateInterface": AGENT, "Status": "2", "Paused": "0", "InCall": "1"},
    {"Event": "QueueEntry", "Queue": "hotline", "Position": "1", "Channel": "PJSIP/carrier-2",
     "Uniqueid": "2.1", "CallerIDNum": "13900000002", "Wait": "12"},
    {"Event": "QueueStatusComplete"},
]
CHANNELS = [
    {"Event": "CoreShowChannel", "Channel": "PJSIP/carrier-1", "Uniqueid": "1.1",
     "Linkedid": "1.1", "BridgeId": "b-1", "CallerIDNum": "13900000001",
     "Duration": "00:10:05"},
    {"Event": "CoreShowChannel", "Channel": f"{AGENT}-00000001;1", "Uniqueid": "1.2",
     "Linkedid": "1.1", "BridgeId": "b-1", "CallerIDNum": "4008001234",
     "Duration": "00:10:00"},
    {"Event": "CoreShowChannel", "Channel": "PJSIP/carrier-2", "Uniqueid": "2.1",
     "Linkedid": "2.1", "BridgeId": "", "CallerIDNum": "13900000002", "Duration": "00:00:12"},
    {"Event": "CoreShowChannelsComplete"},
]


def test_a_listing_replaces_the_state() -> None:
    watch = QueueWatch({"hotline"}, clock=lambda: 1000.0)
    watch({"Event": "QueueCallerJoin", **CALLER, "Uniqueid": "9.9"})  # a ghost from a gap
    watch.begin_reconcile()
    watch.apply_listing(STATUS, CHANNELS)
    assert watch.callers_waiting() == 1 and watch.longest_wait(1000.0) == 12.0
    assert watch.free_agents() == ()
    (call,) = watch.connected_calls()
    assert (call.linkedid, call.caller_number, call.agent_uniqueid, call.connected_at) == (
        "1.1", "13900000001", "1.2", 400.0)
    assert watch.reconciled == 1


def test_events_during_the_listing_are_applied_on_top_of_it() -> None:
    watch = QueueWatch({"hotline"}, clock=lambda: 1000.0)
    watch.begin_reconcile()
    # While the listings travel: the waiting caller hangs up, the call ends.
    watch({"Event": "QueueCallerAbandon", **CALLER, "Uniqueid": "2.1"})
    watch({"Event": "AgentComplete", **CALLER, "Uniqueid": "1.1", "Interface": AGENT})
    watch(member_status("1"))
    watch.apply_listing(STATUS, CHANNELS)  # listed before those events
    assert watch.callers_waiting() == 0
    assert watch.connected_calls() == () and watch.free_agents() == (AGENT,)
    watch({"Event": "QueueCallerJoin", **CALLER, "Uniqueid": "3.1"})  # and on as usual
    assert watch.callers_waiting() == 1
