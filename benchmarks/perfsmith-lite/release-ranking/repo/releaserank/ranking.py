"""Ordering releases: by project, then newest version first."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cmp_to_key

from releaserank.models import Release
from releaserank.names import normalize_name
from releaserank.versions import compare_versions, parse_version


def compare_releases(a: Release, b: Release) -> int:
    """Order two releases for the index listing.

    Projects ascend by normalised name; within a project, higher versions come first, then
    later uploads, then file names ascending, so the order is total and reproducible.
    """
    na, nb = normalize_name(a.name), normalize_name(b.name)
    if na != nb:
        return -1 if na < nb else 1
    by_version = compare_versions(b.version, a.version)
    if by_version:
        return by_version
    if a.uploaded != b.uploaded:
        return -1 if a.uploaded > b.uploaded else 1
    if a.filename != b.filename:
        return -1 if a.filename < b.filename else 1
    return 0


def rank_releases(releases: Iterable[Release], include_yanked: bool = False) -> list[Release]:
    """Return the releases in index order (see :func:`compare_releases`).

    Args:
        releases: any iterable of releases; it is not modified.
        include_yanked: keep withdrawn releases in the listing.
    """
    kept = [r for r in releases if include_yanked or not r.yanked]
    return sorted(kept, key=cmp_to_key(compare_releases))


def latest_releases(releases: Iterable[Release], allow_prereleases: bool = False) -> list[Release]:
    """Return the best release of each project, in project order.

    Args:
        releases: any iterable of releases.
        allow_prereleases: let a pre- or dev-release win when it is the highest version.
            Projects that only have pre-releases are listed with their best one anyway.
    """
    best: dict[str, Release] = {}
    fallback: dict[str, Release] = {}
    for release in rank_releases(releases):
        key = normalize_name(release.name)
        fallback.setdefault(key, release)
        if allow_prereleases or not parse_version(release.version).is_prerelease:
            best.setdefault(key, release)
    return [best.get(key, first) for key, first in fallback.items()]
