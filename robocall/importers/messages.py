"""What the importer tells the commune, Vietnamese first, then English."""

from __future__ import annotations

MESSAGES = {
    "no_phone": "Không có số điện thoại / no phone number: follow up in person",
    "invalid_phone": "Số điện thoại không hợp lệ / invalid phone number: follow up in person",
    "invalid_alt_phone": "Số điện thoại phụ không hợp lệ, đã bỏ qua / invalid extra phone number",
    "legacy_phone": "Số 11 số cũ đã đổi sang đầu số mới / old 11-digit number converted",
    "bad_date": "Ngày không đọc được, giữ nguyên văn bản / unreadable date, text kept: {reason}",
    "bad_birth_year": "Năm sinh không đọc được, giữ nguyên văn bản / "
    "unreadable birth year: {reason}",
    "bad_classification": "Phân loại không rõ, giữ nguyên văn bản / "
    "unknown classification: {reason}",
    "bad_sex": "Giới tính không rõ, giữ nguyên văn bản / unknown sex: {reason}",
    "no_name": "Thiếu họ tên, dòng không được nhập / no name: row not imported",
    "unknown_commune": "Không tìm thấy xã/phường này / unknown commune: {fallback}",
    "ambiguous_commune": "Nhiều xã/phường trùng tên / several communes have this name: {fallback}",
    "no_unit": "Không xác định được đơn vị / no unit: give --unit",
    "duplicate_in_file": "Trùng với dòng {row} / same person as row {row}",
    "duplicate_existing": "Đã có trong danh sách / already known, nothing new",
    "updated_existing": "Đã cập nhật người đã có / known person updated",
    "footer": "Chân trang / footer",
    "repeated_header": "Dòng tiêu đề lặp lại / repeated header row",
    "column_numbers": "Dòng số thứ tự cột / column-number row",
    "created": "Đã thêm / created",
}


def message(key: str, **values: object) -> str:
    """The message for `key`, with its values filled in."""
    return MESSAGES[key].format(**values)


# Why a whole file is refused before it is read: the file's name (and the sheet or part) goes
# in front. Vietnamese first, then English, as the row messages above.
REFUSALS = {
    "sheet_rows": "trang tính {sheet}: vùng {ref} ({kind_vi}) có {rows} dòng, vượt giới hạn "
    "{limit} dòng / sheet {sheet}: the {kind} range {ref} has {rows} rows, over the limit of "
    "{limit} rows; split the list into smaller files",
    "sheet_columns": "trang tính {sheet}: vùng {ref} ({kind_vi}) có {columns} cột, vượt giới hạn "
    "{limit} cột / sheet {sheet}: the {kind} range {ref} has {columns} columns, over the limit "
    "of {limit} columns",
    "sheet_cells": "trang tính {sheet}: vùng {ref} ({kind_vi}) có {cells} ô, vượt giới hạn "
    "{limit} ô / sheet {sheet}: the {kind} range {ref} spans {cells} cells, over the limit of "
    "{limit} cells; delete stray cells far from the list, or split it",
    "workbook_cells": "các trang tính có tổng cộng {cells} ô, vượt giới hạn {limit} ô / "
    "the sheets together span {cells} cells, over the limit of {limit} cells; split the file",
    "merged_ranges": "trang tính {sheet} có {count} vùng gộp ô, vượt giới hạn {limit} / "
    "sheet {sheet} has {count} merged ranges, over the limit of {limit}",
    "merged_overlap": "các vùng gộp ô của trang tính {sheet} chồng lên nhau ({cells} ô) / "
    "the merged ranges of sheet {sheet} overlap ({cells} cells, more than the sheet has)",
    "shared_strings": "bảng chuỗi dùng chung có {count} chuỗi, vượt giới hạn {limit} / "
    "the shared-string table holds {count} strings, over the limit of {limit}",
    "unpacked_size": "tệp giải nén ra {size} MB, vượt giới hạn {limit} MB / "
    "the file unpacks to {size} MB, over the limit of {limit} MB",
    "part_lies": "phần {part} giải nén ra nhiều hơn kích thước ghi trong tệp / "
    "part {part} unpacks to more than the size its header declares: a damaged or hostile file",
    "too_many_parts": "tệp có {count} phần, vượt giới hạn {limit} / "
    "the file has {count} parts, over the limit of {limit}",
    "compression": "phần {part} dùng kiểu nén không hỗ trợ ({method}) / "
    "part {part} uses an unsupported compression method ({method})",
    "repeated_spaces": "các ô yêu cầu {count} dấu cách lặp lại, vượt giới hạn {limit} / "
    "the cells ask for {count} repeated spaces (text:s), over the limit of {limit}",
    "damaged_zip": "tệp nén bị hỏng ({reason}) / the workbook's zip is damaged ({reason})",
    "malformed_xml": "phần {part} không phải XML hợp lệ ({reason}) / "
    "part {part} is not well-formed XML ({reason})",
    "damaged_xls": "tệp Excel 97-2003 bị hỏng ({reason}) / "
    "the Excel 97-2003 workbook is damaged ({reason})",
    "text_rows": "tệp có hơn {limit} dòng / the file has more than {limit} rows, over the "
    "limit; split the list into smaller files",
    "text_columns": "dòng {row} có {columns} cột, vượt giới hạn {limit} cột / "
    "row {row} has {columns} columns, over the limit of {limit} columns",
    "text_cells": "tệp có hơn {limit} ô / the file has more than {limit} cells, over the limit; "
    "split the list into smaller files",
    "text_row": "dòng {row} dài hơn {limit} ký tự (có thể thiếu dấu ngoặc kép đóng) / "
    "row {row} is longer than {limit} characters (a quote never closed?)",
    "text_cell": "dòng {row}: một ô dài hơn {limit} ký tự (có thể thiếu dấu ngoặc kép đóng) / "
    "row {row}: a cell is longer than {limit} characters (a quote never closed?)",
    "text_damaged": "dòng {row} không đọc được ({reason}) / row {row} cannot be read ({reason})",
}


def refusal(key: str, **values: object) -> str:
    """The reason for refusing a whole file, with its values filled in."""
    return REFUSALS[key].format(**values)
