"""ScriptedModel: replies in order, channels, accounting, exhaustion, resume, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfsmith.core import Message, Model
from perfsmith.errors import ConfigError, ModelError, ScriptExhaustedError
from perfsmith.models.scripted import ScriptedModel, estimate_tokens

TWO_CHANNELS = """\
coder:
  - first coder reply
  - |
    second coder reply
    on two lines
judge:
  - '{"decision": "keep", "bottleneck": "b", "next_step": "n", "suspicion": ""}'
"""


def write(tmp_path: Path, text: str, name: str = "script.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def ask(model: ScriptedModel, content: str = "hello") -> str:
    return model.query([Message("user", content)]).text


def test_replies_come_in_order_and_prompts_are_recorded(tmp_path: Path) -> None:
    model = ScriptedModel(write(tmp_path, TWO_CHANNELS))
    assert isinstance(model, Model)
    assert model.position == 0 and model.total == 2 and model.remaining == 2

    assert ask(model, "one") == "first coder reply"
    assert model.position == 1
    assert ask(model, "two") == "second coder reply\non two lines\n"
    assert model.position == 2 and model.remaining == 0

    assert [[m.content for m in msgs] for msgs in model.received] == [["one"], ["two"]]


def test_each_channel_reads_its_own_list(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_CHANNELS)
    coder = ScriptedModel(path, "coder")
    judge = ScriptedModel(path, "judge")
    assert ask(judge).startswith('{"decision": "keep"')
    assert ask(coder) == "first coder reply"
    assert judge.name.endswith("#judge") and coder.name.endswith("#coder")


def test_plain_list_serves_any_channel(tmp_path: Path) -> None:
    path = write(tmp_path, "- a\n- b\n")
    assert ask(ScriptedModel(path, "coder")) == "a"
    judge = ScriptedModel(path, "judge")
    assert [ask(judge), ask(judge)] == ["a", "b"]


def test_long_form_accounting_is_reported_as_given(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "coder:\n"
        "  - text: accounted\n"
        "    prompt_tokens: 1200\n"
        "    completion_tokens: 300\n"
        "    cost_usd: 0.004\n",
    )
    reply = ScriptedModel(path).query([Message("user", "x" * 400)])
    assert reply.text == "accounted"
    assert reply.usage.prompt_tokens == 1200
    assert reply.usage.completion_tokens == 300
    assert reply.usage.total_tokens == 1500
    assert reply.cost_usd == pytest.approx(0.004)
    assert reply.model == f"scripted:{path}#coder"


def test_missing_counts_are_estimated_and_cost_is_zero(tmp_path: Path) -> None:
    text = "y" * 40
    path = write(tmp_path, f"- {text}\n- text: only text\n  completion_tokens: 2\n")
    model = ScriptedModel(path)
    messages = [Message("system", "s" * 80), Message("user", "u" * 20)]
    reply = model.query(messages)
    assert reply.usage.prompt_tokens == 20 + 5
    assert reply.usage.completion_tokens == 10
    assert reply.cost_usd == 0.0
    second = model.query(messages)
    assert second.usage.completion_tokens == 2
    assert second.usage.prompt_tokens == 25


def test_estimate_tokens_rounds_up() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_exhaustion_says_which_file_channel_and_count(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_CHANNELS)
    judge = ScriptedModel(path, "judge")
    ask(judge)
    with pytest.raises(ScriptExhaustedError) as info:
        ask(judge)
    err = info.value
    assert isinstance(err, ModelError)
    assert str(path) in err.message
    assert "'judge'" in err.message
    assert "all 1 were used" in err.message
    assert "judge" in err.hint and err.hint
    # The failed query consumed nothing and recorded nothing.
    assert judge.position == 1 and len(judge.received) == 1


def test_empty_channel_is_exhausted_at_once(tmp_path: Path) -> None:
    model = ScriptedModel(write(tmp_path, "coder:\njudge:\n  - x\n"))
    assert model.total == 0
    with pytest.raises(ScriptExhaustedError, match="all 0 were used"):
        ask(model)


def test_resume_starts_at_the_given_position(tmp_path: Path) -> None:
    path = write(tmp_path, "- r1\n- r2\n- r3\n")
    first = ScriptedModel(path)
    ask(first)
    ask(first)

    resumed = ScriptedModel(path, start=first.position)
    assert resumed.position == 2
    assert ask(resumed) == "r3"
    assert resumed.position == 3
    with pytest.raises(ScriptExhaustedError):
        ask(resumed)


def test_resume_at_the_end_is_allowed_but_past_it_is_not(tmp_path: Path) -> None:
    path = write(tmp_path, "- r1\n")
    at_end = ScriptedModel(path, start=1)
    assert at_end.remaining == 0
    with pytest.raises(ConfigError, match="has 1 replies") as info:
        ScriptedModel(path, start=2)
    assert info.value.hint
    with pytest.raises(ConfigError):
        ScriptedModel(path, start=-1)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        ScriptedModel(tmp_path / "nope.yaml")
    assert "scripted:" in info.value.hint


def test_bad_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "coder:\n  - [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        ScriptedModel(path)
    assert str(path) in info.value.message
    assert info.value.hint


def test_missing_channel_names_the_channels_present(tmp_path: Path) -> None:
    path = write(tmp_path, "coder:\n  - x\n")
    with pytest.raises(ConfigError, match="no 'judge' list") as info:
        ScriptedModel(path, "judge")
    assert "coder" in info.value.message
    assert "#CHANNEL" in info.value.hint


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("just a string\n", "not str"),
        ("", "not NoneType"),
        ("coder: one reply\n", "must be a list"),
        ("- 42\n", "reply 1 is a int"),
        ("- ok\n- prompt_tokens: 3\n", "reply 2 needs a 'text'"),
        ("- text: a\n  tokens: 3\n", "unknown keys: tokens"),
        ("- text: a\n  prompt_tokens: -1\n", "must not be negative"),
        ("- text: a\n  completion_tokens: 1.5\n", "whole number"),
        ("- text: a\n  prompt_tokens: true\n", "whole number"),
        ("- text: a\n  cost_usd: free\n", "cost_usd"),
        ("- text: a\n  cost_usd: -0.1\n", "cost_usd"),
    ],
)
def test_malformed_scripts_are_config_errors(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        ScriptedModel(write(tmp_path, text))
    assert info.value.hint
