"""Fixtures for the loop tests."""

from tests.loop.helpers import run_loop

__all__ = ["run_loop"]
