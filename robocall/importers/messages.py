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
