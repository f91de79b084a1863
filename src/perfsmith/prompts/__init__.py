"""Prompt templates: one Jinja2 file per message, shipped as package data.

Templates use ``StrictUndefined``: a variable the caller forgot is an error, never an
empty string silently sent to a model.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from importlib.resources import files
from typing import Any

import jinja2


class _ResourceLoader(jinja2.BaseLoader):
    """Loads templates through importlib.resources, so zipped and editable installs work."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        resource = files(__name__)
        for part in template.split("/"):
            if part in ("", ".", ".."):
                raise jinja2.TemplateNotFound(template)
            resource = resource.joinpath(part)
        if not resource.is_file():
            raise jinja2.TemplateNotFound(template)
        return resource.read_text(encoding="utf-8"), None, lambda: True


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared Jinja2 environment (plain text, strict about undefined variables)."""
    return jinja2.Environment(
        loader=_ResourceLoader(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )


def render(name: str, **ctx: Any) -> str:
    """Render one prompt template.

    Args:
        name: Template path inside the package, e.g. ``"coder/system.j2"``.
        **ctx: The template's variables; every variable it uses must be given.

    Returns:
        The rendered text, without leading blank lines, ending in exactly one newline.

    Raises:
        jinja2.TemplateNotFound: No such template.
        jinja2.UndefinedError: The template uses a variable that was not given.
    """
    return environment().get_template(name).render(**ctx).strip("\n") + "\n"
