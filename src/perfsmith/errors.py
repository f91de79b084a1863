"""Errors that reach the user.

Every error carries a ``hint``: what the user should do about it. The CLI prints
``message`` and ``hint`` as one paragraph and exits with ``exit_code``.
"""

from __future__ import annotations


class PerfsmithError(Exception):
    """Base of every error perfsmith reports to a person."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class ConfigError(PerfsmithError):
    """The command line or configuration is wrong."""


class RepoError(PerfsmithError):
    """The target repository is missing, unreadable or not a Python project."""


class BaselineError(PerfsmithError):
    """The unmodified repository fails its tests or its workload."""


class WorkloadError(PerfsmithError):
    """The workload is missing, crashes or times out."""


class SandboxError(PerfsmithError):
    """A sandbox could not be created or a command could not run in it."""


class ModelError(PerfsmithError):
    """The model could not be reached or refused the request."""

    exit_code = 3


class ModelAuthError(ModelError):
    """The provider rejected the key (or there is none)."""


class ScriptExhaustedError(ModelError):
    """A scripted model has no replies left."""


class FormatError(PerfsmithError):
    """A model's answer does not follow the required format."""
