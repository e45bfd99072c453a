"""Organisation administration: users, departments, positions, roster import. Admins only."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _

from portal.org import bp, roster, services
from portal.core.forms import ConfirmForm
from portal.org.forms import DepartmentForm, PositionForm, RosterUploadForm, UserForm
from portal.core.roles import ADMIN, EMPLOYEE
from portal.web.access import acting_user, require_roles
from portal.web.htmx import arg_int, redirect_to, render, wants_partial
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit
from portal.web.imports import apply_upload, preview_upload

bp.before_request(require_roles(ADMIN))

PER_PAGE = 50



def _department_choices(blank_label: str) -> list[tuple[int, str]]:
    return [(0, blank_label)] + [
        (d.id, "\u3000" * depth + d.name + ("" if d.active else _(" (deactivated)")))
        for d, depth in services.department_tree()
    ]


def _position_choices(department_id: int | None) -> list[tuple[int, str]]:
    choices = [(0, _("— none —"))]
    if department_id:
        choices += [(p.id, p.name) for p in services.active_positions(department_id)]
    return choices


def _user_choices() -> list[tuple[int, str]]:
    return [(0, _("— none —"))] + [(u.id, f"{u.display_name}（{u.username}）") for u in services.active_users()]


def _prepare_user_form(form: UserForm) -> UserForm:
    form.department_id.choices = _department_choices(_("— none —"))
    form.position_id.choices = _position_choices(form.department_id.data)
    return form


def _user_data(form: UserForm) -> services.UserData:
    return services.UserData(
        username=form.username.data or "",
        display_name=form.display_name.data or "",
        email=form.email.data or "",
        department_id=form.department_id.data,
        position_id=form.position_id.data,
        roles=tuple(form.roles.data or ()),
    )


# -- users ----------------------------------------------------------------------------------------
@bp.route("/users")
def users():
    """User list with active search, department and status filters."""
    q = request.args.get("q", "")
    department_id = arg_int("department")
    status = request.args.get("status", "active")
    active = {"active": True, "inactive": False}.get(status)
    page = services.user_page(q, department_id, active, arg_int("page", 1, minimum=1, maximum=100000), PER_PAGE)
    return render(
        "org/users.html", "org/_partials/_user_table.html",
        page=page, q=q, department_id=department_id, status=status,
        departments=_department_choices(_("All departments")),
    )


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    """Create a user; a temporary password is shown once."""
    form = _prepare_user_form(UserForm(roles=[EMPLOYEE]))
    created = submit(form, lambda: services.create_user(acting_user(), _user_data(form)))
    if created is not FAILED:
        user, temp = created
        flash(_("User %(name)s created. Temporary password: %(password)s (shown only once; the user must change it at first login).",
                name=user.display_name, password=temp), "success")
        return redirect_to(url_for("org.users", q=user.username))
    return render("org/user_new.html", "org/_partials/_user_form.html", form=form), form_status(form)


@bp.route("/users/<int:user_id>")
def user_row(user_id: int):
    """One user's table row (used to cancel an inline edit)."""
    user = services.get_user(user_id)
    return render("org/user_edit.html", "org/_partials/_user_row.html", user=user, form=None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
def user_edit(user_id: int):
    """Edit a user inline (htmx) or on its own page."""
    user = services.get_user(user_id)
    form = UserForm(obj=user) if request.method == "GET" else UserForm()
    if request.method == "GET":
        form.roles.data = sorted(user.roles)
    _prepare_user_form(form)
    if submit(form, lambda: services.update_user(acting_user(), user, _user_data(form))) is not FAILED:
        if wants_partial():
            return render("org/user_edit.html", "org/_partials/_user_row.html", user=user)
        flash(_("Saved."), "success")
        return redirect_to(url_for("org.users", q=user.username))
    status = form_status(form)
    if status == 422:
        user = services.get_user(user_id)  # as it is after the rollback
    return render("org/user_edit.html", "org/_partials/_user_edit_row.html", user=user, form=form), status


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def user_set_active(user_id: int):
    """Deactivate or reactivate a user (never a delete)."""
    user = services.get_user(user_id)
    ConfirmForm()  # CSRF is checked globally; the form documents the contract
    outcome = perform(lambda: services.set_user_active(acting_user(), user, request.form.get("active") == "1"))
    error = outcome.message or None
    if error:
        user = services.get_user(user_id)  # as it is after the rollback
    if wants_partial():
        return render("org/user_edit.html", "org/_partials/_user_row.html", user=user, error=error), (422 if error else 200)
    flash(error or _("Saved."), "danger" if error else "success")
    return redirect_to(url_for("org.users", q=user.username, status="all"))


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
def user_reset_password(user_id: int):
    """Issue a temporary password, shown once to the administrator."""
    user = services.get_user(user_id)
    temp = perform(lambda: services.reset_password(acting_user(), user)).value
    message = _("New temporary password for %(name)s: %(password)s (shown only once).", name=user.display_name, password=temp)
    if wants_partial():
        return render("org/user_edit.html", "org/_partials/_user_row.html", user=user, notice=message)
    flash(message, "success")
    return redirect_to(url_for("org.users", q=user.username))


@bp.route("/positions/options")
def position_options():
    """The <option>s of a department's positions, for the dependent select box."""
    department_id = arg_int("department_id")
    return render("org/_partials/_position_options.html", "org/_partials/_position_options.html",
                  choices=_position_choices(department_id))


# -- departments ----------------------------------------------------------------------------------
def _prepare_department_form(form: DepartmentForm) -> DepartmentForm:
    form.parent_id.choices = _department_choices(_("— top level —"))
    form.head_id.choices = _user_choices()
    return form


def _department_data(form: DepartmentForm) -> services.DepartmentData:
    return services.DepartmentData(
        code=form.code.data or "", name=form.name.data or "", parent_id=form.parent_id.data,
        head_id=form.head_id.data, sort_order=form.sort_order.data or 0,
    )


def _department_page(form: DepartmentForm | None = None, status: int = 200):
    form = form or _prepare_department_form(DepartmentForm())
    return render("org/departments.html", "org/_partials/_department_table.html",
                  tree=services.department_tree(), counts=services.active_member_counts(), form=form), status


@bp.route("/departments", methods=["GET", "POST"])
def departments():
    """The department tree; POST creates a department."""
    if request.method == "GET":
        return _department_page()
    form = _prepare_department_form(DepartmentForm())
    dept = submit(form, lambda: services.create_department(acting_user(), _department_data(form)))
    if dept is not FAILED:
        flash(_("Department %(name)s created.", name=dept.name), "success")
        return redirect_to(url_for("org.departments"))
    return render("org/departments.html", "org/_partials/_department_form.html",
                  tree=services.department_tree(), counts=services.active_member_counts(), form=form), 422


@bp.route("/departments/<int:department_id>/edit", methods=["GET", "POST"])
def department_edit(department_id: int):
    """Edit a department inline (htmx) or on its own page."""
    dept = services.get_department(department_id)
    form = _prepare_department_form(DepartmentForm(obj=dept) if request.method == "GET" else DepartmentForm())
    if submit(form, lambda: services.update_department(acting_user(), dept, _department_data(form))) is not FAILED:
        flash(_("Saved."), "success")
        return redirect_to(url_for("org.departments"))
    return render("org/department_edit.html", "org/_partials/_department_edit_form.html", dept=dept,
                  form=form), form_status(form)


@bp.route("/departments/<int:department_id>/active", methods=["POST"])
def department_set_active(department_id: int):
    """Deactivate or reactivate a department."""
    dept = services.get_department(department_id)
    flash_outcome(perform(lambda: services.set_department_active(acting_user(), dept, request.form.get("active") == "1")),
                  _("Saved."))
    return redirect_to(url_for("org.departments"))


@bp.route("/departments/<int:department_id>", methods=["GET", "POST"])
def department_detail(department_id: int):
    """A department's positions and members; POST adds a position."""
    dept = services.get_department(department_id)
    form = PositionForm()
    status = 200
    if request.method == "POST":
        if submit(form, lambda: services.create_position(acting_user(), dept, form.name.data)) is not FAILED:
            form = PositionForm(formdata=None)
        status = form_status(form)
    return render("org/department_detail.html", "org/_partials/_positions.html", dept=dept,
                  positions=services.positions_of(dept), members=services.members_of(dept), form=form), status


@bp.route("/positions/<int:position_id>", methods=["POST"])
def position_update(position_id: int):
    """Rename a position, or (with ``active``) deactivate or reactivate it."""
    position = services.get_position(position_id)
    active = request.form["active"] == "1" if "active" in request.form else None
    outcome = perform(lambda: services.update_position(acting_user(), position, name=request.form.get("name", ""),
                                                       active=active))
    if outcome.failed:
        flash(outcome.message, "danger")
    return redirect_to(url_for("org.department_detail", department_id=position.department_id))


# -- roster import --------------------------------------------------------------------------------
@bp.route("/roster", methods=["GET", "POST"])
def roster_import():
    """Upload an HR roster: validate every row and preview the changes before anything is written."""
    return preview_upload(RosterUploadForm(), roster.upload_roster, "org/roster.html", "org/_partials/_roster_preview.html")


@bp.route("/roster/<int:import_id>/apply", methods=["POST"])
def roster_apply(import_id: int):
    """Apply a previewed roster import. A second click applies nothing."""
    return apply_upload(
        roster.apply_roster, import_id, retry_url=url_for("org.roster_import"), done_url=url_for("org.users"),
        done_message=lambda pending, plan: _(
            "Roster imported: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.", **pending.result),
    )
