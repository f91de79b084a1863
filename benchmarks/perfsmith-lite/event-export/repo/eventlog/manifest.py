"""The manifest of an export folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST = "manifest.json"

FileEntry = tuple[str, int, int, str]


def describe(root: Path, relative: str) -> FileEntry:
    """(relative path, lines, bytes, sha256) of one exported file."""
    data = (root / relative).read_bytes()
    return (relative, data.count(b"\n"), len(data), hashlib.sha256(data).hexdigest())


def write_manifest(root: Path, entries: list[FileEntry]) -> None:
    """Write ``manifest.json`` listing the entries."""
    payload = [{"path": p, "lines": n, "bytes": b, "sha256": h} for p, n, b, h in entries]
    (root / MANIFEST).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def read_manifest(root: Path) -> list[FileEntry]:
    """Read ``manifest.json``; an empty list when there is none."""
    path = root / MANIFEST
    if not path.exists():
        return []
    payload = json.loads(path.read_text(encoding="utf-8"))
    return [(e["path"], e["lines"], e["bytes"], e["sha256"]) for e in payload]
