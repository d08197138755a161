"""Registers the `ivr_flows/` validator that `robocall content check` runs."""

from __future__ import annotations

import hashlib

from robocall.content import ContentFile, ContentSet, register_validator
from robocall.ivr.library import FOLDER, Library, build_library
from robocall.kit.yamlfile import Problem

# One library per content set: the folder's files are checked together (a flow's FAQ menu
# refers to faq.yaml, every flow uses conventions.yaml), then each file gets its problems.
_built: dict[int, tuple[ContentSet, Library]] = {}


def _library(content: ContentSet) -> Library:
    entry = _built.get(id(content))
    library = entry[1] if entry is not None and entry[0] is content else None
    if library is None:
        files = [
            (f.name, f.data, hashlib.sha256(f.path.read_bytes()).hexdigest()[:12])
            for f in content.in_folder(FOLDER)
        ]
        library = build_library(files)
        _built.clear()
        _built[id(content)] = (content, library)
    return library


def check_ivr_file(content_file: ContentFile, content: ContentSet) -> list[Problem]:
    """Problems of one `ivr_flows/` file, judged with the rest of the folder."""
    library = _library(content)
    return [p for p in library.problems if p.file == content_file.name or p.line == 0]


register_validator(FOLDER, check_ivr_file)
