"""API tokens: issue (the token is shown once), list, revoke, and authenticate a request's bearer token."""
from __future__ import annotations

import hashlib
import hmac
import secrets

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.api.models import SCOPES, ApiToken
from portal.audit.services import record
from portal.core.errors import NotFound, ServiceError
from portal.core.roles import ADMIN
from portal.core.types import utcnow
from portal.extensions import db
from portal.web.access import ensure_role

TOKEN_PREFIX = "sqp_"
#: How often ``last_used_at`` is written for a busy token (a terminal posting all day), in seconds.
LAST_USED_GRANULARITY = 60


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def clean_scopes(scopes) -> list[str]:
    chosen = [s.strip() for s in scopes if s and s.strip()]
    if not chosen:
        raise ServiceError(("scopes", _("Choose at least one scope.")))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise ServiceError(("scopes", _("Unknown scope: %(names)s. Use read and/or write.", names=", ".join(unknown))))
    return [s for s in SCOPES if s in chosen]


def create_token(actor, name: str, scopes) -> tuple[ApiToken, str]:
    """A new token (``actor`` None: the command line). Returns the row and the token itself, which is not
    stored and cannot be shown again."""
    if actor is not None:
        ensure_role(actor, ADMIN)
    name = (name or "").strip()
    if not name:
        raise ServiceError(("name", _("Give the token a name (the device or system that will use it).")))
    if len(name) > 100:
        raise ServiceError(("name", _("The name is too long (at most 100 characters).")))
    chosen = clean_scopes(scopes)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, prefix=plain[:10], token_sha256=_digest(plain), scopes=",".join(chosen),
                     created_by_id=getattr(actor, "id", None))
    db.session.add(token)
    db.session.flush()
    record("api.token_create", token, actor=actor, after={"name": name, "scopes": chosen},
           extra={"via": "cli"} if actor is None else None)
    return token, plain


def list_tokens(actor) -> list[ApiToken]:
    ensure_role(actor, ADMIN)
    return list(db.session.scalars(sa.select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())))


def get_token(actor, token_id: int) -> ApiToken:
    ensure_role(actor, ADMIN)
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound()
    return token


def revoke_token(actor, token: ApiToken) -> ApiToken:
    """Revoke ``token`` (``actor`` None: the command line)."""
    if actor is not None:
        ensure_role(actor, ADMIN)
    if token.revoked_at is not None:
        raise ServiceError((None, _("This token was already revoked.")))
    token.revoked_at = utcnow()
    token.revoked_by_id = getattr(actor, "id", None)
    db.session.flush()
    record("api.token_revoke", token, actor=actor, before={"active": True}, after={"active": False},
           extra={"name": token.name, **({"via": "cli"} if actor is None else {})})
    return token


def authenticate(plain: str) -> ApiToken | None:
    """The active token whose hash matches, or None. The lookup is by hash (an index), and the final
    comparison is in constant time."""
    if not plain or len(plain) > 200 or not plain.isascii():
        return None
    digest = _digest(plain)
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_sha256 == digest))
    if token is None or not hmac.compare_digest(token.token_sha256, digest) or token.revoked_at is not None:
        return None
    return token


def note_use(token_id: int, last_used_at) -> bool:
    """Stamp ``last_used_at``, at most once a minute per token (not an audited change: it is bookkeeping).
    Returns whether anything was written."""
    now = utcnow()
    if last_used_at is not None and (now - last_used_at).total_seconds() <= LAST_USED_GRANULARITY:
        return False
    db.session.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return True
