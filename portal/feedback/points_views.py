"""服务点/窗口: the list, a point's form, its staff codes (一人一码), its QR key, and its posters."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _

from portal.core.forms import ConfirmForm
from portal.feedback import access, posters, points_bp, services
from portal.feedback.forms import ServicePointForm, StaffCodeForm
from portal.web.access import acting_user
from portal.web.downloads import send_download
from portal.web.htmx import redirect_to, render
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit

POSTER_SIZES = posters.SIZES


@points_bp.route("/")
def index():
    """The service points the reader looks after, with their kiosk links."""
    actor = acting_user()
    if not access.may_see_points(actor):
        abort(403)
    points = services.list_points(actor)
    return render("feedback/points/index.html", "feedback/points/_partials/_list.html", points=points,
                  kiosk_path=services.kiosk_path, can_create=access.may_manage_points(actor), sizes=POSTER_SIZES)


def _point_form(form: ServicePointForm) -> ServicePointForm:
    from portal.processes.services import selectable_processes

    form.department_id.choices = [("", _("— choose —"))] + services.all_department_choices()
    form.process_id.choices = [("", _("— none —"))] + [(p.id, p.label) for p in selectable_processes()]
    return form


def _fields(form: ServicePointForm) -> services.PointFields:
    return services.PointFields(code=form.code.data or "", name=form.name.data or "", location=form.location.data or "",
                                department_id=form.department_id.data, process_id=form.process_id.data,
                                opening_hours=form.opening_hours.data or "",
                                categories_text=form.categories_text.data or "", active=bool(form.active.data))


@points_bp.route("/new", methods=["GET", "POST"])
def new():
    actor = acting_user()
    if not access.may_manage_points(actor):
        abort(403)
    form = _point_form(ServicePointForm())
    point = submit(form, lambda: services.create_point(actor, _fields(form)))
    if point is not FAILED:
        flash(_("Service point %(code)s created. Print its poster below.", code=point.code), "success")
        return redirect_to(url_for("points.detail", point_id=point.id))
    return render("feedback/points/form.html", "feedback/points/_partials/_form.html", form=form, point=None,
                  action=url_for("points.new")), form_status(form)


def _detail(point, *, code_form: StaffCodeForm | None = None, status: int = 200):
    from portal.org.services import active_users

    actor = acting_user()
    code_form = code_form or StaffCodeForm()
    code_form.user_id.choices = [("", _("— choose —"))] + [(u.id, f"{u.display_name}（{u.username}）")
                                                          for u in active_users()]
    return render("feedback/points/detail.html", "feedback/points/_partials/_detail.html", point=point,
                  kiosk_url=services.kiosk_url(point), staff_url=lambda sc: services.kiosk_url(point, sc),
                  code_form=code_form, confirm=ConfirmForm(), can_edit=access.may_manage_points(actor),
                  can_rotate=access.may_rotate(actor), sizes=POSTER_SIZES), status


@points_bp.route("/<int:point_id>")
def detail(point_id: int):
    point = services.get_point(acting_user(), point_id)
    return _detail(point)


@points_bp.route("/<int:point_id>/edit", methods=["GET", "POST"])
def edit(point_id: int):
    actor = acting_user()
    point = services.get_point(actor, point_id)
    if not access.may_manage_points(actor):
        abort(403)
    form = _point_form(ServicePointForm(obj=point) if request.method == "GET" else ServicePointForm())
    form.code.data = point.code  # printed on posters: shown, never changed
    if submit(form, lambda: services.update_point(actor, point, _fields(form))) is not FAILED:
        flash(_("Saved."), "success")
        return redirect_to(url_for("points.detail", point_id=point.id))
    return render("feedback/points/form.html", "feedback/points/_partials/_form.html", form=form, point=point,
                  action=url_for("points.edit", point_id=point.id)), form_status(form)


@points_bp.route("/<int:point_id>/rotate", methods=["POST"])
def rotate(point_id: int):
    """A new QR key: every poster and desk plate printed before stops working (administrators only)."""
    actor = acting_user()
    point = services.get_point(actor, point_id)
    if ConfirmForm().validate_on_submit():
        flash_outcome(perform(lambda: services.rotate_point_key(actor, point)),
                      _("New QR key for %(code)s: print its posters again; the old ones no longer work.", code=point.code),
                      "warning")
    return redirect_to(url_for("points.detail", point_id=point.id))


@points_bp.route("/<int:point_id>/staff-codes", methods=["POST"])
def add_staff_code(point_id: int):
    actor = acting_user()
    point = services.get_point(actor, point_id)
    form = StaffCodeForm()
    form.user_id.choices = []
    staff_code = submit(form, lambda: services.add_staff_code(actor, point, form.user_id.data))
    if staff_code is not FAILED:
        flash(_("Staff code %(code)s created for %(name)s.", code=staff_code.code, name=staff_code.user.display_name),
              "success")
        return redirect_to(url_for("points.detail", point_id=point.id))
    return _detail(point, code_form=form, status=form_status(form))


@points_bp.route("/<int:point_id>/staff-codes/<int:staff_code_id>", methods=["POST"])
def toggle_staff_code(point_id: int, staff_code_id: int):
    actor = acting_user()
    point = services.get_point(actor, point_id)
    staff_code = services.get_staff_code(actor, point, staff_code_id)
    active = request.form.get("active") == "1"
    if ConfirmForm().validate_on_submit():
        flash_outcome(perform(lambda: services.set_staff_code_active(actor, staff_code, active)),
                      _("Staff code %(code)s is in use again.", code=staff_code.code) if active
                      else _("Staff code %(code)s retired: its desk plate no longer works.", code=staff_code.code))
    return redirect_to(url_for("points.detail", point_id=point.id))


def _printout(point_id: int, make):
    """Send ``make(point, staff_code)``, a ``(data, file name, ASCII file name, MIME type)`` download, for the
    point or its staff code (``?staff=id``) being printed. A refusal (a deactivated point, a retired staff
    code, a host without the PDF libraries) is flashed on the point's page."""
    from portal.web.htmx import arg_int

    actor = acting_user()
    point = services.get_point(actor, point_id)
    staff_code_id = arg_int("staff")
    outcome = perform(lambda: make(*services.printable(actor, point, staff_code_id)))
    if outcome.failed:
        flash(outcome.message, "danger")
        return redirect_to(url_for("points.detail", point_id=point.id))
    data, filename, ascii_filename, mimetype = outcome.value
    return send_download(data, filename, ascii_filename, mimetype=mimetype)


