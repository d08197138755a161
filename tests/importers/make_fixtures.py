"""Write the importer's fixture files (small commune lists in every shape the importer takes).

    uv run python tests/importers/make_fixtures.py

The contents are fixed here; tests/importers/test_fixtures.py checks what each file gives.
"""

# Excel cells and document properties hold naive local times; the rows read best one a line.
# ruff: noqa: DTZ001, E501

from __future__ import annotations

import codecs
import datetime as dt
import io
import unicodedata
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import xlsxwriter

OUT = Path(__file__).with_name("fixtures")
CREATED = dt.datetime(2021, 7, 20, 8, 0, 0)
TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"

# --- the main commune list: letterhead, merged title, two-row header, number row, footer ---
MAIN_HEADER = ["STT", "Họ và tên", "Năm sinh", "Địa chỉ", None, "SĐT", "Phân loại"]
MAIN_HEADER += ["Ngày tiếp xúc", "Nghề nghiệp"]
# name, birth year, hamlet, commune, phone, classification, exposure date, occupation
# fmt: off
MAIN_ROWS: list[list[object] | None] = [
    ["Nguyễn Văn An", 1985, "Thôn 1", "Linh Trung", 912345601, "F1", dt.date(2021, 7, 12), "Nông"],
    ["Trần Thị Bình", 1990, "Thôn 2", "Phường Linh Chiểu", "0912 345 602", "f1", "13/07/2021", None],
    ["Lê Văn Cường", "1978", "Tổ 3", "Linh Trung", "+84 912-345-603", "F 1", 44390, None],
    ["Phạm Thị Dung", 2001, "Thôn 1", "Linh Trung", "'0084912345604", "F-1", "5/7/21", None],
    ["Hoàng Văn Em", 1969, "Thôn 2", "Linh Trung", "01689123405", "F2", "14-07-2021", None],
    None,  # an empty row inside the list
    ["Vũ Thị Hoà", 1995, "Thôn 1", "Linh Trung", "0912345606 / 0987654306", None, "15.07.2021", None],
    ["Đặng Văn Giang", 1988, "Thôn 3", "Linh Trung", "912345607.0", "F2", "2021-07-16", None],
    ["Bùi Thị Hạnh", 1992, "Thôn 3", "Linh Trung", "9.12345608E8", "F2", None, None],
    ["Ngô Văn Ích", 1970, "Thôn 1", "Linh Trung", "０９１２３４５６０９", "F1", "32/13/2021", None],
    ["Đỗ Thị Kim", 1983, "Thôn 2", "Linh Trung", "0912 345 610 (chồng); 0987.654.310", "F1", None, None],
    ["Hồ Văn Long", 1960, "Thôn 2", "Linh Trung", "không có", "F1", None, None],
    ["Dương Thị Mai", 1999, "Thôn 3", "Linh Trung", None, "F1", None, None],
    ["Lý Văn Nam", 1975, "Thôn 1", "Linh Trung", "(028) 3823 4567", "F1", None, None],
    ["Mai Thị Oanh", 1987, "Thôn 1", "Linh Trung", "+1 650 253 0000", "F1", None, None],
    ["vũ thị hòa", 1995, "Thôn 1", "Linh Trung", "0912.345.606", "F1", "20/07/2021", "Buôn bán"],
    ["Nguyễn Văn An", 1991, "Thôn 4", "Linh Trung", "0912345699", "F1", None, None],
    ["Nguyễn Thị Phượng", 1993, "Thôn 1", "Linh Trung", 912345601, "F1", None, None],
    ["Trịnh Văn Quang", 1980, "Thôn 9", "Xã Không Có", "0912345620 - 0987654320", "F1", None, None],
    ["Phan Thị Rạng", 1966, "Thôn 1", "Linh Trung", "\u00a00912\u200b345621", "F3", None, None],
    [None, 1980, "Thôn 5", "Linh Trung", "0912345622", "F1", None, None],  # no name
]
# fmt: on
MAIN_FOOTER = [
    "Linh Trung, ngày 20 tháng 07 năm 2021",
    "Người lập biểu",
    "Trưởng trạm",
    "Nguyễn Văn Trưởng",
]


