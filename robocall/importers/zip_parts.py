"""An .xlsx, .xlsm or .ods checked from its zip before calamine opens it.

First the zip's own records: how many parts, how large they say they are, how they are
compressed. Then every part is decompressed as a stream, a megabyte at a time, and counted:
a part whose header understates its size is refused at the first byte past it, so the parts
together never unpack to more than the limit, whatever the headers say. While a part streams
past, xml_extent measures the sheet it could be. Nothing of a part is kept.

calamine picks the reader by trying them in turn, so every part is measured as an xlsx
worksheet could be (even in an .ods), and every content.xml as an .ods table.
"""

from __future__ import annotations

import copy
import html
import io
import re
import zipfile
import zlib
from collections.abc import Iterator

from robocall.importers.limits import MAX_PARTS, ImportRefused, ReadLimits
from robocall.importers.messages import refusal
from robocall.importers.xml_extent import (
    MalformedXml,
    NeedsReplay,
    OdsReplay,
    PartExtent,
    XlsxLooseScan,
    XlsxPartScan,
    XlsxReplay,
)

_END_OF_DIRECTORY = b"PK\x05\x06"
MAX_DIRECTORY_BYTES = 4 << 20  # a zip's central directory: 10,000 parts take about 1 MB
_CHUNK = 1 << 20  # bytes decompressed at a time
_NAMES_PART_BYTES = 4 << 20  # workbook.xml and its relationships are read for sheet names
_COMPRESSIONS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}  # all that OOXML and ODF allow
# Spaces an .ods may ask for with <text:s text:c="…"/>, which calamine writes out one by one.
MAX_REPEATED_SPACES = 16 << 20


def _refuse(file_name: str, key: str, **values: object) -> ImportRefused:
    return ImportRefused(f"{file_name}: {refusal(key, **values)}")


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f}".removesuffix(".0")


def _directory_entries(content: bytes, file_name: str) -> int | None:
    """The parts a zip's directory declares; None when there is no zip directory."""
    at = content.rfind(_END_OF_DIRECTORY, max(0, len(content) - 65_557))
    if at < 0 or at + 22 > len(content):
        return None
    entries = int.from_bytes(content[at + 10 : at + 12], "little")
    directory_size = int.from_bytes(content[at + 12 : at + 16], "little")
    if entries == 0xFFFF or directory_size == 0xFFFFFFFF:
        # Zip64: the true counts sit in the zip64 end record, which a locator points to.
        locator = at - 20
        if locator < 0 or content[locator : locator + 4] != b"PK\x06\x07":
            raise _refuse(file_name, "damaged_zip", reason="no zip64 end record")
        record = int.from_bytes(content[locator + 8 : locator + 16], "little")
        if content[record : record + 4] != b"PK\x06\x06":
            raise _refuse(file_name, "damaged_zip", reason="no zip64 end record")
        entries = int.from_bytes(content[record + 32 : record + 40], "little")
        directory_size = int.from_bytes(content[record + 40 : record + 48], "little")
    if entries > MAX_PARTS:
        raise _refuse(file_name, "too_many_parts", count=entries, limit=MAX_PARTS)
    if directory_size > MAX_DIRECTORY_BYTES:
        raise _refuse(file_name, "damaged_zip", reason="its directory is over 4 MB")
    return entries


def open_zip(content: bytes, file_name: str) -> zipfile.ZipFile | None:
    """The zip, once its directory is known to be small; None when it is not a zip."""
    if _directory_entries(content, file_name) is None:
        return None
    try:
        return zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return None


def _normal(name: str) -> str:
    """A part name as calamine looks it up: any case, either slash."""
    return name.replace("\\", "/").lower()


def _stream(archive: zipfile.ZipFile, info: zipfile.ZipInfo, file_name: str) -> Iterator[bytes]:
    """The part's bytes a megabyte at a time, refused past the size its header declares."""
    # zipfile stops at the declared size and trusts it; calamine's reader does not stop. So
    # read with room for one byte more (a byte there is a lie), checking the CRC here.
    probe = copy.copy(info)
    probe.file_size = info.file_size + 1
    probe.CRC = None  # type: ignore[assignment]
    unpacked, crc = 0, 0
    try:
        with archive.open(probe) as stream:
            while chunk := stream.read(_CHUNK):
                unpacked += len(chunk)
                if unpacked > info.file_size:
                    raise _refuse(file_name, "part_lies", part=info.filename)
                crc = zlib.crc32(chunk, crc)
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError) as exc:
        raise _refuse(file_name, "damaged_zip", reason=f"{info.filename}: {exc}") from None
    if crc != info.CRC:
        raise _refuse(file_name, "damaged_zip", reason=f"{info.filename}: bad CRC-32")


def _read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo, file_name: str) -> bytes:
    return b"".join(_stream(archive, info, file_name))


_ATTRIBUTE = r"""\s*=\s*(?:"([^"]*)"|'([^']*)')"""
_SHEET_TAG = re.compile(r"<(?:[\w.-]+:)?sheet\s[^>]*>")
_RELATIONSHIP_TAG = re.compile(r"<(?:[\w.-]+:)?Relationship\s[^>]*>")


