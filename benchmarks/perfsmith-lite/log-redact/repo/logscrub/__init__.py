"""Redact personal data and secrets from logs."""

from logscrub.logline import LogLine, level_counts, parse_line
from logscrub.policy import Policy, PolicyError, load_policy
from logscrub.redact import Redaction, redact, redact_all

__all__ = [
    "LogLine",
    "Policy",
    "PolicyError",
    "Redaction",
    "level_counts",
    "load_policy",
    "parse_line",
    "redact",
    "redact_all",
]
