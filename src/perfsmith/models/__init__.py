"""Model adapters: a scripted model for tests and demos, and LiteLLM for every real provider.

``make_model`` turns a model spec from the command line or the config into a
``core.Model``. Importing this package is cheap: LiteLLM is only imported when a
``LiteLLMModel`` sends its first query.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perfsmith.core import Model
from perfsmith.errors import ConfigError
from perfsmith.models.litellm_model import LiteLLMModel
from perfsmith.models.scripted import ScriptedModel

__all__ = ["LiteLLMModel", "ScriptedModel", "make_model"]

SCRIPTED_PREFIX = "scripted:"

# LiteLLMModel options a config may carry for a role; a scripted model has no use for them,
# so switching a config to a script (for a demo) needs no other edit.
_LITELLM_OPTIONS = frozenset(
    {"api_base", "api_key", "temperature", "max_tokens", "timeout_s", "max_retries", "sleep"}
)


def make_model(spec: str, *, role: str = "coder", base_dir: Path | None = None, **kw: Any) -> Model:
    """Build the model a spec names.

    Args:
        spec: ``scripted:PATH[#channel]`` for a YAML script, anything else is a LiteLLM
            model string such as ``openai/gpt-4.1-mini``.
        role: The role that will use the model; a scripted model reads this channel
            unless the spec names one.
        base_dir: Where a relative script path starts (the config file's folder);
            the current directory when None.
        **kw: ``LiteLLMModel`` options (``api_base``, ``temperature``, ...). A scripted
            model accepts ``start`` (replies already consumed, to resume a run) and ignores
            the LiteLLM options.

    Returns:
        A ``ScriptedModel`` or a ``LiteLLMModel``.

    Raises:
        ConfigError: The spec is empty, names no script path, or passes options the
            model does not take; or the script itself is bad.
    """
    spec = spec.strip()
    if not spec:
        raise ConfigError(
            "no model was given.",
            hint="Pass --model with a LiteLLM model string (e.g. openai/gpt-4.1-mini) or "
            "scripted:FILE.yaml.",
        )
    if spec.startswith(SCRIPTED_PREFIX):
        rest = spec[len(SCRIPTED_PREFIX) :]
        path_text, sep, channel = rest.rpartition("#")
        if not sep:
            path_text, channel = rest, role
        if not path_text.strip():
            raise ConfigError(
                f"the model spec '{spec}' names no script file.",
                hint="Write scripted:PATH.yaml or scripted:PATH.yaml#judge.",
            )
        path = Path(path_text.strip()).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        start = kw.pop("start", 0)
        unknown = sorted(k for k in kw if k not in _LITELLM_OPTIONS)
        if unknown:
            raise ConfigError(
                f"the scripted model takes no option {', '.join(unknown)}.",
                hint="Remove these options, or use a LiteLLM model string.",
            )
        return ScriptedModel(path, channel.strip() or role, start=int(start))
    try:
        return LiteLLMModel(spec, **kw)
    except TypeError as exc:
        raise ConfigError(
            f"bad options for the model {spec}: {exc}.",
            hint="Model options are api_base, api_key, temperature, max_tokens, timeout_s "
            "and max_retries.",
        ) from None
