"""The statistics a comparison reports: intervals, paired tests, percentiles, the front.

Plain formulas, no dependency: the Wilson score interval for a success rate, McNemar's
exact test for two policies run on the same task trials, nearest-rank percentiles and the
Pareto front of cost against success.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_95 = 1.959963984540054
"""The two-sided 95% quantile of the standard normal distribution."""
TRUST_FROM = 30
"""Fewer trials than this per policy are flagged: the interval is too wide to rank on."""


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a success rate; ``(0, 1)`` for no trials."""
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs.

    ``only_a``: pairs that policy A solved and B did not; ``only_b`` the reverse. Under
    the null hypothesis each discordant pair goes either way with probability 1/2.
    """
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0 < q <= 100); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """The names whose (cost, success) no other point beats: cheaper-or-equal and
    at-least-as-successful, better in one. Ordered by cost."""
    front = []
    for name, (cost, success) in points.items():
        beaten = any(c <= cost and s >= success and (c < cost or s > success)
                     for other, (c, s) in points.items() if other != name)
        if not beaten:
            front.append(name)
    return sorted(front, key=lambda n: (points[n][0], -points[n][1], n))
