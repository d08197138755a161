"""A file that asks a reader for gigabytes is refused before it costs memory.

The finding: a 1.6 KB workbook whose only cells are A1 and XFD1048576 made calamine ask for
512 GiB and the web server abort; XFD2000 took it to 2 GB for 16 s; a 1 MB zip bomb to 1.1 GB
with the event loop blocked. Each attack here is made byte by byte (tests/importers/hostile.py)
and read in a child process held to 3 GiB of address space, so that before the fix the child
dies (and the test fails) without taking the test run or the machine with it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from robocall.config import get_settings, reset_settings_cache
from robocall.importers import zip_parts
from robocall.importers.limits import ImportRefused, ReadLimits
from robocall.importers.reading import read_sheets
from robocall.users.models import Role
from robocall.users.service import create_api_token
from tests.importers import hostile
from tests.web.helpers import add_user, api_client

RSS_CEILING_MB = 500
CHILD_ADDRESS_SPACE = 3 << 30  # bytes

# name → (the file, what the refusal must say besides the file's name)
ATTACKS: dict[str, tuple[Callable[[], bytes], list[str]]] = {
    "a1_xfd1048576.xlsx": (
        lambda: hostile.sparse_xlsx("XFD1048576"),
        ["'Danh sách'", "declared range A1:XFD1048576 has 1048576 rows, over the limit"],
    ),
    "a1_xfd1048576_undeclared.xlsx": (
        lambda: hostile.sparse_xlsx("XFD1048576", declared=False),
        ["'Danh sách'", "used range A1:XFD1048576 has 1048576 rows, over the limit"],
    ),
    "a1_xfd2000.xlsx": (
        lambda: hostile.sparse_xlsx("XFD2000"),
        ["'Danh sách'", "declared range A1:XFD2000 spans 32768000 cells, over the limit"],
    ),
    "a1_xfd2000_undeclared.xlsx": (
        lambda: hostile.sparse_xlsx("XFD2000", declared=False),
        ["'Danh sách'", "used range A1:XFD2000 spans 32768000 cells, over the limit"],
    ),
    "cells_without_references.xlsx": (
        lambda: hostile.rowless_xlsx(16_384, 2000),
        ["'Danh sách'", "used range A1:XFD2000 spans 32768000 cells"],
    ),
    "second_reference.xlsx": (
        lambda: hostile.listed_xlsx('<row r="3"><c r="A3" r="XFD2000"><v>1</v></c></row>'),
        ["xl/worksheets/sheet1.xml is not well-formed XML (attribute r given twice)"],
    ),
    "zip_bomb.xlsx": (
        lambda: hostile.zip_bomb(320),
        ["the file unpacks to 320 MB, over the limit of 200 MB"],
    ),
    "lying_headers.xlsx": (
        lambda: hostile.lying_zip(300),
        ["part xl/worksheets/sheet1.xml unpacks to more than the size its header declares"],
    ),
    "shared_strings.xlsx": (
        lambda: hostile.xlsx(
            hostile.sheet_xml(hostile.HEADER_ROW),
            {
                "xl/sharedStrings.xml": (
                    f'<?xml version="1.0"?><sst xmlns="{hostile.MAIN}" count="1" '
                    'uniqueCount="4000000000"><si><t>x</t></si></sst>'
                ).encode()
            },
        ),
        ["shared-string table holds 4000000000 strings, over the limit"],
    ),
    "overlapping_merges.xlsx": (
        lambda: hostile.listed_xlsx(
            "",
            extra="<mergeCells>"
            + '<mergeCell ref="A1:XFD41"/>' * 2000
            + '<mergeCell ref="A1:ZZZZZZ9999999"/></mergeCells>',
        ),
        ["merged ranges of sheet 'Danh sách' overlap"],
    ),
    "repeated_max.ods": (
        lambda: hostile.repeated_ods(1_048_576, 16_384),
        ["'Danh sách'", "has 1048576 rows, over the limit"],
    ),
    "repeated_6000.ods": (
        lambda: hostile.repeated_ods(6000, 16_384),
        ["'Danh sách'", "used range A1:XFD6002 spans 98336768 cells, over the limit"],
    ),
    "repeated_spaces.ods": (
        lambda: hostile.spaces_ods(1_500_000_000),
        ["the cells ask for 1500000000 repeated spaces (text:s), over the limit"],
    ),
    "unclosed_table.ods": (
        lambda: hostile.ods(hostile.ODS_HEADER_ROWS, closed=False),
        ["part content.xml is not well-formed XML (the part ends inside <table:table>)"],
    ),
    "far_cell.xls": (
        lambda: hostile.xls_with_cell_at(65_535, 65_535),
        ["'Danh sach'", "has 65536 columns, over the limit of 16384 columns"],
    ),
    "declared_dimensions.xls": (
        lambda: hostile.xls_declaring(0xFFFF_FFFF, 0xFFFF),
        ["'Danh sach'", "declared range", "4294967295 rows, over the limit"],
    ),
    "looping_sectors.xls": (
        hostile.xls_with_looping_directory,
        ["the Excel 97-2003 workbook is damaged (a chain of sectors loops)"],
    ),
    "line_breaks.csv": (
        lambda: "Họ và tên,Số điện thoại\n".encode() + b"\n" * (40 << 20),
        ["has more than 1000000 rows"],
    ),
    "one_endless_row.csv": (
        lambda: "Họ và tên,Số điện thoại\n".encode() + b"," * (10 << 20),
        ["row 2 is longer than 1048576 characters"],
    ),
    "unclosed_quote.csv": (
        lambda: 'Họ và tên,Số điện thoại\n"'.encode() + b"An,0912345601\n" * 200_000,
        ["row 2: a cell is longer than 131072 characters (a quote never closed?)"],
    ),
}

_CHILD = """
import json, os, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from robocall.importers.reading import ImportRefused, read_sheets
for path in sys.argv[1:]:
    name = os.path.basename(path)
    with open(path, "rb") as handle:
        content = handle.read()
    started = time.monotonic()
    try:
        read_sheets(content, name)
        outcome, text = "read", ""
    except ImportRefused as exc:
        outcome, text = "refused", str(exc)
    except Exception as exc:
        outcome, text = "error", repr(exc)
    del content
    # VmHWM, not ru_maxrss: the latter keeps the parent's size from before the exec.
    with open("/proc/self/status") as status:
        peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) // 1024
    seconds = time.monotonic() - started
    print(json.dumps({{"file": name, "outcome": outcome, "text": text, "peak_mb": peak,
                      "seconds": seconds}}), flush=True)
