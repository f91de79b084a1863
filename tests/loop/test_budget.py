from __future__ import annotations

import pytest

from perfsmith.loop.budget import Budget, Spend


def test_unlimited_never_stops() -> None:
    assert Budget().exhausted(Spend(iterations=10**6, usd=1e9, tokens=10**9)) is None


@pytest.mark.parametrize(
    ("budget", "spend", "reason"),
    [
        (Budget(iterations=3), Spend(iterations=3), "budget_iterations"),
        (Budget(iterations=3), Spend(iterations=2), None),
        (Budget(evaluations=2), Spend(evaluations=2), "budget_evaluations"),
        (Budget(tokens=1000), Spend(tokens=1000), "budget_tokens"),
        (Budget(tokens=1000), Spend(tokens=999), None),
        (Budget(usd=0.5), Spend(usd=0.5), "budget_usd"),
        (Budget(usd=0.5), Spend(usd=0.49), None),
        (Budget(time_s=60), Spend(elapsed_s=60.0), "budget_time"),
        (Budget(patience=2), Spend(since_improvement=2), "patience"),
        (Budget(patience=2), Spend(since_improvement=1), None),
    ],
)
def test_each_axis(budget: Budget, spend: Spend, reason: str | None) -> None:
    assert budget.exhausted(spend) == reason


def test_money_wins_over_iterations_when_both_hit() -> None:
    b = Budget(iterations=1, usd=1.0)
    assert b.exhausted(Spend(iterations=5, usd=2.0)) == "budget_usd"


def test_describe_mentions_limits() -> None:
    text = Budget(iterations=8, usd=2).describe(Spend(iterations=3, usd=0.25, elapsed_s=12))
    assert "iter 3/8" in text and "$0.250/$2.00" in text and "12s" in text
