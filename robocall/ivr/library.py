"""Everything in `ivr_flows/`: flows, the shared conventions, the FAQ and the duty roster.

Files are told apart by their `kind:` (flow, conventions, faq, duty_roster). The web workers
load the folder once and reload it when a file changes, so staff edits take effect on the next
call without a restart; a flow with problems is refused, never half-run.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from robocall.config import get_settings
from robocall.hotline.duty import EMPTY_ROSTER, DutyRoster, parse_duty_roster
from robocall.hotline.faq import Faq, parse_faq
from robocall.ivr.checks import check_flow
from robocall.ivr.flow import Flow, Text
from robocall.ivr.parser import parse_conventions, parse_flow
from robocall.kit.yamlfile import LineDict, Problem, load

FILE_KINDS = ("flow", "conventions", "faq", "duty_roster")
FOLDER = "ivr_flows"


class FlowNotAvailable(LookupError):
    """The flow does not exist or has problems; the message says which."""


@dataclass
class Library:
    flows: dict[str, Flow] = field(default_factory=dict)
    faq: Faq = field(default_factory=lambda: Faq([]))
    duty: DutyRoster = field(default_factory=lambda: EMPTY_ROSTER)
    conventions: dict[str, Text] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Problems by flow name, so one broken flow does not stop the others.
    flow_problems: dict[str, list[Problem]] = field(default_factory=dict)

    def flow(self, name: str) -> Flow:
        """The flow named `name`, or FlowNotAvailable."""
        if name in self.flow_problems and self.flow_problems[name]:
            first = self.flow_problems[name][0]
            raise FlowNotAvailable(f"flow {name!r} has problems, first: {first}")
        if name not in self.flows:
            raise FlowNotAvailable(f"no flow named {name!r} in {FOLDER}/")
        return self.flows[name]


def _kind(data: object) -> str | None:
    return data.get("kind") if isinstance(data, LineDict) else None


def build_library(files: list[tuple[str, LineDict, str]]) -> Library:
    """A library from parsed files: (display name, data, digest of the file)."""
    library = Library()
    by_kind: dict[str, list[tuple[str, LineDict, str]]] = {}
    for name, data, digest in files:
        kind = _kind(data)
        if kind not in FILE_KINDS:
            library.problems.append(
                Problem(
                    name,
                    data.line_of("kind"),
                    f"`kind:` must be one of {', '.join(FILE_KINDS)} (found {kind!r})",
                )
            )
            continue
        by_kind.setdefault(str(kind), []).append((name, data, digest))
    for kind in ("conventions", "faq", "duty_roster"):
        found = by_kind.get(kind, [])
        for extra_name, extra, _ in found[1:]:
            library.problems.append(
                Problem(extra_name, extra.line, f"only one `kind: {kind}` file is allowed")
            )
    if conventions := by_kind.get("conventions"):
        library.conventions, problems = parse_conventions(conventions[0][1], conventions[0][0])
        library.problems.extend(problems)
    elif by_kind.get("flow"):
        library.problems.append(Problem(f"{FOLDER}/conventions.yaml", 0, "file is missing"))
    if faq := by_kind.get("faq"):
        library.faq, problems = parse_faq(faq[0][1], faq[0][0])
        library.problems.extend(problems)
    if duty := by_kind.get("duty_roster"):
        library.duty, problems = parse_duty_roster(duty[0][1], duty[0][0])
        library.problems.extend(problems)
    faq_ids = frozenset(q.id for q in library.faq.questions)
    for name, data, digest in by_kind.get("flow", []):
        flow, problems = parse_flow(data, name, conventions=library.conventions, version=digest)
        if flow is None:
            library.problems.extend(problems)
            continue
        problems = problems + check_flow(flow, faq_ids=faq_ids)
        expected = Path(name).stem
        if flow.name != expected:
            problems.append(
                Problem(name, data.line_of("flow"), f"`flow: {flow.name}` must match the file name")
            )
        if flow.name in library.flows:
            problems.append(Problem(name, data.line_of("flow"), f"flow {flow.name!r} twice"))
            library.problems.extend(problems)
            continue
        library.flows[flow.name] = flow
        library.flow_problems[flow.name] = sorted(set(problems))
        library.problems.extend(problems)
    library.problems = sorted(set(library.problems))
    return library


def load_folder(folder: Path) -> Library:
    """Parse every YAML file of an `ivr_flows/` folder into a Library."""
    files: list[tuple[str, LineDict, str]] = []
    problems: list[Problem] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        name = f"{FOLDER}/{path.name}"
        data, file_problems = load(path, name)
        problems.extend(file_problems)
        if isinstance(data, LineDict):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            files.append((name, data, digest))
    library = build_library(files)
    if problems:
        library.problems = sorted(set(library.problems) | set(problems))
        for flow_problems in library.flow_problems.values():
            names = {p.file for p in flow_problems}
            flow_problems.extend(p for p in problems if p.file in names)
    return library


_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[tuple[str, float], ...], Library]] = {}
_checked: dict[Path, float] = {}  # when each folder's files were last looked at (monotonic s)
# Edits are picked up within this many seconds; looking on every request costs a stat per file.
RECHECK_SECONDS = 2.0


def _fingerprint(folder: Path) -> tuple[tuple[str, float], ...]:
    return tuple(
        (path.name, path.stat().st_mtime)
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    )


def _resolved(folder: Path) -> Path:
    """The folder as a cache key: relative paths made absolute (resolving an absolute path
    would cost a system call per path part on every request)."""
    return folder if folder.is_absolute() else folder.resolve()


# The configured content folder's flows, as resolved for the settings object last seen.
_configured: tuple[Path, Path] | None = None


def _configured_folder() -> Path:
    global _configured
    content_dir = get_settings().content_dir
    if _configured is None or _configured[0] is not content_dir:
        _configured = (content_dir, _resolved(content_dir / FOLDER))
    return _configured[1]


def get_library(folder: Path | None = None) -> Library:
    """The library of the configured content folder, reloaded when a file changes."""
    folder = _resolved(folder) if folder is not None else _configured_folder()
    now = time.monotonic()
    # Read without the lock (each webhook asks): entries are replaced whole, never changed.
    cached = _cache.get(folder)
    if cached is not None and now - _checked.get(folder, 0.0) < RECHECK_SECONDS:
        return cached[1]
    fingerprint = _fingerprint(folder)
    with _lock:
        _checked[folder] = now
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
    library = load_folder(folder)
    with _lock:
        _cache[folder] = (fingerprint, library)
    return library
