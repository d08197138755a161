"""SMS templates from `sms/*.yaml`: texts in Vietnamese (and English) with contact fields."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robocall.config import get_settings
from robocall.kit.templating import render
from robocall.kit.text import nfc
from robocall.kit.yamlfile import load
from robocall.sms.encoding import to_gsm7
from robocall.telephony.segments import SegmentInfo, segment_info

# Fields a template may use. Campaigns and the hotline fill them from the contact and unit.
TEMPLATE_VARIABLES = frozenset(
    {
        "name",  # the contact's full name
        "household_names",  # every name sharing the phone, joined ("An, Bình")
        "classification",  # F0, F1, F2, F3
        "day",  # day N of monitoring
        "monitoring_days",  # length of the monitoring period, in days
        "end_date",  # last day of monitoring, dd/mm/yyyy
        "exposure_date",  # dd/mm/yyyy
        "commune",  # the contact's commune name
        "centre",  # the health centre's name
        "hotline",  # the hotline number to call, as people dial it
        "bluezone_url",  # where to install Bluezone
    }
)
NOT_TEMPLATES = frozenset({"keywords"})  # files in sms/ that are not message templates


class TemplateNotFound(KeyError):
    pass


@dataclass(frozen=True)
class SmsTemplate:
    name: str
    description: str
    texts: dict[str, str]  # language ("vi", "en") -> Jinja2 source
    gsm7: bool  # strip diacritics so the message goes as GSM-7 (cheaper, 160 per part)

    def render(
        self, values: dict[str, Any], *, language: str = "vi", gsm7: bool | None = None
    ) -> str:
        """The message for one contact, in NFC (or plain GSM-7 when asked)."""
        source = self.texts.get(language) or self.texts["vi"]
        text = nfc(render(source, values))
        return to_gsm7(text) if (self.gsm7 if gsm7 is None else gsm7) else text


@dataclass(frozen=True)
class RenderedSms:
    body: str
    info: SegmentInfo


def template_dir() -> Path:
    return get_settings().content_dir / "sms"


def load_template(name: str, directory: Path | None = None) -> SmsTemplate:
    """Read `sms/<name>.yaml` (already checked by `robocall content check`)."""
    path = (directory or template_dir()) / f"{name}.yaml"
    if name in NOT_TEMPLATES or not path.is_file():
        raise TemplateNotFound(name)
    data, problems = load(path)
    if problems:
        raise ValueError("; ".join(map(str, problems)))
    text = data["text"]
    return SmsTemplate(
        name=name,
        description=str(data.get("description", "")),
        texts={lang: str(text[lang]) for lang in ("vi", "en") if lang in text},
        gsm7=bool(data.get("gsm7", False)),
    )


def list_templates(directory: Path | None = None) -> list[str]:
    """Names of the bundled templates."""
    folder = directory or template_dir()
    return sorted(p.stem for p in folder.glob("*.yaml") if p.stem not in NOT_TEMPLATES)


def render_sms(
    template: SmsTemplate, values: dict[str, Any], *, gsm7: bool | None = None
) -> RenderedSms:
    """Render one message and count its parts."""
    body = template.render(values, gsm7=gsm7)
    return RenderedSms(body, segment_info(body))
