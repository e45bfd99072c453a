"""Spreadsheet uploads that are previewed before they are applied (roster import, matrix import).

The uploaded file is kept as a ``PendingImport`` so that what the administrator confirms is exactly
what was previewed, re-validated against the database at apply time; a second apply (double click,
retried request) finds the import applied and changes nothing.
"""
from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.errors import NotFound, ServiceError
from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class PendingImport(db.Model):
    __tablename__ = "pending_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), index=True)  # roster | raci
    filename: Mapped[str] = mapped_column(sa.String(255))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: pending | applied
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[dict] = mapped_column(sa.JSON, default=dict)


def keep_pending(actor, kind: str, filename: str, content: bytes) -> PendingImport:
    pending = PendingImport(kind=kind, filename=(filename or kind)[:255], content=content,
                            sha256=hashlib.sha256(content).hexdigest(), uploaded_by_id=actor.id)
    db.session.add(pending)
    db.session.flush()
    return pending


def get_pending(actor, kind: str, import_id: int, *, for_update: bool = False) -> PendingImport:
    """The actor's own pending import of this kind (404 for anyone else's)."""
    stmt = sa.select(PendingImport).where(PendingImport.id == import_id, PendingImport.kind == kind)
    if for_update:
        # populate_existing: a row read earlier in this transaction (unlocked) is read again, under the lock.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    pending = db.session.scalar(stmt)
    if pending is None or pending.uploaded_by_id != actor.id:
        raise NotFound()
    return pending


def mark_applied(pending: PendingImport, result: dict) -> None:
    pending.status, pending.applied_at, pending.result = "applied", utcnow(), result
    db.session.flush()


def invalid_xlsx() -> ServiceError:
    return ServiceError((None, _("The file is not a valid .xlsx spreadsheet.")))


#: Bounds on what an uploaded workbook may make the server do. A sheet is read as a stream of cells: at most
#: ``max_rows`` rows, ``max_columns`` columns holding a value, ``max_cells`` cells in all (empty ones too).
#: The zip is checked before it is opened: a few hundred KB can unpack to gigabytes (zip bombs), and
#: Python's zipfile never inflates a member beyond the size its directory declares. Worksheets are streamed
#: (their size costs time, not memory); the other parts (shared strings, styles) openpyxl loads whole:
#: 8 MB of one-letter shared strings is ~470,000 Python strings, some 45 MB.
MAX_COLUMNS = 256
MAX_CELLS = 500_000
MAX_SHEET_BYTES = 64 * 1024 * 1024
MAX_OTHER_PARTS_BYTES = 8 * 1024 * 1024
MAX_ZIP_MEMBERS = 500


def too_large(max_rows: int, max_columns: int) -> ServiceError:
    return ServiceError((None, _("The spreadsheet is too large: at most %(rows)d rows and %(columns)d columns.",
                                 rows=max_rows, columns=max_columns)))


