"""Log lines (issue #9 item 11): control characters escaped, long values cut,
phone numbers masked unless ``daemon.log_numbers``, in both formats."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.config import load_settings
from hotline_pbx.domain.masking import mask_text
from hotline_pbx.logs import (
    MAX_VALUE,
    Identifier,
    Verbatim,
    escape_controls,
    formatter,
    held_until_started,
    setup_logging,
)

HOSTILE = "138 0013 8000\r\n2026-12-01 10:00:00,000 INFO    forged: admin\x00\x1b[31;1mred\x1b[0m"
CONTROL = [chr(c) for c in (*range(0x20), *range(0x7f, 0xa0))] + [
    "\u2028", "\u2029", "\u202e", "\u2066"]


class Captured:
    def __init__(self, fmt: str, log_numbers: bool) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter(fmt, log_numbers))
        self.log = logging.getLogger(f"hotline_pbx.test_logs.{fmt}.{log_numbers}")
        self.log.handlers[:] = [self.handler]
        self.log.propagate = False
        self.log.setLevel(logging.DEBUG)

    def lines(self) -> list[str]:
        text = self.stream.getvalue()
        self.stream.seek(0)
        self.stream.truncate()
        return text.splitlines()

    def message(self) -> str:
        [line] = self.lines()
        return line.split(": ", 1)[1] if not line.startswith("{") else json.loads(line)["message"]


@pytest.fixture(params=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[Captured]:
    yield Captured(request.param, log_numbers=False)


def test_cr_lf_nul_and_ansi_cannot_forge_a_line_or_paint_the_terminal(captured: Captured) -> None:
    captured.log.info("call %s from %s", Identifier("1754380000.1"), HOSTILE)
    [line] = captured.lines()  # one record, one line
    assert not any(c in line for c in "\r\x00\x1b")
    message = json.loads(line)["message"] if line.startswith("{") else line
    # the line break joins the number and the forged date into one masked run
    assert message.endswith("call 1754380000.1 from *** **** ****\\r\\n****-**-** **:**:*0,000 "
                            "INFO    forged: admin\\x00\\x1b[31;1mred\\x1b[0m")


@pytest.mark.parametrize("char", CONTROL)
def test_every_control_character_is_escaped(char: str) -> None:
    escaped = escape_controls(f"a{char}b")
    assert escaped.startswith("a\\") and escaped.endswith("b")
    assert not any(c in escaped for c in CONTROL)


def test_an_8_kb_caller_id_is_cut(captured: Captured) -> None:
    caller = "+86 138 0013 8000 " + "x" * 8000
    captured.log.info("call from %s", caller)
    message = captured.message()
    assert message == f"call from +** *** **** 8000 {'x' * (MAX_VALUE - 18)}…(7818 more)"


def test_a_cut_never_leaves_the_front_of_a_number(captured: Captured) -> None:
    captured.log.info("%s", "x" * (MAX_VALUE - 4) + "13800138000")
    assert captured.message() == "x" * (MAX_VALUE - 4) + "****…(7 more)"


@pytest.mark.parametrize("number", ["138 0013 8000", "138-0013-8000", "+86-139-1234-5678",
                                    "13800138000", "12345678"])
def test_numbers_are_masked_in_messages_reprs_and_exceptions(captured: Captured,
                                                              number: str) -> None:
    captured.log.warning("dial %s, args %r, error %s", number, [number], ValueError(number))
    message = captured.message()
    assert message.count(mask_text(number)) == 3
    assert number not in message


PROBED = ("139/1234/5678", "139_1234_5678", "139,1234,5678", "139~1234~5678",
          "139    1234    5678", "139 ... 1234 ... 5678", "139\u00ad1234\u00ad5678",
          "139\u034f1234\u034f5678", "139\u200b1234\u200b5678", "139\n1234\n5678",
          "139 1234 + 5678")  # the QA probe of issue #9's masking


@pytest.mark.parametrize("number", PROBED)
def test_no_format_shows_a_number_whole_even_in_a_repr(captured: Captured, number: str) -> None:
    # repr() writes \xad, \u200b and \n with letters, which end a run of digits
    captured.log.warning("dial %s, args %r, %s, error %r", number, [number], (number,),
                         ValueError(number))
    message = captured.message()
    assert "139" not in message and "1234" not in message, message
    assert message.count("5678") == 4


def test_dates_in_config_errors_stay_readable(captured: Captured) -> None:
    problems = ["exceptions[2021-01-01].date: year 1999 is out of range; use a year from "
                "2000 to 2100 (example: 2020-01-01)",
                "override.until: 2032-12-31T23:00:00+00:00 is out of range in UTC"]
    for problem in problems:
        captured.log.error("stored routing configuration does not load, %s", problem)
        assert captured.message().endswith(problem)
    captured.log.error("loaded at %s; weekly[0] %s", "2026-12-01T10:00:00.123456+00:00",
                       "08:30-12:00")
    assert captured.message() == "loaded at 2026-12-01T10:00:00.123456+00:00; weekly[0] 08:30-12:00"


def test_tracebacks_are_masked_and_every_line_is_marked(captured: Captured) -> None:
    try:
        raise RuntimeError("bad caller 13800138000;\n2026-12-01 10:00:00,000 INFO forged")
    except RuntimeError:
        captured.log.exception("handler failed for %s", "13800138000")
    lines = captured.lines()
    if lines[0].startswith("{"):
        [line] = lines
        entry = json.loads(line)
        assert entry["message"] == "handler failed for *******8000"
        lines = entry["exception"].splitlines()
    else:
        assert lines.pop(0).endswith("handler failed for *******8000")
    assert all(line.startswith("| ") for line in lines)
    # ";" and the line break join the number and the date into one run
    assert "| RuntimeError: bad caller ***********;" in lines
    assert "13800138000" not in "\n".join(lines)


def test_json_extra_fields_are_masked_cut_and_escaped() -> None:
    captured = Captured("json", log_numbers=False)
    captured.log.warning("blocked", extra={
        "blocked_outbound": {"dialled_number": "13800138000", "13900139000": 1,
                             "occurred_at": "2026-12-01T10:00:00+00:00"},
        "caller": "138 0013 8000\x1b[2J" + "y" * 5000, "count": 12})
    [line] = captured.lines()
    entry = json.loads(line)
    assert json.loads(entry["blocked_outbound"]) == {
        "dialled_number": "*******8000", "*******9000": 1,
        "occurred_at": "2026-12-01T10:00:00+00:00"}
    # ESC shows nothing, so "[2" is one more group of the number
    assert entry["caller"].startswith("*** **** *000\\x1b[2Jyyy")
    assert entry["caller"].endswith("more)") and len(entry["caller"]) < 2100
    assert entry["count"] == 12


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_numbers_true_writes_numbers_whole_but_still_escapes_and_cuts(fmt: str) -> None:
    captured = Captured(fmt, log_numbers=True)
    captured.log.info("call from %s", HOSTILE + "z" * 500)
    message = captured.message()
    assert message.startswith("138 0013 8000\\r\\n2026-12-01".replace("138", "call from 138"))
    assert "\x1b" not in message and message.endswith(f"…({len(HOSTILE) + 500 - MAX_VALUE} more)")


def test_a_verbatim_record_is_logged_whole(captured: Captured) -> None:
    record = Verbatim(json.dumps({"dialled_number": "13800138000", "pad": "p" * 500}))
    captured.log.error("record not stored, kept here: %s", record)
    assert captured.message() == f"record not stored, kept here: {record}"


@given(st.text(), st.text())
def test_any_value_gives_one_line_without_control_characters(first: str, second: str) -> None:
    captured = Captured("text", log_numbers=False)
    captured.log.info("a %s b %r", first, second)
    [line] = captured.lines()
    assert not any(c in line for c in CONTROL)
    assert len(line) < 100 + 2 * 4 * (MAX_VALUE + 20)  # cut, then at most 4 chars an escape


def test_log_numbers_is_a_setting_and_false_by_default(tmp_path: pytest.TempPathFactory,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "s")
    assert load_settings(None).daemon.log_numbers is False
    monkeypatch.setenv("HOTLINE_DAEMON_LOG_NUMBERS", "true")
    assert load_settings(None).daemon.log_numbers is True


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    """The root logger writing plain messages to a string, as setup_logging leaves it."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.handlers[:], root.level = saved, level


