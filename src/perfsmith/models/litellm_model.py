"""A model adapter for any LiteLLM model string (OpenAI, Anthropic, Gemini, Ollama, vLLM, ...).

This is the only module that imports ``litellm``, and it does so lazily, on the first
query: the import takes seconds, and without the two settings below LiteLLM would try to
download its cost map at import time. With them it makes no network calls of its own.

Retries are ours, not LiteLLM's (``num_retries=0``): only rate limits (429), server errors
(5xx), connection errors and timeouts are retried, honouring ``Retry-After`` when the
provider sends it. Keys come from the environment (or ``api_key`` for a local server) and
never appear in messages or logs.
"""

from __future__ import annotations

import email.utils
import importlib
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from perfsmith.core import Message, Reply, Usage
from perfsmith.errors import ModelAuthError, ModelError
from perfsmith.models.scripted import estimate_tokens

log = logging.getLogger(__name__)

RETRY_AFTER_CAP_S = 60.0
"""Longest wait a ``Retry-After`` header may ask for; longer requests are cut to this."""
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0

# The environment variable that holds each provider's key, for hints. LiteLLM's own
# validate_environment() is asked first; this table covers the 401/403 case, where the
# key exists but was rejected.
_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "text-completion-openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "azure": "AZURE_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "xai": "XAI_API_KEY",
    "cohere_chat": "COHERE_API_KEY",
    "perplexity": "PERPLEXITYAI_API_KEY",
}
# Model names without a provider prefix that LiteLLM routes by name.
_BARE_PREFIXES = (
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("chatgpt", "openai"),
    ("claude", "anthropic"),
)


def provider_of(model: str) -> str:
    """The provider part of a LiteLLM model string.

    Args:
        model: For example ``openai/gpt-4.1-mini`` or ``claude-sonnet-4-5``.

    Returns:
        The prefix before the first ``/``, or a guess from well-known bare names
        (``gpt-*`` is ``openai``, ``claude*`` is ``anthropic``), or ``""``.
    """
    if "/" in model:
        return model.split("/", 1)[0].lower()
    lower = model.lower()
    for prefix, provider in _BARE_PREFIXES:
        if lower.startswith(prefix):
            return provider
    return ""


def key_env_var(model: str) -> str:
    """The environment variable that should hold the key for ``model``.

    Args:
        model: A LiteLLM model string.

    Returns:
        For example ``OPENAI_API_KEY`` for ``openai/gpt-4o``; ``PROVIDER_API_KEY`` for a
        provider not in the table; ``the provider's API key variable`` when unknown.
    """
    provider = provider_of(model)
    if not provider:
        return "the provider's API key variable"
    return _KEY_ENV.get(provider, f"{provider.upper().replace('-', '_')}_API_KEY")


