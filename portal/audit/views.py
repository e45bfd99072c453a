"""The audit trail viewer and its .xlsx export (administrators and quality managers)."""
from __future__ import annotations

import io
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import request, send_file
from flask_babel import gettext as _

from portal.audit import bp
from portal.audit.models import AuditEvent
from portal.core.i18n import local_datetime, portal_tz
from portal.core.uploads import keep_as_text
from portal.extensions import db
from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.web.access import require_roles
from portal.web.htmx import arg_int, render

bp.before_request(require_roles(ADMIN, QUALITY_MANAGER))

PER_PAGE = 50
EXPORT_LIMIT = 100_000


def _parse_day(value: str | None):
    try:
        return datetime.strptime(value, "%Y-%m-%d").date() if value else None
    except ValueError:
        return None


def _filtered():
    """The audit query for the request's filters; returns (select, filters dict)."""
    args = request.args
    filters = {k: (args.get(k) or "").strip()[:64] for k in ("action", "actor", "object_type", "object_id", "start", "end")}
    stmt = sa.select(AuditEvent)
    if filters["action"]:
        stmt = stmt.where(AuditEvent.action.startswith(filters["action"], autoescape=True))
    if filters["actor"]:
        stmt = stmt.where(AuditEvent.actor_name.contains(filters["actor"], autoescape=True))
    if filters["object_type"]:
        stmt = stmt.where(AuditEvent.object_type == filters["object_type"])
    if filters["object_id"]:
        stmt = stmt.where(AuditEvent.object_id == filters["object_id"])
    tz = portal_tz()
    start, end = _parse_day(filters["start"]), _parse_day(filters["end"])
    if start:
        stmt = stmt.where(AuditEvent.created_at >= datetime.combine(start, time.min, tz))
    if end:
        stmt = stmt.where(AuditEvent.created_at < datetime.combine(end + timedelta(days=1), time.min, tz))
    return stmt, filters


@bp.route("/")
def index():
    """Audit events, newest first, with filters and keyset pagination (``before`` = an event id)."""
    stmt, filters = _filtered()
    before = arg_int("before")
    if before:
        stmt = stmt.where(AuditEvent.id < before)
    events = db.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(PER_PAGE + 1)).all()
    has_more = len(events) > PER_PAGE
    events = events[:PER_PAGE]
    actions = db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    return render("audit/index.html", "audit/_partials/_events.html", events=events, filters=filters,
                  has_more=has_more, next_before=events[-1].id if events else None, actions=actions)


@bp.route("/export.xlsx")
def export():
    """The filtered events as an .xlsx workbook."""
    from openpyxl import Workbook

    stmt, _unused = _filtered()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Audit trail"))
    header = [_("ID"), _("Time"), _("Actor"), _("Action"), _("Object type"), _("Object ID"), _("Details"), _("IP"), _("Hash")]
    sheet.append(header)
    for event in db.session.scalars(stmt.order_by(AuditEvent.id).limit(EXPORT_LIMIT)).yield_per(1000):
        sheet.append([_cell(sheet, value) for value in (
            event.id, local_datetime(event.created_at, "yyyy-MM-dd HH:mm:ss"), event.actor_name, event.action,
            event.object_type, event.object_id, _summary_text(event.summary), event.ip, event.hash,
        )])
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return send_file(buffer, as_attachment=True, download_name="audit-trail.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _cell(sheet, value):
    """A cell showing ``value`` as it is. openpyxl turns a string starting with "=" into a formula (and "#N/A"
    into an error): text typed by anyone, e.g. a username at the login form, must never become a live formula."""
    from openpyxl.cell import WriteOnlyCell

    return keep_as_text(WriteOnlyCell(sheet, value=value))


@bp.app_template_filter("audit_json")
def _audit_json(value) -> str:
    """A summary value as readable JSON (Chinese stays Chinese; ``tojson`` would show \\uXXXX escapes).
    Returns plain text, so Jinja's autoescaping applies."""
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _summary_text(summary: dict) -> str:
    import json

    return json.dumps(summary or {}, ensure_ascii=False, sort_keys=True)
