"""Every word a template asks for exists in both languages."""

from __future__ import annotations

import re

from robocall.web.pages.common import WEB_DIR, strings


def test_every_key_used_by_the_templates_is_translated():
    words = strings()
    assert set(words["vi"]) == set(words["en"])
    used: set[str] = set()
    for template in (WEB_DIR / "templates").glob("*.html"):
        if template.name == "login.html":
            continue  # its words are in the template itself
        text = template.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\.([a-z_0-9]+)", text))
        used |= set(re.findall(r"\bt\[\"([a-z_0-9]+)\"\]", text))
    missing = sorted(used - set(words["vi"]))
    assert not missing, missing
    # Keys built from values (roles, report statuses, nav items) exist too.
    for prefix, values in (
        ("role_", ["admin", "district", "commune", "viewer"]),
        ("status_", ["new", "acknowledged", "closed"]),
        ("chart_", ["reached", "reports", "imports"]),
    ):
        for value in values:
            assert prefix + value in words["vi"]
    for change in ("activate", "deactivate", "unlock"):
        assert change in words["en"]
