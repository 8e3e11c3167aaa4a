"""Queueing formulas for staffing: Erlang B, Erlang C (M/M/n) and Erlang A (M/M/n+M).

Rates are per second: ``arrival_rate`` λ, ``service_rate`` μ = 1 / mean handle
time, ``patience_rate`` θ = 1 / mean patience; ``servers`` n agents; the
offered load a = λ/μ in Erlangs.

Erlang A follows O. Garnett, A. Mandelbaum and M. Reiman, "Designing a call
center with impatient customers", Manufacturing & Service Operations
Management 4(3), 2002, and A. Mandelbaum and S. Zeltyn, "The M/M/n+G queue:
summary of performance measures" (Technion, 2009): the number in system is a
birth-death chain with birth rate λ and death rate min(k, n)·μ + max(k − n, 0)·θ.
Its stationary distribution is computed directly, in log space, over states
0..K where K is the first state past n whose remaining tail is below 1e-12:
exact up to that truncation, no factorials, stable for hundreds of agents.

From it (PASTA: an arrival sees the stationary distribution):

* P(wait) = P(k ≥ n);
* P(abandon) = θ·E[queue] / λ (the abandonment flow over the arrival flow);
* for an arrival that finds j callers queued ahead, it is answered with
  probability nμ / (nμ + (j+1)θ), and given that, its wait is a sum of
  independent exponentials of rates nμ + iθ, i = 1..j+1 (competing risks:
  the time spent at each queue position does not depend on what ended it).
  That sum S has e^{−θS} ~ Beta(nμ/θ + 1, j + 1), so
  P(S ≤ t) = 1 − I_x(nμ/θ + 1, j + 1) with x = e^{−θt}, the regularised
  incomplete beta, summed by its recurrence in the second parameter (all
  terms positive). Hence the service level P(answered within t) and the ASA
  (mean wait of answered callers, as docs/kpi.md defines it).

Erlang C is the θ → 0 limit (tests/unit/domain/test_erlang.py checks it), with
the Erlang B recursion B(k) = a·B(k−1) / (k + a·B(k−1)) and
C = n·B / (n − a·(1 − B)). Pure: standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["QueueFigures", "erlang_a", "erlang_b", "erlang_c", "erlang_c_figures"]

#: The stationary distribution is cut where the tail left out is below this.
TAIL = 1e-12
#: A bound on the states computed (a load far beyond any hotline's).
MAX_STATES = 200_000


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """What a caller can expect with ``servers`` agents (probabilities in [0, 1])."""

    servers: int
    p_wait: float
    p_abandon: float
    asa_seconds: float  # mean wait of answered callers; inf when the queue is unstable
    service_level: float  # P(answered within the target), answered ones only

    @property
    def answer_rate(self) -> float:
        return 1.0 - self.p_abandon


def _check(arrival_rate: float, service_rate: float, servers: int) -> None:
    if not (arrival_rate >= 0 and math.isfinite(arrival_rate)):
        raise ValueError(f"arrival_rate must be finite and >= 0, not {arrival_rate!r}")
    if not (service_rate > 0 and math.isfinite(service_rate)):
        raise ValueError(f"service_rate must be finite and > 0, not {service_rate!r}")
    if servers < 1:
        raise ValueError(f"servers must be >= 1, not {servers!r}")


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of M/M/n/n with offered load ``load`` Erlangs."""
    if servers < 0 or load < 0:
        raise ValueError("servers and load must be >= 0")
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c(servers: int, load: float) -> float:
    """Probability of waiting in M/M/n (1.0 when the load reaches ``servers``)."""
    if load >= servers:
        return 1.0
    blocking = erlang_b(servers, load)
    return servers * blocking / (servers - load * (1.0 - blocking))


