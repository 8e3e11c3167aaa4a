"""The dialogs a job can have once the customer answers (domain.dialer.DialogType).

Each takes the attempt's channel id and the target, places the call(s) and
returns an :class:`~hotline_pbx.store.dialer_repo.AttemptEnd`: classified by
the pure rules of :mod:`hotline_pbx.domain.dialer`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from hotline_pbx.ari.errors import AriError
from hotline_pbx.dialer.calls import CallContext, ask, first_of, hang_up, place
from hotline_pbx.dialer.legs import Leg, agent_channel_id
from hotline_pbx.domain.dialer import (
    AttemptResult,
    DialogType,
    classify_answered,
    classify_unanswered,
)
from hotline_pbx.store.dialer_repo import AttemptEnd

#: Longest an agent-first callback may stay bridged before the dialer ends it.
MAX_BRIDGED_SECONDS = 4 * 3600.0


def unanswered(leg: Leg, *, ended_at: float) -> AttemptEnd:
    return AttemptEnd(leg.channel_id, classify_unanswered(leg.cause), ended_at,
                      hangup_cause=leg.cause)


async def keyed_dialog(ctx: CallContext, dialog: DialogType, key: str, endpoint: str,
                       prompts: Sequence[str], valid: str) -> AttemptEnd:
    """CONFIRM (valid "1") and SATISFACTION (the scale's keys): ring the customer,
    play the prompts, read one valid key (one repeat), hang up."""
    leg = ctx.legs.open(key)
    try:
        if not await place(ctx, leg, endpoint, caller_id=ctx.caller_id):
            return unanswered(leg, ended_at=ctx.clock())
        digit = await ask(ctx, leg, list(prompts), valid)
        await hang_up(ctx, leg)
        answered_at = leg.answered_at or ctx.clock()
        ended_at = leg.ended_at or ctx.clock()
        result = classify_answered(dialog, succeeded=digit is not None,
                                   answered_seconds=ended_at - answered_at, dtmf=leg.dtmf,
                                   short_answer_seconds=ctx.short_answer_seconds)
        score = int(digit) if digit is not None and dialog is DialogType.SATISFACTION else None
        return AttemptEnd(key, result, ended_at, answered_at=answered_at,
                          hangup_cause=leg.cause, dtmf=leg.dtmf, score=score)
    finally:
        await hang_up(ctx, leg)
        ctx.legs.close(leg)


async def agent_bridge(ctx: CallContext, key: str, endpoint: str, agent: str,
                       customer: str) -> AttemptEnd:
    """AGENT_BRIDGE: ring the agent first; once the agent answers, ring the
    customer; once the customer answers, bridge both (a mixing bridge) and stay
    until either hangs up. An agent who does not answer (or leaves before the
    customer answers) makes the attempt ``agent_unavailable``: tried later, not
    counted against the customer."""
    agent_leg = ctx.legs.open(agent_channel_id(key))
    leg = ctx.legs.open(key)
    details: dict[str, Any] = {"agent": agent}
    bridge_id: str | None = None
    try:
        if not await place(ctx, agent_leg, agent, caller_id=customer):
            return AttemptEnd(key, AttemptResult.AGENT_UNAVAILABLE, ctx.clock(),
                              hangup_cause=agent_leg.cause, details=details)
        if not await place(ctx, leg, endpoint, caller_id=ctx.caller_id):
            if agent_leg.ended.is_set() and not leg.ended.is_set():
                await hang_up(ctx, leg)
            return unanswered_or_agent(leg, agent_leg, ended_at=ctx.clock(), details=details)
        if agent_leg.ended.is_set():  # the agent left while the customer's phone rang
            await hang_up(ctx, leg)
            return AttemptEnd(key, AttemptResult.AGENT_UNAVAILABLE, ctx.clock(),
                              answered_at=leg.answered_at, details=details)
        try:
            bridge = await ctx.ari.create_bridge("mixing")
            bridge_id = str(bridge["id"])
            await ctx.ari.add_to_bridge(bridge_id, [agent_leg.channel_id, leg.channel_id])
        except (AriError, KeyError):
            await hang_up(ctx, leg)
            return AttemptEnd(key, AttemptResult.CONGESTION, ctx.clock(),
                              answered_at=leg.answered_at, details=details)
        details["bridge"] = bridge_id
        await first_of(leg.ended, agent_leg.ended, timeout=MAX_BRIDGED_SECONDS)
        await hang_up(ctx, leg)
        return AttemptEnd(key, AttemptResult.ANSWERED, leg.ended_at or ctx.clock(),
                          answered_at=leg.answered_at, hangup_cause=leg.cause, dtmf=leg.dtmf,
                          details=details)
    finally:
        await hang_up(ctx, leg)
        await hang_up(ctx, agent_leg)
        if bridge_id is not None:
            with contextlib.suppress(AriError):
                await ctx.ari.destroy_bridge(bridge_id)
        ctx.legs.close(leg)
        ctx.legs.close(agent_leg)


def unanswered_or_agent(leg: Leg, agent_leg: Leg, *, ended_at: float,
                        details: Mapping[str, Any]) -> AttemptEnd:
    """The customer did not answer: their result, unless the agent hung up first
    (then it was the agent's failure)."""
    if agent_leg.ended.is_set() and (leg.cause is None or leg.cause == 16) and \
            (agent_leg.ended_at or 0) <= (leg.ended_at or ended_at):
        return AttemptEnd(leg.channel_id, AttemptResult.AGENT_UNAVAILABLE, ended_at,
                          details=details)
    end = unanswered(leg, ended_at=ended_at)
    return AttemptEnd(end.attempt_key, end.result, end.ended_at,
                      hangup_cause=end.hangup_cause, details=details)
