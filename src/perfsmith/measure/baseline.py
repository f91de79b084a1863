"""The baseline: what the unmodified repository does, the yardstick for every candidate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfsmith.core import Profile
from perfsmith.measure.equivalence import Difference, compare

VISIBLE = "visible"
MAX_VARIANTS = 8  # of a workload's own variants(), at most this many are checked


def seed_label(seed: int) -> str:
    return f"seed-{seed}"


def output_labels(
    seeds: tuple[int, ...], variants: int
) -> list[tuple[str, int | None, int | None]]:
    """Every output a candidate must reproduce: (label, PERFSMITH_SEED, variant index).

    The visible input first, then the hidden seeds, then the workload's own
    ``variants()`` (each passed to ``setup(variant)``).
    """
    return [
        (VISIBLE, None, None),
        *((seed_label(s), s, None) for s in seeds),
        *((f"variant-{i}", None, i) for i in range(variants)),
    ]


@dataclass(frozen=True)
class Baseline:
    """Facts about the base, kept in the run's state (plain data, paths to big blobs).

    Attributes:
        expected_tests: test ids that passed; each must still pass on a candidate.
        digests: output label (``visible`` or ``seed-N``) -> digest of the returned value.
        trees: output label -> path of the canonical tree JSON, for tolerant comparison.
        hidden_seeds: PERFSMITH_SEED values the Coder never sees.
        variants: how many of the workload's own ``variants()`` are compared.
        median_s: median seconds per workload call.
        samples: values behind ``median_s``.
        noise: A/A noise floor; the keep threshold is ``1 + max(min_gain, noise)``.
        written: files the base itself writes into its workspace (tests, workload).
    """

    expected_tests: frozenset[str]
    median_s: float
    samples: int
    noise: float = 0.0
    digests: dict[str, str] = field(default_factory=dict)
    trees: dict[str, str] = field(default_factory=dict)
    hidden_seeds: tuple[int, ...] = ()
    variants: int = 0  # how many of the workload's variants() are checked
    written: frozenset[str] = frozenset()
    profile: Profile | None = None

    @property
    def output_digest(self) -> str | None:
        return self.digests.get(VISIBLE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "expected_tests": sorted(self.expected_tests),
            "median_s": self.median_s,
            "samples": self.samples,
            "noise": self.noise,
            "digests": dict(self.digests),
            "trees": dict(self.trees),
            "hidden_seeds": list(self.hidden_seeds),
            "variants": self.variants,
            "written": sorted(self.written),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], profile: Profile | None = None) -> Baseline:
        return cls(
            expected_tests=frozenset(d.get("expected_tests", ())),
            median_s=float(d.get("median_s", 0.0)),
            samples=int(d.get("samples", 0)),
            noise=float(d.get("noise", 0.0)),
            digests=dict(d.get("digests", {})),
            trees=dict(d.get("trees", {})),
            hidden_seeds=tuple(d.get("hidden_seeds", ())),
            variants=int(d.get("variants", 0)),
            written=frozenset(d.get("written", ())),
            profile=profile,
        )


def same_output(
    baseline_digest: str,
    baseline_tree: str | None,
    digest: str,
    tree: Any,
    *,
    rel_tol: float,
    abs_tol: float,
) -> Difference | None:
    """None when a candidate's value equals the baseline's (floats within tolerance)."""
    if digest == baseline_digest:
        return None
    if baseline_tree is None or tree is None:
        return Difference("", "(baseline value)", "(candidate value)", "the values differ")
    base_value = json.loads(Path(baseline_tree).read_text(encoding="utf-8"))
    diff = compare(base_value, tree, rel_tol=rel_tol, abs_tol=abs_tol)
    return diff
