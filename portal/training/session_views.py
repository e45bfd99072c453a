"""培训记录: the classroom sessions' pages (thin: parse, call a service, render)."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _

from portal.training import bp, sessions
from portal.training.session_forms import SessionForm, SignInForm, local_input
from portal.web.access import acting_user
from portal.web.downloads import send_download
from portal.web.htmx import arg_int, redirect_to, render, wants_partial
from portal.web.submit import FAILED, form_status, perform, submit

WHEN_CHOICES = ("", sessions.UPCOMING, sessions.PAST)


@bp.route("/sessions", endpoint="sessions")
def sessions_list():
    """培训记录: the sessions the user organises, trains, or is invited to."""
    actor = acting_user()
    when = request.args.get("when", "")
    filters = sessions.SessionFilters(department_id=arg_int("department") or None,
                                      when=when if when in WHEN_CHOICES else "",
                                      page=arg_int("page", 1, minimum=1, maximum=100_000) or 1)
    result = sessions.list_sessions(actor, filters)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render("training/sessions/index.html", "training/sessions/_partials/_list.html", result=result,
                  filters=filters, args=args, departments=sessions.list_departments(actor),
                  can_create=sessions.may_create(actor))


def _choices(form: SessionForm, actor) -> SessionForm:
    none = [("", _("— none —"))]
    form.trainer_id.choices = [("", _("— choose —"))] + [
        (u.id, f"{u.display_name}（{u.department.name if u.department else ''}）") for u in sessions.trainer_choices()]
    departments = [(d.id, d.name) for d in sessions.department_choices(actor)]
    form.department_id.choices = (none if sessions.organising_department_ids(actor) is None else []) + departments
    form.fill_department_id.choices = none + departments
    form.document_ids.choices = [(d.id, f"{d.code} {d.title}", {"translate": "no"})  # codes and titles are data
                                 for d in sessions.document_choices()]
    form.attendee_ids.choices = [(u.id, f"{u.display_name}（{u.department.name if u.department else ''}）")
                                 for u in sessions.invitable_users(actor)]
    return form


def _fields(form: SessionForm) -> sessions.SessionFields:
    return sessions.SessionFields(
        topic=form.topic.data or "", trainer_id=form.trainer_id.data, department_id=form.department_id.data,
        starts_at=getattr(form.starts_at, "parsed", None), ends_at=getattr(form.ends_at, "parsed", None),
        place=form.place.data or "", notes=form.notes.data or "", document_ids=form.document_ids.data or [],
        attendee_ids=form.attendee_ids.data or [], fill_department_id=form.fill_department_id.data)


@bp.route("/sessions/new", methods=["GET", "POST"])
def session_new():
    """Organise a session."""
    actor = acting_user()
    if not sessions.may_create(actor):
        abort(403)
    form = SessionForm()
    if request.method == "GET":
        form.request_key.data = sessions.new_request_key()
        headed = sessions.organising_department_ids(actor)
        if headed:
            form.department_id.data = headed[0]
    _choices(form, actor)
    created = submit(form, lambda: sessions.create_session(actor, _fields(form), request_key=form.request_key.data))
    if created is not FAILED:
        flash(_("Session saved. The trainer signs the attendees in on this page."), "success")
        return redirect_to(url_for("training.session_detail", session_id=created.id))
    return render("training/sessions/form.html", "training/sessions/_partials/_form.html", form=form, session=None,
                  action=url_for("training.session_new")), form_status(form)


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
def session_edit(session_id: int):
    actor = acting_user()
    session = sessions.get_session(actor, session_id)
    if not sessions.may_organise(actor, session):
        abort(403)
    if request.method == "GET":
        current = sessions.fields_of(session)
        form = SessionForm(data=dict(topic=current.topic, trainer_id=current.trainer_id,
                                     department_id=current.department_id, starts_at=local_input(current.starts_at),
                                     ends_at=local_input(current.ends_at), place=current.place, notes=current.notes,
                                     document_ids=current.document_ids, attendee_ids=current.attendee_ids))
    else:
        form = SessionForm()
    _choices(form, actor)
    if submit(form, lambda: sessions.update_session(actor, session_id, _fields(form))) is not FAILED:
        flash(_("Saved."), "success")
        return redirect_to(url_for("training.session_detail", session_id=session_id))
    return render("training/sessions/form.html", "training/sessions/_partials/_form.html", form=form, session=session,
                  action=url_for("training.session_edit", session_id=session_id)), form_status(form)


def _detail(session_id: int, sign_form: SignInForm | None = None, status: int = 200):
    actor = acting_user()
    session = sessions.get_session(actor, session_id)
    rows = sessions.attendee_rows(session)
    is_trainer = session.trainer_id == actor.id
    if is_trainer and sign_form is None:
        sign_form = SignInForm()
    return render("training/sessions/detail.html", "training/sessions/_partials/_attendance.html", session=session,
                  rows=rows, sign_form=sign_form if is_trainer else None, is_trainer=is_trainer,
                  pending=[r for r in rows if r.attendee.attended_at is None], started=sessions.has_started(session),
                  can_organise=sessions.may_organise(actor, session),
                  can_print=is_trainer or sessions.may_organise(actor, session)), status


@bp.route("/sessions/<int:session_id>")
def session_detail(session_id: int):
    return _detail(session_id)


@bp.route("/sessions/<int:session_id>/sign", methods=["POST"])
def session_sign(session_id: int):
    """The trainer signs the ticked attendees in (one password entry)."""
    actor = acting_user()
    sessions.get_session(actor, session_id)
    form = SignInForm()
    result = submit(form, lambda: sessions.sign_attendees(actor, session_id, form.attendees.data or [],
                                                          form.password.data or ""))
    if result is FAILED:
        return _detail(session_id, form, form_status(form))
    if result.signed:
        flash(_("%(n)d people signed in; %(m)d trainings completed.", n=len(result.signed), m=result.completed),
              "success")
    else:
        flash(_("They were already signed in: nothing changed."), "info")
    if not wants_partial():
        return redirect_to(url_for("training.session_detail", session_id=session_id))
    return _detail(session_id, SignInForm())


@bp.route("/sessions/<int:session_id>/attendance.pdf")
def session_attendance(session_id: int):
    """签到表: the attendance sheet to sign on paper."""
    actor = acting_user()
    session = sessions.get_session(actor, session_id)
    outcome = perform(lambda: sessions.attendance_pdf(actor, session_id))
    if outcome.failed:
        flash(outcome.message, "danger")
        return redirect_to(url_for("training.session_detail", session_id=session_id))
    name, ascii_name = sessions.attendance_filename(session)
    return send_download(outcome.value, name, ascii_name, "application/pdf")
