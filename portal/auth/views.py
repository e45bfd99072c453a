from flask import flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from portal.auth import bp
from portal.auth import services
from portal.auth.forms import ChangePasswordForm, LoginForm
from portal.core.net import client_ip
from portal.extensions import limiter
from portal.web.access import public
from portal.web.htmx import is_safe_next, redirect_to, render
from portal.web.submit import FAILED, form_status, perform, submit


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
    user = submit(form, lambda: services.authenticate(form.username.data, form.password.data, client_ip()))
    if user is not FAILED:
        lang = session.get("lang")
        session.clear()  # a fresh session on login: no fixation
        if lang:
            session["lang"] = lang
        login_user(user)
        target = form.next.data if is_safe_next(form.next.data) else url_for("home.index")
        return redirect_to(target)
    return render("auth/login.html", "auth/_partials/_login_form.html", form=form), 422


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out (POST only, with CSRF)."""
    perform(lambda: services.record_logout(current_user._get_current_object()))
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
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
