"""How far a sheet's XML reaches, found by streaming its bytes: no tree, no cell kept.

What counts is what calamine will allocate, so the cells are found the way calamine's
tokenizer (quick-xml, on raw bytes) finds them, and every doubt counts against the file:

- xlsx, fast and usual: every cell tag carries its reference (`<c r="B7">`), so the largest
  reference is the sheet's extent whatever the order or nesting of the tags. Regular
  expressions count the tags and collect the references chunk by chunk.
- xlsx whose cells omit `r` (exports of Power BI, Dynamics, SAP…): a cell's position is
  counted from the cells and rows before it. First a bound that trusts no tag (each cell and
  row tag may move the position on by one); a part within the limits even so is done with
  (a binary part with a stray `<c ` in it, say). Otherwise the tags are replayed one by one
  through calamine's own rules, as every .ods content.xml is. Only plain XML is replayed
  (balanced tags; no comments, CDATA, processing instructions or DOCTYPE): on anything else
  the file is refused rather than guessed at, since a tag quick-xml reads differently could
  hide a far cell.

A chunk is cut before its last `<` when that tag is not complete, so that no tag is ever split
(an attribute value holds no `<` in XML); a tag longer than MAX_TAG_BYTES is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from operator import itemgetter

MAX_TAG_BYTES = 1 << 20
MAX_DEPTH = 256  # elements open at once; a sheet needs fewer than ten
EXCEL_ROWS = 1_048_576  # calamine caps an .ods sheet at Excel's size
EXCEL_COLUMNS = 16_384
_HUGE = 10**15  # a number past every limit, for references too long to be real


class MalformedXml(Exception):
    """A part whose XML is not read (a one-line reason)."""


class NeedsReplay(Exception):
    """A worksheet whose cells cannot all be placed by their references."""


@dataclass
class PartExtent:
    """What one part's XML asks a reader to keep."""

    rows: int = 0  # last used row + 1 (0: no cell), from A1
    columns: int = 0  # last used column + 1
    declared: list[tuple[int, int]] = field(default_factory=list)  # <dimension> (rows, cols)
    merged: int = 0  # <mergeCell> elements
    strings: int = 0  # <si> elements (shared strings)
    declared_strings: int = 0  # the largest uniqueCount="…"
    cells: int = 0  # .ods: cells calamine keeps before it trims the tables, all together
    # .ods: each table's (name, rows, columns, cells kept before trimming)
    sheets: list[tuple[str, int, int, int]] = field(default_factory=list)
    spaces: int = 0  # .ods: spaces the cells' <text:s text:c="…"/> ask calamine to write

    def reach(self, row: int, column: int) -> None:
        """A cell at (row, column), 0-based."""
        if row >= self.rows:
            self.rows = row + 1
        if column >= self.columns:
            self.columns = column + 1


def column_number(letters: bytes) -> int:
    """b"A" → 0, b"XFD" → 16383 (any case, as calamine reads them); _HUGE when absurd."""
    if len(letters) > 7:
        return _HUGE
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number - 1


def row_number(digits: bytes) -> int:
    """b"1" → 0; _HUGE when absurd (calamine wraps or fails on those)."""
    if len(digits) > 12:
        return _HUGE
    return int(digits) - 1


_REF = re.compile(rb"([A-Za-z]*)([0-9]*)")


def parse_ref(ref: bytes) -> tuple[int, int] | None:
    """A cell reference as (row, column), 0-based; None when calamine would refuse it."""
    match = _REF.fullmatch(ref)
    if match is None or not match[1] or not match[2] or int(match[2][:13] or b"0") == 0:
        return None
    return row_number(match[2]), column_number(match[1])


def parse_dimension(ref: bytes) -> tuple[int, int] | None:
    """`A1:XFD1048576` → (1048576, 16384): the rectangle from A1 it declares."""
    corners = [parse_ref(part) for part in ref.split(b":")]
    if not corners or len(corners) > 2 or any(c is None for c in corners):
        return None
    rows = max(c[0] for c in corners if c is not None) + 1
    columns = max(c[1] for c in corners if c is not None) + 1
    return rows, columns


