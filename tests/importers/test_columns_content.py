from __future__ import annotations

from pathlib import Path

import pytest

from robocall.config import PROJECT_ROOT
from robocall.content import ContentFile, ContentSet
from robocall.importers.columns import FIELDS, ColumnsError, header_key, load_synonyms
from robocall.importers.definitions import validate_columns
from robocall.kit.yamlfile import loads


def _check(text: str) -> list[str]:
    data, problems = loads(text, "importers/columns.yaml")
    assert problems == []
    content_file = ContentFile(Path("columns.yaml"), "importers/columns.yaml", data)
    return [str(p) for p in validate_columns(content_file, ContentSet(root=Path(".")))]


def test_the_shipped_column_names_are_valid_and_match_the_issue_examples():
    synonyms = load_synonyms(PROJECT_ROOT / "importers")
    for header in ("Số điện thoại", "SĐT", "Số ĐT", "Điện thoại", "So dien thoai", "Phone"):
        assert synonyms.field_for(header) == "phone", header
    for header in ("Họ và tên", "Họ tên", "HỌ TÊN", "  họ   tên "):
        assert synonyms.field_for(header) == "name", header
    for header in ("STT", "TT", "S.T.T"):
        assert synonyms.field_for(header) == "row_number", header
    assert synonyms.field_for("Số ĐT (nếu có)") == "phone"
    assert synonyms.field_for("Địa chỉ - Thôn") == "hamlet"
    assert synonyms.field_for("Nghề nghiệp") is None
    assert header_key("Số ĐT") == header_key("so dt") == "sodt"


def test_the_validator_names_file_line_and_problem():
    problems = _check(
        "version: 1\n"
        "fields:\n"
        "  phone:\n"
        "    - SĐT\n"
        "  name:\n"
        "    - Họ tên\n"
        "    - sdt\n"
        "  favourite_colour:\n"
        "    - Màu\n"
        "  notes: Ghi chú\n"
    )
    assert problems == [
        "importers/columns.yaml:7: 'sdt' is already a name of 'phone'",
        "importers/columns.yaml:8: unknown field 'favourite_colour' (known: "
        + ", ".join(FIELDS)
        + ")",
        "importers/columns.yaml:10: notes: give a list of column names",
    ]


def test_a_broken_synonyms_folder_stops_imports_with_the_problem(tmp_path):
    (tmp_path / "columns.yaml").write_text("version: 1\nfields:\n  name: [Họ tên, Họ tên]\n")
    with pytest.raises(ColumnsError, match="already a name of 'name'"):
        load_synonyms(tmp_path)
    with pytest.raises(ColumnsError, match="no .yaml file"):
        load_synonyms(tmp_path / "missing")
