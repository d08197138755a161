import subprocess
import sys

import pytest
from sqlalchemy import func, select

from robocall.units.models import Unit
from robocall.units.service import (
    UnitImportError,
    descendant_ids,
    get_by_code,
    import_units_file,
)

GOOD = """code,name,parent_code,level
01,Thành phố Hà Nội,,province
00004,Phường Ba Đình,01,commune
271,Huyện Ba Vì,01,district
09619,Xã Ba Trại,271,commune
09625,"Xã  Ba   Vì",271,commune
"""


def write(tmp_path, text, name="units.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_builds_the_tree_with_and_without_districts(session, tmp_path):
    result = import_units_file(db_session=session, path=write(tmp_path, GOOD))
    session.commit()
    assert (result.created, result.updated) == (5, 0)
    # Since the 2025 reform a commune may sit directly under the province.
    assert get_by_code(db_session=session, code="00004").parent.code == "01"
    assert get_by_code(db_session=session, code="09625").name == "Xã Ba Vì"
    district = get_by_code(db_session=session, code="271")
    below = descendant_ids(db_session=session, unit_id=district.id)
    codes = set(session.scalars(select(Unit.code).where(Unit.id.in_(below))))
    assert codes == {"271", "09619", "09625"}


def test_reimport_updates_names_without_duplicates(session, tmp_path):
    import_units_file(db_session=session, path=write(tmp_path, GOOD))
    session.commit()
    renamed = GOOD.replace("Huyện Ba Vì", "Huyện Ba Vì (mới)")
    result = import_units_file(db_session=session, path=write(tmp_path, renamed))
    session.commit()
    assert (result.created, result.updated, result.unchanged) == (0, 1, 4)
    assert session.scalar(select(func.count()).select_from(Unit)) == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("code,name,level\n1,A,province\n", "units.csv:1: missing column(s) parent_code"),
        (GOOD + "09626,Xã X,999,commune\n", "units.csv:7: parent_code 999 is not a known unit"),
        (GOOD + "09627,Xã Y,271,village\n", "units.csv:7: column level is 'village'"),
        (GOOD + "09619,Xã Z,271,commune\n", "units.csv:7: code 09619 already on line 5"),
        (
            GOOD + "272,Huyện Q,09619,district\n",
            "units.csv:7: a district cannot sit under a commune",
        ),
        (GOOD + "09628,,271,commune\n", "units.csv:7: column name is empty"),
    ],
)
def test_a_bad_file_names_the_line_and_imports_nothing(session, tmp_path, text, message):
    with pytest.raises(UnitImportError) as error:
        import_units_file(db_session=session, path=write(tmp_path, text))
    session.rollback()
    assert str(error.value).startswith(message)
    assert session.scalar(select(func.count()).select_from(Unit)) == 0


def test_cli_refuses_with_exit_2_and_the_reason(tmp_path, subprocess_env):
    path = write(tmp_path, GOOD + "09626,Xã X,999,commune\n")
    result = subprocess.run(
        [sys.executable, "-m", "robocall.cli", "units", "import", str(path)],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "parent_code 999 is not a known unit" in result.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "robocall.cli", "units", "import", str(write(tmp_path, GOOD))],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert "5 created" in ok.stdout
