"""The OpenAPI document, and the administrators' page of API tokens (issue, list, revoke)."""
from __future__ import annotations

from flask import flash, jsonify, request, url_for
from flask_babel import gettext as _

from portal.api import admin_bp, bp, services
from portal.api.forms import TokenForm
from portal.api.models import SCOPE_LABELS
from portal.api.openapi import build_spec
from portal.core.forms import ConfirmForm
from portal.core.roles import ADMIN
from portal.web.access import acting_user, public, require_roles
from portal.web.htmx import redirect_to, render
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit

admin_bp.before_request(require_roles(ADMIN))


@bp.route("/openapi.json")
@public
def openapi():
    """The OpenAPI 3.1 document of /api/v1 (public: it describes the API and holds no data)."""
    from portal import __version__

    server = request.url_root.rstrip("/") + "/api/v1"
    response = jsonify(build_spec(server, __version__))
    response.cache_control.max_age = 300
    return response


def _page(form: TokenForm, new_token: str | None = None, status: int = 200):
    actor = acting_user()
    return render("api/tokens.html", "api/_partials/_tokens.html", tokens=services.list_tokens(actor), form=form,
                  confirm=ConfirmForm(), new_token=new_token, scope_labels=SCOPE_LABELS,
                  spec_url=url_for("api.openapi")), status


@admin_bp.route("/", methods=["GET", "POST"])
def tokens():
    """API 令牌: issue a token (shown once), see when each was last used, revoke."""
    form = TokenForm()
    created = submit(form, lambda: services.create_token(acting_user(), form.name.data, form.scopes.data or []))
    if created is not FAILED:
        token, plain = created
        flash(_("Token %(name)s issued. Copy it now: it is shown only once.", name=token.name), "success")
        return _page(TokenForm(formdata=None), new_token=plain)
    return _page(form, status=form_status(form))


@admin_bp.route("/<int:token_id>/revoke", methods=["POST"])
def revoke(token_id: int):
    """Revoke a token: requests carrying it are refused from now on."""
    actor = acting_user()
    token = services.get_token(actor, token_id)
    if ConfirmForm().validate_on_submit():
        flash_outcome(perform(lambda: services.revoke_token(actor, token)),
                      _("Token %(name)s revoked.", name=token.name))
    return redirect_to(url_for("api_admin.tokens"))