"""


@pytest.fixture(scope="module")
def attack_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, (make, _) in ATTACKS.items():
        paths[name] = folder / name
        paths[name].write_bytes(make())
    return paths


@pytest.fixture(scope="module")
def child_reads(attack_files: dict[str, Path]) -> dict[str, Any]:
    """Every attack read in turn by one child process: {file: outcome}, and its peak RSS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBOCALL_IMPORT_")}
    process = subprocess.run(
        [sys.executable, "-c", _CHILD.format(limit=CHILD_ADDRESS_SPACE)]
        + [str(path) for path in attack_files.values()],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    results: dict[str, Any] = {}
    for line in process.stdout.splitlines():
        found = json.loads(line)
        results[found["file"]] = found
    results["_exit"] = (process.returncode, process.stderr[-2000:])
    return results


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_refused_naming_the_file_and_the_problem(name, child_reads):
    assert name in child_reads, f"the reader died before or on {name}: {child_reads['_exit']}"
    found = child_reads[name]
    assert found["outcome"] == "refused", found
    assert found["text"].startswith(f"{name}: "), found["text"]
    for expected in ATTACKS[name][1]:
        assert expected in found["text"], found["text"]


def test_reading_every_attack_stays_far_under_500_mb(child_reads):
    assert child_reads["_exit"][0] == 0, child_reads["_exit"]
    peaks = {name: found["peak_mb"] for name, found in child_reads.items() if name != "_exit"}
    assert len(peaks) == len(ATTACKS)
    assert max(peaks.values()) < RSS_CEILING_MB, peaks


def test_zip_bomb_is_refused_from_its_declared_sizes_without_unpacking(monkeypatch):
    def never(*args: object) -> Iterator[bytes]:
        raise AssertionError("a part was decompressed")

    monkeypatch.setattr(zip_parts, "_stream", never)
    with pytest.raises(ImportRefused, match="unpacks to 320 MB, over the limit of 200 MB"):
        read_sheets(hostile.zip_bomb(320), "zip_bomb.xlsx")


def test_lying_header_is_refused_at_the_first_megabyte_past_it(monkeypatch):
    unpacked: list[int] = []
    real_stream = zip_parts._stream

    def counting(*args: Any) -> Iterator[bytes]:
        for chunk in real_stream(*args):
            unpacked.append(len(chunk))
            yield chunk

    monkeypatch.setattr(zip_parts, "_stream", counting)
    with pytest.raises(ImportRefused, match="unpacks to more than the size its header declares"):
        read_sheets(hostile.lying_zip(300), "lying_headers.xlsx")
    assert sum(unpacked) < 2 << 20  # of the 300 MB it would unpack to


def test_uncompressed_limit_is_a_setting(monkeypatch):
    assert get_settings().import_max_uncompressed_bytes == 200 * 1024 * 1024
    monkeypatch.setenv("ROBOCALL_IMPORT_MAX_UNCOMPRESSED_BYTES", str(100 << 20))
    reset_settings_cache()
    try:
        with pytest.raises(ImportRefused, match="unpacks to 150 MB, over the limit of 100 MB"):
            read_sheets(hostile.zip_bomb(150), "zip_bomb.xlsx")
    finally:
        monkeypatch.undo()
        reset_settings_cache()


def test_a_zip_of_too_many_parts_is_refused_before_its_directory_is_read():
    parts = {f"xl/media/{number}.bin": b"" for number in range(10_001)}
    with pytest.raises(ImportRefused, match="the file has 10006 parts, over the limit of 10000"):
        read_sheets(hostile.xlsx(hostile.sheet_xml(hostile.HEADER_ROW), parts), "parts.xlsx")


# --- what must still be read -----------------------------------------------------------------


def test_cells_without_references_are_placed_as_calamine_places_them():
    sheet = read_sheets(hostile.rowless_xlsx(10, 20), "export.xlsx")[0]
    assert len(sheet.rows) == 20
    assert sheet.rows[0] == ["x"] * 10
    assert sheet.rows[19][0] == 1


def test_libreoffice_tail_of_empty_repeated_rows_is_read():
    sheet = read_sheets(hostile.libreoffice_ods(), "list.ods")[0]
    assert [row[:2] for row in sheet.rows] == [
        ["Họ và tên", "Số điện thoại"],
        ["Nguyễn Văn An", "0912345601"],
    ]


def test_a_small_xls_and_a_sheet_starting_far_from_a1_are_read():
    sheet = read_sheets(hostile.small_xls(), "list.xls")[0]
    assert sheet.rows[2][1] == hostile.MARK
    far = hostile.xlsx(hostile.sheet_xml('<row r="5"><c r="D5"><v>7</v></c></row>', "D5"))
    rows = read_sheets(far, "far.xlsx")[0].rows
    assert len(rows) == 5 and rows[4] == ["", "", "", 7]


def test_binary_parts_that_happen_to_hold_tag_like_bytes_do_not_refuse_the_workbook():
    # Random bytes hold `<c ` now and then; these hold it for sure, in no well-formed tag.
    noise = random.Random(7).randbytes(1 << 20) + b'<c foo="1" <c s="2"> <row/>' + bytes(4096)
    workbook = hostile.xlsx(
        hostile.sheet_xml(hostile.HEADER_ROW), {"xl/media/image1.png": b"\x89PNG" + noise}
    )
    assert read_sheets(workbook, "with_image.xlsx")[0].rows[1][0] == "Nguyễn Văn An"


def test_limits_apply_to_text_files_too():
    limits = ReadLimits(rows=10, cells=1000, unpacked_bytes=1 << 20)
    header = "Họ và tên,Số điện thoại\n"
    with pytest.raises(ImportRefused, match="has more than 10 rows"):
        read_sheets((header + "An,0912345601\n" * 200).encode(), "list.csv", limits)
    with pytest.raises(ImportRefused, match="row 2 has 20000 columns, over the limit"):
        read_sheets((header + "," * 19_999 + "\n").encode(), "list.csv")
    with pytest.raises(ImportRefused, match="more than 1000 cells"):
        read_sheets((header + "a,b,c,d,e,f,g,h,i,j\n" * 105).encode(), "list.csv", limits)
    assert len(read_sheets((header + "An,0912345601\n" * 5).encode(), "list.csv", limits)[0].rows)


def test_xls_records_that_drag_endless_continue_records_or_strings_are_refused():
    from robocall.importers import xls_extent

    record = struct.pack("<HH", 0x00FC, 8) + struct.pack("<II", 0, 0)
    flood = record + struct.pack("<HH", 0x003C, 0) * 20_000
    with pytest.raises(xls_extent._Damaged, match="too many CONTINUE records"):
        xls_extent._walk(flood, 0)
    # A string table of empty strings: three bytes each in the file, an object each in memory.
    strings = xls_extent._Record(0x00FC, struct.pack("<II", 0, 0) + b"\x00\x00\x00" * 2000)
    assert xls_extent._shared_strings(strings, 1000) > 1000
    assert xls_extent._shared_strings(strings, 10_000) == 0  # few enough not to be counted


# --- the web server ---------------------------------------------------------------------------


def test_preview_and_import_run_off_the_event_loop(session, monkeypatch):
    from robocall.importers import routes

    where: list[bool] = []

    def import_file(**kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            where.append(True)
        except RuntimeError:
            where.append(False)
        raise ImportRefused("list.xlsx: stop here")

    monkeypatch.setattr(routes, "import_file", import_file)
    client = api_client(session)
    response = client.post(
        "/api/imports", files={"file": ("list.xlsx", b"PK")}, data={"dry_run": "true"}
    )
    assert response.status_code == 422
    assert where == [False]  # called with no event loop running in its thread


WEB_ATTACKS = [
    "a1_xfd1048576.xlsx",
    "a1_xfd2000_undeclared.xlsx",
    "zip_bomb.xlsx",
    "lying_headers.xlsx",
    "repeated_6000.ods",
    "far_cell.xls",
    "unclosed_quote.csv",
]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_mb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


def test_server_refuses_each_attack_answering_healthz_within_a_second(
    session: Session,
    subprocess_env: dict[str, str],
    attack_files: dict[str, Path],
    tmp_path: Path,
):
    user = add_user(session, "importer", Role.admin)
    token = create_api_token(db_session=session, user=user, name="tests")
    session.commit()
    session.close()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "robocall.cli", "serve", "--port", str(port)],
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server never became healthy"
            time.sleep(0.2)

        waits: list[float] = []
        failures: list[str] = []
        stop = threading.Event()

        def poll_health() -> None:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    answer = httpx.get(f"{url}/healthz", timeout=5)
                    if answer.status_code != 200:
                        failures.append(f"healthz {answer.status_code}")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                waits.append(time.monotonic() - started)
                stop.wait(0.05)

        poller = threading.Thread(target=poll_health, daemon=True)
        poller.start()
        answers = {}
        try:
            # Some honest work first: the server must go on answering meanwhile. (Kept short:
            # on SQLite every transaction holds the write lock, which /healthz's ping of the
            # database waits for, whatever the event loop does.)
            honest = httpx.post(
                f"{url}/api/imports",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": ("long_list.xlsx", hostile.long_list_xlsx(5000))},
                data={"dry_run": "true"},
                timeout=300,
            )
            for name in WEB_ATTACKS:
                answers[name] = httpx.post(
                    f"{url}/api/imports",
                    headers={"Authorization": f"Bearer {token}"},
                    files={"file": (name, attack_files[name].read_bytes())},
                    data={"dry_run": "true"},
                    timeout=120,
                )
            time.sleep(0.3)
        finally:
            stop.set()
            poller.join(timeout=10)
        peak = _peak_rss_mb(server.pid)
        assert server.poll() is None, "the server died"
    finally:
        server.terminate()
        server.wait(timeout=15)

    assert honest.status_code == 200, honest.text[:500]
    assert honest.json()["rows"] == 5000
    for name, answer in answers.items():
        assert answer.status_code == 422, (name, answer.status_code, answer.text[:500])
        detail = answer.json()["detail"]
        assert detail.startswith(f"{name}: ")
        for expected in ATTACKS[name][1]:
            assert expected in detail, detail
    print(f"healthz: {len(waits)} answers, slowest {max(waits):.3f} s; server peak {peak} MB")
    assert not failures, failures
    assert waits and max(waits) < 1.0, sorted(waits)[-5:]
    assert peak < RSS_CEILING_MB, f"server peak RSS {peak} MB"
