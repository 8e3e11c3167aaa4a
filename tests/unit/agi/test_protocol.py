"""The wire format, fed bytes directly: no sockets, no event loop."""

from __future__ import annotations

import pytest

from hotline_pbx.agi.errors import AgiEncodeError, AgiLineTooLong, AgiProtocolError
from hotline_pbx.agi.protocol import (
    HANGUP,
    MAX_COMMAND_BYTES,
    AgiEnvironment,
    AgiReply,
    AgiStreamParser,
    encode_command,
    parse_env_block,
    parse_reply_line,
    parse_script,
    quote_arg,
    script_of,
    split_command,
)

from .fake_asterisk import (
    HANGUP_LINE,
    REPLY_510,
    REPLY_511,
    REPLY_520,
    REPLY_520_LONG,
    REPLY_OK,
    env_bytes,
    env_with_raw,
)

ENV_BLOCK = (
    b"agi_network: yes\n"
    b"agi_network_script: route?x=1\n"
    b"agi_request: agi://127.0.0.1:4573/route?x=1\n"
    b"agi_channel: PJSIP/carrier-00000007\n"
    b"agi_uniqueid: 1754380000.7\n"
    b"agi_callerid: 13800138000\n"
    b"agi_calleridname: unknown\n"
    b"agi_dnid: 4008001234\n"
    b"agi_accountcode: \n"
    b"agi_arg_1: first\n"
    b"agi_arg_2: second value\n"
    b"\n"
)
REPLY_TRYING = b"100 result=0 Trying...\n"
REPLY_DATA = b"200 result=1 (Zhang (San)) endpos=8000\n"
REPLY_520_SHORT = b"520 Invalid command syntax.  Proper usage not available.\n"


def feed_all(data: bytes, *, chunk: int | None = None, **limits: int) -> list[object]:
    parser = AgiStreamParser(**limits)
    if chunk is None:
        return list(parser.feed(data))
    events: list[object] = []
    for i in range(0, len(data), chunk):
        events.extend(parser.feed(data[i : i + chunk]))
    return events


# -- environment


def test_environment_block_is_parsed_without_prefix_and_with_ordered_args() -> None:
    [env] = feed_all(ENV_BLOCK)
    assert isinstance(env, AgiEnvironment)
    assert env.values["network_script"] == "route?x=1"
    assert env.values["uniqueid"] == "1754380000.7"
    assert env.values["accountcode"] == ""
    assert "arg_1" not in env.values
    assert env.args == ("first", "second value")


@pytest.mark.parametrize("chunk", [1, 2, 7, 64])
def test_environment_split_anywhere_gives_the_same_result(chunk: int) -> None:
    assert feed_all(ENV_BLOCK + REPLY_OK, chunk=chunk) == feed_all(ENV_BLOCK + REPLY_OK)


def test_crlf_lines_are_tolerated() -> None:
    [env] = feed_all(ENV_BLOCK.replace(b"\n", b"\r\n"))
    assert isinstance(env, AgiEnvironment)
    assert env.values["channel"] == "PJSIP/carrier-00000007"
    assert env.args == ("first", "second value")


def test_non_utf8_caller_name_decodes_with_replacement() -> None:
    [env] = feed_all(env_with_raw({"calleridname": "张三".encode("gbk")}))
    assert isinstance(env, AgiEnvironment)
    assert "\ufffd" in env.values["calleridname"]
    assert env.values["callerid"] == "13800138000"


def test_argument_gaps_keep_positions() -> None:
    env = parse_env_block(b"agi_arg_1: a\nagi_arg_3: c\n")
    assert env.args == ("a", "", "c")


@pytest.mark.parametrize(
    "block",
    [
        b"no colon here\n",
        b": value without key\n",
        b"agi_arg_99999999: memory bomb\n",
        b"agi_arg_0: zero\n",
    ],
)
def test_malformed_environment_is_a_protocol_error(block: bytes) -> None:
    with pytest.raises(AgiProtocolError):
        feed_all(block + b"\n")


def test_environment_line_over_limit_is_refused_before_the_blank_line() -> None:
    parser = AgiStreamParser(line_limit=100)
    parser.feed(b"agi_network: yes\n")
    with pytest.raises(AgiLineTooLong):
        parser.feed(b"agi_calleridname: " + b"x" * 200)  # no newline yet


