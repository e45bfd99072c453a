"""The shared e-signature service."""
from __future__ import annotations

import hashlib

from flask import has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash

from portal.audit.services import record
from portal.auth.services import is_locked, record_failed_attempt
from portal.core.net import client_ip
from portal.core.errors import ServiceError
from portal.esign.models import Signature
from portal.extensions import db

MEANINGS = {
    "approve": _l("Approved (批准)"),
    "review": _l("Reviewed (审核)"),
    "author": _l("Authored (编制)"),
}


def content_hash(*parts: str) -> str:
    """The SHA-256 of what is being signed, so a later change of the content shows."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update((part or "").encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()


class SignatureRejected(ServiceError):
    """The password was wrong. The failed attempt has been written (audit trail and lockout count) and
    must be committed: call ``sign()`` before any other write of the request; ``portal.web.submit`` commits
    on this error."""

    keep_changes = True


def sign(signer, password: str, meaning: str, *, object_type: str, object_id, content_sha256: str) -> Signature:
    """Record the signer's electronic signature after checking their password again.

    Raises ServiceError on ``meaning`` when it is unknown, and SignatureRejected on ``password`` when the
    password is wrong or the account is locked. Wrong passwords count towards the login lockout, so the
    signing form cannot be used to guess a password.
    """
    if meaning not in MEANINGS:
        raise ServiceError(("meaning", _("Choose what your signature means.")))
    ip = ""
    if has_request_context():
        ip = client_ip()
    locked = is_locked(signer.username, ip) if signer else True
    if locked or not signer.active or not signer.password_hash or not check_password_hash(
        signer.password_hash, password or ""
    ):
        if signer is not None:
            record_failed_attempt(signer.username, ip)
        record("esign.failed", actor=signer, object_type=object_type, object_id=object_id,
               extra={"meaning": meaning, "locked": locked})
        raise SignatureRejected(("password", _("The password is wrong: the signature was not applied.")))
    signature = Signature(
        signer_id=signer.id, signer_name=signer.display_name, signer_roles=",".join(sorted(signer.roles)),
        meaning=meaning, object_type=object_type, object_id=str(object_id), content_sha256=content_sha256, ip=ip,
    )
    db.session.add(signature)
    db.session.flush()
    record("esign.sign", signature, actor=signer,
           extra={"meaning": meaning, "object_type": object_type, "object_id": str(object_id),
                  "content_sha256": content_sha256})
    return signature


def signatures_for(object_type: str, object_id) -> list[Signature]:
    return list(db.session.scalars(
        db.select(Signature).where(Signature.object_type == object_type, Signature.object_id == str(object_id))
        .order_by(Signature.id)
    ))
