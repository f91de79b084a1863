"""Writing the partitioned JSON-lines files."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eventlog.events import Event, to_json_line
from eventlog.manifest import FileEntry, describe, read_manifest, write_manifest
from eventlog.partition import partition_path


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote.

    Attributes:
        root: The export folder.
        events: Number of events written.
        files: (relative path, lines, bytes, sha256) per file, sorted by path.
    """

    root: str
    events: int
    files: tuple[FileEntry, ...]


def _remove_previous(root: Path) -> None:
    """Delete the files of the previous export (as listed by its manifest).

    Day folders are kept: the next export of the same days reuses them.
    """
    for relative, _, _, _ in read_manifest(root):
        (root / relative).unlink(missing_ok=True)


def export_events(events: Iterable[Event], out_dir: str | os.PathLike[str]) -> ExportResult:
    """Export events to JSON-lines files partitioned by UTC day and kind.

    The previous export in ``out_dir`` is replaced. Within a file, events keep their input
    order. A ``manifest.json`` describing every file is written last.

    Args:
        events: The events to export.
        out_dir: The export folder (created if missing).

    Returns:
        What was written.
    """
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    _remove_previous(root)
    written: set[str] = set()
    count = 0
    for event in events:
        relative = partition_path(event)
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        # Append, so that each file collects its partition's events in input order.
        with open(target, "a", encoding="utf-8", newline="\n") as fh:
            fh.write(to_json_line(event))
        written.add(relative)
        count += 1
    entries = [describe(root, relative) for relative in sorted(written)]
    write_manifest(root, entries)
    return ExportResult(str(root), count, tuple(entries))
