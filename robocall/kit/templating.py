"""Sandboxed Jinja2 for operator-written texts (SMS templates, IVR prompts)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """Operators' texts cannot reach Python internals, and a missing variable is an error."""
    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


def variables_in(source: str) -> set[str]:
    """The names a template reads (raises jinja2.TemplateSyntaxError on bad syntax)."""
    return set(meta.find_undeclared_variables(environment().parse(source)))


@lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    return environment().from_string(source)


def render(source: str, values: dict[str, Any]) -> str:
    """Render `source` with `values`; white space collapsed as for a message."""
    return " ".join(_compiled(source).render(**values).split())