def test_environment_block_over_limit_is_refused() -> None:
    parser = AgiStreamParser(line_limit=100, env_limit=1000)
    with pytest.raises(AgiProtocolError):
        for i in range(100):
            parser.feed(f"agi_k{i}: v\n".encode())


def test_empty_environment_block() -> None:
    [env] = feed_all(b"\n")
    assert env == AgiEnvironment({}, ())


# -- script routing


@pytest.mark.parametrize(
    ("raw", "script", "params"),
    [
        ("route", "route", {}),
        ("route?x=1", "route", {"x": "1"}),
        ("/route/", "route", {}),
        ("route?x=1&y=a%20b&flag", "route", {"x": "1", "y": "a b", "flag": ""}),
        ("route?caller=+8613800138000", "route", {"caller": "+8613800138000"}),
        ("route?caller=%2B86", "route", {"caller": "+86"}),
        ("outbound%2Dguard", "outbound-guard", {}),
        ("?extension=100", "", {"extension": "100"}),
        ("", "", {}),
    ],
)
def test_script_and_query_parameters(raw: str, script: str, params: dict[str, str]) -> None:
    route = parse_script(raw)
    assert (route.script, dict(route.params)) == (script, params)


def test_script_falls_back_to_request_url_path() -> None:
    assert script_of({"request": "agi://10.0.0.1:4573/route?x=2"}).script == "route"
    assert script_of({"request": "agi://10.0.0.1"}).script == ""
    assert script_of({}).script == ""


# -- replies


@pytest.mark.parametrize(
    ("line", "code", "result", "data", "fields"),
    [
        ("200 result=1", 200, "1", None, {}),
        ("200 result=0", 200, "0", None, {}),
        ("200 result=-1", 200, "-1", None, {}),
        ("200 result=1 (hello world)", 200, "1", "hello world", {}),
        ("200 result= (timeout)", 200, "", "timeout", {}),
        ("200 result=0 endpos=16000", 200, "0", None, {"endpos": "16000"}),
        (
            "200 result=1 (digit) digit=5 endpos=800",
            200,
            "1",
            "digit",
            {"digit": "5", "endpos": "800"},
        ),
        ("200 result=1 (a) b) endpos=5", 200, "1", "a) b", {"endpos": "5"}),
        ("200 result=1 (unterminated", 200, "1", "unterminated", {}),
        ("510 Invalid or unknown command", 510, None, None, {}),
        ("511 Command Not Permitted on a dead channel or intercept routine", 511, None, None, {}),
    ],
)
def test_reply_lines(
    line: str, code: int, result: str | None, data: str | None, fields: dict[str, str]
) -> None:
    reply = parse_reply_line(line)
    parsed = (reply.code, reply.result, reply.data, dict(reply.fields))
    assert parsed == (code, result, data, fields)
    assert reply.text == line


@pytest.mark.parametrize(
    "line", ["", "OK", "20 result=1", "2000 result=1", "２００ result=1", "abc"]
)
def test_garbage_reply_is_a_protocol_error(line: str) -> None:
    with pytest.raises(AgiProtocolError):
        parse_reply_line(line)


def test_result_int() -> None:
    assert parse_reply_line("200 result=-1").result_int == -1
    assert parse_reply_line("200 result= (timeout)").result_int is None
    assert parse_reply_line("510 Invalid or unknown command").result_int is None


def after_env(*chunks: bytes) -> list[object]:
    parser = AgiStreamParser()
    parser.feed(env_bytes())
    events: list[object] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


def test_reply_with_parenthesised_data() -> None:
    [reply] = after_env(REPLY_DATA)
    assert isinstance(reply, AgiReply)
    assert reply.data == "Zhang (San)"
    assert reply.fields == {"endpos": "8000"}


def test_error_replies() -> None:
    codes = [r.code for r in after_env(REPLY_510 + REPLY_511 + REPLY_520_SHORT)]  # type: ignore[attr-defined]
    assert codes == [510, 511, 520]


def test_multi_line_520_is_one_reply() -> None:
    [reply] = after_env(REPLY_520)
    assert isinstance(reply, AgiReply)
    assert reply.code == 520
    assert reply.usage == ("Sets a variable to the current channel.",)
    assert reply.text.splitlines()[-1] == "520 End of proper usage."


def test_long_520_usage_with_blank_lines() -> None:
    [reply] = after_env(REPLY_520_LONG)
    assert isinstance(reply, AgiReply)
    assert reply.usage[0] == " Usage: SET VARIABLE <variablename> <value>"
    assert reply.usage[1] == ""  # a blank line inside the block is usage, not a separator


