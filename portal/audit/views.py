"""The audit trail viewer and its .xlsx export (administrators and quality managers)."""
from __future__ import annotations

import io

from flask import request, send_file
from flask_login import current_user
from flask_babel import gettext as _

from portal.audit import bp, services
from portal.audit.present import present
from portal.core.i18n import local_datetime
from portal.core.uploads import keep_as_text
from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.web.access import require_roles
from portal.web.htmx import arg_int, render

bp.before_request(require_roles(ADMIN, QUALITY_MANAGER))

PER_PAGE = 50
EXPORT_LIMIT = 100_000
FILTER_KEYS = ("action", "actor", "object_type", "object_id", "start", "end")


def _filters() -> dict[str, str]:
    return {k: (request.args.get(k) or "").strip()[:64] for k in FILTER_KEYS}


@bp.route("/")
def index():
    """Audit events, newest first, with filters and keyset pagination (``before`` = an event id)."""
    filters = _filters()
    events = services.search_events(filters, before=arg_int("before"), limit=PER_PAGE + 1)
    has_more = len(events) > PER_PAGE
    events = events[:PER_PAGE]
    return render("audit/index.html", "audit/_partials/_events.html", events=present(events, current_user.roles),
                  filters=filters, has_more=has_more, next_before=events[-1].id if events else None,
                  actions=services.action_choices(), object_types=services.object_type_choices())


@bp.route("/export.xlsx")
def export():
    """The filtered events as an .xlsx workbook."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Audit trail"))
    header = [_("ID"), _("Time"), _("Actor"), _("Action"), _("Object type"), _("Object"), _("Details"), _("IP"), _("Hash")]
    sheet.append(header)
    for chunk in _chunks(services.export_events(_filters(), EXPORT_LIMIT), 500):
        for view in present(chunk):  # names resolved per chunk: a fixed number of queries per 500 rows
            event = view.event
            sheet.append([_cell(sheet, value) for value in (
                event.id, local_datetime(event.created_at, "yyyy-MM-dd HH:mm:ss"), event.actor_name, view.action,
                view.object_type, view.object_name, view.details_text, event.ip, event.hash,
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


def _chunks(rows, size: int):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
