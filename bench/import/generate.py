"""Write a 100,000-row commune list shaped like the real ones (seeded, reproducible).

    uv run python bench/import/generate.py [--rows 100000] [--out bench/out/f1_100k.xlsx]

Title rows, Vietnamese headers, phones in every written form, ~5% old 11-digit numbers,
~1% duplicate rows, ~3% invalid phones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

import xlsxwriter

from robocall.contacts.phones import LEGACY_PREFIXES

SEED = 20210720
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Thu", "Hoài"]
GIVEN = ["An", "Bình", "Cường", "Dung", "Hoà", "Thuỷ", "Lan", "Long", "Mai", "Nam", "Phượng"]
GIVEN += ["Quang", "Sơn", "Tâm", "Uyên", "Vinh", "Xuân", "Yến", "Hùng", "Hạnh", "Khoa"]
COMMUNES = ["Linh Trung", "Phường Linh Chiểu", "Hiệp Bình Chánh", "Linh Trung"]
PREFIXES = ["32", "33", "34", "35", "36", "37", "38", "39", "70", "76", "77", "78", "79", "81"]
PREFIXES += ["82", "83", "84", "85", "86", "88", "90", "91", "94", "96", "97", "98"]
HEADER = ["STT", "Họ và tên", "Năm sinh", "Giới tính", "Thôn/Ấp", "Xã/Phường"]
HEADER += ["Số điện thoại", "Phân loại", "Ngày tiếp xúc", "Ghi chú"]


def _phone(rng: random.Random) -> object:
    roll = rng.random()
    nsn = rng.choice(PREFIXES) + f"{rng.randrange(10**7):07d}"
    national = "0" + nsn
    if roll < 0.05:  # pre-2018 11-digit mobile
        old = rng.choice(list(LEGACY_PREFIXES)) + f"{rng.randrange(10**7):07d}"
        return old if rng.random() < 0.5 else f"{old[:4]} {old[4:7]} {old[7:]}"
    if roll < 0.08:  # invalid
        return rng.choice(["không có", "091234", "chưa có", "0000000000", "12345678901234"])
    if roll < 0.30:
        return int(nsn)  # number cell: leading zero lost
    if roll < 0.40:
        return f"{national[:4]} {national[4:7]} {national[7:]}"
    if roll < 0.48:
        return f"{national[:4]}.{national[4:7]}.{national[7:]}"
    if roll < 0.54:
        return "+84 " + nsn
    if roll < 0.58:
        return "84" + nsn
    if roll < 0.61:
        return f"{nsn}.0"
    if roll < 0.63:
        other = "0" + rng.choice(PREFIXES) + f"{rng.randrange(10**7):07d}"
        return f"{national} / {other}"
    return national


def generate(path: Path, rows: int) -> None:
    rng = random.Random(SEED)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    # Excel's document times are naive.
    workbook.set_properties({"created": dt.datetime(2021, 7, 20)})  # noqa: DTZ001
    sheet = workbook.add_worksheet("Danh sách F1")
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    sheet.write(0, 0, "TRUNG TÂM Y TẾ TP THỦ ĐỨC")
    sheet.write(1, 0, "DANH SÁCH NGƯỜI TIẾP XÚC GẦN")
    sheet.write_row(3, 0, HEADER)
    written: list[list[object]] = []
    start = dt.date(2021, 6, 1)
    for index in range(rows):
        if written and rng.random() < 0.01:  # the same person typed twice
            values = list(rng.choice(written[-500:]))
        else:
            name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
            exposure = start + dt.timedelta(days=rng.randrange(60))
            form = rng.random()
            exposure_cell: object = (
                exposure
                if form < 0.6
                else exposure.strftime("%d/%m/%Y")
                if form < 0.9
                else exposure.strftime("%-d/%-m/%y")
            )
            values = [
                name,
                rng.randrange(1940, 2020),
                rng.choice(["Nam", "Nữ"]),
                f"Thôn {rng.randrange(1, 12)}",
                rng.choice(COMMUNES),
                _phone(rng),
                rng.choice(["F1", "F1", "f1", "F 1", "F2", "F-2"]),
                exposure_cell,
                rng.choice([None, None, None, "cách ly tại nhà", "đã lấy mẫu"]),
            ]
            written.append(values)
        row = 4 + index
        sheet.write_number(row, 0, index + 1)
        for col, value in enumerate(values, start=1):
            if value is None:
                continue
            if isinstance(value, dt.date):
                sheet.write_datetime(row, col, dt.datetime.combine(value, dt.time()), date_format)
            elif isinstance(value, int):
                sheet.write_number(row, col, value)
            else:
                sheet.write_string(row, col, str(value))
    workbook.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/f1_100k.xlsx"))
    args = parser.parse_args()
    generate(args.out, args.rows)
    print(f"{args.out}: {args.rows} rows, {args.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
