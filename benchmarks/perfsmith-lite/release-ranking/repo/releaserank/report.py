"""Plain-text rendering of release listings."""

from __future__ import annotations

import time
from collections.abc import Sequence

from releaserank.models import Release


def render_table(releases: Sequence[Release]) -> str:
    """Render releases as an aligned text table (name, version, upload date, file)."""
    if not releases:
        return "(no releases)"
    rows = [
        (
            r.name,
            r.version,
            time.strftime("%Y-%m-%d", time.gmtime(r.uploaded)),
            r.filename + (" [yanked]" if r.yanked else ""),
        )
        for r in releases
    ]
    header = ("project", "version", "uploaded", "file")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)
