"""A small subset of PEP 440 versions: epochs, release segments, pre/post/dev parts."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

_VERSION = re.compile(
    r"""
    ^\s*v?
    (?:(?P<epoch>\d+)!)?
    (?P<release>\d+(?:\.\d+)*)
    (?:[-_.]?(?P<pre_l>a|alpha|b|beta|rc|c)[-_.]?(?P<pre_n>\d*))?
    (?:[-_.]?(?:post|rev|r)[-_.]?(?P<post>\d*))?
    (?:[-_.]?dev[-_.]?(?P<dev>\d*))?
    \s*$
    """,
    re.VERBOSE | re.IGNORECASE,
)

_PHASES = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "rc": 2, "c": 2}
_FINAL = 3
_DEV_ONLY = -1
_NO_DEV = sys.maxsize


class InvalidVersion(ValueError):
    """Raised for a version string outside the supported PEP 440 subset."""


@dataclass(frozen=True)
class Version:
    """A parsed version.

    Attributes:
        epoch: the epoch (``1!2.0`` has epoch 1).
        release: the release segment with trailing zeros removed (``1.0.0`` -> ``(1,)``).
        phase: 0/1/2 for alpha/beta/rc, 3 for a final release, -1 for a bare dev release.
        pre: the pre-release number (0 when absent).
        post: the post-release number, -1 when absent.
        dev: the dev-release number, ``sys.maxsize`` when absent (dev sorts first).
    """

    epoch: int
    release: tuple[int, ...]
    phase: int
    pre: int
    post: int
    dev: int

    @property
    def is_prerelease(self) -> bool:
        """True for alpha, beta, rc and dev releases."""
        return self.phase != _FINAL or self.dev != _NO_DEV

    def __str__(self) -> str:
        text = ".".join(str(p) for p in self.release or (0,))
        if self.epoch:
            text = f"{self.epoch}!{text}"
        if 0 <= self.phase < _FINAL:
            text += ("a", "b", "rc")[self.phase] + str(self.pre)
        if self.post >= 0:
            text += f".post{self.post}"
        if self.dev != _NO_DEV:
            text += f".dev{self.dev}"
        return text


def parse_version(text: str) -> Version:
    """Parse a version string.

    Raises:
        InvalidVersion: when ``text`` is not in the supported subset of PEP 440.
    """
    match = _VERSION.match(text)
    if match is None:
        raise InvalidVersion(f"invalid version: {text!r}")
    parts = [int(p) for p in match.group("release").split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    pre_l = match.group("pre_l")
    post = match.group("post")
    dev = match.group("dev")
    if pre_l is not None:
        phase = _PHASES[pre_l.lower()]
        pre = int(match.group("pre_n") or 0)
    elif dev is not None and post is None:
        phase, pre = _DEV_ONLY, 0
    else:
        phase, pre = _FINAL, 0
    return Version(
        epoch=int(match.group("epoch") or 0),
        release=tuple(parts),
        phase=phase,
        pre=pre,
        post=int(post or 0) if post is not None else -1,
        dev=int(dev or 0) if dev is not None else _NO_DEV,
    )


def _cmp(a: int | tuple[int, ...], b: int | tuple[int, ...]) -> int:
    return int(a > b) - int(a < b)  # type: ignore[operator]


def compare_versions(a: str, b: str) -> int:
    """Compare two version strings: negative, zero or positive like a classic ``cmp``."""
    va, vb = parse_version(a), parse_version(b)
    if va.epoch != vb.epoch:
        return _cmp(va.epoch, vb.epoch)
    width = max(len(va.release), len(vb.release))
    ra = va.release + (0,) * (width - len(va.release))
    rb = vb.release + (0,) * (width - len(vb.release))
    if ra != rb:
        return _cmp(ra, rb)
    return _cmp((va.phase, va.pre, va.post, va.dev), (vb.phase, vb.pre, vb.post, vb.dev))
