"""Operator-editable content (IVR flows, SMS templates, campaign presets, importer columns).

Each content folder holds versioned YAML files. Domains register a validator per folder;
`robocall content check` runs them all and reports `file:line: message`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robocall.kit.yamlfile import LineDict, Problem, load

CONTENT_FOLDERS = ("ivr_flows", "sms", "campaigns", "importers")
# Domain modules that register validators when imported.
VALIDATOR_MODULES = (
    "robocall.importers.definitions",
    "robocall.ivr.definitions",
    "robocall.sms.definitions",
    "robocall.campaigns.definitions",
)
SUPPORTED_VERSIONS = {1}


@dataclass
class ContentFile:
    path: Path
    name: str  # as shown in messages: folder/file.yaml
    data: LineDict


@dataclass
class ContentSet:
    """Every parsed content file, by folder, so validators can check references."""

    root: Path
    files: dict[str, list[ContentFile]] = field(default_factory=dict)

    def in_folder(self, folder: str) -> list[ContentFile]:
        return self.files.get(folder, [])


Validator = Callable[[ContentFile, ContentSet], list[Problem]]
_VALIDATORS: dict[str, list[Validator]] = {}


def register_validator(folder: str, validator: Validator) -> Validator:
    if folder not in CONTENT_FOLDERS:
        raise ValueError(f"unknown content folder {folder!r}")
    _VALIDATORS.setdefault(folder, []).append(validator)
    return validator


def _load_validators() -> None:
    for module in VALIDATOR_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # The domain (or just its definitions module) is not built yet: nothing to check.
            if exc.name is None or not (module == exc.name or module.startswith(exc.name + ".")):
                raise


def load_content(root: Path) -> tuple[ContentSet, list[Problem]]:
    """Parse every content file under `root` and check its `version:`."""
    content = ContentSet(root=root)
    problems: list[Problem] = []
    for folder in CONTENT_FOLDERS:
        directory = root / folder
        if not directory.is_dir():
            problems.append(Problem(folder, 0, "content folder is missing"))
            continue
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            name = f"{folder}/{path.name}"
            data, file_problems = load(path, name)
            problems.extend(file_problems)
            if data is None and file_problems:
                continue
            if not isinstance(data, LineDict):
                problems.append(Problem(name, 1, "the file must be a mapping (key: value)"))
                continue
            version: Any = data.get("version")
            if version is None:
                problems.append(Problem(name, 1, "missing `version:`"))
            elif version not in SUPPORTED_VERSIONS:
                problems.append(
                    Problem(
                        name,
                        data.line_of("version"),
                        f"version {version!r} is not supported (supported: "
                        f"{', '.join(map(str, sorted(SUPPORTED_VERSIONS)))})",
                    )
                )
            content.files.setdefault(folder, []).append(ContentFile(path, name, data))
    return content, problems


def check(root: Path) -> list[Problem]:
    """Every problem in the content under `root`, sorted by file and line."""
    _load_validators()
    content, problems = load_content(root)
    for folder, validators in _VALIDATORS.items():
        for content_file in content.in_folder(folder):
            for validator in validators:
                problems.extend(validator(content_file, content))
    return sorted(set(problems))
