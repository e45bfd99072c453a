"""How API-token events read in the audit trail."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_pgettext

from portal.api.models import ApiToken
from portal.audit.registry import register_action_labels, register_object_type
from portal.core.roles import ADMIN
from portal.extensions import db


def _tokens(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(ApiToken.id, ApiToken.name, ApiToken.prefix).where(ApiToken.id.in_(ids)))
    return {r.id: (f"{r.name}（{r.prefix}…）", url_for("api_admin.tokens")) for r in rows}


def register() -> None:
    register_action_labels({
        "api.token_create": lazy_pgettext("audit action", "Issued an API token"),
        "api.token_revoke": lazy_pgettext("audit action", "Revoked an API token"),
    })
    register_object_type("api_token", lazy_pgettext("audit object", "API token"), resolve=_tokens,
                         link_roles=(ADMIN,),
                         fields={"name": lazy_pgettext("audit field", "Name"),
                                 "scopes": lazy_pgettext("audit field", "Scopes"),
                                 "active": lazy_pgettext("audit field", "Active")})
