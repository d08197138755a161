from pathlib import Path

from robocall.config import PROJECT_ROOT
from robocall.content import CONTENT_FOLDERS, check


def make_root(tmp_path: Path) -> Path:
    for folder in CONTENT_FOLDERS:
        (tmp_path / folder).mkdir()
    return tmp_path


def test_the_bundled_content_passes():
    assert [str(p) for p in check(PROJECT_ROOT)] == []


def test_problems_are_reported_as_file_and_line(tmp_path):
    root = make_root(tmp_path)
    (root / "sms" / "no_version.yaml").write_text("name: x\n", encoding="utf-8")
    (root / "sms" / "bad_version.yaml").write_text("name: x\n\nversion: 7\n", encoding="utf-8")
    (root / "sms" / "dupe.yaml").write_text(
        "version: 1\nbody: a\nother: b\nbody: c\n", encoding="utf-8"
    )
    (root / "campaigns" / "broken.yaml").write_text(
        "version: 1\nname: [unclosed\n", encoding="utf-8"
    )
    (root / "importers" / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    messages = [str(p) for p in check(root)]
    assert "sms/no_version.yaml:1: missing `version:`" in messages
    assert any(m.startswith("sms/bad_version.yaml:3: version 7 is not supported") for m in messages)
    assert "sms/dupe.yaml:4: duplicate key 'body' (first on line 2)" in messages
    assert any(m.startswith("campaigns/broken.yaml:3: YAML syntax") for m in messages)
    assert "importers/list.yaml:1: the file must be a mapping (key: value)" in messages


def test_cli_exit_code_follows_the_problems(tmp_path):
    from typer.testing import CliRunner

    from robocall.cli import app

    root = make_root(tmp_path)
    (root / "sms" / "a.yaml").write_text("version: 1\ntext:\n  vi: Xin chào\n", encoding="utf-8")
    assert CliRunner().invoke(app, ["content", "check", "--root", str(root)]).exit_code == 0
    (root / "sms" / "b.yaml").write_text("text:\n  vi: Xin chào\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["content", "check", "--root", str(root)])
    assert result.exit_code == 1
    assert "sms/b.yaml:1: missing `version:`" in result.stdout
