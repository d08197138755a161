"""Campaign presets in `campaigns/*.yaml`, and their check for `robocall content check`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robocall.config import get_settings
from robocall.content import ContentFile, ContentSet, register_validator
from robocall.kit.yamlfile import LineDict, Problem, load

PRESET_KEYS = {
    "version",
    "description",
    "kind",
    "flow",
    "sms_template",
    "audience",
    "schedule",
    "monitoring_days",
    "gsm7",
    "max_attempts",
    "amd",
}
KINDS = ("call", "sms", "call_then_sms")
SCHEDULES = ("one_off", "daily")
AUDIENCE_KEYS = {"classification", "units", "batches", "exposed_within_days", "contacts"}


class PresetNotFound(KeyError):
    pass


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    kind: str
    flow: str | None
    sms_template: str | None
    schedule: str = "one_off"
    monitoring_days: int = 14
    gsm7: bool = False
    max_attempts: int = 3
    amd: bool = True
    audience: dict[str, Any] = field(default_factory=dict)


def preset_dir() -> Path:
    return get_settings().content_dir / "campaigns"


def list_presets() -> list[str]:
    """Names of the presets on disk."""
    return sorted(p.stem for p in preset_dir().glob("*.yaml"))


def load_preset(name: str) -> Preset:
    """Read `campaigns/<name>.yaml` (checked by `robocall content check`)."""
    path = preset_dir() / f"{name}.yaml"
    if not path.is_file():
        raise PresetNotFound(f"no preset {name!r} (known: {', '.join(list_presets())})")
    data, problems = load(path, f"campaigns/{path.name}")
    if problems:
        raise ValueError("; ".join(str(p) for p in problems))
    return Preset(
        name=name,
        description=str(data.get("description") or ""),
        kind=str(data["kind"]),
        flow=data.get("flow"),
        sms_template=data.get("sms_template"),
        schedule=str(data.get("schedule") or "one_off"),
        monitoring_days=int(data.get("monitoring_days") or 14),
        gsm7=bool(data.get("gsm7") or False),
        max_attempts=int(data.get("max_attempts") or 3),
        amd=bool(data.get("amd", True)),
        audience=dict(data.get("audience") or {}),
    )


def check_preset(content_file: ContentFile, content: ContentSet) -> list[Problem]:
    data, name = content_file.data, content_file.name
    problems = [
        Problem(
            name, data.line_of(k), f"unknown key {k!r} (known: {', '.join(sorted(PRESET_KEYS))})"
        )
        for k in data
        if k not in PRESET_KEYS
    ]
    kind = data.get("kind")
    if kind not in KINDS:
        problems.append(
            Problem(name, data.line_of("kind"), f"`kind:` is one of {', '.join(KINDS)}")
        )
        return problems
    flows = {f.path.stem for f in content.in_folder("ivr_flows")}
    templates = {f.path.stem for f in content.in_folder("sms")}
    if kind in ("call", "call_then_sms"):
        flow = data.get("flow")
        if not flow:
            problems.append(Problem(name, data.line, f"a {kind} campaign needs `flow:`"))
        elif flow not in flows:
            problems.append(Problem(name, data.line_of("flow"), f"no flow ivr_flows/{flow}.yaml"))
    if kind in ("sms", "call_then_sms"):
        template = data.get("sms_template")
        if not template:
            problems.append(Problem(name, data.line, f"a {kind} campaign needs `sms_template:`"))
        elif template not in templates:
            problems.append(
                Problem(name, data.line_of("sms_template"), f"no SMS template sms/{template}.yaml")
            )
    if data.get("schedule", "one_off") not in SCHEDULES:
        problems.append(
            Problem(name, data.line_of("schedule"), f"`schedule:` is one of {', '.join(SCHEDULES)}")
        )
    for key in ("monitoring_days", "max_attempts"):
        value = data.get(key)
        if value is not None and (not isinstance(value, int) or value < 1):
            problems.append(Problem(name, data.line_of(key), f"`{key}:` is a whole number ≥ 1"))
    audience = data.get("audience")
    if audience is not None:
        if not isinstance(audience, LineDict):
            problems.append(Problem(name, data.line_of("audience"), "`audience:` is a mapping"))
        else:
            for key in audience:
                if key not in AUDIENCE_KEYS:
                    problems.append(
                        Problem(
                            name,
                            audience.line_of(key),
                            f"unknown audience key {key!r} "
                            f"(known: {', '.join(sorted(AUDIENCE_KEYS))})",
                        )
                    )
    return problems


register_validator("campaigns", check_preset)
