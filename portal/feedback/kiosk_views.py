"""The customers' pages, without login: the kiosk form at ``/k/<code>/<sig>`` and the 查询码 page at
``/q/<code>``. They work as plain HTML forms without JavaScript; htmx (and, on tablets, static/js/kiosk.js)
only improve them. Every refusal is a page of its own in Chinese (``templates/feedback/kiosk/error.html``)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import abort, current_app, make_response, render_template, request, url_for
from flask_babel import gettext as _

from portal.extensions import limiter
from portal.feedback import codes, kiosk_bp, services
from portal.feedback.forms import KioskForm, QueryLookupForm, ResolutionRatingForm
from portal.feedback.models import RATING_LABELS, RATINGS, SPAM_HONEYPOT, SPAM_STALE_FORM, STATUS_LABELS, TABLET, KIOSK
from portal.core.net import client_ip
from portal.web.access import public
from portal.web.htmx import redirect_to, render, wants_partial
from portal.web.ratelimit import limits_reads
from portal.web.submit import FAILED, submit

#: Spare form tokens a tablet keeps, for ratings given while its network is down.
SPARE_TOKENS = 10


def _ip_key() -> str:
    return "kiosk-ip:" + client_ip()


def _point_key() -> str:
    return "kiosk-point:" + str((request.view_args or {}).get("code", ""))[:24].upper()


def _lookup_key() -> str:
    return "query-miss:" + client_ip()


def _mode() -> dict:
    return {"tablet": request.args.get("kiosk") == "1", "large": request.args.get("large") == "1"}


def _mode_args(mode: dict) -> dict:
    return {k: "1" for k, on in (("kiosk", mode["tablet"]), ("large", mode["large"])) if on}


def _large_arg(mode: dict) -> dict:
    """Large text follows the customer from the form to the 查询码 pages."""
    return {"large": "1"} if mode["large"] else {}


def _form_context(point, staff_code, form: KioskForm, mode: dict, code: str, sig: str) -> dict:
    spare = [codes.issue_form_token(code) for _ in range(SPARE_TOKENS)] if mode["tablet"] else []
    return dict(point=point, staff_code=staff_code, form=form, mode=mode, ratings=RATINGS, rating_labels=RATING_LABELS,
                action=url_for("kiosk.form", code=code, sig=sig, **_mode_args(mode)), spare_tokens=spare,
                purpose=services.consent_purpose(), reset_seconds=current_app.config["PORTAL_KIOSK_RESET_SECONDS"],
                large_url=url_for("kiosk.form", code=code, sig=sig, **_mode_args(mode | {"large": not mode["large"]})))


def _rated_at(form: KioskForm, issued: datetime) -> datetime | None:
    """When an offline tablet says the rating was given: kept only between the form's issue and now."""
    text = (form.rated_at.data or "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 14):  # milliseconds: 13 digits until 2286
        return None
    millis = int(text)
    moment = datetime.fromtimestamp(millis / 1000, timezone.utc)
    now = datetime.now(timezone.utc)
    return moment if issued - timedelta(minutes=5) <= moment <= now + timedelta(minutes=1) else None


def _read_token(form: KioskForm, code: str):
    max_age = current_app.config["PORTAL_KIOSK_FORM_MAX_AGE_HOURS"] * 3600
    try:
        return codes.read_form_token(form.form_token.data or "", code, max_age)
    except codes.BadFormToken:
        abort(400, description="form-token")


@kiosk_bp.after_request
def _never_cached(response):
    """A kiosk page carries a one-time form token, a thank-you page a 查询码: no browser or proxy may keep a copy
    (two customers behind one caching proxy would share a token, and the second rating would be lost as a
    replay of the first)."""
    response.headers["Cache-Control"] = "no-store"
    return response


@kiosk_bp.route("/k/<code>/<sig>", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["PORTAL_KIOSK_LIMIT_IP"], key_func=_ip_key, methods=["POST"])
@limiter.limit(lambda: current_app.config["PORTAL_KIOSK_LIMIT_POINT"], key_func=_point_key, methods=["POST"])
def form(code: str, sig: str):
    """The kiosk form of a service point (or of a clerk's staff code): rate, optionally say more, send."""
    point, staff_code = services.resolve_kiosk(code, sig)  # NotFound: a 404 page
    code = staff_code.code if staff_code is not None else point.code
    mode = _mode()
    form = KioskForm()
    form.categories.choices = [(c, c) for c in point.categories]
    if request.method == "GET":
        form.form_token.data = codes.issue_form_token(code)
    else:
        nonce, issued, stale = _read_token(form, code)
        reasons = tuple(r for r, hit in ((SPAM_HONEYPOT, bool((form.website.data or "").strip())),
                                         (SPAM_STALE_FORM, stale)) if hit)
        intake = services.Intake(channel=TABLET if mode["tablet"] else KIOSK, idempotency_key="kiosk:" + nonce,
                                 point=point, staff_code=staff_code, source_ip=client_ip(),
                                 rated_at=_rated_at(form, issued), spam_reasons=reasons)
        received = submit(form, lambda: services.receive(services.Submission(
            rating=form.rating.data, nps=form.nps.data, categories=form.categories.data or [],
            comment=form.comment.data or "", contact=form.contact.data or "", consent=bool(form.consent.data)), intake))
        if received is not FAILED:
            return render("feedback/kiosk/thanks.html", "feedback/kiosk/_partials/_thanks.html", point=point,
                          mode=mode, query_code=codes.display_query_code(received.query_code),
                          query_url=url_for("kiosk.query", code=received.query_code, **_large_arg(mode)),
                          again_url=url_for("kiosk.form", code=code, sig=sig, **_mode_args(mode)),
                          reset_seconds=current_app.config["PORTAL_KIOSK_RESET_SECONDS"])
    status = 422 if form.errors or form.form_errors else 200
    return render("feedback/kiosk/form.html", "feedback/kiosk/_partials/_form.html",
                  **_form_context(point, staff_code, form, mode, code, sig)), status


# -- 查询码 -----------------------------------------------------------------------------------------------
@kiosk_bp.route("/q", methods=["GET", "POST"])
@public
def lookup():
    """Type a 查询码 to see what became of one's feedback."""
    form = QueryLookupForm()
    if form.validate_on_submit():
        code = codes.normalize_query_code(form.code.data)
        if code is not None:
            return redirect_to(url_for("kiosk.query", code=code, **_large_arg(_mode())))
        form.code.errors = list(form.code.errors) + [_("A follow-up code is 8 letters and digits, e.g. ABCD-2345.")]
    status = 422 if form.errors else 200
    return render("feedback/kiosk/lookup.html", "feedback/kiosk/_partials/_lookup.html", form=form,
                  mode=_mode()), status


def _query_context(feedback, code: str, form: ResolutionRatingForm | None = None) -> dict:
    point = feedback.service_point
    return dict(feedback=feedback, code=codes.display_query_code(code), raw_code=code,
                where=point.name if point is not None else (feedback.department.name if feedback.department else ""),
                status_label=STATUS_LABELS.get(feedback.status, feedback.status), mode=_mode(),
                rating_labels=RATING_LABELS, ratings=RATINGS,
                form=form or ResolutionRatingForm(),
                can_rate=feedback.resolved_at is not None and feedback.resolution_rating is None)


def _find(code: str):
    feedback = services.find_by_query_code(code)
    if feedback is None:
        abort(404, description="query-code")
    return feedback


@kiosk_bp.route("/q/<code>")
@public
@limits_reads
@limiter.limit(lambda: current_app.config["PORTAL_QUERY_LOOKUP_LIMIT"], key_func=_lookup_key,
               deduct_when=lambda response: response.status_code == 404)
def query(code: str):
    """The status of one's feedback and the department's reply: no personal data."""
    feedback = _find(code)
    return render("feedback/kiosk/query.html", "feedback/kiosk/_partials/_query.html",
                  **_query_context(feedback, codes.normalize_query_code(code)))


@kiosk_bp.route("/q/<code>/rate", methods=["POST"])
@public
@limiter.limit(lambda: current_app.config["PORTAL_QUERY_LOOKUP_LIMIT"], key_func=_lookup_key,
               deduct_when=lambda response: response.status_code == 404)
def rate(code: str):
    """The customer rates how their feedback was handled (once it is resolved)."""
    feedback = _find(code)
    form = ResolutionRatingForm()
    result = submit(form, lambda: services.rate_resolution(feedback, form.rating.data))
    if result is not FAILED:
        return redirect_to(url_for("kiosk.query", code=codes.normalize_query_code(code)))
    return render("feedback/kiosk/query.html", "feedback/kiosk/_partials/_query.html",
                  **_query_context(feedback, codes.normalize_query_code(code), form)), 422


# -- refusals ---------------------------------------------------------------------------------------------
def _error_message(status: int, message: str) -> str:
    endpoint = request.endpoint or ""
    if status == 404 and endpoint in ("kiosk.query", "kiosk.rate"):
        return _("No feedback has this follow-up code. Check the code (8 letters and digits) and try again.")
    if status == 404:
        return _("This QR code is not valid, or is no longer in use. Please ask the staff for a current one.")
    if status == 400:
        return _("This form has expired. Please scan the QR code again, or reload the page.")
    if status == 429:
        return _("Too many ratings were sent from here just now. Please wait a few minutes and try again.")
    if status == 413:
        return _("What you sent is too long. Please shorten the comment and try again.")
    if status == 503:
        return _("Sorry, the service is briefly unavailable and nothing was saved. Please try again in a moment.")
    return message


def render_kiosk_error(status: int, message: str):
    """Every refusal of a customer's page, as a page in the kiosk's own style (no portal navigation)."""
    context = dict(status=status, message=_error_message(status, message), mode=_mode())
    template = "feedback/kiosk/_partials/_error.html" if wants_partial() else "feedback/kiosk/error.html"
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response
