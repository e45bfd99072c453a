"""上岗资格 pages: the landing page, qualification types (managers), a department's position × person view, a
person's certificates (add, edit, withdraw, the scan). Views parse, call a service and render."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _

from portal.core.forms import ConfirmForm
from portal.org.services import position_choices
from portal.training import bp
from portal.training import qualifications as services
from portal.training.qualification_forms import CertificateForm, QualificationTypeForm, RevokeForm
from portal.training.services import new_request_key
from portal.web.access import acting_user
from portal.web.downloads import send_download
from portal.web.htmx import redirect_to, render
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit


@bp.route("/qualifications")
def qualifications():
    """My qualifications, and the departments I look after."""
    actor = acting_user()
    return render("training/qualifications/index.html", "training/qualifications/_partials/_overview.html",
                  view=services.overview(actor))


# -- qualification types --------------------------------------------------------------------------
def _manager_only():
    actor = acting_user()
    if not services.may_manage_types(actor):
        abort(403)
    return actor


@bp.route("/qualifications/types")
def qualification_types():
    _manager_only()
    return render("training/qualifications/types.html", "training/qualifications/_partials/_types.html",
                  types=services.list_types(), confirm=ConfirmForm())


def _type_form(form: QualificationTypeForm) -> QualificationTypeForm:
    form.position_ids.choices = position_choices()
    return form


def _type_fields(form: QualificationTypeForm) -> services.TypeFields:
    return services.TypeFields(name=form.name.data or "", validity_months=form.validity_months.data,
                               description=form.description.data or "",
                               position_ids=[i for i in (form.position_ids.data or []) if i])


def _type_page(form, qualification_type, action: str):
    return render("training/qualifications/type_form.html", "training/qualifications/_partials/_type_form.html",
                  form=form, qualification_type=qualification_type, action=action), form_status(form)


@bp.route("/qualifications/types/new", methods=["GET", "POST"])
def qualification_type_new():
    actor = _manager_only()
    form = _type_form(QualificationTypeForm())
    created = submit(form, lambda: services.create_type(actor, _type_fields(form)))
    if created is not FAILED:
        flash(_("Qualification type %(name)s created.", name=created.name), "success")
        return redirect_to(url_for("training.qualification_types"))
    return _type_page(form, None, url_for("training.qualification_type_new"))


@bp.route("/qualifications/types/<int:type_id>", methods=["GET", "POST"])
def qualification_type_edit(type_id: int):
    actor = acting_user()
    qualification_type = services.get_type(actor, type_id)
    if request.method == "GET":
        form = QualificationTypeForm(obj=qualification_type)
        form.position_ids.data = [p.id for p in qualification_type.positions]
    else:
        form = QualificationTypeForm()
    _type_form(form)
    if submit(form, lambda: services.update_type(actor, qualification_type, _type_fields(form))) is not FAILED:
        flash(_("Saved."), "success")
        return redirect_to(url_for("training.qualification_types"))
    return _type_page(form, qualification_type, url_for("training.qualification_type_edit", type_id=type_id))


@bp.route("/qualifications/types/<int:type_id>/active", methods=["POST"])
def qualification_type_active(type_id: int):
    actor = acting_user()
    qualification_type = services.get_type(actor, type_id)
    active = request.form.get("active") == "1"
    if ConfirmForm().validate_on_submit():
        flash_outcome(perform(lambda: services.set_type_active(actor, qualification_type, active)),
                      _("%(name)s is in use again.", name=qualification_type.name) if active
                      else _("%(name)s deactivated: it is required of nobody now.", name=qualification_type.name))
    return redirect_to(url_for("training.qualification_types"))


# -- a department's position × person view --------------------------------------------------------
@bp.route("/qualifications/department/<int:department_id>")
def qualification_department(department_id: int):
    grid = services.department_grid(acting_user(), department_id)
    return render("training/qualifications/department.html", "training/qualifications/_partials/_grid.html",
                  grid=grid)


# -- a person's certificates ----------------------------------------------------------------------
@bp.route("/qualifications/people/<int:user_id>")
def qualification_person(user_id: int):
    view = services.person_view(acting_user(), user_id)
    return render("training/qualifications/person.html", "training/qualifications/_partials/_person.html",
                  view=view, revoke_form=RevokeForm())


def _certificate_form(form: CertificateForm, current_type=None) -> CertificateForm:
    choices = services.type_choices()
    if current_type is not None and current_type.id not in {i for i, _n in choices}:
        choices.append((current_type.id, current_type.name))
    form.type_id.choices = [("", _("— choose —"))] + choices
    return form


def _certificate_fields(form: CertificateForm) -> services.CertificateFields:
    return services.CertificateFields(type_id=form.type_id.data, number=form.number.data or "",
                                      issuer=form.issuer.data or "",
                                      issued_on=getattr(form.issued_on, "parsed", None),
                                      expires_on=getattr(form.expires_on, "parsed", None))


def _upload(form: CertificateForm) -> tuple[str, bytes] | None:
    data = form.scan.data
    if request.method == "POST" and data is not None and getattr(data, "filename", ""):
        return data.filename, data.read()
    return None


def _certificate_page(form, person, certificate, action: str):
    return render("training/qualifications/certificate_form.html",
                  "training/qualifications/_partials/_certificate_form.html", form=form, person=person,
                  certificate=certificate, action=action, max_mb=services.max_scan_bytes() // (1024 * 1024)), \
        form_status(form)


@bp.route("/qualifications/people/<int:user_id>/new", methods=["GET", "POST"])
def qualification_certificate_new(user_id: int):
    actor = acting_user()
    person = services.get_person(actor, user_id)
    if not services.may_edit_certificates_of(actor, person):
        abort(403)
    form = _certificate_form(CertificateForm())
    if request.method == "GET":
        form.request_key.data = new_request_key()
    created = submit(form, lambda: services.add_certificate(actor, person.id, _certificate_fields(form),
                                                            upload=_upload(form),
                                                            request_key=form.request_key.data or ""))
    if created is not FAILED:
        flash(_("Certificate %(number)s recorded.", number=created.number), "success")
        return redirect_to(url_for("training.qualification_person", user_id=person.id))
    return _certificate_page(form, person, None, url_for("training.qualification_certificate_new", user_id=user_id))


@bp.route("/qualifications/certificates/<int:certificate_id>/edit", methods=["GET", "POST"])
def qualification_certificate_edit(certificate_id: int):
    actor = acting_user()
    certificate = services.get_certificate(actor, certificate_id)
    if not services.may_edit_certificates_of(actor, certificate.user) or certificate.revoked_at is not None:
        abort(403)
    if request.method == "GET":
        form = CertificateForm(obj=certificate)
        form.issued_on.data = certificate.issued_on.isoformat()
        form.expires_on.data = certificate.expires_on.isoformat() if certificate.expires_on else ""
    else:
        form = CertificateForm()
    _certificate_form(form, certificate.type)
    if submit(form, lambda: services.update_certificate(actor, certificate, _certificate_fields(form),
                                                        upload=_upload(form))) is not FAILED:
        flash(_("Saved."), "success")
        return redirect_to(url_for("training.qualification_person", user_id=certificate.user_id))
    return _certificate_page(form, certificate.user, certificate,
                             url_for("training.qualification_certificate_edit", certificate_id=certificate_id))


@bp.route("/qualifications/certificates/<int:certificate_id>/revoke", methods=["POST"])
def qualification_certificate_revoke(certificate_id: int):
    actor = acting_user()
    certificate = services.get_certificate(actor, certificate_id)
    form = RevokeForm()
    if submit(form, lambda: services.revoke_certificate(actor, certificate, form.reason.data or "")) is not FAILED:
        flash(_("Certificate %(number)s withdrawn.", number=certificate.number), "warning")
    else:
        for message in [*form.reason.errors, *form.form_errors] or [_("Give the reason for withdrawing the certificate.")]:
            flash(message, "danger")
    return redirect_to(url_for("training.qualification_person", user_id=certificate.user_id))


@bp.route("/qualifications/certificates/<int:certificate_id>/scan")
def qualification_scan(certificate_id: int):
    """The certificate's scan, to those who may see the certificate only."""
    certificate, data = services.scan_of(acting_user(), certificate_id)
    extension = "pdf" if certificate.scan_mime_type == "application/pdf" else \
        "png" if certificate.scan_mime_type == "image/png" else "jpg"
    return send_download(data, certificate.scan_display_name or f"certificate.{extension}",
                         f"certificate-{certificate.id}.{extension}", certificate.scan_mime_type)
