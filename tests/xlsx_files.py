"""Workbooks built by hand (raw XML in a zip) for the upload-limit tests and bench/upload_bench.py.

openpyxl cannot write these quickly: one cell at column XFD on each of 20,000 rows is 327 million cells
to a writer that fills rows from column A.
"""
from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>'
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)
SST_TYPE = ('<Override PartName="/xl/sharedStrings.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
SST_REL = ('<Relationship Id="rId2" Target="sharedStrings.xml" '
           'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/></Relationships>')
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _cell(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'


def _column_letters(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def workbook(rows: list[list[str]], *, sheet: str = "Sheet1", extra_rows=(), dimension: str | None = None,
             shared: bool = False) -> bytes:
    """A one-sheet workbook: ``rows`` from A1 on, then ``extra_rows``, an iterable of ``(row, column, value)``
    (1-based, ascending rows after ``rows``). ``dimension`` is written as declared (None: no <dimension>).
    ``shared``: the strings of ``rows`` go to a shared-string table, as Excel writes them (openpyxl writes
    inline strings)."""
    table: dict[str, int] = {}

    def cell(ref: str, value: str) -> str:
        if not shared:
            return _cell(ref, value)
        return f'<c r="{ref}" t="s"><v>{table.setdefault(value, len(table))}</v></c>'

    parts = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{MAIN}">']
    if dimension:
        parts.append(f'<dimension ref="{dimension}"/>')
    parts.append("<sheetData>")
    for r, row in enumerate(rows, start=1):
        cells = "".join(cell(f"{_column_letters(c)}{r}", v) for c, v in enumerate(row, start=1) if v != "")
        parts.append(f'<row r="{r}">{cells}</row>')
    for r, c, value in extra_rows:
        parts.append(f'<row r="{r}">{_cell(f"{_column_letters(c)}{r}", value)}</row>')
    parts.append("</sheetData></worksheet>")
    book = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{MAIN}" xmlns:r="{REL}">'
            f'<sheets><sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES.replace("</Types>", SST_TYPE) if shared else CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", book)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.replace("</Relationships>", SST_REL) if shared
                         else WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", "".join(parts))
        if shared:
            archive.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">'
                             + "".join(f"<si><t>{escape(v)}</t></si>" for v in table) + "</sst>")
    return buffer.getvalue()


def xfd_workbook(header: list[str], *, sheet: str = "Sheet1", rows: int = 20000, declared: bool = True) -> bytes:
    """The reported file: a header row, then ``rows`` rows each with one cell at column XFD (16,384)."""
    extra = ((r, 16384, "x") for r in range(2, rows + 2))
    return workbook([header], sheet=sheet, extra_rows=extra,
                    dimension=f"A1:XFD{rows + 1}" if declared else None)


def zip_bomb(unpacked_mb: int = 200) -> bytes:
    """A valid-looking workbook whose sheet unpacks to ``unpacked_mb`` MB of blanks (a few hundred KB packed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
                                            f'<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'<worksheet xmlns="{MAIN}"><sheetData>'.encode())
            chunk = b" " * (1024 * 1024)
            for _ in range(unpacked_mb):
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def shared_strings_bomb(strings: int = 1_150_000) -> bytes:
    """A one-cell sheet whose shared-string table holds ``strings`` one-letter strings (19.5 MB unpacked at
    the default, 48 KB packed): openpyxl loads that table whole, one Python string each."""
    content_types = CONTENT_TYPES.replace("</Types>", SST_TYPE)
    rels = WORKBOOK_RELS.replace("</Relationships>", SST_REL)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
                                            f'<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", rels)
        archive.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">' + "<si><t>a</t></si>" * strings + "</sst>")
        archive.writestr("xl/worksheets/sheet1.xml", f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">'
                                                     '<c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>')
    return buffer.getvalue()
