"""Make the demo's sample F1 list and its simulated residents (seeded: the same every time).

    uv run python -m robocall.sampledata.generate [FOLDER]

writes `f1_sample_list.csv` into FOLDER (about 200 people in 3 communes of the sample district,
as a commune health station would send it, last exposed within the 10 days before today) and
the bundled `residents.yaml` (how each number behaves when called). The demo writes a fresh
list under its var dir every day, so its people are under monitoring whenever it runs.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

HERE = Path(__file__).parent
LIST_NAME = "f1_sample_list.csv"
PERSONAS_FILE = HERE / "residents.yaml"
SEED = 20210801
PEOPLE = 200
COMMUNES = ("Phường Linh Trung", "Phường Linh Chiểu", "Phường Hiệp Bình Chánh")
SURNAMES = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
)
MIDDLE = {
    "male": ("Văn", "Đức", "Minh", "Quốc", "Hữu"),
    "female": ("Thị", "Ngọc", "Thu", "Kim", "Mỹ"),
}
GIVEN = {
    "male": (
        "An",
        "Bình",
        "Cường",
        "Dũng",
        "Hải",
        "Hùng",
        "Khoa",
        "Long",
        "Nam",
        "Phúc",
        "Quang",
        "Tuấn",
    ),
    "female": (
        "Anh",
        "Chi",
        "Dung",
        "Hà",
        "Hạnh",
        "Hoa",
        "Lan",
        "Linh",
        "Mai",
        "Nga",
        "Thảo",
        "Trang",
    ),
}
STREETS = ("Đường số 1", "Đường số 9", "Hoàng Diệu 2", "Lê Văn Chí", "Kha Vạn Cân", "Phạm Văn Đồng")
HAMLETS = ("Khu phố 1", "Khu phố 2", "Khu phố 3", "Khu phố 4", "Khu phố 5", "Khu phố 6")
MOBILE_PREFIXES = (
    "90",
    "91",
    "93",
    "94",
    "96",
    "97",
    "98",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "38",
    "39",
    "70",
    "76",
    "77",
    "78",
    "79",
    "81",
    "82",
    "83",
    "84",
    "85",
)
# Everyone answers the F1 call the same way: it's me; no symptoms; not tested; at home.
ANSWERS = "1 2 2 2 2 2 2 1"


def _mobile(rng: random.Random) -> str:
    return "0" + rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randrange(10)) for _ in range(7))


def _landline(rng: random.Random) -> str:
    return (
        "028 3"
        + "".join(str(rng.randrange(10)) for _ in range(3))
        + " "
        + "".join(str(rng.randrange(10)) for _ in range(4))
    )


def _behaviour(rng: random.Random) -> str:
    roll = rng.random()
    human = f'{{answer: human, press: "{ANSWERS}"}}'
    if roll < 0.55:
        return f"[{human}]"
    if roll < 0.65:
        return f"[no_answer, {human}]"
    if roll < 0.72:
        return f"[busy, {human}]"
    if roll < 0.77:
        return f"[machine, {human}]"
    if roll < 0.80:
        return '[{answer: human, press: "2"}]'  # wrong number
    if roll < 0.82:
        return '[{answer: human, press: "9 1"}]'  # asks not to be called again
    if roll < 0.92:
        return "[no_answer]"  # never reached
    return "[busy, no_answer, busy]"


def generate(folder: Path, *, today: dt.date) -> tuple[Path, Path]:
    """Write the sample list into `folder` and the bundled residents file; return their
    paths. Everyone was last exposed 1 to 9 days before `today`."""
    rng = random.Random(SEED)
    rows: list[list[str]] = []
    personas: dict[str, str] = {}
    last_phone = ""
    for number in range(1, PEOPLE + 1):
        sex = rng.choice(("male", "female"))
        name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
        roll = rng.random()
        if roll < 0.05:
            phone = ""  # the list has no number for this person
        elif roll < 0.17 and last_phone:
            phone = last_phone  # same household as the previous person
        elif roll < 0.22:
            phone = _landline(rng)
        else:
            phone = _mobile(rng)
        if phone and phone != last_phone:
            e164 = "+84" + phone.replace(" ", "")[1:]
            personas[e164] = _behaviour(rng)
        last_phone = phone or last_phone
        exposure = today - dt.timedelta(days=1 + 2 * rng.randrange(0, 5))
        rows.append(
            [
                str(number),
                name,
                str(rng.randrange(1940, 2018)),
                "Nam" if sex == "male" else "Nữ",
                phone,
                f"{rng.randrange(1, 200)} {rng.choice(STREETS)}",
                rng.choice(HAMLETS),
                COMMUNES[number % len(COMMUNES)],
                exposure.strftime("%d/%m/%Y"),
                "F1",
            ]
        )
    folder.mkdir(parents=True, exist_ok=True)
    list_file = folder / LIST_NAME
    with list_file.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "STT",
                "Họ và tên",
                "Năm sinh",
                "Giới tính",
                "Số điện thoại",
                "Địa chỉ",
                "Khu phố",
                "Phường",
                "Ngày tiếp xúc cuối",
                "Phân loại",
            ]
        )
        writer.writerows(rows)
    lines = [
        "# Simulated residents of the demo list (made by robocall/sampledata/generate.py).",
        "version: 1",
        "default: {answer: 0.6, no_answer: 0.2, busy: 0.1, machine: 0.05, failed: 0.05, seed: 1}",
        "numbers:",
    ]
    lines += [f'  "{phone}": {behaviour}' for phone, behaviour in personas.items()]
    PERSONAS_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return list_file, PERSONAS_FILE


if __name__ == "__main__":
    import sys
    from zoneinfo import ZoneInfo

    today = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    for path in generate(Path(sys.argv[1] if len(sys.argv) > 1 else "."), today=today):
        print(path)
