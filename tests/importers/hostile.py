"""Hostile workbooks and text files, made here byte by byte: small files that ask a reader for
gigabytes (sparse sheets, zip bombs, lying zip headers, repeated .ods rows, forged .xls
records) and the well-made files each must not be confused with."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from functools import lru_cache

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" '
    b'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
PACKAGE_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<workbook xmlns="{MAIN}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/'
    '2006/relationships"><sheets><sheet name="Danh sách" sheetId="1" r:id="rId1"/>'
    "</sheets></workbook>"
).encode()
WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>Họ và tên</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>Số điện thoại</t></is></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>Nguyễn Văn An</t></is></c>'
    '<c r="B2" t="inlineStr"><is><t>0912345601</t></is></c></row>'
)


def sheet_xml(rows: str, dimension: str | None = None, extra: str = "") -> bytes:
    """A worksheet part around `rows` (the inside of <sheetData>)."""
    declared = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{MAIN}">'
        f"{declared}<sheetData>{rows}</sheetData>{extra}</worksheet>"
    ).encode()


def xlsx(sheet: bytes, parts: dict[str, bytes] | None = None) -> bytes:
    """A workbook of one sheet (named "Danh sách"), and any other parts."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (parts or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def sparse_xlsx(last_cell: str, declared: bool = True) -> bytes:
    """Cells A1 and `last_cell` only (the issue's 1.6 KB workbook when XFD1048576)."""
    row = "".join(ch for ch in last_cell if ch.isdigit())
    rows = (
        f'<row r="1"><c r="A1"><v>1</v></c></row>'
        f'<row r="{row}"><c r="{last_cell}"><v>1</v></c></row>'
    )
    return xlsx(sheet_xml(rows, f"A1:{last_cell}" if declared else None))


def listed_xlsx(extra_rows: str = "", dimension: str | None = None, extra: str = "") -> bytes:
    """A small well-made list (a header and one person), with `extra_rows` after it and
    `extra` after the sheet's data (merged cells, say)."""
    return xlsx(sheet_xml(HEADER_ROW + extra_rows, dimension, extra))


def rowless_xlsx(cells_in_row: int, far_row: int) -> bytes:
    """A sheet whose cells carry no reference (as Power BI or SAP write them): row 1 is
    `cells_in_row` cells wide, and one referenced cell sits in row `far_row`."""
    first = "<row>" + '<c t="inlineStr"><is><t>x</t></is></c>' * cells_in_row + "</row>"
    far = f'<row r="{far_row}"><c r="A{far_row}"><v>1</v></c></row>'
    return xlsx(sheet_xml(first + far))


@lru_cache(maxsize=4)
def zip_bomb(megabytes: int = 320) -> bytes:
    """A workbook of about a megabyte whose sheet is `megabytes` MB of XML: one cell holding
    one long text (calamine and Python each keep a copy of it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            for piece in _bomb_sheet(megabytes):
                part.write(piece)
    return buffer.getvalue()


def _bomb_sheet(megabytes: int) -> list[bytes]:
    head = sheet_xml(HEADER_ROW + '<row r="3"><c r="A3" t="inlineStr"><is><t>').split(
        b"</t></is></c></row></sheetData>"
    )[0]
    head = head[: head.rindex(b"<t>") + 3]
    return [head, *([b"A" * (1 << 20)] * megabytes), b"</t></is></c></row></sheetData></worksheet>"]


@lru_cache(maxsize=4)
def lying_zip(megabytes: int = 300, declared: int = 4096) -> bytes:
    """The zip bomb again, but its headers say the sheet is `declared` bytes: only reading
    the part tells how large it is."""
    members = [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", PACKAGE_RELS),
        ("xl/workbook.xml", WORKBOOK),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
    ]
    packed = [(name, *_deflate([data]), len(data)) for name, data in members]
    sheet = _bomb_sheet(megabytes)
    packed.append(("xl/worksheets/sheet1.xml", *_deflate(sheet), declared))
    return _zip_by_hand(packed)


def _deflate(pieces: list[bytes]) -> tuple[bytes, int]:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    crc = 0
    out = []
    for piece in pieces:
        crc = zlib.crc32(piece, crc)
        out.append(packer.compress(piece))
    out.append(packer.flush())
    return b"".join(out), crc


def _zip_by_hand(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of deflated (name, data, crc, size it declares) members, sizes as given."""
    out = io.BytesIO()
    directory = []
    for name, data, crc, size in members:
        offset = out.tell()
        encoded = name.encode()
        out.write(
            struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(encoded), 0
            )
        )
        out.write(encoded + data)
        directory.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0,
                crc,
                len(data),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    start = out.tell()
    joined = b"".join(directory)
    out.write(joined)
    out.write(
        struct.pack(
            "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(joined), start, 0
        )
    )
    return out.getvalue()


