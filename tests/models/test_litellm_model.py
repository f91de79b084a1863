"""LiteLLMModel against a real local OpenAI-compatible HTTP server (no network, no keys)."""

from __future__ import annotations

import email.utils
import socket
from typing import Any

import pytest
from perfsmith_tests_openai_server import (  # loaded by tests/models/conftest.py
    Behaviour,
    OpenAIServer,
    bad_request,
    forbidden,
    rate_limited,
    reply,
    server_error,
    unauthorized,
)

from perfsmith.core import Message, Model
from perfsmith.errors import ModelAuthError, ModelError
from perfsmith.models.litellm_model import (
    RETRY_AFTER_CAP_S,
    LiteLLMModel,
    key_env_var,
    provider_of,
    retry_after_s,
)

DUMMY_KEY = "sk-local-dummy-key-123"
MESSAGES = [Message("system", "You make code faster."), Message("user", "Speed this up.")]


class SleepRecorder:
    """Stands in for time.sleep so retries are instant and their waits visible."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make(
    server: OpenAIServer, sleep: SleepRecorder, model: str = "openai/gpt-4o-mini", **kw: Any
) -> LiteLLMModel:
    return LiteLLMModel(
        model, api_base=server.api_base, api_key=DUMMY_KEY, sleep=sleep, timeout_s=10, **kw
    )


def free_port() -> int:
    # Bind then close: nothing listens there afterwards, so connections are refused.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- a real round trip ---------------------------------------------------------------------


def test_success_reports_text_usage_cost_and_latency(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(reply("use a set", prompt_tokens=1000, completion_tokens=200))
    sleep = SleepRecorder()
    model = make(openai_server, sleep, temperature=0.2, max_tokens=300)
    assert isinstance(model, Model)

    answer = model.query(MESSAGES)

    assert answer.text == "use a set"
    assert answer.usage.prompt_tokens == 1000
    assert answer.usage.completion_tokens == 200
    assert answer.cost_usd > 0  # gpt-4o-mini is priced in LiteLLM's local cost map
    assert answer.latency_s >= 0
    assert "gpt-4o-mini" in answer.model
    assert sleep.calls == []

    [request] = openai_server.completion_requests()
    assert request.body["model"] == "gpt-4o-mini"
    assert request.body["messages"] == [
        {"role": "system", "content": "You make code faster."},
        {"role": "user", "content": "Speed this up."},
    ]
    assert request.body["temperature"] == pytest.approx(0.2)
    assert request.body["max_tokens"] == 300
    assert request.headers["authorization"] == f"Bearer {DUMMY_KEY}"


def test_unknown_price_gives_zero_cost(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(reply("fine", model="my-local-model"))
    answer = make(openai_server, SleepRecorder(), "openai/my-local-model").query(MESSAGES)
    assert answer.text == "fine"
    assert answer.cost_usd == 0.0


# -- what is retried -----------------------------------------------------------------------


def test_rate_limit_honours_retry_after(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(rate_limited(retry_after="1"), reply("after the wait"))
    sleep = SleepRecorder()

    answer = make(openai_server, sleep).query(MESSAGES)

    assert answer.text == "after the wait"
    assert sleep.calls == [pytest.approx(1.0)]
    assert len(openai_server.completion_requests()) == 2


def test_rate_limit_without_header_backs_off_exponentially(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(rate_limited(None), rate_limited(None), reply("third time"))
    sleep = SleepRecorder()
    assert make(openai_server, sleep).query(MESSAGES).text == "third time"
    assert sleep.calls == [pytest.approx(1.0), pytest.approx(2.0)]


def test_huge_retry_after_is_capped(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(rate_limited(retry_after="86400"), reply("ok"))
    sleep = SleepRecorder()
    make(openai_server, sleep).query(MESSAGES)
    assert sleep.calls == [RETRY_AFTER_CAP_S]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(openai_server: OpenAIServer, status: int) -> None:
    openai_server.enqueue(server_error(status), reply("recovered"))
    sleep = SleepRecorder()
    assert make(openai_server, sleep).query(MESSAGES).text == "recovered"
    assert len(sleep.calls) == 1
    assert len(openai_server.completion_requests()) == 2


def test_retries_run_out_with_a_model_error(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(server_error(), server_error(), server_error(), reply("too late"))
    sleep = SleepRecorder()
    with pytest.raises(ModelError, match="after 3 attempts") as info:
        make(openai_server, sleep, max_retries=2).query(MESSAGES)
    assert not isinstance(info.value, ModelAuthError)
    assert openai_server.api_base in info.value.hint
    assert len(openai_server.completion_requests()) == 3
    assert sleep.calls == [pytest.approx(1.0), pytest.approx(2.0)]
    assert openai_server.pending == 1


def test_timeout_is_retried(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(reply("slow", delay_s=5.0), reply("fast"))
    sleep = SleepRecorder()
    model = LiteLLMModel(
        "openai/gpt-4o-mini",
        api_base=openai_server.api_base,
        api_key=DUMMY_KEY,
        timeout_s=1.5,
        sleep=sleep,
    )
    assert model.query(MESSAGES).text == "fast"
    assert len(sleep.calls) == 1


def test_unreachable_server_fails_after_retries() -> None:
    port = free_port()
    sleep = SleepRecorder()
    model = LiteLLMModel(
        "openai/gpt-4o-mini",
        api_base=f"http://127.0.0.1:{port}/v1",
        api_key=DUMMY_KEY,
        max_retries=3,
        timeout_s=5,
        sleep=sleep,
    )
    with pytest.raises(ModelError, match="after 4 attempts") as info:
        model.query(MESSAGES)
    assert f"127.0.0.1:{port}" in info.value.hint
    assert sleep.calls == [pytest.approx(1.0), pytest.approx(2.0), pytest.approx(4.0)]


# -- what is not retried -------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", [unauthorized(), forbidden()], ids=["401", "403"])
def test_rejected_key_is_an_auth_error_without_retry(
    openai_server: OpenAIServer, behaviour: Behaviour
) -> None:
    openai_server.enqueue(behaviour, reply("never sent"))
    sleep = SleepRecorder()
    with pytest.raises(ModelAuthError) as info:
        make(openai_server, sleep).query(MESSAGES)
    err = info.value
    assert "rejected the key for openai/gpt-4o-mini" in err.message
    assert "OPENAI_API_KEY" in err.hint
    assert DUMMY_KEY not in str(err)
    assert len(openai_server.completion_requests()) == 1
    assert sleep.calls == []


def test_other_client_errors_are_not_retried(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(bad_request(), reply("never sent"))
    sleep = SleepRecorder()
    with pytest.raises(ModelError) as info:
        make(openai_server, sleep).query(MESSAGES)
    assert not isinstance(info.value, ModelAuthError)
    assert info.value.hint
    assert len(openai_server.completion_requests()) == 1
    assert sleep.calls == []


@pytest.mark.parametrize(
    ("model", "env_var"),
    [
        ("openai/gpt-4o-mini", "OPENAI_API_KEY"),
        ("anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY"),
    ],
)
def test_missing_key_is_caught_before_any_request(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, model: str, env_var: str
) -> None:
    monkeypatch.delenv(env_var, raising=False)
    openai_server.enqueue(reply("never sent"))
    sleep = SleepRecorder()
    llm = LiteLLMModel(model, api_base=openai_server.api_base, sleep=sleep)
    with pytest.raises(ModelAuthError) as info:
        llm.query(MESSAGES)
    assert env_var in info.value.message
    assert env_var in info.value.hint
    assert openai_server.requests == []


def test_key_from_the_environment_is_used_and_never_shown(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-env-secret-456"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    openai_server.enqueue(reply("hi"), unauthorized())
    model = LiteLLMModel("openai/gpt-4o-mini", api_base=openai_server.api_base)
    assert model.query(MESSAGES).text == "hi"
    assert openai_server.requests[0].headers["authorization"] == f"Bearer {secret}"
    with pytest.raises(ModelAuthError) as info:
        model.query(MESSAGES)
    assert secret not in str(info.value)
    assert secret not in repr(model)


# -- pure helpers --------------------------------------------------------------------------


def test_retry_after_parsing() -> None:
    assert retry_after_s(None) is None
    assert retry_after_s({}) is None
    assert retry_after_s({"Retry-After": "2"}) == 2.0
    assert retry_after_s({"retry-after": "0.5"}) == 0.5
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_s({"Retry-After": "-3"}) == 0.0
    assert retry_after_s({"Retry-After": "99999"}) == RETRY_AFTER_CAP_S
    assert retry_after_s({"Retry-After": "soon"}) is None
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert retry_after_s({"Retry-After": date}, now=now) == pytest.approx(7.0)


def test_provider_and_key_names() -> None:
    assert provider_of("openai/gpt-4.1-mini") == "openai"
    assert provider_of("anthropic/claude-sonnet-4-5") == "anthropic"
    assert provider_of("gpt-4o") == "openai"
    assert provider_of("claude-3-5-haiku") == "anthropic"
    assert provider_of("mystery") == ""
    assert key_env_var("openai/gpt-4.1-mini") == "OPENAI_API_KEY"
    assert key_env_var("anthropic/claude-sonnet-4-5") == "ANTHROPIC_API_KEY"
    assert key_env_var("gemini/gemini-2.5-pro") == "GEMINI_API_KEY"
    assert key_env_var("newcloud/model") == "NEWCLOUD_API_KEY"
