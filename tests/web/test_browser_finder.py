"""Which Chromium the browser tests drive, and what happens when there is none."""

from __future__ import annotations

import sys

import pytest

from tests.web.helpers import NO_BROWSER, find_chromium, require_chromium


def test_the_browser_named_in_the_environment_is_the_one_used(monkeypatch):
    monkeypatch.setenv("ROBOCALL_BROWSER", sys.executable)
    assert find_chromium() == sys.executable


def test_a_named_browser_that_does_not_exist_counts_as_none(monkeypatch):
    monkeypatch.setenv("ROBOCALL_BROWSER", "/nonexistent/chromium")
    monkeypatch.delenv("ROBOCALL_REQUIRE_BROWSER", raising=False)
    assert find_chromium() is None
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_chromium()


def test_ci_turns_a_missing_browser_into_a_failure(monkeypatch):
    monkeypatch.setenv("ROBOCALL_BROWSER", "/nonexistent/chromium")
    monkeypatch.setenv("ROBOCALL_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="ROBOCALL_REQUIRE_BROWSER=1") as failure:
        require_chromium()
    assert NO_BROWSER in str(failure.value)