def _start_up(stream: io.StringIO, *, fail: bool) -> None:
    log = logging.getLogger("hotline_pbx.test_logs.start")
    with held_until_started():
        log.info("database: up")
        log.warning("no holiday data for 2027")
        log.info("stopped in 0.0s")
        assert stream.getvalue() == ""  # held
        if fail:
            raise RuntimeError("port in use")


def test_a_start_that_succeeds_writes_every_held_record_in_order(
        root_stream: io.StringIO) -> None:
    _start_up(root_stream, fail=False)
    assert root_stream.getvalue().splitlines() == [
        "INFO database: up", "WARNING no holiday data for 2027", "INFO stopped in 0.0s"]


def test_a_start_that_fails_writes_only_its_warnings(root_stream: io.StringIO) -> None:
    with pytest.raises(RuntimeError):
        _start_up(root_stream, fail=True)
    assert root_stream.getvalue().splitlines() == ["WARNING no holiday data for 2027"]
    logging.getLogger("hotline_pbx.test_logs.start").info("after")  # held no more
    assert root_stream.getvalue().splitlines()[-1] == "INFO after"


def test_at_debug_level_nothing_is_held(root_stream: io.StringIO) -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    with held_until_started():
        logging.getLogger("hotline_pbx.test_logs.start").info("at once")
        assert root_stream.getvalue() == "INFO at once\n"


def test_stack_info_is_still_written_after_setup_logging() -> None:
    """setup_logging's lookups switched off must not take stack_info with them
    (Logger._log builds it only while logging knows its source file)."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        setup_logging("text", "info")
        stream = io.StringIO()
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("hotline_pbx.test_logs").warning("where am I", stack_info=True)
        lines = stream.getvalue().splitlines()
        assert lines[0].endswith("WARNING hotline_pbx.test_logs: where am I")
        assert lines[1] == "| Stack (most recent call last):" and len(lines) > 2
    finally:
        root.handlers[:], root.level = saved, level
