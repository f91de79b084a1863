"""make_model: specs to models, and a light import of perfsmith.models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perfsmith.core import Message
from perfsmith.errors import ConfigError
from perfsmith.models import LiteLLMModel, ScriptedModel, make_model

SCRIPT = "coder:\n  - c1\n  - c2\njudge:\n  - j1\n"


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(SCRIPT, encoding="utf-8")
    return path


def first_text(model: object) -> str:
    assert isinstance(model, ScriptedModel)
    return model.query([Message("user", "hi")]).text


def test_scripted_channel_defaults_to_the_role(script: Path) -> None:
    assert first_text(make_model(f"scripted:{script}")) == "c1"
    assert first_text(make_model(f"scripted:{script}", role="judge")) == "j1"


def test_scripted_channel_in_the_spec_wins(script: Path) -> None:
    assert first_text(make_model(f"scripted:{script}#judge", role="coder")) == "j1"


def test_relative_script_path_starts_at_base_dir(script: Path) -> None:
    model = make_model("scripted:demo.yaml", base_dir=script.parent)
    assert isinstance(model, ScriptedModel)
    assert model.path == script
    assert first_text(model) == "c1"


def test_scripted_resume_and_litellm_options_ignored(script: Path) -> None:
    model = make_model(f"scripted:{script}", start=1, temperature=0.3, api_base="http://x")
    assert isinstance(model, ScriptedModel)
    assert model.position == 1
    assert first_text(model) == "c2"


def test_scripted_rejects_unknown_options(script: Path) -> None:
    with pytest.raises(ConfigError, match="no option bogus"):
        make_model(f"scripted:{script}", bogus=1)


@pytest.mark.parametrize("spec", ["", "   ", "scripted:", "scripted:#judge"])
def test_empty_specs_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_model(spec)
    assert info.value.hint


def test_missing_script_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        make_model("scripted:absent.yaml", base_dir=tmp_path)


def test_anything_else_is_a_litellm_model() -> None:
    model = make_model("openai/gpt-4.1-mini", temperature=0.1, max_retries=2)
    assert isinstance(model, LiteLLMModel)
    assert model.name == "openai/gpt-4.1-mini"
    assert model.temperature == 0.1
    assert model.max_retries == 2


def test_litellm_model_rejects_unknown_options() -> None:
    with pytest.raises(ConfigError, match="bad options"):
        make_model("openai/gpt-4.1-mini", bogus=1)


def test_importing_models_does_not_import_litellm() -> None:
    code = (
        "import sys\n"
        "import perfsmith.models as m\n"
        "m.make_model('anthropic/claude-sonnet-4-5', temperature=0.0)\n"
        "assert 'litellm' not in sys.modules, 'litellm was imported'\n"
        "print('light')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "light"
