"""Property-based tests of the parser and the command encoder."""

from __future__ import annotations

import contextlib
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_pbx.agi.errors import AgiEncodeError, AgiProtocolError
from hotline_pbx.agi.protocol import (
    DEFAULT_LINE_LIMIT,
    MAX_REPLY_BLOCK_BYTES,
    AgiEnvironment,
    AgiReply,
    AgiStreamParser,
    encode_command,
    encode_env_block,
    parse_env_block,
    parse_reply_line,
    parse_script,
    split_command,
)

# Fast enough for the whole agi suite to stay well under its time budget.
PROPERTY = settings(max_examples=300, deadline=None)

# Text that can travel in one line: no CR, LF or NUL (and no lone surrogates).
line_text = st.text(
    st.characters(exclude_characters="\r\n\x00", exclude_categories=["Cs"]), max_size=40
)
env_keys = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(
    lambda k: not k.startswith("arg_")
)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def _events_or_error(chunks: list[bytes]) -> list[object] | str:
    parser = AgiStreamParser(line_limit=128, env_limit=512)
    events: list[object] = []
    try:
        for chunk in chunks:
            events.extend(parser.feed(chunk))
    except AgiProtocolError:
        return "error"
    return events


# Realistic pieces, so that generated streams reach every branch of the parser.
fragments = st.sampled_from(
    [
        b"agi_network: yes\n",
        b"agi_network_script: route?x=1\n",
        b"agi_arg_1: a b\n",
        b"agi_calleridname: \xd5\xc5\xc8\xfd\n",
        b"\n",
        b"\r\n",
        b"200 result=1\n",
        b"200 result=0\n",
        b"200 result=1 (x (y)) endpos=9\n",
        b"100 result=0 Trying...\n",
        b"510 Invalid or unknown command\n",
        b"520-Invalid command syntax.  Proper usage follows:\n",
        b"520 End of proper usage.\n",
        b"HANGUP\n",
        b"garbage\n",
        b"x" * 200,
    ]
)


@PROPERTY
@given(st.binary(max_size=600), st.lists(st.integers(min_value=0), max_size=8))
def test_arbitrary_bytes_raise_only_protocol_errors(data: bytes, cuts: list[int]) -> None:
    parser = AgiStreamParser(line_limit=128, env_limit=512)
    try:
        for chunk in _chunks(data, cuts):
            for event in parser.feed(chunk):
                assert isinstance(event, AgiEnvironment | AgiReply) or repr(event) == "HANGUP"
    except AgiProtocolError:
        pass


@PROPERTY
@given(st.binary(max_size=300))
def test_arbitrary_bytes_after_the_environment_raise_only_protocol_errors(data: bytes) -> None:
    parser = AgiStreamParser(line_limit=128)
    parser.feed(b"agi_network: yes\n\n")
    with contextlib.suppress(AgiProtocolError):
        parser.feed(data)


@PROPERTY
@given(
    st.one_of(st.lists(fragments, max_size=14).map(b"".join), st.binary(max_size=300)),
    st.lists(st.integers(min_value=0), max_size=8),
)
def test_chunking_never_changes_the_outcome(data: bytes, cuts: list[int]) -> None:
    whole = _events_or_error([data])
    assert _events_or_error(_chunks(data, cuts)) == whole
    assert _events_or_error([data[i : i + 1] for i in range(len(data))]) == whole


@PROPERTY
@given(st.text(max_size=60))
def test_arbitrary_reply_text_parses_or_raises_protocol_error(line: str) -> None:
    try:
        reply = parse_reply_line(line)
    except AgiProtocolError:
        return
    assert 0 <= reply.code <= 999


@PROPERTY
@given(st.text(max_size=60))
def test_script_parsing_never_fails(raw: str) -> None:
    route = parse_script(raw)
    assert not route.script.startswith("/")


@PROPERTY
@given(
    st.dictionaries(env_keys, line_text, max_size=12),
    st.lists(line_text, max_size=6),
    st.lists(st.integers(min_value=0), max_size=6),
)
def test_environment_round_trip(values: dict[str, str], args: list[str], cuts: list[int]) -> None:
    data = encode_env_block(values, args)
    parser = AgiStreamParser()
    events = [e for chunk in _chunks(data, cuts) for e in parser.feed(chunk)]
    assert events == [AgiEnvironment(values, tuple(args))]


# Environment-like lines, odd ones included: argument keys, colons in keys, bad separators.
env_like_line = st.tuples(
    st.sampled_from(["agi_", "agi_arg_", "agi_arg", "", "x"]),
    st.text(st.sampled_from("ab1:_ \u00e9"), max_size=5),
    st.sampled_from([": ", ":", " ", ""]),
    st.text(st.sampled_from("ab: \t1"), max_size=5),
).map("".join)


@PROPERTY
@given(st.lists(env_like_line, max_size=8))
def test_environment_fast_path_reads_lines_as_the_line_loop_does(lines: list[str]) -> None:
    # The one-regex fast path must agree with the line-by-line loop (reached
    # here through a CR in the block) on every block, odd lines included.
    block = "".join(line + "\n" for line in lines if line).encode()
    try:
        fast: object = parse_env_block(block)
    except AgiProtocolError as exc:
        fast = type(exc)
    try:
        slow: object = parse_env_block(block.replace(b"\n", b"\r\n"))
    except AgiProtocolError as exc:
        slow = type(exc)
    assert fast == slow


@PROPERTY
@given(st.lists(line_text, max_size=6))
def test_command_quoting_round_trip(args: list[str]) -> None:
    line = encode_command("EXEC", *args)
    assert split_command(line[:-1].decode()) == ["EXEC", *args]


@PROPERTY
@given(st.text(max_size=30))
def test_encoder_never_emits_a_second_line(value: str) -> None:
    try:
        line = encode_command("SET VARIABLE", "X", value)
    except AgiEncodeError:
        return
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    assert b"\r" not in line and b"\x00" not in line


@PROPERTY
@given(
    st.lists(st.integers(min_value=0, max_value=DEFAULT_LINE_LIMIT - 1), min_size=1, max_size=40),
    st.lists(st.integers(min_value=1, max_value=20_000), min_size=1, max_size=8),
)
def test_a_520_block_that_never_ends_holds_at_most_its_byte_bound(
    line_sizes: list[int], chunk_sizes: list[int]
) -> None:
    """Issue 9 item 10: whatever the line lengths and the chunking, a session's
    parser holds no more than MAX_REPLY_BLOCK_BYTES of an unfinished block."""
    stream = b"520-Invalid command syntax.  Proper usage follows:\n" + b"".join(
        b"u" * size + b"\n" for size in line_sizes
    )
    parser = AgiStreamParser()
    parser.feed(encode_env_block({"network": "yes"}))
    position, sizes = 0, itertools.cycle(chunk_sizes)
    try:
        while position < len(stream):
            size = next(sizes)
            assert parser.feed(stream[position : position + size]) == []
            position += size
            assert parser.pending_bytes <= MAX_REPLY_BLOCK_BYTES
    except AgiProtocolError as exc:
        assert "multi-line reply over" in str(exc)
        # Refused in the chunk that crossed the bound, not megabytes later.
        assert position <= MAX_REPLY_BLOCK_BYTES < position + size
    else:
        assert len(stream) <= MAX_REPLY_BLOCK_BYTES
