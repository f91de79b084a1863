"""Human-readable output for a reconciliation."""

from __future__ import annotations

from stockrec.models import ReconcileReport


def summarise(report: ReconcileReport) -> dict[str, int]:
    """Counts and net unit difference, for dashboards."""
    return {
        "matched": report.matched,
        "discrepancies": len(report.discrepancies),
        "uncounted": len(report.uncounted),
        "unknown": len(report.unknown),
        "net_delta": sum(d.delta for d in report.discrepancies)
        - sum(level.qty for level in report.uncounted)
        + sum(c.qty for c in report.unknown),
    }


def format_report(report: ReconcileReport, limit: int = 20) -> str:
    """A plain-text report listing the largest discrepancies first."""
    s = summarise(report)
    lines = [
        f"matched: {s['matched']}  discrepancies: {s['discrepancies']}  "
        f"uncounted: {s['uncounted']}  unknown: {s['unknown']}  net: {s['net_delta']:+d}"
    ]
    worst = sorted(report.discrepancies, key=lambda d: (-abs(d.delta), d.sku, d.location))
    for d in worst[:limit]:
        lines.append(
            f"  {d.sku:<14} {d.location:<9} ledger {d.expected:>6} counted {d.counted:>6}"
            f" ({d.delta:+d})"
        )
    if len(worst) > limit:
        lines.append(f"  ... {len(worst) - limit} more")
    return "\n".join(lines)
