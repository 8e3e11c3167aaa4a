"""The sandbox PBX runs the shipped settings: asterisk.conf's maxcalls is in
effect, and the stand-in agent pattern takes any number of agents (the load
benchmarks add dozens with QueueAdd)."""

from __future__ import annotations

import re

from hotline_pbx.resources import shipped_dir
from hotline_pbx.sandbox.pbx import AsteriskSandbox


def test_maxcalls_of_the_shipped_asterisk_conf_is_in_effect(pbx: AsteriskSandbox) -> None:
    conf = (shipped_dir("asterisk-conf") / "asterisk.conf").read_text()
    shipped = re.search(r"(?m)^maxcalls = (\d+)", conf)
    assert shipped is not None
    settings = pbx.rx("core show settings")
    assert re.search(rf"Maximum calls:\s+{shipped[1]}\b", settings), settings


def test_the_stand_in_agents_go_past_nine(pbx: AsteriskSandbox) -> None:
    for agent in ("agent1", "agent7", "agent10", "agent42", "agent150"):
        shown = pbx.rx(f"dialplan show {agent}@hotline-agents")
        assert "-= 1 extension" in shown or "-= 2 extensions" in shown, (agent, shown)
    assert "There is no existence" in pbx.rx("dialplan show agentx@hotline-agents")
