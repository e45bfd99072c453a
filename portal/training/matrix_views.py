"""The training matrix (培训矩阵), its .xlsx export and a person's training record (个人培训档案) as a PDF.
Thin: parse, call portal.training.matrix, render."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, flash, request, stream_with_context, url_for
from flask_babel import pgettext

from portal.training import bp
from portal.training import matrix as services
from portal.web.access import acting_user
from portal.web.downloads import XLSX, send_download
from portal.web.htmx import arg_int, redirect_to, render
from portal.web.submit import perform


@bp.route("/matrix")
def matrix():
    """One department's grid: heads see their own, managers pick any department."""
    filters = services.MatrixFilters.parse(arg_int("position"), request.args.get("type"), request.args.get("status"))
    grid = services.build_matrix(acting_user(), arg_int("dept"), filters)
    return render("training/matrix/index.html", "training/matrix/_partials/_grid.html", matrix=grid,
                  labels=services.CELL_LABELS, marks=services.CELL_MARKS, classes=services.CELL_CLASSES)


@bp.route("/matrix/export.xlsx")
def matrix_export():
    """The whole company's matrix (managers) or the head's departments, streamed as it is made."""
    export = services.export_xlsx(acting_user(), arg_int("dept"))
    response = Response(stream_with_context(export.chunks), mimetype=XLSX)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{export.ascii_filename}"; filename*=UTF-8\'\'{quote(export.filename)}')
    return response


@bp.route("/people/<int:user_id>/record.pdf")
def record_pdf(user_id: int):
    """个人培训档案: every assignment and classroom session of one person."""
    outcome = perform(lambda: services.record_pdf(acting_user(), user_id))
    if outcome.failed:
        flash(outcome.message, "danger")
        return redirect_to(url_for("training.matrix"))
    person, data = outcome.value
    title = pgettext("training record", "Training record")
    return send_download(data, f"{person.display_name}-{title}.pdf", f"training-record-{person.id}.pdf",
                         "application/pdf")
