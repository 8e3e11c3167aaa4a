"""The cluster's /route messages: any decision round-trips, every payload fits
PostgreSQL's NOTIFY limit, a sender ignores its own, and nothing malformed
ever raises (the listener must never stop)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.domain.call_tracker import RouteInfo, RouteTarget
from hotline_pbx.store.route_share import (
    MAX_PAYLOAD,
    decode_payload,
    encode_batches,
    route_from_json,
    route_to_json,
)

texts = st.text(max_size=40)
targets = st.builds(RouteTarget, texts, texts, texts, texts)
routes = st.builds(
    RouteInfo, call_id=texts, period=texts, route=texts,
    decided_at=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    targets=st.lists(targets, max_size=4).map(tuple), caller=texts, caller_name=texts,
    dnid=texts)


@given(routes)
def test_a_decision_round_trips(info: RouteInfo) -> None:
    assert route_from_json(json.loads(json.dumps(route_to_json(info)))) == info


@given(st.lists(routes, max_size=60))
def test_every_decision_arrives_once_in_payloads_that_fit(infos: list[RouteInfo]) -> None:
    payloads = encode_batches("sender-1", infos)
    assert all(len(p.encode()) <= MAX_PAYLOAD for p in payloads)
    heard = [info for p in payloads for info in decode_payload(p, own="another")]
    assert heard == infos
    assert all(decode_payload(p, own="sender-1") == [] for p in payloads)


def test_a_decision_too_large_for_any_payload_is_left_out_alone() -> None:
    small = RouteInfo("1.1", "closed", "forward", 1.0)
    huge = RouteInfo("1.2", "closed", "forward", 2.0,
                     targets=tuple(RouteTarget("deputy", str(n), "名" * 100, "x")
                                   for n in range(40)))
    payloads = encode_batches("s", [small, huge, small])
    assert [i for p in payloads for i in decode_payload(p, own="o")] == [small, small]


@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1")),
                 st.recursive(st.none() | st.booleans() | st.integers() | texts,
                              lambda inner: st.lists(inner) | st.dictionaries(texts, inner))
                 .map(json.dumps)))
def test_anything_malformed_is_skipped_never_raised(payload: str) -> None:
    assert isinstance(decode_payload(payload, own="me"), list)


def test_a_message_with_a_wrong_field_type_is_skipped() -> None:
    good = route_to_json(RouteInfo("1.1", "open", "queue", 5.0))
    for field, value in (("decided_at", "5"), ("decided_at", True), ("caller", 7),
                         ("targets", [["a", "b", "c"]]), ("targets", "x")):
        message = json.dumps({"from": "x", "routes": [{**good, field: value}]})
        assert decode_payload(message, own="me") == []