def _workbook(path: Path) -> xlsxwriter.Workbook:
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties({"created": CREATED, "author": "Trạm Y tế"})
    return workbook


def write_main_xlsx(path: Path) -> None:
    workbook = _workbook(path)
    sheet = workbook.add_worksheet("DS F1")
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    sheet.write(0, 0, "TRUNG TÂM Y TẾ TP THỦ ĐỨC")
    sheet.write(1, 0, "TRẠM Y TẾ PHƯỜNG LINH TRUNG")
    sheet.merge_range(3, 0, 3, 8, "DANH SÁCH NGƯỜI TIẾP XÚC GẦN (F1)")
    # Header on rows 6-7: "Địa chỉ" merged over "Thôn" and "Xã"; the others span both rows.
    for col, title in enumerate(MAIN_HEADER):
        if col == 3:
            sheet.merge_range(5, 3, 5, 4, "Địa chỉ")
        elif title is not None:
            sheet.merge_range(5, col, 6, col, title)
    sheet.write(6, 3, "Thôn")
    sheet.write(6, 4, "Xã")
    for col in range(len(MAIN_HEADER)):
        sheet.write(7, col, f"({col + 1})")
    row_index = 8
    number = 1
    for values in MAIN_ROWS:
        if values is None:
            row_index += 1
            continue
        name, year, hamlet, commune, phone, classification, exposure, job = values
        sheet.write(row_index, 0, number)
        cells = [name, year, hamlet, commune, phone, classification, exposure, job]
        for col, value in enumerate(cells, start=1):
            if value is None:
                continue
            if isinstance(value, dt.date):
                sheet.write_datetime(
                    row_index, col, dt.datetime.combine(value, dt.time()), date_format
                )
            elif isinstance(value, int | float):
                sheet.write_number(row_index, col, value)
            else:
                sheet.write_string(row_index, col, value)
        number += 1
        row_index += 1
    row_index += 1
    for text in MAIN_FOOTER:
        sheet.write(row_index, 5, text)
        row_index += 1
    workbook.close()


# --- merged cells in the data: a commune merged down over its people --------------------


def write_merged_communes(path: Path) -> None:
    workbook = _workbook(path)
    sheet = workbook.add_worksheet("Theo xã")
    sheet.write_row(0, 0, ["STT", "Họ và tên", "SĐT", "Xã/Phường", "Phân loại"])
    sheet.merge_range(1, 0, 1, 4, "Tổ 1")  # a heading across the row
    sheet.write_row(2, 0, [1, "Hà Văn Chung", "0913000001"])
    sheet.write_row(3, 0, [2, "Hà Thị Diệp", "0913000002"])
    sheet.write_row(4, 0, [3, "Hà Văn Đạt", "0913000003"])
    sheet.merge_range(2, 3, 4, 3, "Linh Trung")
    sheet.merge_range(2, 4, 5, 4, "F1")
    sheet.write_row(5, 0, [4, "Kha Thị Én", "0913000004"])
    sheet.write_row(6, 0, [5, "Kha Văn Gấm", "0913000005"])
    sheet.merge_range(5, 3, 6, 3, "Linh Chiểu")
    sheet.write(6, 4, "F2")
    workbook.close()


# --- a returnee workbook (.xlsm) with several sheets ---------------------------------------


