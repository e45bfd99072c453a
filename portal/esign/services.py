"""The shared e-signature service."""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

from flask import has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash

from portal.audit.services import events_by_object, record
from portal.auth.services import is_locked, record_failed_attempt
from portal.core.net import client_ip
from portal.core.errors import ServiceError
from portal.esign.models import Signature
from portal.extensions import db

MEANINGS = {
    "approve": _l("Approved (批准)"),
    "review": _l("Reviewed (审核)"),
    "author": _l("Authored (编制)"),
    "obsolete": _l("Made obsolete (作废)"),
    "periodic_review": _l("Periodic review (定期评审)"),
    "read_understood": _l("Read and understood (已阅读并理解)"),
    "trainer_attest": _l("Trained and signed in the attendees (培训签到)"),
    "capa_close": _l("Closed a corrective action (关闭纠正预防措施)"),
    "appeal_decision": _l("Appeal decision (申诉复核)"),
}
#: The most signatures one password entry may apply (bulk approval).
MAX_BATCH = 50


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


def _check_password(signer, password: str, meaning: str, *, object_type: str, object_id) -> str:
    """Check the signer's password again; return the client IP. A wrong password (or a locked or inactive
    account) counts towards the login lockout, is audited, and raises SignatureRejected."""
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
    return ip


def _write(signer, meaning: str, object_type: str, object_id, content_sha256: str, comment: str, ip: str) -> Signature:
    signature = Signature(
        signer_id=signer.id, signer_name=signer.display_name, signer_roles=",".join(sorted(signer.roles)),
        meaning=meaning, object_type=object_type, object_id=str(object_id), content_sha256=content_sha256, ip=ip,
        comment=comment or "",
    )
    db.session.add(signature)
    db.session.flush()
    record("esign.sign", signature, actor=signer,
           extra={"meaning": meaning, "object_type": object_type, "object_id": str(object_id),
                  "content_sha256": content_sha256, "signer_name": signature.signer_name,
                  "comment_sha256": content_hash(signature.comment)})
    return signature


def sign(signer, password: str, meaning: str, *, object_type: str, object_id, content_sha256: str,
         comment: str = "") -> Signature:
    """Record the signer's electronic signature after checking their password again.

    Raises ServiceError on ``meaning`` when it is unknown, and SignatureRejected on ``password`` when the
    password is wrong or the account is locked. Wrong passwords count towards the login lockout, so the
    signing form cannot be used to guess a password.
    """
    ip = _check_password(signer, password, meaning, object_type=object_type, object_id=object_id)
    return _write(signer, meaning, object_type, object_id, content_sha256, comment, ip)


def sign_if(signer, password: str, meaning: str, *, object_type: str, object_id, content_sha256: str,
            claim, comment: str = "") -> Signature | None:
    """``sign()`` for something that may be signed only once: after the password check, ``claim()`` makes the
    state change (a conditional UPDATE that a twin request waits on); the signature is written only when it
    returns true, and None is returned otherwise (a double submit signs once). A wrong password claims nothing."""
    ip = _check_password(signer, password, meaning, object_type=object_type, object_id=object_id)
    if not claim():
        return None
    return _write(signer, meaning, object_type, object_id, content_sha256, comment, ip)


def sign_many(signer, password: str, meaning: str, *, object_type: str, items: list[tuple[object, str]],
              comment: str = "", max_batch: int = MAX_BATCH) -> list[Signature]:
    """One password entry, one signature row per ``(object_id, content_sha256)`` in ``items`` (at most
    MAX_BATCH). A wrong password signs none of them."""
    if not items:
        raise ServiceError((None, _("Choose at least one item to sign.")))
    if len(items) > max_batch:
        raise ServiceError((None, _("At most %(n)d items can be signed at once.", n=max_batch)))
    ip = _check_password(signer, password, meaning, object_type=object_type,
                         object_id=",".join(str(i) for i, _h in items)[:64])
    return [_write(signer, meaning, object_type, object_id, digest, comment, ip) for object_id, digest in items]


def verify_signatures(batch: int = 2000) -> tuple[int, str | None]:
    """Every signature row against the audit event written when it was made (the keyed chain vouches for
    the event): same signer, meaning, object and content hash. Registered as an audit chain check."""
    checked, last_id = 0, 0
    while True:
        rows = db.session.scalars(sa.select(Signature).where(Signature.id > last_id).order_by(Signature.id)
                                  .limit(batch)).all()
        if not rows:
            return checked, None
        events = events_by_object("esign.sign", "signature", [r.id for r in rows])
        for sig in rows:
            event = events.get(str(sig.id))
            if event is None:
                return checked, f"signature {sig.id} has no audit event"
            extra = event.summary or {}
            expected = {"meaning": sig.meaning, "object_type": sig.object_type, "object_id": sig.object_id,
                        "content_sha256": sig.content_sha256}
            if event.actor_id != sig.signer_id or any(extra.get(k) != v for k, v in expected.items()):
                return checked, f"signature {sig.id} differs from its audit event {event.id}"
            if "comment_sha256" in extra and extra["comment_sha256"] != content_hash(sig.comment):
                return checked, f"the comment of signature {sig.id} differs from its audit event {event.id}"
            checked += 1
            last_id = sig.id


def signatures_for(object_type: str, object_id) -> list[Signature]:
    return list(db.session.scalars(
        db.select(Signature).where(Signature.object_type == object_type, Signature.object_id == str(object_id))
        .order_by(Signature.id)
    ))
