"""Applying a policy to log text."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from logscrub.policy import Policy

_BEARER = r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"
_CARD = r"\b(?:\d[ -]?){12,15}\d\b"
_IPV4 = r"\b(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}\b"


@dataclass(frozen=True)
class Redaction:
    text: str
    counts: dict[str, int] = field(default_factory=dict)  # kind -> replacements made

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _key_pattern(key: str) -> str:
    # key=value, key: value, "key": "value" (JSON) - the value is what gets masked.
    return (
        r"(?i)(?P<head>[\"']?\b" + re.escape(key) + r"[\"']?\s*[=:]\s*)"
        r"(?P<value>(?:bearer\s+)?(?:\"[^\"]*\"|'[^']*'|[^\s,;&}]+))"
    )


def redact(text: str, policy: Policy) -> Redaction:
    """Redact one log text.

    Order matters and is part of the contract: sensitive keys first, then the erasure list
    in policy order, then bearer tokens, card numbers and IPv4 hosts.

    Args:
        text: Log text (any number of lines).
        policy: What to redact.

    Returns:
        The redacted text and how many replacements of each kind were made.
    """
    counts: Counter[str] = Counter()
    for key in policy.keys:
        text, n = re.subn(_key_pattern(key), r"\g<head>[REDACTED]", text)
        counts["key"] += n
    for kind, value in policy.identifiers:
        text, n = re.subn(re.escape(value), f"[REDACTED:{kind}]", text)
        counts[kind] += n
    text, n = re.subn(_BEARER, "Bearer [REDACTED]", text)
    counts["bearer"] += n
    text, n = re.subn(_CARD, "[REDACTED:card]", text)
    counts["card"] += n
    if policy.mask_ip:
        text, n = re.subn(_IPV4, r"\1.\2.x.x", text)
        counts["ip"] += n
    return Redaction(text, {k: v for k, v in counts.items() if v})


def redact_all(texts: Iterable[str], policy: Policy) -> list[Redaction]:
    """Redact several log texts (files, chunks of a stream) with one policy."""
    return [redact(text, policy) for text in texts]
