"""The release record shared by the whole package."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Release:
    """One uploaded distribution file.

    Attributes:
        name: the project name as the uploader spelled it.
        version: the version string, as uploaded.
        uploaded: upload time, seconds since the epoch.
        filename: the distribution file name (unique within the index).
        yanked: whether the release was withdrawn.
    """

    name: str
    version: str
    uploaded: int
    filename: str
    yanked: bool = False