def retry_after_s(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """How long a provider asked us to wait, from its response headers.

    Args:
        headers: Response headers (any case-insensitive or lower-case mapping).
        now: The current Unix time, for HTTP-date values (defaults to ``time.time()``).

    Returns:
        Seconds to wait (``retry-after-ms`` first, then ``retry-after`` as seconds or an
        HTTP date), at least 0 and at most ``RETRY_AFTER_CAP_S``; None when absent or
        unreadable.
    """
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    value: float | None = None
    if "retry-after-ms" in lowered:
        try:
            value = float(lowered["retry-after-ms"]) / 1000.0
        except ValueError:
            value = None
    if value is None and "retry-after" in lowered:
        raw = lowered["retry-after"].strip()
        try:
            value = float(raw)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                return None
            value = when.timestamp() - (time.time() if now is None else now)
    if value is None or not math.isfinite(value):
        return None
    return min(max(value, 0.0), RETRY_AFTER_CAP_S)


def _import_litellm() -> Any:
    # Both settings must be in place before the import: they stop LiteLLM from fetching its
    # cost map over the network. setdefault lets a user who wants the remote map opt in.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    # import_module keeps mypy from type-checking all of LiteLLM; the module is used as Any.
    litellm: Any = importlib.import_module("litellm")
    litellm.suppress_debug_info = True  # its "Give Feedback" banner is noise in our output
    return litellm


class LiteLLMModel:
    """Any LiteLLM model, with our own retry policy and typed errors.

    Attributes:
        name: The LiteLLM model string.
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout_s: float = 120,
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Describe the model; nothing is imported or contacted until the first query.

        Args:
            model: A LiteLLM model string, e.g. ``openai/gpt-4.1-mini``.
            api_base: Base URL of an OpenAI-compatible (or other) server.
            api_key: A key for a local server; hosted providers read theirs from the
                environment.
            temperature: Sampling temperature (provider default when None).
            max_tokens: Cap on the reply's length (provider default when None).
            timeout_s: Seconds one HTTP attempt may take.
            max_retries: Retries after the first attempt, for retryable failures only.
            sleep: How to wait between attempts (tests inject a recorder).
        """
        self.name = model
        self.api_base = api_base
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.max_retries = max(0, max_retries)
        self._api_key = api_key
        self._sleep = sleep
        self._checked = False

    def __repr__(self) -> str:
        # Never show the key, even in a debugger or a log line that formats the object.
        return f"LiteLLMModel({self.name!r}, api_base={self.api_base!r})"

    def check_environment(self) -> None:
        """Fail early when LiteLLM can tell that the provider's key is missing.

        Called on the first query; the CLI may call it before a run starts.

        Raises:
            ModelAuthError: A required key variable is not set.
        """
        if self._api_key is not None:
            self._checked = True
            return
        litellm = _import_litellm()
        try:
            found: Any = litellm.validate_environment(model=self.name, api_base=self.api_base)
            missing = [str(k) for k in found.get("missing_keys", [])]
        except Exception:  # LiteLLM cannot tell: let the provider answer instead
            missing = []
        # Only secrets count: a missing *_API_BASE has a sensible default (e.g. Ollama).
        secrets = [k for k in missing if "KEY" in k or "TOKEN" in k or "SECRET" in k]
        if secrets:
            names = " or ".join(secrets) if len(secrets) <= 2 else ", ".join(secrets)
            raise ModelAuthError(
                f"no API key for {self.name}: {names} is not set.",
                hint=f"Export {secrets[0]}=... in the environment (for a local server that "
                "ignores keys, any value works), or choose another model.",
            )
        self._checked = True

    def query(self, messages: Sequence[Message]) -> Reply:
        """Send the messages and return the answer with its usage and cost.

        Args:
            messages: The chat messages, oldest first.

        Returns:
            The reply; ``latency_s`` covers the whole call, retries and waits included.

        Raises:
            ModelAuthError: The key is missing or was rejected (never retried).
            ModelError: Any other failure, after retries where retrying makes sense.
        """
        if not self._checked:
            self.check_environment()
        litellm = _import_litellm()
        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "timeout": self.timeout_s,
            "num_retries": 0,  # our loop below decides what to retry
            "drop_params": True,  # e.g. temperature on models that only accept the default
        }
        if self.api_base is not None:
            kwargs["api_base"] = self.api_base
        if self._api_key is not None:
            kwargs["api_key"] = self._api_key
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens

        started = time.monotonic()
        attempt = 0
        while True:
            try:
                response = litellm.completion(**kwargs)
                break
            except Exception as exc:
                kind = _classify(litellm, exc)
                detail = self._scrub(f"{type(exc).__name__}: {exc}")
                if kind == "auth":
                    raise ModelAuthError(
                        f"the provider rejected the key for {self.name} ({detail}).",
                        hint=f"Check {key_env_var(self.name)}: it must hold a valid key "
                        "with access to this model.",
                    ) from None
                if kind == "fatal":
                    raise ModelError(
                        f"the request to {self.name} failed ({detail}).",
                        hint="Check the model name, its options and the prompt size; "
                        "retrying the same request will not help.",
                    ) from exc
                if attempt >= self.max_retries:
                    raise ModelError(
                        f"{self.name} did not answer after {attempt + 1} attempts ({detail}).",
                        hint=self._unreachable_hint(),
                    ) from exc
                delay = retry_after_s(_headers_of(exc))
                if delay is None:
                    delay = min(BACKOFF_BASE_S * 2**attempt, BACKOFF_CAP_S)
                attempt += 1
                log.warning("%s: %s; retry %d in %.1f s", self.name, detail, attempt, delay)
                self._sleep(delay)
        latency = time.monotonic() - started
        return self._reply(litellm, response, messages, latency)

    def _reply(
        self, litellm: Any, response: Any, messages: Sequence[Message], latency: float
    ) -> Reply:
        try:
            text = response.choices[0].message.content or ""
        except (AttributeError, IndexError, TypeError):
            raise ModelError(
                f"{self.name} sent an answer with no message.",
                hint="Check that the model and server speak the chat-completions protocol.",
            ) from None
        usage = getattr(response, "usage", None)
        prompt = _as_int(getattr(usage, "prompt_tokens", None))
        completion = _as_int(getattr(usage, "completion_tokens", None))
        # Providers that report no usage still cost tokens: estimate so budgets keep counting.
        if prompt is None:
            prompt = sum(estimate_tokens(m.content) for m in messages)
        if completion is None:
            completion = estimate_tokens(text)
        return Reply(
            text=str(text),
            usage=Usage(prompt_tokens=prompt, completion_tokens=completion),
            cost_usd=_cost_of(litellm, response),
            latency_s=latency,
            model=str(getattr(response, "model", None) or self.name),
        )

    def _unreachable_hint(self) -> str:
        if self.api_base:
            return (
                f"Check that the server at {self.api_base} is running and reachable, "
                "then resume the run."
            )
        return (
            "The provider is overloaded or unreachable: check the network and the provider's "
            "status, then resume the run (or raise max_retries)."
        )

    def _scrub(self, text: str) -> str:
        # Provider messages rarely echo keys, but a key must never reach a log or a run dir.
        secrets = [self._api_key] if self._api_key else []
        env_var = key_env_var(self.name)
        if env_var in os.environ:
            secrets.append(os.environ[env_var])
        for secret in secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text


