"""Validator for `importers/*.yaml` (column-name synonyms), run by `robocall content check`."""

from __future__ import annotations

from robocall.content import ContentFile, ContentSet, register_validator
from robocall.importers.columns import check_columns_file
from robocall.kit.yamlfile import Problem


def validate_columns(content_file: ContentFile, content: ContentSet) -> list[Problem]:
    """Fields known, each a list of names, no name given to two fields."""
    return check_columns_file(content_file.data, content_file.name)


register_validator("importers", validate_columns)
