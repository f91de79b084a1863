"""The agents: a Coder that proposes edits and a Judge that reviews measured candidates.

``edits`` is pure (SEARCH/REPLACE parsing, applying, unified diffs); ``coder`` and ``judge``
render their prompts from ``perfsmith/prompts`` and talk to any ``core.Model``.
"""

from __future__ import annotations

from perfsmith.agents.coder import LLMCoder
from perfsmith.agents.edits import (
    EditBlock,
    ParsedAnswer,
    apply_blocks,
    parse_blocks,
)
from perfsmith.agents.judge import LLMJudge, enforce, parse_verdict
from perfsmith.diffs import touched_paths, unified_diff

__all__ = [
    "EditBlock",
    "LLMCoder",
    "LLMJudge",
    "ParsedAnswer",
    "apply_blocks",
    "enforce",
    "parse_blocks",
    "parse_verdict",
    "touched_paths",
    "unified_diff",
]