def _classify(litellm: Any, exc: Exception) -> str:
    """``auth``, ``retry`` or ``fatal`` for an exception raised by ``litellm.completion``."""
    status = getattr(exc, "status_code", None)
    if isinstance(exc, litellm.AuthenticationError | litellm.PermissionDeniedError) or status in (
        401,
        403,
    ):
        return "auth"
    # Connection errors and timeouts first: LiteLLM gives them 500/408 status codes, but the
    # class is what tells them apart from a BadRequest.
    if isinstance(exc, litellm.Timeout | litellm.APIConnectionError):
        return "retry"
    if isinstance(
        exc,
        litellm.RateLimitError
        | litellm.InternalServerError
        | litellm.ServiceUnavailableError
        | litellm.BadGatewayError,
    ):
        return "retry"
    if isinstance(status, int) and (status == 429 or status >= 500):
        return "retry"
    return "fatal"


def _headers_of(exc: Exception) -> Mapping[str, str] | None:
    # LiteLLM attaches the provider's headers as litellm_response_headers; the wrapped
    # httpx response carries them too.
    for candidate in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "headers", None),
    ):
        if candidate:
            try:
                return {str(k): str(v) for k, v in dict(candidate).items()}
            except (TypeError, ValueError):
                continue
    return None


def _cost_of(litellm: Any, response: Any) -> float:
    """The call's cost in dollars from LiteLLM's cost map; 0.0 when unknown."""
    cost: Any = None
    hidden = getattr(response, "_hidden_params", None)
    if isinstance(hidden, Mapping):
        cost = hidden.get("response_cost")
    if cost is None:
        try:
            cost = litellm.completion_cost(completion_response=response)
        except Exception:  # a model without a price (local servers) is not an error
            cost = None
    try:
        value = float(cost) if cost is not None else 0.0
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) and value >= 0 else 0.0


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(0, int(value))
