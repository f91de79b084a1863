"""Sandboxes: isolated copies of the repository where candidates' code runs.

Kinds (``Sandbox.kind``):

- ``local`` (``local.LocalSandbox``): a private copy and plain subprocesses, weak
  isolation; always available.
- ``local+bwrap`` (``LocalSandbox`` with ``isolation="bwrap"``): the same under bubblewrap
  (``bwrap``), a read-only view of the system and no network; where bubblewrap runs.
- ``docker`` (``docker.DockerSandbox``): hardened containers from an image built offline
  (``image`` plans it, ``rootfs`` writes it); where a Docker engine answers.

``factory`` chooses among them. Importing this package stays light: the Docker module (and
the docker SDK) is imported only when a Docker sandbox is asked for.
"""

from perfsmith.sandbox.bwrap import bwrap_available
from perfsmith.sandbox.local import Limits, LocalSandbox, WorkspaceFileError, snapshot_files

__all__ = ["Limits", "LocalSandbox", "WorkspaceFileError", "bwrap_available", "snapshot_files"]