def erlang_c_figures(arrival_rate: float, service_rate: float, servers: int,
                     target_seconds: float) -> QueueFigures:
    """M/M/n: nobody abandons; wait beyond ``t`` is C·e^{−(nμ−λ)t}."""
    _check(arrival_rate, service_rate, servers)
    load = arrival_rate / service_rate
    drain = servers * service_rate - arrival_rate
    if drain <= 0:
        return QueueFigures(servers, 1.0, 0.0, math.inf, 0.0)
    p_wait = erlang_c(servers, load)
    return QueueFigures(servers, p_wait, 0.0, p_wait / drain,
                        1.0 - p_wait * math.exp(-drain * target_seconds))


def _log_weights(arrival_rate: float, service_rate: float, patience_rate: float,
                 servers: int) -> list[float]:
    """Unnormalised log π_k of the birth-death chain, k = 0..K (tail below TAIL)."""
    logs = [0.0]
    peak = 0.0
    log_arrival = math.log(arrival_rate)
    for k in range(1, MAX_STATES):
        death = min(k, servers) * service_rate + max(k - servers, 0) * patience_rate
        ratio_log = log_arrival - math.log(death)
        value = logs[-1] + ratio_log
        logs.append(value)
        peak = max(peak, value)
        if k > servers and ratio_log < 0:
            ratio = math.exp(ratio_log)  # later ratios are smaller: a geometric bound
            if value - peak + math.log(1.0 / (1.0 - ratio)) < math.log(TAIL):
                return logs
    raise ValueError("the queue does not settle within MAX_STATES states")


def erlang_a(arrival_rate: float, service_rate: float, patience_rate: float, servers: int,
             target_seconds: float) -> QueueFigures:
    """M/M/n+M (exponential patience); ``patience_rate`` 0 is Erlang C."""
    _check(arrival_rate, service_rate, servers)
    if not (patience_rate >= 0 and math.isfinite(patience_rate)):
        raise ValueError(f"patience_rate must be finite and >= 0, not {patience_rate!r}")
    if patience_rate == 0:
        return erlang_c_figures(arrival_rate, service_rate, servers, target_seconds)
    if arrival_rate == 0:
        return QueueFigures(servers, 0.0, 0.0, 0.0, 1.0)
    logs = _log_weights(arrival_rate, service_rate, patience_rate, servers)
    peak = max(logs)
    weights = [math.exp(v - peak) for v in logs]
    total = math.fsum(weights)
    probs = [w / total for w in weights]
    queued = probs[servers:]  # an arrival finding k = n + j finds j callers queued
    p_wait = math.fsum(queued)
    mean_queue = math.fsum(j * p for j, p in enumerate(queued))
    p_abandon = min(1.0, patience_rate * mean_queue / arrival_rate)
    within, wait_answered = _answered_waits(queued, servers * service_rate, patience_rate,
                                            target_seconds)
    answered = 1.0 - p_abandon
    asa = wait_answered / answered if answered > 0 else math.inf
    return QueueFigures(servers, p_wait, p_abandon, asa,
                        math.fsum(probs[:servers]) + within)


def _answered_waits(queued: list[float], drain: float, theta: float,
                    target: float) -> tuple[float, float]:
    """Σ_j P(j ahead)·P(answered, wait ≤ t | j) and Σ_j P(j ahead)·E[wait; answered | j]."""
    alpha = drain / theta + 1.0
    log_x = -theta * target
    log_1mx = math.log(-math.expm1(log_x)) if target > 0 else -math.inf
    # I_x(α, 1) = x^α; I_x(α, m+1) = I_x(α, m) + x^α (1−x)^m / (m·B(α, m)).
    log_beta = -math.log(alpha)  # ln B(α, 1)
    incomplete = math.exp(alpha * log_x)
    within = mean = 0.0
    mean_wait = 0.0  # E[S_{j+1}] = Σ_{i=1}^{j+1} 1 / (nμ + iθ)
    for j, p in enumerate(queued):
        m = j + 1
        mean_wait += 1.0 / (drain + m * theta)
        answered = drain / (drain + m * theta)
        within += p * answered * max(0.0, 1.0 - incomplete)
        mean += p * answered * mean_wait
        if log_1mx > -math.inf:
            incomplete += math.exp(alpha * log_x + m * log_1mx - math.log(m) - log_beta)
        log_beta += math.log(m / (alpha + m))
    return within, mean