# --- OpenDocument ---------------------------------------------------------------------------

ODS_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)
ODS_HEADER_ROWS = (
    '<table:table-row><table:table-cell office:value-type="string"><text:p>Họ và tên</text:p>'
    '</table:table-cell><table:table-cell office:value-type="string"><text:p>Số điện thoại'
    "</text:p></table:table-cell></table:table-row>"
    '<table:table-row><table:table-cell office:value-type="string"><text:p>Nguyễn Văn An'
    '</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>'
    "0912345601</text:p></table:table-cell></table:table-row>"
)


def ods(rows: str, closed: bool = True) -> bytes:
    """An .ods of one table ("Danh sách") holding `rows` (cut off after them: not `closed`)."""
    end = "</table:table></office:spreadsheet></office:body></office:document-content>"
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODS_NAMESPACES} '
        'office:version="1.2"><office:body><office:spreadsheet>'
        f'<table:table table:name="Danh sách">{rows}{end if closed else ""}'
    ).encode()
    manifest = (
        b'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        b'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        b'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
        b'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        b"</manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), b"application/vnd.oasis.opendocument.spreadsheet"
        )
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    return buffer.getvalue()


def repeated_ods(rows: int, columns: int) -> bytes:
    """A header, then one row of one number repeated `columns` times, itself repeated `rows`
    times: a few hundred bytes that expand to rows × columns cells."""
    bomb = (
        f'<table:table-row table:number-rows-repeated="{rows}"><table:table-cell '
        f'table:number-columns-repeated="{columns}" office:value-type="float" office:value="1"/>'
        "</table:table-row>"
    )
    return ods(ODS_HEADER_ROWS + bomb)


def spaces_ods(count: int) -> bytes:
    """A header, and a cell whose text is `count` spaces written as one <text:s/>."""
    cell = (
        '<table:table-row><table:table-cell office:value-type="string"><text:p>An'
        f'<text:s text:c="{count}"/></text:p></table:table-cell></table:table-row>'
    )
    return ods(ODS_HEADER_ROWS + cell)


def libreoffice_ods() -> bytes:
    """A list as LibreOffice saves it: the unused rest of the sheet as repeated empty rows."""
    tail = (
        '<table:table-row table:number-rows-repeated="1048574"><table:table-cell '
        'table:number-columns-repeated="1024"/></table:table-row>'
    )
    return ods(ODS_HEADER_ROWS + tail)


# --- Excel 97-2003 ----------------------------------------------------------------------------

MARK = 3.14159  # a number xlwt writes as a NUMBER record (not RK), to be found and moved


def small_xls() -> bytes:
    """A real .xls (written by xlwt): a header, one person, and MARK at B3."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Danh sach")
    for col, title in enumerate(["Họ và tên", "Số điện thoại"]):
        sheet.write(0, col, title)
    sheet.write(1, 0, "Nguyễn Văn An")
    sheet.write(1, 1, "0912345601")
    sheet.write(2, 1, MARK)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xls_with_cell_at(row: int, column: int) -> bytes:
    """small_xls with its MARK cell moved to (row, column), 0-based."""
    content = small_xls()
    record = struct.pack("<HHHH", 0x0203, 14, 2, 1)
    at = content.index(record)
    return content[: at + 4] + struct.pack("<HH", row, column) + content[at + 8 :]


def xls_declaring(rows: int, columns: int) -> bytes:
    """small_xls whose DIMENSIONS record declares rows × columns."""
    content = small_xls()
    at = content.index(struct.pack("<HH", 0x0200, 14))
    patched = struct.pack("<IIHHH", 0, rows, 0, columns, 0)
    return content[: at + 4] + patched + content[at + 18 :]


def xls_with_looping_directory() -> bytes:
    """small_xls whose directory's chain of sectors points back to itself."""
    content = bytearray(small_xls())
    directory = struct.unpack_from("<I", content, 48)[0]
    first_fat = struct.unpack_from("<I", content, 76)[0]
    struct.pack_into("<I", content, 512 + first_fat * 512 + 4 * directory, directory)
    return bytes(content)


def long_list_xlsx(rows: int) -> bytes:
    """A well-made list of `rows` people (written by xlsxwriter), for seconds of honest work."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": True})
    sheet = book.add_worksheet("Danh sách")
    for col, title in enumerate(["STT", "Họ và tên", "Năm sinh", "Số điện thoại", "Phân loại"]):
        sheet.write_string(0, col, title)
    for row in range(1, rows + 1):
        sheet.write_number(row, 0, row)
        sheet.write_string(row, 1, f"Nguyễn Văn {row}")
        sheet.write_number(row, 2, 1950 + row % 60)
        sheet.write_string(row, 3, f"09{row:08d}")
        sheet.write_string(row, 4, "F1")
    book.close()
    return buffer.getvalue()
