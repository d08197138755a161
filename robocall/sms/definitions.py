"""Checks for `sms/*.yaml` run by `robocall content check`."""

from __future__ import annotations

from jinja2 import TemplateSyntaxError

from robocall.content import ContentFile, ContentSet, register_validator
from robocall.kit.templating import variables_in
from robocall.kit.yamlfile import LineDict, LineList, Problem
from robocall.sms.templates import NOT_TEMPLATES, TEMPLATE_VARIABLES

TEMPLATE_KEYS = {"version", "description", "gsm7", "text"}
KEYWORD_LISTS = ("optout", "optin", "help")


def check_template(content_file: ContentFile, _content: ContentSet) -> list[Problem]:
    data, name = content_file.data, content_file.name
    if content_file.path.stem in NOT_TEMPLATES:
        return []
    problems = [
        Problem(
            name,
            data.line_of(key),
            f"unknown key {key!r} (known: {', '.join(sorted(TEMPLATE_KEYS))})",
        )
        for key in data
        if key not in TEMPLATE_KEYS
    ]
    text = data.get("text")
    if not isinstance(text, LineDict) or "vi" not in text:
        problems.append(
            Problem(name, data.line_of("text"), "`text:` needs a Vietnamese `vi:` text")
        )
        return problems
    if "gsm7" in data and not isinstance(data["gsm7"], bool):
        problems.append(Problem(name, data.line_of("gsm7"), "`gsm7:` is true or false"))
    for language, source in text.items():
        line = text.line_of(language)
        if language not in ("vi", "en"):
            problems.append(Problem(name, line, f"unknown language {language!r} (vi or en)"))
            continue
        if not isinstance(source, str) or not source.strip():
            problems.append(Problem(name, line, f"the {language} text is empty"))
            continue
        try:
            unknown = variables_in(source) - TEMPLATE_VARIABLES
        except TemplateSyntaxError as exc:
            problems.append(
                Problem(name, line + max(exc.lineno - 1, 0), f"template syntax: {exc.message}")
            )
            continue
        for variable in sorted(unknown):
            problems.append(
                Problem(name, line, f"undefined variable {variable!r} in the {language} text")
            )
    return problems


def check_keywords(content_file: ContentFile, _content: ContentSet) -> list[Problem]:
    data, name = content_file.data, content_file.name
    if content_file.path.stem != "keywords":
        return []
    problems: list[Problem] = []
    seen: dict[str, tuple[str, int]] = {}
    for list_name in KEYWORD_LISTS:
        words = data.get(list_name)
        if words is None:
            problems.append(Problem(name, data.line, f"missing `{list_name}:` list"))
            continue
        if not isinstance(words, LineList):
            problems.append(Problem(name, data.line_of(list_name), f"`{list_name}:` is a list"))
            continue
        for word, line in zip(words, words.item_lines, strict=True):
            key = str(word).strip().upper()
            if key in seen:
                problems.append(
                    Problem(
                        name,
                        line,
                        f"keyword {key!r} already in `{seen[key][0]}` (line {seen[key][1]})",
                    )
                )
            seen[key] = (list_name, line)
    return problems


register_validator("sms", check_template)
register_validator("sms", check_keywords)
