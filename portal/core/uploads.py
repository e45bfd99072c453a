"""Spreadsheet uploads that are previewed before they are applied (roster import, matrix import).

The uploaded file is kept as a ``PendingImport`` so that what the administrator confirms is exactly
what was previewed, re-validated against the database at apply time; a second apply (double click,
retried request) finds the import applied and changes nothing.
"""
from __future__ import annotations

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
        stmt = stmt.with_for_update()
    pending = db.session.scalar(stmt)
    if pending is None or pending.uploaded_by_id != actor.id:
        raise NotFound()
    return pending


def mark_applied(pending: PendingImport, result: dict) -> None:
    pending.status, pending.applied_at, pending.result = "applied", utcnow(), result
    db.session.flush()


def invalid_xlsx() -> ServiceError:
    return ServiceError((None, _("The file is not a valid .xlsx spreadsheet.")))


def read_xlsx_rows(content: bytes, *, sheet: str | None = None, max_rows: int = 20000) -> list[list[str]]:
    """The cells of one sheet (the first, or the one named ``sheet``) as stripped strings.

    Every way a file can fail to be a workbook — not a zip, broken XML inside, no sheets — gives the same
    clear error; a missing named sheet says which sheet was expected.
    """
    from openpyxl import load_workbook

    if not content:
        raise ServiceError((None, _("The file is empty.")))
    if content[:8] == XLS_MAGIC:
        raise ServiceError((None, _("Old .xls files are not supported. Save the file as .xlsx and upload it again.")))
    if content[:4] != XLSX_MAGIC:
        raise invalid_xlsx()
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
        rows = []
        for row in worksheet.iter_rows(values_only=True):
            rows.append(["" if v is None else str(v).strip() for v in row])
            if len(rows) > max_rows + 1:
                raise ServiceError((None, _("The file has more than %(n)d rows.", n=max_rows)))
        return rows
    except ServiceError:
        raise
    except (KeyError, IndexError, ValueError, TypeError, AttributeError, SyntaxError):
        # The sheet is parsed lazily (read-only mode): broken sheet XML surfaces while iterating.
        raise invalid_xlsx()
    finally:
        workbook.close()


def keep_as_text(cell):
    """Show a string cell as the text it is. openpyxl turns a string starting with "=" into a formula (and
    "#N/A" into an error value): text typed by users must never become a live formula in an export."""
    if isinstance(cell.value, str) and cell.data_type in ("f", "e"):
        cell.data_type = "s"
    return cell
