"""The duty roster (`ivr_flows/duty.yaml`): who is alerted about urgent reports, per unit.

Each unit code lists the phones that receive an SMS for an urgent report and the duty
doctor's number a `transfer: duty` step connects to. A unit without an entry uses its
parent's, up to `default:`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import phonenumbers

from robocall.kit.yamlfile import LineDict, Problem


@dataclass(frozen=True)
class DutyEntry:
    sms: tuple[str, ...]  # E.164 phones alerted by SMS about urgent reports
    transfer: str | None  # E.164 number of the duty doctor for live transfers


DEFAULT_ALERT = (
    "KHẨN - báo cáo #{{ report_id }}: {{ phone }} {{ name }} {{ symptoms }} "
    "{{ reasons }} {{ temperature }} {{ spo2 }}"
)
# Variables the alert text may use.
ALERT_VARIABLES = frozenset(
    {"report_id", "phone", "name", "symptoms", "reasons", "temperature", "spo2", "channel"}
)


@dataclass
class DutyRoster:
    default: DutyEntry
    units: dict[str, DutyEntry] = field(default_factory=dict)
    alert: str = DEFAULT_ALERT  # Jinja2 text of the SMS sent for an urgent report
    # Words for the codes the flows use: symptom fever → "sốt", reason low_spo2 → "SpO2 thấp".
    names: dict[str, str] = field(default_factory=dict)

    def name_of(self, code: str) -> str:
        return self.names.get(code, code.replace("_", " "))

    def for_units(self, codes: list[str]) -> DutyEntry:
        """The entry of the first of `codes` (a unit, then its parents) that has one."""
        for code in codes:
            if code in self.units:
                return self.units[code]
        return self.default


EMPTY_ROSTER = DutyRoster(default=DutyEntry((), None))


def _phone(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = phonenumbers.parse(value, "VN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _entry(raw: object, line: int, where: str, file: str, problems: list[Problem]) -> DutyEntry:
    if not isinstance(raw, LineDict):
        problems.append(Problem(file, line, f"{where}: needs `sms:` (a list) and `transfer:`"))
        return DutyEntry((), None)
    phones: list[str] = []
    sms = raw.get("sms", [])
    if not isinstance(sms, list):
        problems.append(Problem(file, raw.line_of("sms"), f"{where}: `sms:` is a list of phones"))
        sms = []
    for value in sms:
        phone = _phone(value)
        if phone is None:
            problems.append(Problem(file, raw.line_of("sms"), f"{where}: bad phone {value!r}"))
        else:
            phones.append(phone)
    transfer = None
    if raw.get("transfer") is not None:
        transfer = _phone(raw.get("transfer"))
        if transfer is None:
            problems.append(
                Problem(file, raw.line_of("transfer"), f"{where}: bad phone {raw['transfer']!r}")
            )
    return DutyEntry(tuple(phones), transfer)


def parse_duty_roster(data: LineDict, file: str) -> tuple[DutyRoster, list[Problem]]:
    """Build the roster from a parsed `kind: duty_roster` file."""
    problems: list[Problem] = []
    if "default" not in data:
        problems.append(Problem(file, data.line, "`default:` is needed for units not listed"))
    default = (
        _entry(data["default"], data.line_of("default"), "default", file, problems)
        if "default" in data
        else DutyEntry((), None)
    )
    roster = DutyRoster(default=default)
    alert = data.get("alert")
    if alert is not None:
        from jinja2 import TemplateSyntaxError, meta
        from jinja2.sandbox import SandboxedEnvironment

        if not isinstance(alert, str):
            problems.append(Problem(file, data.line_of("alert"), "`alert:` is the SMS text"))
        else:
            try:
                used = meta.find_undeclared_variables(SandboxedEnvironment().parse(alert))
            except TemplateSyntaxError as exc:
                problems.append(Problem(file, data.line_of("alert"), f"template: {exc.message}"))
            else:
                unknown = sorted(used - ALERT_VARIABLES)
                if unknown:
                    problems.append(
                        Problem(
                            file,
                            data.line_of("alert"),
                            f"alert: undefined variable(s) {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(ALERT_VARIABLES))})",
                        )
                    )
                else:
                    roster.alert = alert
    names = data.get("names")
    if isinstance(names, dict):
        roster.names = {str(k): str(v) for k, v in names.items()}
    elif names is not None:
        problems.append(Problem(file, data.line_of("names"), "`names:` maps codes to words"))
    if "units" not in data:
        return roster, problems
    units = data["units"]
    if not isinstance(units, LineDict):
        problems.append(Problem(file, data.line_of("units"), "`units:` maps unit codes to entries"))
        return roster, problems
    for code, raw in units.items():
        roster.units[str(code)] = _entry(raw, units.line_of(code), f"unit {code}", file, problems)
    return roster, problems
