"""月度排名通报: the month's ranking of service points and departments (and, for their head and the quality
manager, clerks) as a page, and as a PDF for circulation. Thin: parse, call portal.triage.ranking, render."""
from __future__ import annotations

from flask import flash, request, url_for

from portal.triage import ranking as services
from portal.triage import ranking_bp as bp
from portal.web.access import acting_user
from portal.web.downloads import send_download
from portal.web.htmx import redirect_to, render
from portal.web.submit import perform


def _chosen():
    month, problem = services.parse_month(request.args.get("month"))
    sort = request.args.get("sort", services.CSAT)
    return month, problem, sort if sort in services.METRICS else services.CSAT


@bp.route("/")
def index():
    """The month's ranking (the last complete month unless one is chosen), ordered by the chosen metric."""
    month, problem, sort = _chosen()
    board = services.ranking(acting_user(), month, sort)
    return render("triage/ranking.html", "triage/_partials/_ranking.html", ranking=board, problem=problem)


@bp.route("/ranking.pdf")
def pdf():
    """The month's ranking of points and departments as a PDF (A4) for circulation."""
    month, problem, sort = _chosen()
    if problem:
        flash(problem, "danger")
        return redirect_to(url_for("ranking.index"))
    outcome = perform(lambda: services.ranking_pdf(acting_user(), month, sort))
    if outcome.failed:
        flash(outcome.message, "danger")
        return redirect_to(url_for("ranking.index", month=month.key, sort=sort))
    board, data = outcome.value
    name, ascii_name = services.pdf_filename(board)
    return send_download(data, name, ascii_name, "application/pdf")
