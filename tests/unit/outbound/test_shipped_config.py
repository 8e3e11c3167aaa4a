"""No context in the shipped Asterisk configuration can dial out on the 400 trunk.

Scans dialplan/, asterisk-conf/ (and the sandbox's stand-ins, which the test
PBX loads too) with the same parser the policy uses, after proving on
examples that the scanner catches every spelling of a trunk dial.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline_pbx.config import Settings
from hotline_pbx.domain.outbound_policy import find_trunk_dials

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted([*(ROOT / "dialplan").glob("*.conf"), *(ROOT / "asterisk-conf").glob("*.conf"),
                  *(ROOT / "sandbox").glob("*.conf")])
TRUNK = Settings().trunks.hotline
# Dial strings that come whole from a variable, and why each is safe.
VARIABLE_DIALS = {
    "HOTLINE_TARGET": "set by /route from routing.dial_template, which may not name the "
                      "400 trunk (config.py and domain/routing.py refuse it)",
    "HOTLINE_FAILSAFE_MOBILE": "a [globals] value in the shipped dialplan, scanned here",
}


@pytest.mark.parametrize(
    "line",
    [
        "exten => _9X.,1,Dial(PJSIP/${EXTEN:1}@carrier,60)",
        "exten => _9X.,1,Dial(pjsip/${EXTEN}@carrier)",
        "exten => s,1,Dial(PJSIP/carrier)",
        "exten => s,1,Dial(PJSIP/carrier/sip:123@10.0.0.1)",
        "exten => s,1,Dial(PJSIP/100@general-trunk&PJSIP/100@carrier,20)",
        "HOTLINE_FAILSAFE_MOBILE=PJSIP/13800000000@carrier",
        "member => PJSIP/123@carrier",
        " same => n,Originate(PJSIP/123@carrier,app,Wait,10)",
        "exten => s,1,Dial(PJSIP/123@carrier/sip:x@y)",
    ],
)
def test_scanner_catches_trunk_dials(line: str) -> None:
    found = find_trunk_dials(f"[ctx]\n{line}\n", TRUNK)
    assert [f.line_number for f in found] == [2], line


@pytest.mark.parametrize(
    "line",
    [
        "exten => _0X.,1,Dial(PJSIP/${EXTEN:1}@general-trunk,60)",
        "; exten => _9X.,1,Dial(PJSIP/${EXTEN:1}@carrier)  (commented out)",
        "exten => s,1,Dial(PJSIP/123@carrier-backup)",
        "contact = sip:carrier@127.0.0.1:5090",
        "[carrier]",
        "exten => s,1,NoOp(refused outbound on the carrier trunk)",
        "member => Local/agent1@hotline-agents",
    ],
)
def test_scanner_leaves_other_lines_alone(line: str) -> None:
    assert find_trunk_dials(f"[ctx]\n{line}\n", TRUNK) == []


def test_scanner_flags_an_endpoint_it_cannot_check() -> None:
    found = find_trunk_dials("exten => s,1,Dial(PJSIP/123@${TRUNK})\n", TRUNK)
    assert len(found) == 1 and "variable" in found[0].reason


def test_files_were_found() -> None:
    names = {path.name for path in SHIPPED}
    assert {"extensions_hotline.conf", "pjsip.conf", "extensions.conf",
            "queues.conf"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_shipped_file_dials_the_hotline_trunk(path: Path) -> None:
    found = find_trunk_dials(path.read_text(encoding="utf-8"), TRUNK)
    assert not found, "\n".join(f"{path.name}:{f.line_number}: {f.reason}: {f.line}"
                                for f in found)


def test_whole_variable_dial_strings_come_from_known_safe_sources() -> None:
    dials = re.compile(r"\b(?:Dial|Originate)\(\$\{([A-Z_]+)", re.IGNORECASE)
    seen = set()
    for path in SHIPPED:
        for line in path.read_text(encoding="utf-8").splitlines():
            for name in dials.findall(line.split(";", 1)[0]):
                seen.add(name)
                assert name in VARIABLE_DIALS, f"{path.name}: Dial(${{{name}}}…) is not vetted"
    assert "HOTLINE_TARGET" in seen


def test_the_refusal_is_announced_and_reported() -> None:
    text = (ROOT / "dialplan" / "extensions_hotline.conf").read_text(encoding="utf-8")
    context = text.split("[internal-outbound]", 1)[1].split("\n[", 1)[0]
    refused = context.split("exten => _8X.,1,", 1)[1].split("exten =>", 1)[0]
    assert "UserEvent(HotlineOutboundRefused," in refused
    assert "Number: ${FILTER(" in refused  # a crafted number adds no headers
    assert "Playback(" in refused and "feature-not-avail-line" in refused
    assert "Hangup(21)" in refused


# -- pjsip.conf: who a request is ------------------------------------------------
#
# Asterisk takes a request for the endpoint its identifiers find; a phone's
# context dials out on the general trunk, the carrier's is the hotline. So the
# trunks may be recognised by source address only (a From user is anyone's to
# write), and the phones by From user only once they answer a digest challenge.
# The calls themselves: tests/e2e/test_sip_trust.py.

PJSIP = ROOT / "asterisk-conf" / "pjsip.conf"
TRUNKS = (Settings().trunks.hotline, Settings().trunks.general)


def pjsip_objects(text: str) -> list[tuple[str, dict[str, str]]]:
    """Every object (not template) of a pjsip.conf: (name, options), templates applied.

    Enough of Asterisk's format for the shipped file: ``[name]``,
    ``[name](!)`` (a template), ``[name](template, …)``, ``key = value``,
    ``;`` comments; a later value of a key wins.
    """
    sections: list[tuple[str, bool, list[str], dict[str, str]]] = []
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        header = re.fullmatch(r"\[([^\]]+)\](?:\(([^)]*)\))?", line)
        if header:
            bases = [b.strip() for b in (header.group(2) or "").split(",") if b.strip()]
            sections.append((header.group(1), "!" in bases,
                             [b for b in bases if b != "!"], {}))
            continue
        key, sep, value = line.partition("=")
        assert sep and sections, f"pjsip.conf: cannot read {raw!r}"
        sections[-1][3][key.strip()] = value.lstrip(">").strip()
    templates = {name: (bases, options) for name, is_template, bases, options in sections
                 if is_template}

    def resolved(bases: list[str], own: dict[str, str]) -> dict[str, str]:
        merged: dict[str, str] = {}
        for base in bases:
            merged.update(resolved(*templates[base]))
        return {**merged, **own}

    return [(name, resolved(bases, options))
            for name, is_template, bases, options in sections if not is_template]


def _of_type(kind: str) -> dict[str, dict[str, str]]:
    found = [(n, o) for n, o in pjsip_objects(PJSIP.read_text(encoding="utf-8"))
             if o.get("type") == kind]
    assert len({n for n, _ in found}) == len(found), f"two {kind} objects share a name"
    return dict(found)


def test_the_pjsip_reader_applies_templates_and_skips_comments() -> None:
    objects = pjsip_objects("[t](!)\ntype = endpoint\ncontext = a ; why\n"
                            "[p](t)\ncontext = b\n[p]\ntype = aor\n[q](t)\n")
    assert objects == [("p", {"type": "endpoint", "context": "b"}), ("p", {"type": "aor"}),
                       ("q", {"type": "endpoint", "context": "a"})]


def test_the_shipped_file_has_both_trunks_and_a_phone() -> None:
    endpoints = _of_type("endpoint")
    assert set(TRUNKS) < set(endpoints)
    assert "1001" in endpoints


@pytest.mark.parametrize("trunk", TRUNKS)
def test_a_trunk_is_identified_by_source_address_only(trunk: str) -> None:
    assert _of_type("endpoint")[trunk].get("identify_by") == "ip"


def test_only_trunks_are_matched_by_address_and_the_carrier_is() -> None:
    identifies = _of_type("identify").values()
    assert {i["endpoint"] for i in identifies} <= set(TRUNKS)
    assert any(i["endpoint"] == Settings().trunks.hotline and i.get("match")
               for i in identifies)


def test_every_phone_must_authenticate_with_a_password_to_change() -> None:
    auths = _of_type("auth")
    phones = {n: o for n, o in _of_type("endpoint").items() if n not in TRUNKS}
    assert phones
    for name, phone in phones.items():
        assert phone.get("identify_by") == "username", name
        auth = auths[phone["auth"]]
        assert auth.get("auth_type") == "userpass", name
        assert auth.get("username") == name, name  # the From user is who answers
        # A sample, never a real password: the sandbox writes its own over it.
        assert auth.get("password", "").startswith("change-me"), name


def test_nothing_is_let_in_anonymously() -> None:
    (settings,) = _of_type("global").values()
    order = [m.strip() for m in settings["endpoint_identifier_order"].split(",")]
    assert order == ["username", "ip"]
    assert "anonymous" not in _of_type("endpoint")