def write_returnees_xlsm(path: Path) -> None:
    plain = io.BytesIO()
    workbook = xlsxwriter.Workbook(plain, {"in_memory": True})
    workbook.set_properties({"created": CREATED})
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    guide = workbook.add_worksheet("Hướng dẫn")
    guide.write(0, 0, "Điền mỗi người một dòng. Ngày ghi ngày/tháng/năm.")
    first = workbook.add_worksheet("Về từ vùng dịch")
    first.write_row(0, 0, ["DANH SÁCH NGƯỜI VỀ TỪ VÙNG DỊCH"])
    first.write_row(
        2, 0, ["HỌ TÊN", "SỐ ĐIỆN THOẠI", "NGÀY SINH", "GIỚI TÍNH", "NƠI VỀ", "NGÀY VỀ", "GHI CHÚ"]
    )
    first.write_row(3, 0, ["Lâm Thị Sương", "0987 111 001", None, "Nữ", "TP Hồ Chí Minh"])
    first.write_datetime(3, 2, dt.datetime(1990, 3, 14), date_format)
    first.write_string(3, 5, "01/08/2021")
    first.write_row(4, 0, ["Tạ Văn Tùng", "0987111002", "29/02/1984", "nam", "Bình Dương"])
    first.write_datetime(4, 5, dt.datetime(2021, 8, 2), date_format)
    first.write_string(4, 6, "cách ly tại nhà")
    first.write_row(5, 0, ["Kiều Thị Uyên", "0123 4111 003", "1995", "X", "Đồng Nai", "3/8/2021"])
    second = workbook.add_worksheet("F2")
    # "Năm sinh" over "Nam" and "Nữ": the year is written under the person's sex.
    second.merge_range(0, 0, 1, 0, "TT")
    second.merge_range(0, 1, 1, 1, "Họ tên")
    second.merge_range(0, 2, 0, 3, "Năm sinh")
    second.write(1, 2, "Nam")
    second.write(1, 3, "Nữ")
    second.merge_range(0, 4, 1, 4, "Điện thoại")
    second.merge_range(0, 5, 1, 5, "Tiếp xúc với")
    second.write_row(2, 0, [1, "Âu Văn Vĩnh", 1977, None, "0978 222 001", "BN 1234"])
    second.write_row(3, 0, [2, "Ông Thị Xuân", None, 1982, "0978222002", "BN 1234"])
    workbook.close()
    # Same parts as an .xlsx; a macro-enabled workbook differs in its main content type.
    source = zipfile.ZipFile(io.BytesIO(plain.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
            target.writestr(info, data)


# --- an Excel 97-2003 workbook ---------------------------------------------------------------


def write_xls(path: Path) -> None:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Danh sach")
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    sheet.write(0, 0, "TRẠM Y TẾ PHƯỜNG HIỆP BÌNH CHÁNH")
    header = ["TT", "Họ và tên", "Số ĐT", "Năm sinh", "Phân loại", "Ngày tiếp xúc cuối"]
    for col, title in enumerate(header):
        sheet.write(2, col, title)
    rows = [
        (1, "Quách Văn Ý", 905000001, 1972, "F1", dt.datetime(2021, 7, 1)),
        (2, "Lục Thị Yến", 1212000002, 1980, "F1", "02/07/2021"),
        (3, "Mạc Văn Ân", "090.500.0003", 1999, "F2", 44380),
    ]
    for r, values in enumerate(rows, start=3):
        for col, value in enumerate(values):
            if isinstance(value, dt.datetime):
                sheet.write(r, col, value, date_style)
            else:
                sheet.write(r, col, value)
    book.save(str(path))


# --- an OpenDocument spreadsheet --------------------------------------------------------------


def _ods_cell(value: object) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, int | float):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value}">'
            f"<text:p>{value}</text:p></table:table-cell>"
        )
    return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'