def test_multi_line_520_split_byte_by_byte_then_next_reply() -> None:
    data = REPLY_520_LONG + REPLY_OK
    events = after_env(*(data[i : i + 1] for i in range(len(data))))
    assert [e.code for e in events] == [520, 200]  # type: ignore[attr-defined]


def test_interim_100_is_dropped() -> None:
    assert after_env(REPLY_TRYING + REPLY_OK) == [parse_reply_line("200 result=1")]


def test_hangup_before_a_reply_is_not_the_reply() -> None:
    assert after_env(HANGUP_LINE + REPLY_OK) == [HANGUP, parse_reply_line("200 result=1")]


def test_hangup_right_after_the_environment_in_the_same_chunk() -> None:
    events = feed_all(env_bytes() + HANGUP_LINE)
    assert isinstance(events[0], AgiEnvironment)
    assert events[1:] == [HANGUP]


def test_reply_line_over_limit_is_refused_without_its_newline() -> None:
    parser = AgiStreamParser(line_limit=100)
    parser.feed(env_bytes())
    with pytest.raises(AgiLineTooLong):
        parser.feed(b"200 result=1 (" + b"x" * 200)


def test_endless_multi_line_reply_is_refused() -> None:
    with pytest.raises(AgiProtocolError):
        after_env(b"520-start\n" + b"usage\n" * 1000)


def test_pending_bytes_reports_the_partial_line() -> None:
    parser = AgiStreamParser()
    parser.feed(env_bytes())
    parser.feed(b"200 res")
    assert parser.pending_bytes == 7
    assert parser.environment_received


# -- commands


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("queue", '"queue"'),
        ("", '""'),
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\path\\", '"C:\\\\path\\\\"'),
        ("PJSIP/13800138000@carrier,30", '"PJSIP/13800138000@carrier,30"'),
        ("张三", '"张三"'),
    ],
)
def test_quote_arg(value: str, quoted: str) -> None:
    assert quote_arg(value) == quoted
    assert split_command(f"SET VARIABLE X {quoted}") == ["SET", "VARIABLE", "X", value]


@pytest.mark.parametrize("value", ["a\nHANGUP", "a\rb", "nul\x00"])
def test_values_that_would_inject_a_command_are_refused(value: str) -> None:
    with pytest.raises(AgiEncodeError):
        encode_command("SET VARIABLE", "X", value)


def test_encoded_command() -> None:
    assert encode_command("SET VARIABLE", "HOTLINE_ROUTE", "queue") == (
        b'SET VARIABLE "HOTLINE_ROUTE" "queue"\n'
    )
    assert encode_command("ANSWER") == b"ANSWER\n"


@pytest.mark.parametrize("command", ["", "SET  VARIABLE", "EXEC\n", 'VERBOSE "x"', " ANSWER"])
def test_bad_command_names_are_refused(command: str) -> None:
    with pytest.raises(AgiEncodeError):
        encode_command(command)


def test_command_longer_than_asterisks_buffer_is_refused() -> None:
    encode_command("VERBOSE", "x" * (MAX_COMMAND_BYTES - len(b'VERBOSE ""\n')))
    with pytest.raises(AgiEncodeError):
        encode_command("VERBOSE", "x" * MAX_COMMAND_BYTES)


def test_unencodable_text_is_refused() -> None:
    with pytest.raises(AgiEncodeError):
        encode_command("VERBOSE", "\ud800")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("SET VARIABLE X 1", ["SET", "VARIABLE", "X", "1"]),
        ('EXEC Dial "PJSIP/a&PJSIP/b,30"', ["EXEC", "Dial", "PJSIP/a&PJSIP/b,30"]),
        ("a\\ b c", ["a b", "c"]),
        ('a"b c"d', ["ab cd"]),
        ('x "" y', ["x", "", "y"]),
        ("  spaced\tout  ", ["spaced", "out"]),
        ("trailing\\", ["trailing"]),
    ],
)
def test_split_command_follows_asterisk_parse_args(line: str, words: list[str]) -> None:
    assert split_command(line) == words


def test_a_leading_blank_line_is_an_empty_environment_whatever_follows() -> None:
    # A one-read fast path must not read past the first blank line.
    with pytest.raises(AgiProtocolError):
        feed_all(b"\nagi_network: yes\n\n")
    assert feed_all(b"\n\n") == [AgiEnvironment({}, ())]