class _Chunks:
    """Cuts a stream of XML bytes into pieces that never split a tag."""

    _COMPLETE = re.compile(rb"<(?:[^>\"'<]|\"[^\"<]*\"|'[^'<]*')*>")

    def __init__(self, strict: bool = False) -> None:
        self._carry = b""
        self._strict = strict

    def cut(self, chunk: bytes) -> bytes:
        data = self._carry + chunk if self._carry else chunk
        last = data.rfind(b"<")
        if last >= 0 and not self._COMPLETE.match(data, last):
            self._carry = data[last:]
            if len(self._carry) > MAX_TAG_BYTES:
                if self._strict or _OF_INTEREST.match(self._carry):
                    raise MalformedXml("a tag longer than 1 MB")
                # One long tag of no interest (binary parts have a stray `<` now and then):
                # it holds no other tag, so nothing is lost by passing over it.
                self._carry = b""
            return data[:last]
        self._carry = b""
        return data

    def rest(self) -> bytes:
        """What is left at the end of the part: an unfinished tag, or nothing."""
        rest, self._carry = self._carry, b""
        return rest


# --- counts every scan of a zip part makes ---------------------------------------------------

_P = rb"(?:[^\s<>/]*:)?"  # a namespace prefix: calamine matches local names
_TAG_REST = rb"(?:[^>\"'/]+|/(?!>)|\"[^\"]*\"|'[^']*')*"
_NAMES_OF_INTEREST = rb"(?:c|row|dimension|mergeCell|si|sst|sheetData)"
_OF_INTEREST = re.compile(rb"</?" + _P + _NAMES_OF_INTEREST + rb"(?=[\s/>])")
# A prefixed tag of interest (`<x:c …>`): rare, so a piece without one takes the quick way.
_PREFIXED = re.compile(rb":" + _NAMES_OF_INTEREST + rb"[\s/>]")
_DIMENSION = re.compile(
    rb"<" + _P + rb"dimension(?=[\s/>])(?:[^>\"']|\"[^\"]*\"|'[^']*')*?(?<=[\s\"'])ref\s*=\s*"
    rb"[\"']([^\"'<]*)[\"']"
)
_MERGE_CELL = re.compile(rb"<" + _P + rb"mergeCell(?=[\s/>])")
_SHARED_STRING = re.compile(rb"<" + _P + rb"si(?=[\s/>])")
_UNIQUE_COUNT = re.compile(rb"uniqueCount(?<=[\s\"']uniqueCount)\s*=\s*[\"']([^\"'<]*)[\"']")
_DELIMITERS = (b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c", b"/", b">")


def _count_tags(data: bytes, name: bytes) -> int:
    """`<name` followed by a space, `/` or `>`: a tag calamine could read as `name`."""
    opening = b"<" + name
    if opening not in data:
        return 0
    return sum(data.count(opening + end) for end in _DELIMITERS)


def _count_parts_of_interest(data: bytes, extent: PartExtent, prefixed: bool) -> None:
    if prefixed or b"<dimension" in data:
        for ref in _DIMENSION.findall(data):
            declared = parse_dimension(ref)
            if declared is not None:
                extent.declared.append(declared)
    if prefixed:
        extent.merged += len(_MERGE_CELL.findall(data))
        extent.strings += len(_SHARED_STRING.findall(data))
    else:
        extent.merged += _count_tags(data, b"mergeCell")
        extent.strings += _count_tags(data, b"si")
    if b"uniqueCount" in data:
        for value in _UNIQUE_COUNT.findall(data):
            digits = re.sub(rb"[^0-9]", b"", value)
            if digits:
                count = _HUGE if len(digits) > 12 else int(digits)
                extent.declared_strings = max(extent.declared_strings, count)


# --- xlsx, fast: every cell placed by its reference --------------------------------------------

_WS = rb"[ \t\r\n]"  # what quick-xml takes for white space
_VALUE = rb"(?:\"[^\"<]*\"|'[^'<]*')"
_KEY = rb"[^\s=<>/\"']+"
_ATTR = _WS + rb"+" + _KEY + _WS + rb"*=" + _WS + rb"*" + _VALUE
_OTHER_ATTR = _WS + rb"+(?!r" + _WS + rb"*=)" + _KEY + _WS + rb"*=" + _WS + rb"*" + _VALUE
_REF_ATTR = (
    _WS + rb"+r" + _WS + rb"*=" + _WS + rb"*(?:\"([A-Za-z]*)([0-9]*)\"|'([A-Za-z]*)([0-9]*)')"
)


def _cell_tag(prefix: bytes) -> re.Pattern[bytes]:
    """A well-formed cell tag with at most one r="…": (letters, digits, letters, digits, "/").
    A tag it does not match (a second r, an odd attribute) sends the part to a replay."""
    return re.compile(
        rb"<"
        + prefix
        + rb"c(?:"
        + _OTHER_ATTR
        + rb")*(?:"
        + _REF_ATTR
        + rb"(?:"
        + _OTHER_ATTR
        + rb")*)?"
        + _WS
        + rb"*(/?)>"
    )


_CELL_TAG = _cell_tag(b"")
_PREFIXED_CELL_TAG = _cell_tag(_P)
# How Excel, LibreOffice, openpyxl and xlsxwriter write a cell: matched first, being quicker.
_PLAIN_CELL_TAG = re.compile(
    rb'<c r="([A-Z]{1,3})([0-9]{1,7})"(?: s="[0-9]+")?(?: t="[A-Za-z]+")?(/?)>'
)
_ANY_CELL = re.compile(rb"<" + _P + rb"c(?=[\s/>])")
_REF_VALUE = re.compile(rb"r(?<=[\s\"'/]r)\s*=\s*[\"']([A-Za-z]*)([0-9]*)[\"']")


def _cell_refs(data: bytes, prefixed: bool) -> list[tuple[bytes, bytes, bytes]]:
    """(letters, digits, "/" when empty) of every cell tag; NeedsReplay when a tag that
    quick-xml could read as a cell is not a well-formed one with at most one reference."""
    if prefixed:
        general = _PREFIXED_CELL_TAG.findall(data)
        if len(general) != len(_ANY_CELL.findall(data)):
            raise NeedsReplay
    else:
        plain: list[tuple[bytes, bytes, bytes]] = _PLAIN_CELL_TAG.findall(data)
        if len(plain) == data.count(b"<c"):
            return plain  # every tag beginning `<c` is a plain cell tag
        general = _CELL_TAG.findall(data)
        if len(general) != _count_tags(data, b"c"):
            raise NeedsReplay
    return [(tag[0] or tag[2], tag[1] or tag[3], tag[4]) for tag in general]


class XlsxPartScan:
    """One part of an .xlsx, read by references; raises NeedsReplay when that cannot work."""

    def __init__(self) -> None:
        self.extent = PartExtent()
        self._chunks = _Chunks()

    def feed(self, chunk: bytes) -> None:
        self._scan(self._chunks.cut(chunk))

    def _scan(self, data: bytes) -> None:
        if not data:
            return
        prefixed = _PREFIXED.search(data) is not None
        _count_parts_of_interest(data, self.extent, prefixed)
        # A cell written `<c …/>` has no value and calamine keeps none: only the others count.
        opened = [tag for tag in _cell_refs(data, prefixed) if not tag[2]]
        if not opened:
            return
        letters = set(map(itemgetter(0), opened))
        digits = set(map(itemgetter(1), opened))
        if b"" in letters or b"" in digits:
            raise NeedsReplay  # a cell without a (whole) reference
        self.extent.reach(_largest_row(digits), max(map(column_number, letters)))

    def finish(self) -> PartExtent:
        self._scan(self._chunks.rest())
        return self.extent


def _largest_row(digits: set[bytes]) -> int:
    """The largest of many row numbers, without making a number of each."""
    if any(value.startswith(b"0") for value in digits):
        return max(map(row_number, digits))
    longest = max(map(len, digits))
    return row_number(max(value for value in digits if len(value) == longest))


_ANY_ROW_TAG = re.compile(rb"</?" + _P + rb"row(?=[\s/>])")


class XlsxLooseScan:
    """A bound that trusts no tag: a cell without a reference is placed as far as the cells
    and rows before it could have carried it (calamine adds one per cell and one per row)."""

    def __init__(self) -> None:
        self.extent = PartExtent()
        self._chunks = _Chunks()
        self._cells = 0
        self._row_tags = 0
        self._max_row = 0
        self._max_column = 0

    def feed(self, chunk: bytes) -> None:
        self._scan(self._chunks.cut(chunk))

    def _scan(self, data: bytes) -> None:
        if not data:
            return
        _count_parts_of_interest(data, self.extent, prefixed=True)
        self._cells += len(_ANY_CELL.findall(data))
        self._row_tags += len(_ANY_ROW_TAG.findall(data))
        refs = _REF_VALUE.findall(data)
        letters = {value for value in map(itemgetter(0), refs) if value}
        digits = {value for value in map(itemgetter(1), refs) if value}
        if letters:
            self._max_column = max(self._max_column, max(map(column_number, letters)))
        if digits:
            self._max_row = max(self._max_row, max(map(row_number, digits)))

    def finish(self) -> PartExtent:
        self._scan(self._chunks.rest())
        if self._cells:
            self.extent.reach(self._max_row + self._row_tags, self._max_column + self._cells)
        return self.extent


# --- plain XML replayed tag by tag --------------------------------------------------------------

_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*<\?xml[^<>]*\?>")
_TAG = re.compile(rb"<(/?)([A-Za-z_][A-Za-z0-9_.:-]*)((?:" + _ATTR + rb")*)" + _WS + rb"*(/?)>")
_ATTR_PARTS = re.compile(
    rb"([^\s=<>/\"']+)" + _WS + rb"*=" + _WS + rb"*(?:\"([^\"<]*)\"|'([^'<]*)')"
)


def _attributes(raw: bytes) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, double, single in _ATTR_PARTS.findall(raw):
        if name in found:
            raise MalformedXml(f"attribute {name.decode(errors='replace')} given twice")
        found[name] = double or single
    return found


def _local(name: bytes) -> bytes:
    """quick-xml's local name: what follows the first colon."""
    return name[name.find(b":") + 1 :]


class _Replay:
    """Plain XML as (closing, name, raw attributes, empty) tags, balanced and checked."""

    def __init__(self) -> None:
        self._chunks = _Chunks(strict=True)
        self._open: list[bytes] = []
        self._started = False

    def feed(self, chunk: bytes) -> None:
        data = self._chunks.cut(chunk)
        self.inspect(data)
        if not self._started:
            stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
            if not stripped:
                return
            self._started = True
            prolog = _PROLOG.match(data)
            if prolog is not None:
                data = data[prolog.end() :]
        tags = _TAG.findall(data)
        if len(tags) != data.count(b"<"):
            raise MalformedXml("comments, CDATA, declarations or a broken tag")
        for closing, name, raw, empty in tags:
            if closing:
                if raw or empty:
                    raise MalformedXml("a closing tag with attributes")
                if not self._open or self._open.pop() != name:
                    raise MalformedXml(f"unbalanced </{name.decode(errors='replace')}>")
                self.end(name)
            elif empty:
                self.empty(name, raw)
            else:
                if len(self._open) >= MAX_DEPTH:
                    raise MalformedXml("elements nested too deep")
                self._open.append(name)
                self.start(name, raw)

    def inspect(self, data: bytes) -> None:
        """Every piece of the part as it passes, before its tags are replayed."""

    def require_closed(self) -> None:
        """Refuse a part that ends inside a tag or an element (calamine's .ods reader loops
        for ever on some of those)."""
        rest = self._chunks.rest().strip(b" \t\r\n")
        if rest:
            raise MalformedXml("the part ends inside a tag")
        if self._open:
            raise MalformedXml(f"the part ends inside <{self._open[-1].decode(errors='replace')}>")

    def start(self, name: bytes, raw: bytes) -> None:
        raise NotImplementedError

    def end(self, name: bytes) -> None:
        raise NotImplementedError

    def empty(self, name: bytes, raw: bytes) -> None:
        """An element written `<x/>`."""


class XlsxReplay(_Replay):
    """A worksheet replayed as calamine's cell reader reads it (xlsx/cells_reader.rs)."""

    def __init__(self) -> None:
        super().__init__()
        self.extent = PartExtent()
        self._in_data = False
        self._done = False
        self._row = 0
        self._column = 0
        self._cell_depth = 0  # > 0 inside a <c>
        self._value: bytes | None = None  # the <v>/<f>/<is> being skipped, as calamine does
        self._value_depth = 0

    def inspect(self, data: bytes) -> None:
        _count_parts_of_interest(data, self.extent, prefixed=True)

    def start(self, name: bytes, raw: bytes) -> None:
        local = _local(name)
        if self._done:
            return
        if self._value is not None:
            if local in (b"c", b"row", b"sheetData", b"v", b"f", b"is"):
                raise MalformedXml(f"<{local.decode()}> inside a cell value")
            self._value_depth += 1
            return
        if self._cell_depth:
            if local not in (b"v", b"f", b"is"):
                raise MalformedXml(f"<{local.decode(errors='replace')}> inside a cell")
            self._value, self._value_depth = name, 1
            return
        if not self._in_data:
            self._in_data = local == b"sheetData"
            return
        if local == b"row":
            ref = _attributes(raw).get(b"r")
            if ref is not None:
                match = _REF.fullmatch(ref)
                if match is None or not match[2] or int(match[2][:13]) == 0:
                    raise MalformedXml(f"row reference {ref!r}")
                self._row = row_number(match[2])
        elif local == b"c":
            self.extent.reach(*self._place(raw))
            self._cell_depth = 1

    def _place(self, raw: bytes) -> tuple[int, int]:
        ref = _attributes(raw).get(b"r")
        if ref is None:
            return self._row, self._column
        place = parse_ref(ref)
        if place is None:
            raise MalformedXml(f"cell reference {ref!r}")
        self._column = place[1]
        return place

    def empty(self, name: bytes, raw: bytes) -> None:
        # calamine reads `<x/>` as <x></x> (expand_empty_elements), but a cell so written has
        # no value and is not kept: it only moves the column on.
        if self._in_data and not self._done and not self._cell_depth and _local(name) == b"c":
            self._place(raw)
            self._column += 1
            return
        self.start(name, raw)
        self.end(name)

    def end(self, name: bytes) -> None:
        if self._done:
            return
        local = _local(name)
        if self._value is not None:
            self._value_depth -= 1
            if self._value_depth == 0:
                self._value = None
            return
        if self._cell_depth:
            if local == b"c":
                self._cell_depth = 0
                self._column += 1
            return
        if not self._in_data:
            return
        if local == b"row":
            self._row += 1
            self._column = 0
        elif local == b"sheetData":
            self._done = True

    def finish(self) -> PartExtent:
        return self.extent


# --- .ods content.xml, replayed as calamine's ods.rs reads it -----------------------------------

_ODS_VALUES = (
    b"office:value",
    b"office:string-value",
    b"office:date-value",
    b"office:time-value",
    b"office:boolean-value",
    b"table:formula",
)
_CELLS = (b"table:table-cell", b"table:covered-table-cell")


def _repeats(attributes: dict[bytes, bytes], name: bytes) -> int:
    """A count attribute as calamine parses it (1 when absent)."""
    value = attributes.get(name)
    if value is None:
        return 1
    if not re.fullmatch(rb"\+?[0-9]+", value):
        raise MalformedXml(f"{name.decode()}={value!r}")
    digits = value.lstrip(b"+")
    return _HUGE if len(digits) > 12 else int(digits)


class OdsReplay(_Replay):
    """Each table's rows and cells with their repeats, capped as calamine caps them."""

    def __init__(self) -> None:
        super().__init__()
        self.extent = PartExtent()
        self._table: str | None = None
        self._table_rows = 0  # rows so far, repeats included and capped
        self._table_cells = 0  # cells calamine pushed for this table before trimming it
        self._sheet = PartExtent()
        self._row_repeats = 0
        self._in_row = False
        self._row_columns = 0  # cells calamine pushed for this row
        self._row_reach = 0  # last non-empty column + 1
        self._pending_empty = 0
        self._skip_depth = 0  # > 0 inside a cell's content, which calamine skips

    def _cell(self, raw: bytes, empty_element: bool) -> None:
        attributes = _attributes(raw)
        repeats = _repeats(attributes, b"table:number-columns-repeated")
        filled = not empty_element or any(key in attributes for key in _ODS_VALUES)
        capped_empty = min(self._pending_empty, EXCEL_COLUMNS - self._row_columns)
        self._row_columns += capped_empty
        self._pending_empty = 0
        capped = min(repeats, EXCEL_COLUMNS - self._row_columns)
        if filled:
            self._row_columns += capped
            if capped:
                self._row_reach = self._row_columns
        else:
            self._pending_empty = capped

    def _spaces(self, name: bytes, raw: bytes) -> None:
        if name == b"text:s":
            self.extent.spaces += _repeats(_attributes(raw), b"text:c")

    def start(self, name: bytes, raw: bytes) -> None:
        if self._skip_depth:
            self._skip_depth += 1
            self._spaces(name, raw)
            return
        if self._table is None:
            if name == b"table:table":
                table_name = _attributes(raw).get(b"table:name")
                if table_name is not None:
                    self._table = table_name.decode("utf-8", errors="replace")
                    self._table_rows = self._table_cells = 0
                    self._sheet = PartExtent()
            return
        if self._in_row:
            if name not in _CELLS:
                raise MalformedXml(f"<{name.decode(errors='replace')}> inside a table row")
            self._cell(raw, empty_element=False)
            self._skip_depth = 1
            return
        if name == b"table:table-row":
            self._begin_row(raw)

    def empty(self, name: bytes, raw: bytes) -> None:
        # calamine reads `<x/>` as <x></x> here (expand_empty_elements).
        if self._skip_depth:
            self._spaces(name, raw)
            return
        if self._table is None:
            return
        if self._in_row:
            if name not in _CELLS:
                raise MalformedXml(f"<{name.decode(errors='replace')}> inside a table row")
            self._cell(raw, empty_element=True)
        elif name == b"table:table-row":
            self._begin_row(raw)
            self._end_row()

    def _begin_row(self, raw: bytes) -> None:
        repeats = _repeats(_attributes(raw), b"table:number-rows-repeated")
        self._row_repeats = min(repeats, EXCEL_ROWS - self._table_rows)
        self._in_row = True
        self._row_columns = self._row_reach = self._pending_empty = 0

    def _end_row(self) -> None:
        self._in_row = False
        self.extent.cells += self._row_columns
        self._table_cells += self._row_columns
        if self._row_reach:
            # Rows past Excel's last (no repeats left) still hand calamine their cells.
            last = self._table_rows + max(self._row_repeats, 1) - 1
            self._sheet.reach(last, self._row_reach - 1)
        self._table_rows += self._row_repeats

    def end(self, name: bytes) -> None:
        if self._skip_depth:
            self._skip_depth -= 1
            return
        if self._table is None:
            return
        if self._in_row:
            if name == b"table:table-row":
                self._end_row()
            return
        if name == b"table:table":
            self.extent.sheets.append(
                (self._table, self._sheet.rows, self._sheet.columns, self._table_cells)
            )
            self._table = None

    def finish(self) -> PartExtent:
        self.require_closed()
        return self.extent
