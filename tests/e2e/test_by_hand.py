"""docs/operations.md, followed by the letter: an Asterisk an operator configured
by hand (sandbox/by-hand/: their own trunk names, their own queue, AMI on but
nobody's user) gets only the lines "Next to an existing Asterisk" says to add,
taken from the document itself; the daemon connects and the first SIPp call
is routed and recorded.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from hotline_pbx.resources import checkout_root, shipped_dir
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import (
    SANDBOX_GLOBALS,
    AsteriskSandbox,
    PbxPorts,
    harness_path,
    replace_once,
)
from hotline_pbx.sandbox.sipp import CallScript, place_call
from tests.conftest import truncate_all
from tests.e2e.conftest import ConfigWriter, require_sandbox
from tests.e2e.test_call_records import ALWAYS_OPEN, DAEMON_ENV, db_rows
from tests.e2e.waiting import wait_until

BY_HAND = Path("sandbox/by-hand")
OPERATIONS = Path("docs/operations.md")
#: The operator's names (sandbox/by-hand/), as the daemon's settings give them.
SETTINGS = {"HOTLINE_TRUNKS_HOTLINE": "pstn-400", "HOTLINE_TRUNKS_GENERAL": "pstn-out",
            "HOTLINE_ROUTING_QUEUE": "support"}


def documented_manager_block(secret: str) -> str:
    """The ini block of docs/operations.md's **manager.conf** step, done as it says."""
    root = checkout_root()
    assert root is not None
    text = (root / OPERATIONS).read_text()
    found = re.search(r"\*\*manager\.conf\*\*.*?```ini\n(.*?)```", text, re.S)
    assert found, "docs/operations.md has no manager.conf block"
    block = found[1].replace("<HOTLINE_AMI_SECRET>", secret)
    copy = "; copy every eventfilter(...) line of asterisk-conf/manager.conf's [hotline]"
    assert copy in block
    shipped = (shipped_dir("asterisk-conf") / "manager.conf").read_text()
    filters = [line for line in shipped.splitlines() if line.startswith("eventfilter(")]
    return block.replace(copy, "\n".join(filters))


class ByHandAsterisk(AsteriskSandbox):
    """The operator's configuration plus the documented lines, nothing of ours else."""

    def config_files(self) -> dict[str, str]:
        own = harness_path(BY_HAND)
        p = self.ports
        files = {conf.name: conf.read_text().replace("@SIP_PORT@", str(p.sip))
                 .replace("@CARRIER_PORT@", str(p.carrier_peer))
                 .replace("@MOBILE_PORT@", str(p.mobile_peer))
                 .replace("@AMI_PORT@", str(p.ami))
                 for conf in own.glob("*.conf")}
        # Their modules and logging: the shipped ones are plain enough to stand in.
        for name in ("modules.conf", "logger.conf"):
            files[name] = (shipped_dir("asterisk-conf") / name).read_text()
        files["extensions_site.conf"] = (harness_path(Path("sandbox")) /
                                         "extensions_site.conf").read_text()
        # -- what docs/operations.md adds --
        documented = documented_manager_block(self.ami_secret)
        general, _, user = documented.partition("\n[hotline]\n")
        files["manager.conf"] = replace_once(files["manager.conf"], "[general]\n",
                                             general.strip() + "\n") + "\n[hotline]\n" + user
        # The copy, included; its globals moved into the operator's own [globals]
        # (Asterisk reads only the first), with the documented values.
        copy = (shipped_dir("dialplan") / "extensions_hotline.conf").read_text()
        section = re.search(r"(?ms)^\[globals\]\n(.*?)(?=^\[)", copy)
        assert section is not None
        files["extensions_hotline.conf"] = copy[:section.start()] + copy[section.end():]
        ours = self._with_globals(section[1]) + "".join(
            f"{name}={value}\n" for name, value in SANDBOX_GLOBALS.items()
            if not name.startswith("HOTLINE_"))  # the stand-in phones' own
        files["extensions.conf"] = replace_once(files["extensions.conf"], "[globals]\n",
                                                "[globals]\n" + ours)
        files["extensions.conf"] += '#include "extensions_hotline.conf"\n'
        # "context = hotline-inbound on the carrier's PJSIP endpoint, and nowhere else"
        files["pjsip.conf"] = replace_once(
            files["pjsip.conf"], "[pstn-400]\ntype = endpoint\ntransport = transport-udp\n"
            "context = from-pstn\n", "[pstn-400]\ntype = endpoint\ntransport = transport-udp\n"
            "context = hotline-inbound\n")
        return files

    def _with_globals(self, lines: str) -> str:
        """The globals table of the document: the daemon's address, the fail-safe."""
        values = {"HOTLINE_AGI_SCHEME": "agi",
                  "HOTLINE_AGI_HOST": f"127.0.0.1:{self.ports.agi}",
                  "HOTLINE_FAILSAFE_QUEUE": "support",
                  "HOTLINE_FAILSAFE_MOBILE": "Local/13810300000@sandbox-mobiles"}
        for name, value in values.items():
            lines, found = re.subn(rf"(?m)^{name}=.*$", f"{name}={value}", lines)
            assert found == 1, name
        return lines


@pytest.fixture
def by_hand() -> object:
    require_sandbox()
    pbx = ByHandAsterisk(name=f"byhand-{os.getpid()}", ports=PbxPorts.allocate())
    pbx.start()
    yield pbx
    pbx.stop()


def test_the_first_call_through_an_asterisk_configured_by_the_docs_is_routed_and_recorded(
        by_hand: ByHandAsterisk, pg_dsn: str, tmp_path: Path, config: ConfigWriter) -> None:
    pbx = by_hand
    # Nothing of the sample's names: the operator's own.
    assert "carrier" not in pbx.rx("pjsip show endpoints")
    truncate_all(pg_dsn)
    daemon = DaemonProcess.for_sandbox(pbx, pg_dsn, tmp_path, {**DAEMON_ENV, **SETTINGS})
    daemon.start()
    try:
        config.follow(daemon)
        status, ready = daemon.get("/readyz")
        assert status == 200 and ready["ready"], ready  # AMI logged in, both trunks found
        config.schedule(ALWAYS_OPEN)
        result = place_call(CallScript(caller="13912345001", hold_after_answer=10),
                            pbx.ports.sip, timeout=60)
        assert result.ok, result.output[-2000:]

        def stored() -> list[tuple[object, ...]]:
            return db_rows(pg_dsn, "SELECT period, route, outcome, answered_role, caller, "
                                   "details->>'queue' FROM calls")

        wait_until(lambda: len(stored()) == 1, 20, "the call's row")
        assert stored() == [("open", "queue", "answered", "agent", "13912345001", "support")]
    finally:
        daemon.stop()
