"""The redaction policy: what must never leave production."""

from __future__ import annotations

from dataclasses import dataclass

IDENTIFIER_KINDS = ("email", "account")


class PolicyError(ValueError):
    """The policy file is malformed."""


@dataclass(frozen=True)
class Policy:
    """Identifiers are matched exactly and in file order; keys case-insensitively."""

    identifiers: tuple[tuple[str, str], ...]  # (kind, literal value)
    keys: tuple[str, ...]  # sensitive key names, e.g. "password"
    mask_ip: bool = True


DEFAULT_KEYS = ("password", "passwd", "secret", "token", "api_key", "authorization")


def load_policy(text: str, mask_ip: bool = True) -> Policy:
    """Parse ``kind: value`` lines (``email``, ``account``, ``key``); ``#`` starts a comment.

    The default sensitive keys are always included; duplicates are dropped (first kept).
    """
    identifiers: list[tuple[str, str]] = []
    keys: list[str] = list(DEFAULT_KEYS)
    seen: set[tuple[str, str]] = set()
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, sep, value = line.partition(":")
        kind, value = kind.strip().lower(), value.strip()
        if not sep or not value:
            raise PolicyError(f"policy line {lineno}: expected 'kind: value', got {raw!r}")
        if kind == "key":
            if value.lower() not in keys:
                keys.append(value.lower())
        elif kind in IDENTIFIER_KINDS:
            if (kind, value) not in seen:
                seen.add((kind, value))
                identifiers.append((kind, value))
        else:
            raise PolicyError(f"policy line {lineno}: unknown kind {kind!r}")
    return Policy(tuple(identifiers), tuple(keys), mask_ip)
