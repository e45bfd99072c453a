from flask import flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from portal.auth import bp
from portal.auth import services
from portal.auth.forms import ChangePasswordForm, LoginForm
from portal.core.net import client_ip
from portal.extensions import limiter
from portal.web.access import acting_user, public
from portal.web.htmx import is_safe_next, redirect_to, render
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit


def _fresh_session() -> None:
    """Empty the browser's session (login, logout), keeping only the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


@bp.get("/login")
@public
def login():
    """The login page (the form posts to login_submit at the same URL)."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    form.next.data = request.args.get("next", "")
    return render("auth/login.html", "auth/_partials/_login_form.html", form=form)


# A separate view so that only the POST pays for the rate limiter. Guessing is further bounded by the
# lockout (5 failures per account and per IP address in 15 minutes).
@bp.post("/login")
@public
@limiter.limit("30 per minute")
def login_submit():
    """Log in with username and password; lockout after repeated failures."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    user = submit(form, lambda: services.log_in(form.username.data, form.password.data, client_ip(),
                                                request.user_agent.string))
    if user is not FAILED:
        _fresh_session()  # no fixation
        login_user(user)
        target = form.next.data if is_safe_next(form.next.data) else url_for("home.index")
        return redirect_to(target)
    return render("auth/login.html", "auth/_partials/_login_form.html", form=form), 422


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out (POST only, with CSRF)."""
    perform(lambda: services.log_out(acting_user()))
    logout_user()
    _fresh_session()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password (forced after an administrator reset)."""
    form = ChangePasswordForm()
    changed = submit(form, lambda: services.change_password(current_user, form.current_password.data,
                                                             form.new_password.data))
    if changed is not FAILED:
        login_user(current_user._get_current_object())  # the session id changed with the nonce
        flash(_("Your password has been changed."), "success")
        return redirect_to(url_for("home.index"))
    status = form_status(form)
    return render("auth/change_password.html", "auth/_partials/_password_form.html", form=form), status


def _end_of_session_redirect():
    """After the user's own sessions were ended: this one too, so start afresh at the login page."""
    logout_user()
    _fresh_session()
    flash(_("You have been logged out on every device."), "info")
    return redirect_to(url_for("auth.login"))


@bp.route("/account/sessions")
@login_required
def sessions():
    """The user's open login sessions (browsers), with "log out everywhere"."""
    return render("auth/sessions.html", "auth/sessions.html", open_sessions=services.open_sessions(acting_user()),
                  current_token_hash=services.current_token_hash(acting_user()))


@bp.route("/account/sessions/end-all", methods=["POST"])
@login_required
def end_my_sessions():
    """Log out everywhere: every session of mine, this one included."""
    me = acting_user()
    perform(lambda: services.log_out_everywhere(me, me))
    return _end_of_session_redirect()


@bp.route("/admin/users/<int:user_id>/sessions/end-all", methods=["POST"])
@login_required
def end_user_sessions(user_id: int):
    """An administrator logs a user out everywhere (a lost laptop, a shared password)."""
    user = services.get_user_for_admin(acting_user(), user_id)
    outcome = perform(lambda: services.log_out_everywhere(acting_user(), user))
    if user.id == acting_user().id:
        return _end_of_session_redirect()
    flash_outcome(outcome, _("%(name)s has been logged out on every device (%(n)d sessions).",
                             name=user.display_name, n=outcome.value or 0))
    return redirect_to(url_for("org.users", q=user.username))
