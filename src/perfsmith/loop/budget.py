"""The run's budget: checked at step boundaries, never discarding paid work."""

from __future__ import annotations

from dataclasses import dataclass

from perfsmith.core import ExitStatus


@dataclass(frozen=True)
class Spend:
    """What the run has used so far."""

    iterations: int = 0
    evaluations: int = 0
    tokens: int = 0
    usd: float = 0.0
    elapsed_s: float = 0.0
    since_improvement: int = 0


@dataclass(frozen=True)
class Budget:
    """Limits; ``None`` means unlimited on that axis."""

    iterations: int | None = None
    evaluations: int | None = None
    tokens: int | None = None
    usd: float | None = None
    time_s: float | None = None
    patience: int | None = None

    def exhausted(self, spend: Spend) -> ExitStatus | None:
        """The reason to stop before starting another iteration, or ``None``.

        The order is fixed so the reported reason is stable when several limits are hit
        at once: money first, then tokens, time, iterations, evaluations, patience.
        """
        if self.usd is not None and spend.usd >= self.usd:
            return "budget_usd"
        if self.tokens is not None and spend.tokens >= self.tokens:
            return "budget_tokens"
        if self.time_s is not None and spend.elapsed_s >= self.time_s:
            return "budget_time"
        if self.iterations is not None and spend.iterations >= self.iterations:
            return "budget_iterations"
        if self.evaluations is not None and spend.evaluations >= self.evaluations:
            return "budget_evaluations"
        if self.patience is not None and spend.since_improvement >= self.patience:
            return "patience"
        return None

    def describe(self, spend: Spend) -> str:
        """One line such as ``iter 3/10 · $0.02/$2.00 · 41s``."""
        parts = [f"iter {spend.iterations}" + (f"/{self.iterations}" if self.iterations else "")]
        parts.append(f"${spend.usd:.3f}" + (f"/${self.usd:.2f}" if self.usd else ""))
        parts.append(f"{spend.tokens} tok" + (f"/{self.tokens}" if self.tokens else ""))
        parts.append(f"{spend.elapsed_s:.0f}s" + (f"/{self.time_s:.0f}s" if self.time_s else ""))
        return " · ".join(parts)