def _attribute(tag: str, name: str) -> str | None:
    found = re.search(r"(?<![\w:.-])" + name + _ATTRIBUTE, tag)
    if found is None:
        return None
    return html.unescape(found[1] if found[1] is not None else found[2])


def _sheet_names(archive: zipfile.ZipFile, file_name: str) -> dict[str, str]:
    """Part name (normalised) → the sheet name it is shown as, for messages; best effort."""
    parts = {_normal(info.filename): info for info in archive.infolist()}
    workbook = parts.get("xl/workbook.xml")
    relationships = parts.get("xl/_rels/workbook.xml.rels")
    if workbook is None or relationships is None:
        return {}
    if max(workbook.file_size, relationships.file_size) > _NAMES_PART_BYTES:
        return {}
    targets: dict[str, str] = {}
    rels_text = _read_small(archive, relationships, file_name).decode("utf-8", "replace")
    for tag in _RELATIONSHIP_TAG.findall(rels_text):
        rel_id, target = _attribute(tag, "Id"), _attribute(tag, "Target")
        if rel_id is not None and target is not None:
            path = target[1:] if target.startswith("/") else "xl/" + target
            targets[rel_id] = _normal(path)
    names: dict[str, str] = {}
    workbook_text = _read_small(archive, workbook, file_name).decode("utf-8", "replace")
    for tag in _SHEET_TAG.findall(workbook_text):
        name, rel_id = _attribute(tag, "name"), _attribute(tag, r"(?:[\w.-]+:)?id")
        if name is not None and rel_id in targets:
            names.setdefault(targets[rel_id], name)
    return names


def _scan_xlsx_part(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, file_name: str, limits: ReadLimits
) -> PartExtent:
    """The extent a part would have as a worksheet: by its references when every cell has
    one; else a bound from its counts; else, when that bound is too wide, by replaying it."""
    fast = XlsxPartScan()
    try:
        for chunk in _stream(archive, info, file_name):
            fast.feed(chunk)
        return fast.finish()
    except NeedsReplay:
        pass
    loose = XlsxLooseScan()
    for chunk in _stream(archive, info, file_name):
        loose.feed(chunk)
    bound = loose.finish()
    if bound.rows <= limits.rows and bound.columns <= limits.columns:
        if bound.rows * bound.columns <= limits.cells:
            return bound
    replay = XlsxReplay()
    try:
        for chunk in _stream(archive, info, file_name):
            replay.feed(chunk)
    except MalformedXml as exc:
        raise _refuse(file_name, "malformed_xml", part=info.filename, reason=exc) from None
    return replay.finish()


def _scan_ods_content(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, file_name: str, limits: ReadLimits
) -> None:
    replay = OdsReplay()
    try:
        for chunk in _stream(archive, info, file_name):
            replay.feed(chunk)
        extent = replay.finish()
    except MalformedXml as exc:
        raise _refuse(file_name, "malformed_xml", part=info.filename, reason=exc) from None
    if extent.spaces > MAX_REPEATED_SPACES:
        raise _refuse(file_name, "repeated_spaces", count=extent.spaces, limit=MAX_REPEATED_SPACES)
    total = 0
    for name, rows, columns, _cells in extent.sheets:
        limits.check_sheet(file_name, repr(name), rows, columns)
        total += rows * columns
    # calamine keeps every table, and every cell it read before trimming them, at once.
    limits.check_total(file_name, max(total, extent.cells))


def check_zip_workbook(archive: zipfile.ZipFile, file_name: str, limits: ReadLimits) -> None:
    """Refuse a zip-based workbook over a limit, having kept none of it in memory."""
    infos = archive.infolist()
    if any(_normal(info.filename).endswith("workbook.bin") for info in infos):
        raise ImportRefused(
            f"{file_name}: sổ làm việc nhị phân Excel (.xlsb) không được nhận, hãy lưu thành "
            ".xlsx / an Excel binary workbook (.xlsb) is not accepted: save it as .xlsx"
        )
    declared = sum(info.file_size for info in infos)
    if declared > limits.unpacked_bytes:
        raise _refuse(
            file_name,
            "unpacked_size",
            size=_megabytes(declared),
            limit=_megabytes(limits.unpacked_bytes),
        )
    for info in infos:
        if info.compress_type not in _COMPRESSIONS:
            raise _refuse(file_name, "compression", part=info.filename, method=info.compress_type)
        if info.flag_bits & 0x1:
            raise _refuse(file_name, "damaged_zip", reason=f"{info.filename} is encrypted")
    names = _sheet_names(archive, file_name)
    strings = 0
    for info in infos:
        if info.is_dir():
            continue
        extent = _scan_xlsx_part(archive, info, file_name, limits)
        label = names.get(_normal(info.filename))
        sheet = repr(label) if label is not None else info.filename
        for rows, columns in extent.declared:
            limits.check_sheet(file_name, sheet, rows, columns, declared=True)
        limits.check_sheet(file_name, sheet, extent.rows, extent.columns)
        limits.check_merged(file_name, sheet, extent.merged)
        strings = max(strings, extent.strings, extent.declared_strings)
        if _normal(info.filename).endswith("content.xml"):
            _scan_ods_content(archive, info, file_name, limits)
    if strings > limits.cells:
        raise _refuse(file_name, "shared_strings", count=strings, limit=limits.cells)
