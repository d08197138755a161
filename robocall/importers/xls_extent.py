"""An Excel 97-2003 (.xls) workbook checked before calamine opens it.

calamine reads every sheet of an .xls the moment the workbook is opened, so everything is
checked first, in the order calamine reads it (calamine's cfb.rs and xls.rs):

- the compound file: a chain of sectors that loops back on itself makes calamine read the same
  sector for ever, and some header fields size allocations directly; both are refused;
- the Workbook stream's records: a record may drag along any number of CONTINUE records, the
  shared-string table holds one object per string, and each sheet's DIMENSIONS record and the
  positions of its cells decide the rectangle calamine allocates for it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from robocall.importers.limits import ImportRefused, ReadLimits
from robocall.importers.messages import refusal

_RESERVED = 0xFFFF_FFFA  # sector ids from here on are markers, not sectors
_DIFAT_SECTOR = 0xFFFF_FFFC
_END_OF_CHAIN = 0xFFFF_FFFE
_MAX_DIFAT_CAPACITY = 1 << 24  # entries calamine reserves from a misread header field
_STREAM_NAMES = ("Workbook", "Book", "WORKBOOK", "BOOK")  # calamine tries them in this order
_MAX_CONTINUES = 16_384  # CONTINUE records after one record; a 20 MB string table needs 2,600
_MINI_STREAM_CUTOFF = 4096  # streams shorter than this live in the mini stream

_EOF = 0x000A
_BOF = 0x0809
_CONTINUE = 0x003C
_BOUNDSHEET = 0x0085
_FILEPASS = 0x002F
_SST = 0x00FC
_DIMENSIONS = 0x0200
_MERGECELLS = 0x00E5
_MULRK = 0x00BD
_FORMULA = 0x0006
# Records with the cell's row and column in their first four bytes, which calamine keeps.
_CELLS = {0x0203, 0x0204, 0x00D6, 0x0205, 0x027E, 0x00FD, _FORMULA}


class _Damaged(Exception):
    """What calamine would fail or loop on, in a few words."""


def _u16(data: bytes, at: int) -> int:
    if at + 2 > len(data):
        raise _Damaged("a record is cut short")
    return int.from_bytes(data[at : at + 2], "little")


def _u32(data: bytes, at: int) -> int:
    if at + 4 > len(data):
        raise _Damaged("a record is cut short")
    return int.from_bytes(data[at : at + 4], "little")


class _Compound:
    """The compound file as calamine's Cfb reads it: header, DIFAT, FAT, directory."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        if len(content) < 512:
            raise _Damaged("shorter than its header")
        shift = _u16(content, 30)
        if shift not in (9, 12) or _u16(content, 32) != 6:
            raise _Damaged("unknown sector size")
        self.size = 1 << shift
        self.header = self.size  # sector 0 starts after the header's sector
        self.last_id = len(content) // self.size
        sectors = self.last_id + 1
        version = _u16(content, 26)
        # calamine reserves a vector sized by bytes 62..66 (half of two other fields).
        if _u32(content, 62) > _MAX_DIFAT_CAPACITY:
            raise _Damaged("header sizes out of range")
        fat_sectors = _u32(content, 44)
        mini_fat_sectors = _u32(content, 64)
        if fat_sectors > sectors or mini_fat_sectors > sectors:
            raise _Damaged("header sizes out of range")
        difat = [_u32(content, 76 + 4 * i) for i in range(109)]
        sector_id, seen = _u32(content, 68), set()
        while sector_id < _RESERVED:
            if sector_id in seen:
                raise _Damaged("its sector table loops")
            seen.add(sector_id)
            difat.extend(self._ids(self._sector(sector_id)))
            sector_id = difat.pop()
        fat_ids = [i for i in difat if i < _DIFAT_SECTOR]
        if len(fat_ids) > sectors:
            raise _Damaged("its sector table is larger than the file")
        self.fat: list[int] = []
        for fat_id in fat_ids:
            self.fat.extend(self._ids(self._sector(fat_id)))
        directory = self._chain(_u32(content, 48), None)
        self.entries = [directory[i : i + 128] for i in range(0, len(directory), 128)]
        if not self.entries:
            raise _Damaged("no directory")
        root_start, root_length = self._entry(self.entries[0])
        if version != 3 and root_start == _END_OF_CHAIN:
            raise _Damaged("no directory")
        self.mini_stream = b""
        self.mini_fat: list[int] = []
        if mini_fat_sectors > 0:
            self.mini_stream = self._chain(root_start, root_length)
            mini_fat = self._chain(_u32(content, 60), mini_fat_sectors * self.size)
            self.mini_fat = self._ids(mini_fat)

    def _sector(self, sector_id: int) -> bytes:
        if sector_id > self.last_id:
            raise _Damaged("a sector past the end of the file")
        start = self.header + sector_id * self.size
        return self.content[start : start + self.size]

    @staticmethod
    def _ids(data: bytes) -> list[int]:
        count = len(data) // 4
        return list(struct.unpack_from(f"<{count}I", data)) if count else []

    def _chain(self, sector_id: int, length: int | None) -> bytes:
        """The sectors of a chain joined, cut at `length`; a loop is refused, as calamine
        would follow it for ever (or to a length the file only claims)."""
        parts: list[bytes] = []
        total, seen = 0, set()
        while sector_id != _END_OF_CHAIN:
            if sector_id in seen:
                raise _Damaged("a chain of sectors loops")
            seen.add(sector_id)
            sector = self._sector(sector_id)
            if length is not None:
                sector = sector[: length - total]
            parts.append(sector)
            total += len(sector)
            if length is not None and total >= length:
                break
            if sector_id >= len(self.fat):
                raise _Damaged("a chain leaves the sector table")
            sector_id = self.fat[sector_id]
        return b"".join(parts)

    def _entry(self, entry: bytes) -> tuple[int, int]:
        start = _u32(entry, 116)
        length = _u32(entry, 120)
        if self.size == 4096:
            length = int.from_bytes(entry[120:128], "little")
        return start, length

    def workbook_stream(self) -> bytes:
        for wanted in _STREAM_NAMES:
            for entry in self.entries:
                name = entry[:64].decode("utf-16-le", errors="replace").split("\x00", 1)[0]
                if name != wanted:
                    continue
                start, length = self._entry(entry)
                if length < _MINI_STREAM_CUTOFF:
                    return self._mini_chain(start, length)
                if length > len(self.content):
                    raise _Damaged("a stream longer than the file")
                return self._chain(start, length)
        raise _Damaged("no Workbook stream")

    def _mini_chain(self, sector_id: int, length: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while sector_id != _END_OF_CHAIN and total < length:
            start = sector_id * 64
            if start >= len(self.mini_stream) or sector_id >= len(self.mini_fat):
                raise _Damaged("a chain leaves the mini stream")
            part = self.mini_stream[start : start + 64][: length - total]
            parts.append(part)
            total += len(part)
            sector_id = self.mini_fat[sector_id]
        return b"".join(parts)


@dataclass
class _Record:
    kind: int
    data: bytes
    continues: list[bytes] = field(default_factory=list)


def _walk(stream: bytes, at: int) -> tuple[_Record | None, int]:
    """The record at `at` with its CONTINUE records, and where the next one starts."""
    if at >= len(stream):
        return None, at
    if at + 4 > len(stream):
        raise _Damaged("a record is cut short")
    kind, length = struct.unpack_from("<HH", stream, at)
    end = at + 4 + length
    if end > len(stream):
        raise _Damaged("a record is cut short")
    record = _Record(kind, stream[at + 4 : end])
    while end + 4 < len(stream) and _u16(stream, end) == _CONTINUE:
        length = _u16(stream, end + 2)
        if end + 4 + length > len(stream):
            raise _Damaged("a record is cut short")
        record.continues.append(stream[end + 4 : end + 4 + length])
        if len(record.continues) > _MAX_CONTINUES:
            raise _Damaged("too many CONTINUE records")
        end += 4 + length
    return record, end


def _shared_strings(record: _Record, limit: int) -> int:
    """How many strings calamine's parse_sst makes of the table (stopping past `limit`)."""
    if len(record.data) < 8:
        return 0
    segments = [record.data[8:], *record.continues]
    if sum(map(len, segments)) // 3 + len(segments) <= limit:
        return 0  # even one string every three bytes (their least) stays under the limit
    index, at, count = 0, 0, 0

    def left() -> int:
        return len(segments[index]) - at

    def next_segment() -> bool:
        nonlocal index, at
        if index + 1 >= len(segments):
            return False
        index, at = index + 1, 0
        return True

    while left() > 0 or next_segment():
        count += 1
        if count > limit:
            return count
        data = segments[index]
        if left() == 0:
            continue  # calamine makes an empty string of an empty CONTINUE record
        if left() < 3:
            return count
        cch, flags = int.from_bytes(data[at : at + 2], "little"), data[at + 2]
        at += 3
        runs = extended = 0
        try:
            if flags & 0x8:
                runs = _u16(data, at)
                at += 2
            if flags & 0x4:
                extended = _u32(data, at)
                extended = extended if extended < 1 << 31 else 1 << 62  # i32 read as usize
                at += 4
        except _Damaged:
            return count
        high = bool(flags & 0x1)
        while cch > 0:
            data = segments[index]
            taken = min(left() // 2, cch) if high else min(left(), cch)
            at += 2 * taken if high else taken
            cch -= taken
            if cch > 0:
                if not next_segment() or not segments[index]:
                    return count
                high = bool(segments[index][0] & 0x1)
                at = 1
        skip = runs * 4 + extended
        while skip > 0:
            if left() == 0 and not next_segment():
                return count
            step = min(skip, left())
            at += step
            skip -= step
    return count


def _sheet_name(record: _Record, number: int) -> str:
    data = record.data
    if len(data) < 8:
        return f"sheet {number}"
    length, flags = data[6], data[7]
    if flags & 0x1:
        name = data[8 : 8 + 2 * length].decode("utf-16-le", errors="replace")
    else:
        name = data[8 : 8 + length].decode("cp1252", errors="replace")
    return repr(name.replace("\x00", ""))


@dataclass
class _SheetExtent:
    rows: int = 0
    columns: int = 0
    merged: int = 0
    declared: list[tuple[int, int]] = field(default_factory=list)

    def reach(self, row: int, column: int) -> None:
        self.rows = max(self.rows, row + 1)
        self.columns = max(self.columns, column + 1)


def _dimensions(data: bytes) -> list[tuple[int, int]]:
    """The rectangles a DIMENSIONS record makes calamine reserve, and declare from A1."""
    if len(data) == 10:
        first_row, last_row, first_col, last_col = struct.unpack_from("<HHHH", data)
    elif len(data) == 14:
        first_row, last_row, first_col, last_col = struct.unpack_from("<IIHH", data)
    else:
        raise _Damaged("a DIMENSIONS record of an odd length")
    if first_col > 0xFF or last_col < first_col:
        first_col = 0
    if last_row >= 1 and last_col >= 1:
        end_row, end_col = last_row - 1, last_col - 1
    else:
        end_row, end_col = first_row, first_col
    # calamine sizes its reservation with wrapping 32-bit arithmetic.
    rows = (end_row - first_row + 1) & 0xFFFF_FFFF
    columns = (end_col - first_col + 1) & 0xFFFF_FFFF
    return [(rows, columns), (end_row + 1, end_col + 1)]


def _sheet_extent(stream: bytes, at: int) -> _SheetExtent:
    extent = _SheetExtent()
    if at > len(stream):
        raise _Damaged("a sheet starts past the end of the stream")
    seen_bof, depth = False, 0
    while True:
        record, at = _walk(stream, at)
        if record is None:
            return extent
        kind, data = record.kind, record.data
        if kind == _BOF:
            if seen_bof:
                depth += 1
            seen_bof = True
        elif kind == _EOF:
            if depth == 0:
                return extent
            depth -= 1
        # Records of embedded charts count too: some versions of calamine keep them.
        elif kind == _DIMENSIONS:
            extent.declared.extend(_dimensions(data))
        elif kind in _CELLS:
            if kind == _FORMULA and len(data) < 20:
                raise _Damaged("a FORMULA record is cut short")
            extent.reach(_u16(data, 0), _u16(data, 2))
        elif kind == _MULRK:
            if len(data) < 6:
                raise _Damaged("a MULRK record is cut short")
            extent.reach(_u16(data, 0), _u16(data, 2) + max((len(data) - 6) // 6, 1) - 1)
        elif kind == _MERGECELLS:
            count = _u16(data, 0)
            if 2 + 8 * count > len(data):
                raise _Damaged("a MERGECELLS record is cut short")
            extent.merged += count


def check_xls(content: bytes, file_name: str, limits: ReadLimits) -> None:
    """Refuse an .xls over a limit (or one calamine would loop or over-allocate on)."""
    try:
        _check(content, file_name, limits)
    except _Damaged as exc:
        raise ImportRefused(f"{file_name}: {refusal('damaged_xls', reason=exc)}") from None


def _check(content: bytes, file_name: str, limits: ReadLimits) -> None:
    stream = _Compound(content).workbook_stream()
    sheets: list[tuple[str, int]] = []
    at = 0
    while True:
        record, at = _walk(stream, at)
        if record is None or record.kind == _EOF:
            break
        if record.kind == _FILEPASS and len(record.data) >= 2 and _u16(record.data, 0) != 0:
            return  # calamine refuses an encrypted workbook here, before any sheet
        if record.kind == _BOUNDSHEET:
            sheets.append((_sheet_name(record, len(sheets) + 1), _u32(record.data, 0)))
        elif record.kind == _SST:
            strings = _shared_strings(record, limits.cells)
            if strings > limits.cells:
                reason = refusal("shared_strings", count=f"> {limits.cells}", limit=limits.cells)
                raise ImportRefused(f"{file_name}: {reason}")
    total = 0
    for name, start in sheets:
        extent = _sheet_extent(stream, start)
        for rows, columns in extent.declared:
            limits.check_sheet(file_name, name, rows, columns, declared=True)
        limits.check_sheet(file_name, name, extent.rows, extent.columns)
        limits.check_merged(file_name, name, extent.merged)
        total += extent.rows * extent.columns
    # calamine holds every sheet (and a second rectangle of formulas) from the start.
    limits.check_total(file_name, total)
