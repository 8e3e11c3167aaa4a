"""Erlang B, C and A (hotline_pbx.domain.erlang) against exact values, limits,
properties and a discrete-event simulation of the same queue."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_pbx.domain.erlang import erlang_a, erlang_b, erlang_c, erlang_c_figures

from .erlang_simulation import simulate


def exact_erlang_c(servers: int, load: Fraction) -> Fraction:
    """The closed form P(wait) = (aⁿ/n!·n/(n−a)) / (Σ_{k<n} aᵏ/k! + aⁿ/n!·n/(n−a)),
    in exact rational arithmetic (an independent computation: no recursion)."""
    term = load ** servers / math.factorial(servers) * servers / (servers - load)
    below = sum((load ** k / math.factorial(k) for k in range(servers)), Fraction(0))
    return term / (below + term)


# The classic 10-Erlang column of Erlang C tables (P(wait), 11..15 agents), rounded
# to 4 places; checked against the exact closed form below, not taken on trust.
TEN_ERLANGS = {11: 0.6821, 12: 0.4494, 13: 0.2853, 14: 0.1741, 15: 0.1020}


@pytest.mark.parametrize(("servers", "expected"), sorted(TEN_ERLANGS.items()))
def test_erlang_c_matches_the_table_and_the_exact_closed_form(servers: int,
                                                             expected: float) -> None:
    exact = float(exact_erlang_c(servers, Fraction(10)))
    assert erlang_c(servers, 10.0) == pytest.approx(exact, rel=1e-12)
    assert round(exact, 4) == expected


@pytest.mark.parametrize(("servers", "load"), [(50, Fraction(45)), (200, Fraction(190)),
                                               (400, Fraction(3805, 10))])
def test_erlang_c_is_stable_for_hundreds_of_agents(servers: int, load: Fraction) -> None:
    exact = float(exact_erlang_c(servers, load))
    assert erlang_c(servers, float(load)) == pytest.approx(exact, rel=1e-10)


def test_erlang_b_of_one_server_and_an_overloaded_c() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(0, 3.0) == 1.0
    assert erlang_c(5, 5.0) == 1.0
    overloaded = erlang_c_figures(1 / 10, 1 / 60, 5, 20)  # 6 Erlangs on 5 agents
    assert overloaded.asa_seconds == math.inf and overloaded.service_level == 0.0


def test_erlang_c_service_level_and_asa_closed_forms() -> None:
    lam, mu, n, t = 10 / 180, 1 / 180, 12, 20.0
    c = float(exact_erlang_c(n, Fraction(10)))
    figures = erlang_c_figures(lam, mu, n, t)
    assert figures.asa_seconds == pytest.approx(c / (n * mu - lam), rel=1e-12)
    assert figures.service_level == pytest.approx(1 - c * math.exp(-(n * mu - lam) * t))


@pytest.mark.parametrize(("lam", "mu", "n", "t"), [(10 / 180, 1 / 180, 12, 20.0),
                                                   (1 / 20, 1 / 240, 14, 30.0),
                                                   (1.0, 1 / 200, 215, 20.0)])
def test_erlang_c_is_erlang_a_without_abandonment(lam: float, mu: float, n: int,
                                                  t: float) -> None:
    c = erlang_c_figures(lam, mu, n, t)
    limit = erlang_a(lam, mu, mu * 1e-7, n, t)
    assert limit.p_wait == pytest.approx(c.p_wait, rel=1e-5)
    assert limit.asa_seconds == pytest.approx(c.asa_seconds, rel=1e-5)
    assert limit.service_level == pytest.approx(c.service_level, rel=1e-5)
    assert limit.p_abandon < 1e-5
    assert erlang_a(lam, mu, 0.0, n, t) == c


def test_erlang_a_when_patience_equals_handle_time_is_poisson() -> None:
    """θ = μ makes the count M/M/∞: Poisson(a), so P(wait) = P(Poisson(a) ≥ n)."""
    load, n = 30.0, 30
    tail = math.fsum(math.exp(-load + k * math.log(load) - math.lgamma(k + 1))
                     for k in range(n, 400))
    assert erlang_a(load / 200, 1 / 200, 1 / 200, n, 20).p_wait == pytest.approx(tail)


def test_erlang_a_runs_with_hundreds_of_agents_and_overload() -> None:
    figures = erlang_a(3.0, 1 / 200, 1 / 60, 500, 20)  # 600 Erlangs on 500 agents
    assert 0.15 < figures.p_abandon < 0.2  # roughly (a − n)/a when overloaded
    assert 0 <= figures.service_level <= figures.answer_rate <= 1


rates = st.floats(min_value=0.002, max_value=0.2)


@settings(max_examples=60, deadline=None)
@given(lam=st.floats(min_value=0.001, max_value=0.3), aht=st.floats(min_value=30, max_value=600),
       theta=rates, n=st.integers(min_value=1, max_value=60))
def test_erlang_a_answer_rate_grows_with_agents_and_falls_with_impatience(
        lam: float, aht: float, theta: float, n: int) -> None:
    base = erlang_a(lam, 1 / aht, theta, n, 20)
    more = erlang_a(lam, 1 / aht, theta, n + 1, 20)
    hastier = erlang_a(lam, 1 / aht, theta * 1.5, n, 20)
    assert more.answer_rate >= base.answer_rate - 1e-12
    assert more.service_level >= base.service_level - 1e-12
    assert hastier.answer_rate <= base.answer_rate + 1e-12
    for f in (base, more, hastier):
        assert 0 <= f.p_abandon <= f.p_wait <= 1 + 1e-12
        assert 0 <= f.service_level <= f.answer_rate + 1e-12


def test_abandonment_vanishes_as_agents_grow() -> None:
    lam, mu, theta = 1 / 10, 1 / 300, 1 / 60  # 30 Erlangs
    abandons = [erlang_a(lam, mu, theta, n, 20).p_abandon for n in (20, 30, 40, 60, 90)]
    assert abandons == sorted(abandons, reverse=True)
    assert abandons[-1] < 1e-9


# Against the simulation: 200k arrivals each (seed 15, 10k warm-up); the tolerance
# (0.02 absolute on probabilities, 6 % on ASA) is about four standard errors of
# the simulation as seen across seeds, far below what a wrong formula gives (a
# misplaced θ moves P(abandon) by several points).
SIMULATED = [
    (1 / 30, 1 / 240, 1 / 90, 9, 20.0),  # 8 Erlangs on 9 agents, patience 90 s
    (1 / 30, 1 / 180, 1 / 60, 5, 20.0),  # 6 Erlangs on 5: overloaded, stable by abandons
    (1 / 6, 1 / 150, 1 / 120, 26, 20.0),  # 25 Erlangs on 26
    (1 / 18, 1 / 300, 1 / 200, 14, 30.0),  # 16.7 Erlangs on 14, a 30 s target
]


@pytest.mark.parametrize(("lam", "mu", "theta", "n", "t"), SIMULATED)
def test_erlang_a_agrees_with_a_simulation(lam: float, mu: float, theta: float, n: int,
                                           t: float) -> None:
    model = erlang_a(lam, mu, theta, n, t)
    seen = simulate(lam, mu, theta, n, t)
    assert seen.p_abandon == pytest.approx(model.p_abandon, abs=0.02)
    assert seen.p_wait == pytest.approx(model.p_wait, abs=0.02)
    assert seen.service_level == pytest.approx(model.service_level, abs=0.02)
    assert seen.asa_seconds == pytest.approx(model.asa_seconds, rel=0.06)


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="service_rate"):
        erlang_a(0.1, 0.0, 0.1, 3, 20)
    with pytest.raises(ValueError, match="patience_rate"):
        erlang_a(0.1, 0.1, -1.0, 3, 20)
    with pytest.raises(ValueError, match="servers"):
        erlang_a(0.1, 0.1, 0.1, 0, 20)