@points_bp.route("/<int:point_id>/poster-<size>.pdf")
def poster(point_id: int, size: str):
    """A printable poster (A4, A5) or desk plate of the point, or of one clerk's staff code (?staff=id)."""
    if size not in POSTER_SIZES:
        abort(404)

    def make(point, staff_code):
        item = posters.item_for(point, staff_code, services.kiosk_url(point, staff_code))
        return (posters.render_pdf([item], size), f"{item.code}-{posters.SIZE_NAMES[size]}.pdf",
                f"{item.code}-{size}.pdf", "application/pdf")

    return _printout(point_id, make)


@points_bp.route("/<int:point_id>/qr.svg")
def qr_svg(point_id: int):
    """The QR code alone, as SVG, for a designer's own poster (?staff=id: a clerk's staff code)."""

    def make(point, staff_code):
        code = staff_code.code if staff_code is not None else point.code
        svg = posters.qr_svg(services.kiosk_url(point, staff_code))
        return svg, f"{code}-二维码.svg", f"{code}-qr.svg", "image/svg+xml"

    return _printout(point_id, make)


@points_bp.route("/posters-<size>.pdf")
def all_posters(size: str):
    """Every active point the reader looks after, a page each, in one PDF for printing them all at once."""
    actor = acting_user()
    if size not in POSTER_SIZES:
        abort(404)
    if not access.may_see_points(actor):
        abort(403)
    items = [posters.item_for(p, None, services.kiosk_url(p)) for p in services.list_points(actor, include_inactive=False)]
    if not items:
        flash(_("There is no active service point to print."), "warning")
        return redirect_to(url_for("points.index"))
    outcome = perform(lambda: posters.render_pdf(items, size))
    if outcome.failed:
        flash(outcome.message, "danger")
        return redirect_to(url_for("points.index"))
    return send_download(outcome.value, f"服务点海报-{posters.SIZE_NAMES[size]}.pdf", f"posters-{size}.pdf",
                         mimetype="application/pdf")