def _too_large_unpacked(limit: int) -> ServiceError:
    return ServiceError((None, _("The spreadsheet is too large when unpacked (at most %(mb)d MB).",
                                 mb=limit // (1024 * 1024))))


def _check_zip(content: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise invalid_xlsx()
    if len(members) > MAX_ZIP_MEMBERS:
        raise invalid_xlsx()
    sheets = [m for m in members if m.filename.lower().startswith("xl/worksheets/") and m.filename.endswith(".xml")]
    if any(m.file_size > MAX_SHEET_BYTES for m in sheets):
        raise _too_large_unpacked(MAX_SHEET_BYTES)
    if sum(m.file_size for m in members if m not in sheets) > MAX_OTHER_PARTS_BYTES:
        raise _too_large_unpacked(MAX_OTHER_PARTS_BYTES)


def read_xlsx_rows(content: bytes, *, sheet: str | None = None, max_rows: int = 20000,
                   max_columns: int = MAX_COLUMNS, max_cells: int = MAX_CELLS) -> list[list[str]]:
    """The cells of one sheet (the first, or the one named ``sheet``) as stripped strings; each row as long
    as its last non-empty cell (rows may differ in length).

    Every way a file can fail to be a workbook — not a zip, broken XML inside, no sheets — gives the same
    clear error; a missing named sheet says which sheet was expected. A sheet beyond the bounds is refused
    as soon as that is known: from its declared dimensions, and, since those may lie or be missing, while
    streaming its cells (openpyxl's own row iteration pads every row to the widest one: one cell at column
    XFD on each of 20,000 rows made 327 million cells).
    """
    from openpyxl import load_workbook

    if not content:
        raise ServiceError((None, _("The file is empty.")))
    if content[:8] == XLS_MAGIC:
        raise ServiceError((None, _("Old .xls files are not supported. Save the file as .xlsx and upload it again.")))
    if content[:4] != XLSX_MAGIC:
        raise invalid_xlsx()
    _check_zip(content)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, SyntaxError):
        # SyntaxError covers xml.etree's ParseError: a zip whose XML parts are broken.
        raise invalid_xlsx()
    try:
        if sheet is not None:
            if sheet not in workbook.sheetnames:
                raise ServiceError((None, _("The workbook has no sheet named “%(sheet)s”. Export the matrix from the "
                                            "portal and edit that file.", sheet=sheet)))
            worksheet = workbook[sheet]
        else:
            worksheet = workbook.worksheets[0]
        # The header row comes on top of max_rows data rows.
        row_limit = max_rows + 1
        if (worksheet.max_row or 0) > row_limit or (worksheet.max_column or 0) > max_columns:
            raise too_large(max_rows, max_columns)
        with worksheet._get_source() as source:
            return _stream_rows(source, workbook, worksheet._shared_strings, row_limit, max_columns, max_cells,
                                lambda: too_large(max_rows, max_columns))
    except ServiceError:
        raise
    except (KeyError, IndexError, ValueError, TypeError, AttributeError, SyntaxError, OverflowError):
        # The sheet is parsed lazily (read-only mode): broken sheet XML surfaces while iterating.
        raise invalid_xlsx()
    finally:
        workbook.close()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _column_index(ref: str) -> int:
    """1 for "A7", 16384 for "XFD1"; 0 when the reference has no letters."""
    index = 0
    for ch in ref:
        if "A" <= ch <= "Z":
            index = index * 26 + ord(ch) - 64
        elif "a" <= ch <= "z":
            index = index * 26 + ord(ch) - 96
        else:
            break
        if index > 1_000_000:
            break
    return index


def _stream_rows(source, workbook, shared: list, row_limit: int, max_columns: int, max_cells: int,
                 too_big) -> list[list[str]]:
    """Read ``<sheetData>`` element by element, dropping each cell once read, so that memory follows the
    values kept, not the size of the XML (openpyxl's parser collects a whole ``<row>`` before yielding it)."""
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.datetime import from_excel

    date_styles = workbook._date_formats
    rows: list[list[str]] = []
    current: dict[int, str] = {}
    row_index = 0
    column = 0
    cells = 0
    parents = []  # the open elements, to detach each <c> and <row> from its parent once read

    for event, element in iterparse(source, events=("start", "end")):
        name = _local(element.tag)
        if event == "start":
            parents.append(element)
            if name == "row":
                r = element.get("r")
                row_index = int(r) if r and r.isascii() and r.isdigit() else row_index + 1
                if row_index > row_limit:
                    raise too_big()
                current, column = {}, 0
            continue
        parents.pop()
        if name == "c":
            cells += 1
            if cells > max_cells:
                raise too_big()
            ref = element.get("r")
            column = _column_index(ref) if ref else column + 1
            value = _cell_text(element, shared, date_styles, workbook.epoch, from_excel)
            if value:
                if column > max_columns:
                    raise too_big()
                current[column] = value
            if parents:
                parents[-1].remove(element)
        elif name == "row":
            if row_index > len(rows):
                rows.extend([] for _ in range(row_index - 1 - len(rows)))
                width = max(current, default=0)
                line = [""] * width
                for col, value in current.items():
                    line[col - 1] = value
                rows.append(line)
            if parents:
                parents[-1].remove(element)
    return rows


def _cell_text(element, shared, date_styles, epoch, from_excel) -> str:
    """A cell's value as openpyxl (data_only) would give it, as a stripped string."""
    kind = element.get("t", "n")
    raw = None
    inline = []
    for child in element:
        child_name = _local(child.tag)
        if child_name == "v":
            raw = child.text
        elif child_name == "is":
            inline = [t.text or "" for t in child.iter() if _local(t.tag) == "t"]
    if kind == "inlineStr":
        return "".join(inline).strip()
    if raw is None:
        return ""
    if kind == "s":
        value = shared[int(raw)]
    elif kind in ("str", "e"):
        value = raw
    elif kind == "b":
        value = bool(int(raw))
    else:
        value = float(raw) if any(ch in raw for ch in ".eE") else int(raw)
        style = element.get("s")
        if style and style.isdigit() and int(style) in date_styles:
            value = from_excel(value, epoch)
    return "" if value is None else str(value).strip()


def keep_as_text(cell):
    """Show a string cell as the text it is. openpyxl turns a string starting with "=" into a formula (and
    "#N/A" into an error value): text typed by users must never become a live formula in an export."""
    if isinstance(cell.value, str) and cell.data_type in ("f", "e"):
        cell.data_type = "s"
    return cell


def read_csv_rows(content: bytes, *, max_rows: int, require_delimiter: bool = False) -> list[list[str]]:
    """The rows of a .csv upload (UTF-8, or GB18030 as Excel on Chinese Windows saves it; the delimiter sniffed
    from , tab or ;), each cell stripped and trailing empty cells dropped, with a spreadsheet's bounds: a line
    of 16,000 separators is 16,000 cells. ``require_delimiter``: a file with none is not a table."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ServiceError((None, _("The file is neither a .xlsx spreadsheet nor a readable .csv file.")))
    if "\x00" in text or (require_delimiter and not any(ch in text for ch in ",\t;")):
        raise ServiceError((None, _("The file is neither a .xlsx spreadsheet nor a readable .csv file.")))
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows, cells = [], 0
    for row in csv.reader(io.StringIO(text), dialect):
        values = [cell.strip() for cell in row]
        while values and not values[-1]:
            values.pop()
        cells += len(row)
        if len(values) > MAX_COLUMNS or cells > MAX_CELLS or len(rows) >= max_rows + 1:
            raise too_large(max_rows, MAX_COLUMNS)
        rows.append(values)
    return rows