def write_ods(path: Path) -> None:
    rows: list[list[object]] = [
        ["DANH SÁCH F1 PHƯỜNG LINH CHIỂU"],
        [],
        ["STT", "Họ tên", "Số điện thoại", "Xã", "Phân loại", "Ngày tiếp xúc"],
        [1, "Đinh Văn Bảo", 936000001, "Linh Chiểu", "F1", "10/07/2021"],
        [2, "Cao Thị Chi", "+84 936 000 002", "Linh Chiểu", "F1", "11/07/2021"],
    ]
    table_rows = "".join(
        "<table:table-row>" + "".join(_ods_cell(v) for v in row) + "</table:table-row>"
        for row in rows
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        "<office:body><office:spreadsheet>"
        f'<table:table table:name="Linh Chiểu">{table_rows}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:version="1.2" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    stamp = (2021, 7, 20, 8, 0, 0)
    with zipfile.ZipFile(path, "w") as archive:
        # The mimetype entry comes first and uncompressed, as the format requires.
        archive.writestr(
            zipfile.ZipInfo("mimetype", stamp), "application/vnd.oasis.opendocument.spreadsheet"
        )
        for name, data in (("content.xml", content), ("META-INF/manifest.xml", manifest)):
            info = zipfile.ZipInfo(name, stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


# --- text files: the encodings and delimiters old office PCs produce -------------------------

CSV_HEADER = ["Họ tên", "Số điện thoại", "Năm sinh", "Thôn", "Xã", "Phân loại"]
CSV_ROWS = [
    ["Nguyễn Thị Ánh", "0933000001", "1990", "Ấp Bình Thuỷ", "Linh Trung", "F1"],
    ["Trần Văn Đức", "933000002", "1985", "Ấp 2", "Linh Trung", "F2"],
    ["Lê Hoàng Yến", "84933000003", "", "Ấp 3", "Linh Trung", ""],
]


def _text(delimiter: str, title: bool = False) -> str:
    lines = ["DANH SÁCH F1 - F2"] if title else []
    lines += [delimiter.join(CSV_HEADER), *(delimiter.join(r) for r in CSV_ROWS)]
    return "\r\n".join(lines) + "\r\n"


def _windows_1258(text: str) -> bytes:
    """Windows-1258 writes tone marks as separate combining characters."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        decomposed = unicodedata.normalize("NFD", char)
        base = "".join(c for c in decomposed if c not in TONE_MARKS)
        tones = "".join(c for c in decomposed if c in TONE_MARKS)
        out.append(unicodedata.normalize("NFC", base) + tones)
    return "".join(out).encode("cp1258")


def write_texts() -> None:
    (OUT / "list_utf8.csv").write_bytes(_text(",").encode("utf-8"))
    (OUT / "list_utf8_bom_semicolon.csv").write_bytes(
        codecs.BOM_UTF8 + _text(";", title=True).encode("utf-8")
    )
    # Excel's "Unicode text": UTF-16 little-endian with a BOM, tab-separated.
    (OUT / "list_unicode_text.txt").write_bytes(
        codecs.BOM_UTF16_LE + _text("\t").encode("utf-16-le")
    )
    (OUT / "list_windows_1258.csv").write_bytes(_windows_1258(_text(",")))


# --- files the importer must refuse ---------------------------------------------------------


def write_refused() -> None:
    (OUT / "refused_pdf_renamed.xlsx").write_bytes(
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    (OUT / "refused_empty.csv").write_bytes(b"")
    (OUT / "refused_header_only.csv").write_bytes("STT;Họ và tên;SĐT\r\n;;\r\n".encode())
    workbook = _workbook(OUT / "refused_empty.xlsx")
    workbook.add_worksheet("Sheet1")
    workbook.close()
    workbook = _workbook(OUT / "refused_no_name_column.xlsx")
    sheet = workbook.add_worksheet("Vật tư")
    sheet.write_row(0, 0, ["Mã", "Tên vật tư", "Số lượng"])
    sheet.write_row(1, 0, ["KT01", "Khẩu trang", 500])
    workbook.close()
    plain = io.BytesIO()
    workbook = xlsxwriter.Workbook(plain, {"in_memory": True})
    sheet = workbook.add_worksheet("F1")
    sheet.write_row(0, 0, ["Họ và tên", "SĐT"])
    sheet.write_row(1, 0, ["Nguyễn Văn Mật", "0912000001"])
    workbook.close()
    from msoffcrypto.format.ooxml import OOXMLFile

    plain.seek(0)
    with open(OUT / "refused_password.xlsx", "wb") as target:
        OOXMLFile(plain).encrypt("tram-y-te", target)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    write_main_xlsx(OUT / "f1_commune_list.xlsx")
    write_returnees_xlsm(OUT / "returnees_several_sheets.xlsm")
    write_merged_communes(OUT / "merged_commune_cells.xlsx")
    write_xls(OUT / "old_excel_97.xls")
    write_ods(OUT / "commune_list.ods")
    write_texts()
    write_refused()
    for path in sorted(OUT.iterdir()):
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
