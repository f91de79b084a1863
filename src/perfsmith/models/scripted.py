"""A model that replays canned replies from a YAML script.

Every test and the offline demo use it, so no test ever needs a key. The file format is
described in ``docs/formats.md``: a mapping with one list per channel (``coder:``,
``judge:``), or a plain list that serves whichever channel loads it. Each item is a string
(the reply text) or a mapping ``{text, prompt_tokens?, completion_tokens?, cost_usd?}``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from perfsmith.core import Message, Reply, Usage
from perfsmith.errors import ConfigError, ScriptExhaustedError

_ITEM_KEYS = frozenset({"text", "prompt_tokens", "completion_tokens", "cost_usd"})


@dataclass(frozen=True)
class ScriptedReply:
    """One canned reply; counts left as None are estimated from the text."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float = 0.0


def estimate_tokens(text: str) -> int:
    """Rough token count of ``text`` (about four characters per token).

    Args:
        text: Any text.

    Returns:
        ``ceil(len(text) / 4)``, so only the empty string counts as zero tokens.
    """
    return (len(text) + 3) // 4


class ScriptedModel:
    """Replays the replies of one channel of a YAML script, in order.

    Attributes:
        name: ``scripted:PATH#CHANNEL``, as recorded in trajectories.
        path: The script file.
        channel: The channel this model reads.
        received: The messages of every answered query, oldest first, so tests can inspect
            the prompts; ``received[i]`` was answered by reply ``start + i``.
    """

    def __init__(self, path: Path, channel: str = "coder", *, start: int = 0) -> None:
        """Load and check the whole script now, so a bad file fails before a run starts.

        Args:
            path: The YAML script.
            channel: Which list to read (``coder``, ``judge``, ...); ignored when the file
                is a plain list.
            start: How many replies were already consumed (to resume a run after a crash).

        Raises:
            ConfigError: The file is missing, is not valid YAML, lacks the channel, holds a
                malformed item, or has fewer than ``start`` replies.
        """
        self.path = Path(path)
        self.channel = channel
        self.name = f"scripted:{self.path}#{channel}"
        self.received: list[list[Message]] = []
        self._replies = _load_channel(self.path, channel)
        if start < 0 or start > len(self._replies):
            raise ConfigError(
                f"cannot resume the scripted model {self.path} (channel '{channel}') at reply "
                f"{start}: the script has {len(self._replies)} replies.",
                hint="Resume with the same script the run started with, or start a new run.",
            )
        self._position = start
        # The loop is sequential today, but batch executors may share one instance.
        self._lock = threading.Lock()

    @property
    def position(self) -> int:
        """How many replies have been consumed (including those skipped by ``start``)."""
        return self._position

    @property
    def total(self) -> int:
        """How many replies the channel holds."""
        return len(self._replies)

    @property
    def remaining(self) -> int:
        """How many replies are left."""
        return len(self._replies) - self._position

    def query(self, messages: Sequence[Message]) -> Reply:
        """Answer with the next scripted reply.

        Args:
            messages: The chat messages (recorded in ``received``).

        Returns:
            The next reply; tokens not given in the script are estimated from the text.

        Raises:
            ScriptExhaustedError: Every reply of the channel has been used.
        """
        with self._lock:
            if self._position >= len(self._replies):
                raise ScriptExhaustedError(
                    f"the scripted model {self.path} has no replies left on channel "
                    f"'{self.channel}': all {len(self._replies)} were used.",
                    hint=(
                        f"Add replies to the '{self.channel}' list of {self.path}, or lower "
                        "the run's budget (iterations) so it stops before the script ends."
                    ),
                )
            item = self._replies[self._position]
            self._position += 1
            self.received.append(list(messages))
        prompt = item.prompt_tokens
        if prompt is None:
            prompt = sum(estimate_tokens(m.content) for m in messages)
        completion = item.completion_tokens
        if completion is None:
            completion = estimate_tokens(item.text)
        return Reply(
            text=item.text,
            usage=Usage(prompt_tokens=prompt, completion_tokens=completion),
            cost_usd=item.cost_usd,
            latency_s=0.0,
            model=self.name,
        )


def _load_channel(path: Path, channel: str) -> list[ScriptedReply]:
    where = f"the scripted model file {path}"
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{where} does not exist.",
            hint="Check the path after 'scripted:' (relative paths start at the config file "
            "or the current directory).",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{where} cannot be read: {exc}.", hint="Check the file's permissions and encoding."
        ) from None
    try:
        data: Any = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{where} is not valid YAML: {exc}",
            hint="Fix the YAML; docs/formats.md shows the scripted model format.",
        ) from None
    if isinstance(data, dict):
        if channel not in data:
            names = ", ".join(sorted(str(k) for k in data)) or "none"
            raise ConfigError(
                f"{where} has no '{channel}' list (it has: {names}).",
                hint=f"Add a '{channel}:' list of replies, or pick a channel with "
                f"'scripted:{path}#CHANNEL'.",
            )
        items = data[channel]
        label = f"{where}, channel '{channel}'"
    elif isinstance(data, list):
        items = data
        label = where
    else:
        raise ConfigError(
            f"{where} must hold a list of replies or a mapping of lists (coder:, judge:), "
            f"not {type(data).__name__}.",
            hint="See the scripted model format in docs/formats.md.",
        )
    if items is None:
        items = []  # "coder:" with nothing under it is an empty channel
    if not isinstance(items, list):
        raise ConfigError(
            f"{label} must be a list of replies, not {type(items).__name__}.",
            hint="Write each reply as a '- ' item under the channel name.",
        )
    return [_parse_item(item, f"{label}, reply {i + 1}") for i, item in enumerate(items)]


def _parse_item(item: Any, label: str) -> ScriptedReply:
    if isinstance(item, str):
        return ScriptedReply(text=item)
    hint = "A reply is a string or a mapping {text, prompt_tokens?, completion_tokens?, cost_usd?}."
    if not isinstance(item, dict):
        raise ConfigError(f"{label} is a {type(item).__name__}.", hint=hint)
    unknown = sorted(str(k) for k in item if k not in _ITEM_KEYS)
    if unknown:
        raise ConfigError(f"{label} has unknown keys: {', '.join(unknown)}.", hint=hint)
    text = item.get("text")
    if not isinstance(text, str):
        raise ConfigError(f"{label} needs a 'text' string.", hint=hint)
    tokens: dict[str, int | None] = {}
    for key in ("prompt_tokens", "completion_tokens"):
        value = item.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{label}: '{key}' must be a whole number.", hint=hint)
        if value is not None and value < 0:
            raise ConfigError(f"{label}: '{key}' must not be negative.", hint=hint)
        tokens[key] = value
    cost = item.get("cost_usd", 0.0)
    if cost is None:
        cost = 0.0
    if isinstance(cost, bool) or not isinstance(cost, int | float) or cost < 0:
        raise ConfigError(f"{label}: 'cost_usd' must be a number of dollars >= 0.", hint=hint)
    return ScriptedReply(
        text=text,
        prompt_tokens=tokens["prompt_tokens"],
        completion_tokens=tokens["completion_tokens"],
        cost_usd=float(cost),
    )
