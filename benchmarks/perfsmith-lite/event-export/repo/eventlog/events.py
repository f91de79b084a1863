"""The Event record and its JSON-lines form."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# One encoder for all events: json.dumps with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Event:
    """One audit event.

    Attributes:
        id: Unique, increasing event id.
        ts: Seconds since the epoch (UTC).
        kind: Event kind such as ``login`` or ``payment``.
        user: The acting user.
        data: Extra fields (JSON-serialisable values).
    """

    id: int
    ts: int
    kind: str
    user: str
    data: dict[str, Any] = field(default_factory=dict)


def to_json_line(event: Event) -> str:
    """Serialise an event to one JSON line (keys sorted, UTF-8 kept, newline at the end)."""
    record = {"id": event.id, "ts": event.ts, "kind": event.kind, "user": event.user}
    record["data"] = event.data
    return _ENCODER.encode(record) + "\n"


def from_json_line(line: str) -> Event:
    """Parse a line written by ``to_json_line``."""
    record = json.loads(line)
    return Event(record["id"], record["ts"], record["kind"], record["user"], record["data"])
