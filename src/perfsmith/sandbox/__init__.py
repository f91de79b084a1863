"""Sandboxes: isolated copies of the repository where candidates' code runs.

``local`` (a private copy and plain subprocesses, weak isolation) is always available.
"""

from perfsmith.sandbox.local import Limits, LocalSandbox, WorkspaceFileError, snapshot_files

__all__ = ["Limits", "LocalSandbox", "WorkspaceFileError", "snapshot_files"]
