"""Which file an event belongs to."""

from __future__ import annotations

import re
from functools import lru_cache
from datetime import datetime, timezone

from eventlog.events import Event

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@lru_cache(maxsize=1024)
def safe_name(kind: str) -> str:
    """A file-name-safe form of an event kind (unsafe runs become ``_``; never empty)."""
    cleaned = _UNSAFE.sub("_", kind).strip(".")
    return cleaned or "_"


@lru_cache(maxsize=1024)
def _day_label(day_number: int) -> str:
    return datetime.fromtimestamp(day_number * 86_400, tz=timezone.utc).strftime("%Y-%m-%d")


def day_of(ts: int) -> str:
    """The UTC day of a timestamp as YYYY-MM-DD."""
    # Events arrive day after day: the label of a day is computed once.
    return _day_label(ts // 86_400)


def partition_path(event: Event) -> str:
    """Relative path of the file holding an event, such as ``2024-05-01/login.jsonl``."""
    return f"{day_of(event.ts)}/{safe_name(event.kind)}.jsonl"
