"""Ranking and summarising package releases for a small private package index."""

from releaserank.models import Release
from releaserank.names import normalize_name
from releaserank.ranking import compare_releases, latest_releases, rank_releases
from releaserank.report import render_table
from releaserank.versions import InvalidVersion, Version, compare_versions, parse_version

__all__ = [
    "InvalidVersion",
    "Release",
    "Version",
    "compare_releases",
    "compare_versions",
    "latest_releases",
    "normalize_name",
    "parse_version",
    "rank_releases",
    "render_table",
]
